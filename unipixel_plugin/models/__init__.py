"""The UniPixel model: HF config/model classes registered with the Auto* factories, and its components."""
from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText

from unipixel_plugin.models.components import (MaskFeatureProjector, SAM2MaskHead, SegTokenHead,
                                               TemporalPositionEncoding, VisualPromptEncoder)
from unipixel_plugin.models.configuration_unipixel import PixelQwen2_5_VLConfig
from unipixel_plugin.models.memory_bank import MemoryObject, ObjectMemoryBank
from unipixel_plugin.models.modeling_unipixel import (CheckpointMismatchError, PixelQwen2_5_VLForConditionalGeneration,
                                                      mm_token_type_ids_from)

AutoConfig.register(PixelQwen2_5_VLConfig.model_type, PixelQwen2_5_VLConfig, exist_ok=True)
AutoModel.register(PixelQwen2_5_VLConfig, PixelQwen2_5_VLForConditionalGeneration, exist_ok=True)
AutoModelForImageTextToText.register(PixelQwen2_5_VLConfig, PixelQwen2_5_VLForConditionalGeneration, exist_ok=True)

__all__ = [
    'PixelQwen2_5_VLConfig', 'PixelQwen2_5_VLForConditionalGeneration', 'CheckpointMismatchError',
    'VisualPromptEncoder', 'SAM2MaskHead', 'SegTokenHead', 'MaskFeatureProjector', 'TemporalPositionEncoding',
    'mm_token_type_ids_from', 'ObjectMemoryBank', 'MemoryObject'
]
