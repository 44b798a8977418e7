"""Training hooks: exact resume (random states in checkpoints), throughput, sample segmentations as pictures in the
visualizer, and the HF export at the end of training."""
from __future__ import annotations

import os
import os.path as osp
import random
import time
from typing import Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info, is_main_process
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
        _world_readable(path)
        runner.logger.info(f'HF checkpoint written to {path} (load it with '
                           'PixelQwen2_5_VLForConditionalGeneration.from_pretrained or `unipixel` commands)')


def capture_random_state() -> dict:
    """This process's generators: python, numpy's legacy global one, torch CPU and every CUDA device."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    # plain lists and tensors only: checkpoints are read back with torch.load(weights_only=True)
    state = dict(python=random.getstate(), numpy=[kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss,
                                                  gauss], torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_random_state(state: dict) -> None:
    random.setstate(state['python'])
    kind, keys, pos, has_gauss, gauss = state['numpy']
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save every rank's random generators in each checkpoint and restore them on ``--resume``.

    MMEngine's checkpoints hold weights, optimizer, schedulers and the message hub, but no random state: a resumed run
    then draws other dropout masks and other ``sample_objects`` subsets than the uninterrupted run would have. This
    hook records the generators at the end of every training iteration (on every rank: under DDP they are gathered to
    the main process, which alone writes checkpoints), stores them under ``checkpoint['random_states']`` (one entry per
    rank) and, after a resume, puts them back just before the first resumed iteration runs. The data pipeline and the
    samplers are seeded per sample / per epoch (see :mod:`unipixel_plugin.data`), so the skipped batches replay
    exactly. A checkpoint written by another number of ranks resumes with a warning and fresh generators.
    """

    priority = 'LOW'  # after the logger, before CheckpointHook (VERY_LOW) writes the checkpoint

    def __init__(self):
        self._latest: Optional[list] = None
        self._pending: Optional[dict] = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        state = capture_random_state()
        _, world = get_dist_info()
        self._latest = all_gather_object(state) if world > 1 else [state]

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._latest is not None:
            checkpoint['random_states'] = self._latest

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get('random_states')
        if not states:
            runner.logger.warning('the checkpoint holds no random states (written without RandomStateHook): the '
                                  'resumed run draws fresh random numbers and will not match an uninterrupted run')
            return
        rank, world = get_dist_info()
        if len(states) != world:
            runner.logger.warning(f'the checkpoint holds random states of {len(states)} ranks, this run has {world}: '
                                  'resuming with fresh generators')
            return
        self._pending = states[rank]

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self._pending is not None:
            restore_random_state(self._pending)
            self._pending = None


def _world_readable(path: str) -> None:
    """safetensors writes files 0600; an exported model is meant to be shared (and served by the demo)."""
    for root, dirs, files in os.walk(path):
        for name in dirs:
            full = osp.join(root, name)
            os.chmod(full, os.stat(full).st_mode | 0o755)
        for name in files:
            full = osp.join(root, name)
            os.chmod(full, os.stat(full).st_mode | 0o644)
    os.chmod(path, os.stat(path).st_mode | 0o755)


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class ThroughputHook(Hook):
    """Log ``samples_per_s`` and ``tokens_per_s`` (this rank's, non-padding tokens) next to the losses.

    Measured between the ends of consecutive training iterations, so data loading is included; under DDP each rank
    logs its own figure (multiply by the world size for the job's).
    """

    priority = 'BELOW_NORMAL'

    def __init__(self):
        self._last: Optional[float] = None

    def before_train(self, runner) -> None:
        self._last = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        now = time.perf_counter()
        size = getattr(_unwrap(runner.model), 'last_batch_size', None)
        if self._last is not None and size is not None and now > self._last:
            elapsed = now - self._last
            runner.message_hub.update_scalar('train/samples_per_s', size['samples'] / elapsed)
            runner.message_hub.update_scalar('train/tokens_per_s', size['tokens'] / elapsed)
        self._last = now


@HOOKS.register_module()
class SegmentationSampleHook(Hook):
    """Every ``interval`` iterations (and after the last), segment the first ``num_samples`` validation samples
    with the model as it is and add the overlays (the generated answer as caption, one colour per ``<|seg|>`` mask,
    the first frame) to the visualizer: PNGs under ``vis_data/vis_image`` with the local backend, images in
    TensorBoard / W&B with theirs.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 500, num_samples: int = 1):
        self.interval, self.num_samples = interval, num_samples
        self.written: list[str] = []

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval) or self.is_last_train_iter(runner):
            self.draw(runner)

    def draw(self, runner) -> None:
        from unipixel_plugin.inference.outputs import overlay
        if not is_main_process() or runner.val_loop is None:
            return  # no val_dataloader configured
        loader = runner.val_loop.dataloader
        model = _unwrap(runner.model)
        was_training = model.training
        model.eval()
        try:
            drawn = 0
            for batch in loader:
                results = model.val_step(batch)
                for frames, result in zip(batch['frames'], results):
                    frame = np.asarray(frames[0] if hasattr(frames, '__len__') else frames).astype(np.uint8)
                    pred = result.get('pred_masks')
                    masks = [] if pred is None or len(pred) == 0 else [np.asarray(m[0]) for m in pred]
                    image = overlay(frame, masks, caption=result.get('text', ''))
                    name = f'segmentation_{drawn}'
                    runner.visualizer.add_image(name, image, step=runner.iter + 1)
                    self.written.append(name)
                    drawn += 1
                    if drawn >= self.num_samples:
                        return
        finally:
            model.train(was_training)
