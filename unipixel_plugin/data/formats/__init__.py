"""Readers of the native annotation formats, one module per family; importing this registers them all."""
from .groundmore import GroundMoReDataset
from .instruct import LlavaVideoGPTPlusDataset
from .parts import PACOLVISDataset, PASCALPartDataset
from .reason_seg import ReasonSegDataset
from .refcoco import RefClefDataset, RefCOCODataset, RefCOCOgDataset, RefCOCOPlusDataset
from .refvos import (
                     LVVISDataset,
                     MeViSDataset,
                     RefDAVIS17Dataset,
                     RefSAVEvalDataset,
                     RefYouTubeVOSDataset,
                     ReVOSDataset,
                     running_expression_index,
)
from .videorefer import VideoReferBenchDDataset, VideoReferBenchQDataset

# every reader, by upstream's dataset name (the names of its --datasets option)
READERS = {
    cls.SOURCE: cls
    for cls in (MeViSDataset, ReVOSDataset, RefYouTubeVOSDataset, RefDAVIS17Dataset, LVVISDataset, RefSAVEvalDataset,
                RefCOCODataset, RefCOCOPlusDataset, RefCOCOgDataset, RefClefDataset, ReasonSegDataset,
                VideoReferBenchQDataset, VideoReferBenchDDataset, GroundMoReDataset, PACOLVISDataset, PASCALPartDataset,
                LlavaVideoGPTPlusDataset)
}

__all__ = [
    'READERS', 'GroundMoReDataset', 'LlavaVideoGPTPlusDataset', 'ReasonSegDataset', 'RefClefDataset', 'RefCOCODataset',
    'RefCOCOgDataset', 'RefCOCOPlusDataset', 'LVVISDataset', 'MeViSDataset', 'RefDAVIS17Dataset', 'RefSAVEvalDataset',
    'ReVOSDataset', 'RefYouTubeVOSDataset', 'running_expression_index', 'VideoReferBenchQDataset',
    'VideoReferBenchDDataset', 'PACOLVISDataset', 'PASCALPartDataset'
]
