"""Readers of the native annotation formats, one module per family; importing this registers them all."""
from .custom import CustomDataset
from .groundmore import GroundMoReDataset
from .inst_it import InstITImageShortCaptionRefDataset, InstITVideoQADataset, InstITVideoQAMemDataset
from .instruct import LlavaVideoGPTPlusDataset
from .osprey import OspreyConversationDataset, OspreyDetailDescriptionDataset, OspreyPosNegDataset
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
from .sav import RefSAVDataset
from .semantic import ADE20KDataset, COCOStuffDataset, MapillaryDataset
from .vicas import ViCaSDataset
from .videorefer import VideoReferBenchDDataset, VideoReferBenchQDataset
from .videorefer_700k import (
                              VideoReferDetailedCaptionDataset,
                              VideoReferQADataset,
                              VideoReferQAMemDataset,
                              VideoReferShortCaptionDataset,
                              VideoReferShortCaptionRefDataset,
)

# every reader, by upstream's dataset name (the names of its --datasets option)
READERS = {
    cls.SOURCE: cls
    for cls in (MeViSDataset, ReVOSDataset, RefYouTubeVOSDataset, RefDAVIS17Dataset, LVVISDataset, RefSAVEvalDataset,
                RefSAVDataset, ViCaSDataset, RefCOCODataset, RefCOCOPlusDataset, RefCOCOgDataset, RefClefDataset,
                ReasonSegDataset, ADE20KDataset, COCOStuffDataset, MapillaryDataset, PACOLVISDataset,
                PASCALPartDataset, GroundMoReDataset, VideoReferBenchQDataset, VideoReferBenchDDataset,
                VideoReferShortCaptionRefDataset, VideoReferShortCaptionDataset, VideoReferDetailedCaptionDataset,
                VideoReferQADataset, VideoReferQAMemDataset, InstITImageShortCaptionRefDataset, InstITVideoQADataset,
                InstITVideoQAMemDataset, OspreyConversationDataset, OspreyDetailDescriptionDataset,
                OspreyPosNegDataset, LlavaVideoGPTPlusDataset, CustomDataset)
}

__all__ = [
    'READERS', 'CustomDataset', 'GroundMoReDataset', 'LlavaVideoGPTPlusDataset', 'ReasonSegDataset', 'RefClefDataset',
    'RefCOCODataset',
    'RefCOCOgDataset', 'RefCOCOPlusDataset', 'LVVISDataset', 'MeViSDataset', 'RefDAVIS17Dataset', 'RefSAVEvalDataset',
    'ReVOSDataset', 'RefYouTubeVOSDataset', 'running_expression_index', 'VideoReferBenchQDataset',
    'VideoReferBenchDDataset', 'PACOLVISDataset', 'PASCALPartDataset', 'RefSAVDataset', 'ViCaSDataset',
    'ADE20KDataset', 'COCOStuffDataset', 'MapillaryDataset', 'VideoReferShortCaptionRefDataset',
    'VideoReferShortCaptionDataset', 'VideoReferDetailedCaptionDataset', 'VideoReferQADataset',
    'VideoReferQAMemDataset', 'InstITImageShortCaptionRefDataset', 'InstITVideoQADataset', 'InstITVideoQAMemDataset',
    'OspreyConversationDataset', 'OspreyDetailDescriptionDataset', 'OspreyPosNegDataset'
]
