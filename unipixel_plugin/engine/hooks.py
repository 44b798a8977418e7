"""Training hooks: export the trained model as an HF checkpoint at the end of training."""
from __future__ import annotations

import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from unipixel_plugin.registry import HOOKS


@HOOKS.register_module()
class HFExportHook(Hook):
    """After training, write ``from_pretrained``-able weights (LoRA merged) and the processor.

    Args:
        out_dir: folder for the export; relative paths are under the work dir (default ``<work_dir>/hf_model``).
        save_processor: also write the tokenizer / processor / chat template.

    The model is exported from the main process with its full weights; under a sharding strategy (FSDP) gather
    them first (untested here: see docs/training.md).
    """

    priority = 'VERY_LOW'

    def __init__(self, out_dir: str = 'hf_model', save_processor: bool = True):
        self.out_dir = out_dir
        self.save_processor = save_processor
        self.exported: Optional[str] = None

    def after_train(self, runner) -> None:
        if not is_main_process():
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'export_hf'):
            raise TypeError(f'HFExportHook exports UniPixelModel, got {type(model).__name__}')
        path = self.out_dir if osp.isabs(self.out_dir) else osp.join(runner.work_dir, self.out_dir)
        self.exported = model.export_hf(path, save_processor=self.save_processor)
        runner.logger.info(f'HF checkpoint written to {path} (load it with '
                           'PixelQwen2_5_VLForConditionalGeneration.from_pretrained or `unipixel` commands)')
