"""Let MMEngine resume from its own checkpoints under torch >= 2.6 (``torch.load`` is ``weights_only`` by default).

MMEngine 0.10.7 loads checkpoints with ``torch.load(filename, map_location=...)``. Since torch 2.6 that uses the
restricted unpickler, which refuses the non-tensor objects a training checkpoint holds, so ``resume`` fails with
"Unsupported global: mmengine.logging.history_buffer.HistoryBuffer" (fixed on MMEngine's main branch, not in a
release). Instead of turning the safety off (``weights_only=False``), this:

* allow-lists, process-wide, the plain data types such checkpoints hold (:func:`checkpoint_globals`: the message
  hub's ``HistoryBuffer`` and the numpy array / dtype / scalar reconstructors);
* replaces MMEngine's loader of local files (``CheckpointLoader``'s ``''`` scheme) by one that also allows
  ``builtins.getattr`` for the duration of that one load: ``HistoryBuffer`` pickles its statistics methods as
  ``getattr(HistoryBuffer, 'mean')``. ``getattr`` stays off the process-wide list on purpose.
"""
from __future__ import annotations

import os.path as osp

import numpy as np
import torch


def checkpoint_globals() -> list:
    """The non-tensor data types found in MMEngine training checkpoints (message hub logs, numpy values)."""
    from mmengine.logging.history_buffer import HistoryBuffer

    try:  # numpy 2 moved the pickling helpers to numpy._core
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [type(np.dtype(t)) for t in (np.float64, np.float32, np.float16, np.int64, np.int32, np.int16,
                                                 np.int8, np.uint8, np.bool_)]
    return [HistoryBuffer, np.ndarray, np.dtype, _reconstruct, scalar, *dtype_classes]


def load_from_local_safe(filename: str, map_location=None):
    """MMEngine's local-file checkpoint loader, reading with ``weights_only=True`` and the globals above."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    with torch.serialization.safe_globals([*checkpoint_globals(), getattr]):
        return torch.load(filename, map_location=map_location, weights_only=True)


def allow_mmengine_checkpoints() -> None:
    """Install the allow-list and the loader (idempotent). Done when :mod:`unipixel_plugin.engine` is imported."""
    from mmengine.runner.checkpoint import CheckpointLoader

    torch.serialization.add_safe_globals(checkpoint_globals())
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local_safe, force=True)


__all__ = ['allow_mmengine_checkpoints', 'checkpoint_globals', 'load_from_local_safe']
