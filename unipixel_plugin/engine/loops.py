"""Training loop: MMEngine's ``IterBasedTrainLoop`` without the 2 s pause at each pass over an in-process dataloader.

MMEngine restarts the dataloader of an iteration-based loop when it runs out and sleeps 2 s first ("prevent possible
deadlock during epoch transition", a concern of worker processes). With the toy's tiny epochs (4 batches) that pause
took most of a run's time. :class:`UniPixelIterBasedTrainLoop` restarts the same way (same ``set_epoch`` calls, so
the batches and the exact resume are unchanged) and skips the pause when the dataloader has no worker processes.
"""
from __future__ import annotations

import logging
import time

from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop

from unipixel_plugin.registry import LOOPS


class _RestartingIterator:
    """MMEngine's infinite dataloader iterator; the pause at a restart only with worker processes."""

    def __init__(self, dataloader):
        self._dataloader = dataloader
        self._iterator = iter(dataloader)
        self._epoch = 0

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._iterator)
        except StopIteration:
            self._epoch += 1
            sampler = getattr(self._dataloader, 'sampler', None)
            if not hasattr(sampler, 'set_epoch'):
                sampler = getattr(getattr(self._dataloader, 'batch_sampler', None), 'sampler', None)
            if hasattr(sampler, 'set_epoch'):
                sampler.set_epoch(self._epoch)
            if getattr(self._dataloader, 'num_workers', 0) > 0:
                print_log('dataloader restarted (epoch end); pausing 2 s for its workers, as MMEngine does',
                          logger='current', level=logging.DEBUG)
                time.sleep(2)
            self._iterator = iter(self._dataloader)
            return next(self._iterator)


@LOOPS.register_module()
class UniPixelIterBasedTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` whose dataloader restarts without a pause when it has no worker processes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.dataloader_iterator = _RestartingIterator(self.dataloader)


__all__ = ['UniPixelIterBasedTrainLoop']
