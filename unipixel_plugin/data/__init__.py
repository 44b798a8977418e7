"""UniPixel data: one sample schema, readers of every native format, the training mixture, collate, checks.

Importing this package registers the readers (``DATASETS``), :class:`LoadSample` (``TRANSFORMS``),
:class:`DataTypeGroupedSampler` (``DATA_SAMPLERS``) and :func:`unipixel_collate` (``FUNCTIONS``) in the
``unipixel_plugin`` registries. See ``docs/data.md``.
"""
from .base import (
    DATA_ROOT_ENV,
    AnnotationError,
    AnnotationProblem,
    DatasetNotFoundError,
    EmptyExpressionError,
    UniPixelDataset,
    resolve_data_root,
)
from .collate import unipixel_collate
from .formats import *  # noqa: F401,F403  (registers the readers)
from .formats import READERS
from .hybrid import STAGE_MIXTURES, DataTypeGroupedSampler, HybridDataset, parse_mixture
from ..masks import MaskError
from .media import MediaError, sample_frame_positions
from .pipeline import EmptyMaskError, LoadSample, load_sample
from .schema import DATA_TYPES, MaskPart, ObjectMasks, Sample, VisualPrompt

__all__ = [
    'DATA_ROOT_ENV', 'AnnotationError', 'AnnotationProblem', 'DatasetNotFoundError', 'EmptyExpressionError',
    'UniPixelDataset', 'resolve_data_root',
    'unipixel_collate', 'READERS', 'STAGE_MIXTURES', 'DataTypeGroupedSampler', 'HybridDataset', 'parse_mixture',
    'MaskError', 'MediaError', 'sample_frame_positions', 'EmptyMaskError', 'LoadSample', 'load_sample', 'DATA_TYPES',
    'MaskPart', 'ObjectMasks', 'Sample', 'VisualPrompt'
]
