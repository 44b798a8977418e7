"""UniPixel training with MMEngine: the model wrapper, data preprocessor, losses, hooks and the runner entry.

* :mod:`.model` (``UniPixelModel``), :mod:`.data_preprocessor`, :mod:`.mask_loss`, :mod:`.sam2_tracking`,
  :mod:`.hooks`, :mod:`.initialisation` (a UniPixel from a base Qwen2.5-VL), :mod:`.checkpoint_loading`;
* :mod:`.registration`: registers all of them and the HF model's classes in the ``unipixel_plugin`` scope (the
  registries and the configs' ``custom_imports`` import it);
* :mod:`.runner`: ``train`` / ``test``, what ``mim train`` / ``mim test`` run (``.mim/tools``).

Importing this package is light (the runner's ``-h`` must not load torch): the names below load their module on
first access. See ``docs/training.md``.
"""
import importlib

_EXPORTS = {
    'UniPixelModel': 'model', 'UPSTREAM_LORA_TARGETS': 'model', 'UniPixelDataPreprocessor': 'data_preprocessor',
    'IGNORE_INDEX': 'data_preprocessor', 'SAM2MaskLoss': 'mask_loss', 'HFExportHook': 'hooks',
    'track_for_training': 'sam2_tracking', 'allow_mmengine_checkpoints': 'checkpoint_loading',
    'REGISTERED_MODELS': 'registration', 'train': 'runner', 'test': 'runner'
}


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    importlib.import_module(f'{__name__}.registration')
    return getattr(importlib.import_module(f'{__name__}.{_EXPORTS[name]}'), name)


__all__ = sorted(_EXPORTS)
