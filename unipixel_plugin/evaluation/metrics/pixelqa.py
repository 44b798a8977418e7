"""Mask scores of PixelQA (UniPixel's own task: VideoRefer-Bench-Q questions whose objects are also segmented).

Upstream (``infer_pixelqa.py``) scores each object's masks over the sampled frames as ONE volume, in float32:

* **volume J** = ``tp / (tp + fp + fn + 1e-6)`` (intersection over union of the whole volume);
* **pixel F1** = ``2 P R / (P + R + 1e-6)`` with ``P = tp / (tp + fp + 1e-6)`` and ``R = tp / (tp + fn + 1e-6)``
  (pixel counts, not DAVIS' boundary F).

Both masks empty -> 0 for both scores (the epsilons make it so; DAVIS' J would say 1). The dataset scores are the
means over all objects of all questions (``eval_pixelqa.py``); accuracy is :mod:`.multiple_choice`.
"""
from __future__ import annotations

from typing import Any, Tuple

import numpy as np

_EPS = np.float32(1e-6)


def _volume_counts(pred: Any, gt: Any) -> Tuple[int, int, int]:
    """``(tp, fp, fn)`` pixel counts of the two volumes (ints)."""
    pred, gt = np.asarray(pred) != 0, np.asarray(gt) != 0
    if pred.shape != gt.shape:
        raise ValueError(f'pred and gt must have the same shape: pred {pred.shape}, gt {gt.shape}')
    tp = int(np.count_nonzero(pred & gt))
    return tp, int(np.count_nonzero(pred)) - tp, int(np.count_nonzero(gt)) - tp


def pixelqa_volume_j(pred: Any, gt: Any) -> float:
    """Volume J of one object: masks of any shape (``(T, H, W)`` for the sampled frames), float32 arithmetic."""
    tp, fp, fn = _volume_counts(pred, gt)
    # the union is counted as an integer and then made float32, as upstream's (pred | gt).sum().float()
    return float(np.float32(tp) / (np.float32(tp + fp + fn) + _EPS))


def pixel_f1(pred: Any, gt: Any) -> float:
    """Pixel F1 of one object: masks of any shape, float32 arithmetic (see the module docstring)."""
    tp, fp, fn = (np.float32(n) for n in _volume_counts(pred, gt))
    precision = tp / ((tp + fp) + _EPS)
    recall = tp / ((tp + fn) + _EPS)
    return float((np.float32(2) * precision * recall) / ((precision + recall) + _EPS))


__all__ = ['pixelqa_volume_j', 'pixel_f1']
