"""The UniPixel model, in the layout of a transformers model folder.

* :mod:`.configuration_unipixel` / :mod:`.modeling_unipixel`: the HF config and model (importing this package
  registers them with the ``AutoConfig`` / ``AutoModel`` / ``AutoModelForImageTextToText`` factories);
* :mod:`.processing_unipixel`: media and text -> model inputs as upstream builds them;
* :mod:`.prompt_encoder` (``<|ref|>``), :mod:`.object_memory` (``<|mem|>`` and the memory bank),
  :mod:`.mask_head` (``<|seg|>`` -> SAM 2), :mod:`.sam2_extension` (hidden-token prompts for the ``sam2`` package).

Only torch, transformers and sam2 are imported here; the MMEngine registration lives in
:mod:`unipixel_plugin.engine.registration`.
"""
from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText

from unipixel_plugin.models.configuration_unipixel import PixelQwen2_5_VLConfig
from unipixel_plugin.models.mask_head import SAM2MaskHead, SegTokenHead
from unipixel_plugin.models.modeling_unipixel import (CheckpointMismatchError, PixelQwen2_5_VLForConditionalGeneration,
                                                      mm_token_type_ids_from)
from unipixel_plugin.models.object_memory import MaskFeatureProjector, MemoryObject, ObjectMemoryBank
from unipixel_plugin.models.prompt_encoder import TemporalPositionEncoding, VisualPromptEncoder

AutoConfig.register(PixelQwen2_5_VLConfig.model_type, PixelQwen2_5_VLConfig, exist_ok=True)
AutoModel.register(PixelQwen2_5_VLConfig, PixelQwen2_5_VLForConditionalGeneration, exist_ok=True)
AutoModelForImageTextToText.register(PixelQwen2_5_VLConfig, PixelQwen2_5_VLForConditionalGeneration, exist_ok=True)

__all__ = [
    'PixelQwen2_5_VLConfig', 'PixelQwen2_5_VLForConditionalGeneration', 'CheckpointMismatchError',
    'VisualPromptEncoder', 'SAM2MaskHead', 'SegTokenHead', 'MaskFeatureProjector', 'TemporalPositionEncoding',
    'mm_token_type_ids_from', 'ObjectMemoryBank', 'MemoryObject'
]
