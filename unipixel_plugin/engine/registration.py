"""The one place where UniPixel's classes join the ``unipixel_plugin`` MMEngine registries.

The registries' lazy ``locations`` and the configs' ``custom_imports`` point here, so that building any
``dict(type=...)`` of the scope imports exactly this: the engine's own modules (``UniPixelModel``,
``UniPixelDataPreprocessor``, ``SAM2MaskLoss``, ``HFExportHook``) and the HF-side classes, which
:mod:`unipixel_plugin.models` leaves unregistered because it imports only torch, transformers and sam2 (so the model
loads like any other transformers model). It also lets ``torch.load`` read MMEngine checkpoints under torch >= 2.6.
"""
from unipixel_plugin.engine.checkpoint_loading import allow_mmengine_checkpoints

allow_mmengine_checkpoints()

from unipixel_plugin.engine import (data_preprocessor, hooks, loops, mask_loss, model, optim,  # noqa: E402,F401
                                    toy_recipe)  # (register)
from unipixel_plugin.models import (MaskFeatureProjector, ObjectMemoryBank,  # noqa: E402
                                    PixelQwen2_5_VLForConditionalGeneration, SAM2MaskHead, SegTokenHead,
                                    VisualPromptEncoder)
from unipixel_plugin.registry import MODELS  # noqa: E402

REGISTERED_MODELS = (PixelQwen2_5_VLForConditionalGeneration, VisualPromptEncoder, MaskFeatureProjector,
                     SegTokenHead, SAM2MaskHead, ObjectMemoryBank)

for _cls in REGISTERED_MODELS:
    if MODELS.get(_cls.__name__) is not _cls:
        MODELS.register_module(module=_cls)

__all__ = ['REGISTERED_MODELS']
