"""UniPixel training with MMEngine: the model wrapper, data preprocessor, losses, hooks, toy fixture and launchers.

Importing this package registers, in the ``unipixel_plugin`` scope: ``UniPixelModel``,
``UniPixelDataPreprocessor`` and ``SAM2MaskLoss`` (``MODELS``), ``HFExportHook`` (``HOOKS``) and
``ToyRefVOSDataset`` (``DATASETS``); it also lets ``torch.load`` read MMEngine checkpoints under torch >= 2.6
(:mod:`.checkpoint_loading`). See ``docs/training.md``.
"""
from unipixel_plugin.engine.checkpoint_loading import allow_mmengine_checkpoints

allow_mmengine_checkpoints()

from unipixel_plugin.engine.data_preprocessor import IGNORE_INDEX, UniPixelDataPreprocessor  # noqa: E402
from unipixel_plugin.engine.hooks import HFExportHook  # noqa: E402
from unipixel_plugin.engine.mask_loss import SAM2MaskLoss  # noqa: E402
from unipixel_plugin.engine.model import UPSTREAM_LORA_TARGETS, UniPixelModel  # noqa: E402
from unipixel_plugin.engine.sam2_tracking import track_for_training  # noqa: E402
from unipixel_plugin.engine.toy import ToyRefVOSDataset, ensure_toy_checkpoint, ensure_toy_data  # noqa: E402

__all__ = [
    'UniPixelModel', 'UniPixelDataPreprocessor', 'SAM2MaskLoss', 'HFExportHook', 'ToyRefVOSDataset',
    'ensure_toy_checkpoint', 'ensure_toy_data', 'track_for_training', 'allow_mmengine_checkpoints', 'IGNORE_INDEX',
    'UPSTREAM_LORA_TARGETS'
]
