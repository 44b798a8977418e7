"""cIoU and gIoU of referring / reasoning image segmentation (RefCOCO, RefCOCO+, RefCOCOg, RefClef, ReasonSeg).

* **cIoU** (cumulative IoU) = sum of intersections / sum of unions over the samples.
* **gIoU** (generalised IoU) = mean of the per-sample IoUs; a sample whose union is empty (nothing predicted,
  nothing to find) scores 1.

Two conventions for the arithmetic (``convention=``):

* ``'exact'`` (default; upstream UniPixel's ``eval_refcoco.py``): per-sample IoU ``inter / union`` in float64,
  gIoU ``sum / n``, cIoU ``sum(inter) / sum(union)`` with exact integer sums.
* ``'lisa'`` (LISA's ``validate`` in ``train_ds.py``): per-sample IoU in float32 as
  ``float32(inter) / (float32(union) + 1e-5)``, gIoU ``sum / (n + 1e-5)``, cIoU ``sum(inter) / (sum(union) + 1e-10)``.
  The two differ by ~1e-8 per sample. LISA also accumulates its sums in float32, which is exact only while the
  totals stay below 2**24 pixels; the sums here are exact (float64 / integers), so for large sets the two agree to
  LISA's printed 4 decimals rather than to the bit.

Regions to ignore (ReasonSeg's ``ignore`` polygons, value 255 in LISA's label maps) are given as a separate mask.
``ignore='exclude'`` (default, LISA) leaves those pixels out of both masks; ``ignore='background'`` turns them into
background of the ground truth only (what upstream UniPixel does, drawing them with -1 into a ``uint8`` map), so a
prediction there counts as a false positive.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Tuple

import numpy as np

CONVENTIONS = ('exact', 'lisa')
IGNORE_MODES = ('exclude', 'background')


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise ValueError(f'convention must be one of {CONVENTIONS}, got {convention!r}')


def intersection_and_union(pred: Any, gt: Any, ignore_mask: Any = None, *, ignore: str = 'exclude') -> Tuple[int, int]:
    """Intersection and union pixel counts of one sample.

    Args:
        pred: predicted mask, any shape (``(H, W)`` for an image), any dtype (read as ``!= 0``).
        gt: ground-truth mask of the same shape.
        ignore_mask: optional mask of the same shape: pixels excluded from scoring.
        ignore: ``'exclude'`` (drop ignored pixels from both masks) or ``'background'`` (ignored pixels become
            ground-truth background; the prediction is kept).

    Returns:
        ``(intersection, union)`` as ints.
    """
    if ignore not in IGNORE_MODES:
        raise ValueError(f'ignore must be one of {IGNORE_MODES}, got {ignore!r}')
    pred, gt = np.asarray(pred) != 0, np.asarray(gt) != 0
    if pred.shape != gt.shape:
        raise ValueError(f'pred and gt must have the same shape: pred {pred.shape}, gt {gt.shape}')
    if ignore_mask is not None:
        ignore_mask = np.asarray(ignore_mask) != 0
        if ignore_mask.shape != gt.shape:
            raise ValueError(f'ignore_mask must have the shape of gt: ignore_mask {ignore_mask.shape}, gt {gt.shape}')
        keep = ~ignore_mask
        gt = gt & keep
        if ignore == 'exclude':
            pred = pred & keep
    inter = int(np.count_nonzero(pred & gt))
    union = int(np.count_nonzero(pred | gt))
    return inter, union


def sample_iou(inter: int, union: int, convention: str = 'exact') -> float:
    """IoU of one sample from its counts; an empty union scores 1 (both conventions)."""
    _check_convention(convention)
    if convention == 'exact':
        return 1.0 if union == 0 else inter / union
    value = np.float32(inter) / (np.float32(union) + np.float32(1e-5))
    return float(value + np.float32(1.0)) if union == 0 else float(value)


def cumulative_iou(intersections: Iterable[int], unions: Iterable[int], convention: str = 'exact') -> float:
    """cIoU: sum of intersections over sum of unions (0 when every union is empty, 'exact' convention)."""
    _check_convention(convention)
    total_inter = sum(int(i) for i in intersections)
    total_union = sum(int(u) for u in unions)
    if convention == 'lisa':
        return total_inter / (total_union + 1e-10)
    return total_inter / total_union if total_union else 0.0


def generalized_iou(intersections: Iterable[int], unions: Iterable[int], convention: str = 'exact') -> float:
    """gIoU: mean of the per-sample IoUs (:func:`sample_iou`)."""
    _check_convention(convention)
    ious = [sample_iou(int(i), int(u), convention) for i, u in zip(intersections, unions, strict=True)]
    if convention == 'lisa':
        return sum(ious) / (len(ious) + 1e-5)
    if not ious:
        raise ValueError('generalized_iou of no samples')
    return sum(ious) / len(ious)


@dataclass
class IoUAccumulator:
    """Sufficient statistics of cIoU / gIoU: sums that add across batches and ranks (``merge``).

    ``iou_sum`` holds the per-sample IoUs in the accumulator's convention.
    """
    convention: str = 'exact'
    inter_sum: int = 0
    union_sum: int = 0
    iou_sum: float = 0.0
    count: int = 0

    def __post_init__(self):
        _check_convention(self.convention)

    def add(self, pred: Any, gt: Any, ignore_mask: Any = None, *, ignore: str = 'exclude') -> Tuple[int, int]:
        """Scores one sample (see :func:`intersection_and_union`); returns its ``(intersection, union)``."""
        inter, union = intersection_and_union(pred, gt, ignore_mask, ignore=ignore)
        self.add_counts(inter, union)
        return inter, union

    def add_counts(self, inter: int, union: int) -> None:
        if inter < 0 or union < inter:
            raise ValueError(f'need 0 <= intersection <= union, got intersection {inter}, union {union}')
        self.inter_sum += int(inter)
        self.union_sum += int(union)
        self.iou_sum += sample_iou(inter, union, self.convention)
        self.count += 1

    def merge(self, other: 'IoUAccumulator') -> 'IoUAccumulator':
        if other.convention != self.convention:
            raise ValueError(f'cannot merge a {other.convention!r} accumulator into a {self.convention!r} one')
        return IoUAccumulator(self.convention, self.inter_sum + other.inter_sum, self.union_sum + other.union_sum,
                              self.iou_sum + other.iou_sum, self.count + other.count)

    @property
    def ciou(self) -> float:
        if self.convention == 'lisa':
            return self.inter_sum / (self.union_sum + 1e-10)
        return self.inter_sum / self.union_sum if self.union_sum else 0.0

    @property
    def giou(self) -> float:
        if self.convention == 'lisa':
            return self.iou_sum / (self.count + 1e-5)
        if not self.count:
            raise ValueError('gIoU of no samples')
        return self.iou_sum / self.count


__all__ = ['CONVENTIONS', 'IGNORE_MODES', 'intersection_and_union', 'sample_iou', 'cumulative_iou',
           'generalized_iou', 'IoUAccumulator']
