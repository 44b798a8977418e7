"""Region similarity J and boundary accuracy F of the DAVIS benchmark, per frame, for one mask or a stack of frames.

The definitions are those of the DAVIS 2017 evaluation code (``davis2017/metrics.py``), which the Ref-VOS, MeViS
and ReVOS scoring scripts copy:

* **J** (region similarity): intersection over union of the two masks; a frame where both masks are empty scores 1.
* **F** (boundary accuracy): the F-measure of the two masks' boundary maps. A pixel is a boundary pixel when it
  differs from its east, south or south-east neighbour (pixels outside the image are no neighbours: on the last row
  only the east neighbour counts, on the last column only the south one, and the bottom-right pixel is never a
  boundary pixel), so the image border is never a boundary and a full-frame mask has no boundary at all. A boundary
  pixel of one mask is matched when a boundary pixel of the other lies within the tolerance disk,
  ``{(dx, dy): dx**2 + dy**2 <= r**2}`` with ``r = ceil(bound_th * sqrt(H**2 + W**2))`` (``bound_th`` 0.008: 1 px
  at 37x53, 8 px at 480x854). Precision is the matched share of the prediction's boundary pixels, recall that of
  the ground truth's; no boundary on either side scores 1, on one side only 0.

Masks of any dtype are read as ``mask != 0``, so 0/1 and 0/255 masks score the same. Values equal the reference
code's to the last bit (same integer counts, same float64 operations).

Speed: the reference dilates both boundary maps of the whole frame with the disk. Here each frame is cropped to
the bounding box of the two masks first (nothing outside it can be a boundary), the boundary maps are a 2x2
dilation minus a 2x2 erosion, and a boundary pixel is tested against the other map with an integral image: the
digital disk is the union of a few centred rectangles (one per step of its outline), so "some pixel of the other
boundary in the disk" is "the rectangle sums add up to more than 0", four look-ups per rectangle at the boundary
pixels only.
"""
from __future__ import annotations

import math
from typing import Any, Tuple, Union

import cv2
import numpy as np

BOUND_TH = 0.008
"""DAVIS' boundary tolerance: a fraction of the image diagonal (``< 1``) or, from 1 up, a radius in pixels."""

_KERNEL_2X2 = np.ones((2, 2), np.uint8)


def boundary_tolerance(height: int, width: int, bound_th: float = BOUND_TH) -> int:
    """Radius in pixels of the boundary tolerance disk for an ``height x width`` frame.

    ``bound_th < 1`` is a fraction of the diagonal, rounded up (``ceil(bound_th * sqrt(H**2 + W**2))``: 1 at
    37x53, 8 at 480x854); ``bound_th >= 1`` is the radius itself and must then be a whole number (the reference
    builds an even-sized, off-centre disk from a fractional radius; that case is refused rather than mimicked).
    """
    if not bound_th >= 0:
        raise ValueError(f'bound_th must be >= 0, got {bound_th!r}')
    if bound_th >= 1:
        if float(bound_th) != int(bound_th):
            raise ValueError(f'bound_th >= 1 is a radius in pixels and must be a whole number, got {bound_th!r}')
        return int(bound_th)
    # same float64 operations as np.ceil(bound_th * np.linalg.norm((H, W))) in the reference
    return int(math.ceil(bound_th * math.sqrt(float(height) * height + float(width) * width)))


def tolerance_disk(radius: int) -> np.ndarray:
    """``uint8`` array ``(2r+1, 2r+1)``: 1 where ``dx**2 + dy**2 <= r**2`` (skimage's ``disk(r)``)."""
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius * radius).astype(np.uint8)


def _disk_rectangles(radius: int) -> list[tuple[int, int]]:
    """Half-sizes ``(h, w)`` of the centred rectangles ``[-h, h] x [-w, w]`` whose union is the tolerance disk."""
    half_widths = [math.isqrt(radius * radius - dy * dy) for dy in range(radius + 1)]
    return [(max(dy for dy in range(radius + 1) if half_widths[dy] >= w), w) for w in sorted(set(half_widths))]


def _as_masks(mask: Any, name: str) -> np.ndarray:
    array = np.asarray(mask)
    if array.ndim not in (2, 3):
        raise ValueError(f'{name} must be a mask (H, W) or a stack of frames (T, H, W), got shape {array.shape}')
    if array.shape[-1] == 0 or array.shape[-2] == 0:
        raise ValueError(f'{name} has empty frames: shape {array.shape}')
    return array if array.dtype == np.bool_ else array != 0


def _pair(pred: Any, gt: Any) -> Tuple[np.ndarray, np.ndarray]:
    pred, gt = _as_masks(pred, 'pred'), _as_masks(gt, 'gt')
    if pred.shape != gt.shape:
        raise ValueError(f'pred and gt must have the same shape: pred {pred.shape}, gt {gt.shape}')
    return pred, gt


def boundary_map(mask: Any) -> np.ndarray:
    """DAVIS' ``seg2bmap`` boundary map of a mask ``(H, W)`` or of each frame of a stack ``(T, H, W)`` (``bool``).

    A pixel is on the boundary when it differs from its east, south or south-east neighbour inside the image.
    """
    mask = _as_masks(mask, 'mask')
    out = np.zeros(mask.shape, dtype=bool)
    here = mask[..., :-1, :-1]
    out[..., :-1, :-1] = (here ^ mask[..., :-1, 1:]) | (here ^ mask[..., 1:, :-1]) | (here ^ mask[..., 1:, 1:])
    out[..., -1, :-1] = mask[..., -1, :-1] ^ mask[..., -1, 1:]
    out[..., :-1, -1] = mask[..., :-1, -1] ^ mask[..., 1:, -1]
    return out


def _crop_boundary(crop: np.ndarray) -> np.ndarray:
    """``uint8`` 0/1 boundary map of a 0/1 ``uint8`` crop (2x2 max minus 2x2 min, anchored top-left).

    OpenCV pads dilation with the minimum and erosion with the maximum, so a neighbour outside the crop never
    counts: the reference's last-row / last-column rules. Crops are taken one zero row/column past the masks'
    bounding box (or at the image edge), so this equals the full-frame map inside the crop.
    """
    return cv2.subtract(cv2.dilate(crop, _KERNEL_2X2, anchor=(0, 0)), cv2.erode(crop, _KERNEL_2X2, anchor=(0, 0)))


class _DiskMatcher:
    """Counts the pixels of one boundary map that have a pixel of another within the tolerance disk."""

    def __init__(self, radius: int):
        self.radius = radius
        rectangles = _disk_rectangles(radius)
        # the largest rectangle first: it settles most pixels with 4 look-ups
        self.rectangles = sorted(rectangles, key=lambda hw: -(2 * hw[0] + 1) * (2 * hw[1] + 1))
        self._offsets: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def offsets(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Flat offsets into an integral image of row length ``row``, ``(2, 2)`` for the first rectangle and
        ``(2, 2K - 2)`` for the others: row 0 the corners added, row 1 those taken."""
        found = self._offsets.get(row)
        if found is None:
            corners = np.array([[[(h + 1) * row + (w + 1), -h * row - w], [-h * row + (w + 1), (h + 1) * row - w]]
                                for h, w in self.rectangles], dtype=np.intp)  # (K, 2, 2)
            found = self._offsets[row] = (corners[0], corners[1:].transpose(1, 0, 2).reshape(2, -1))
        return found

    def count(self, source: np.ndarray, target: np.ndarray) -> int:
        """Pixels of ``source`` (0/1 ``uint8`` crop) with a ``target`` pixel (same crop) in the disk around them."""
        points = np.flatnonzero(source.view(np.bool_))
        if points.size == 0:
            return 0
        pad = self.radius
        integral = cv2.integral(cv2.copyMakeBorder(target, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0),
                                sdepth=cv2.CV_32S).ravel()
        row = source.shape[1] + 2 * pad + 1
        ys, xs = np.divmod(points, source.shape[1])
        base = (ys + pad) * row + (xs + pad)
        first, others = self.offsets(row)
        values = integral[first[:, :, None] + base]  # (2, 2, n)
        hit = values[0].sum(axis=0) > values[1].sum(axis=0)
        matched = int(np.count_nonzero(hit))
        if others.shape[1] and matched < base.size:
            rest = base[~hit]
            values = integral[others[:, :, None] + rest]  # (2, 2K - 2, n)
            matched += int(np.count_nonzero(values[0].sum(axis=0) > values[1].sum(axis=0)))
        return matched


def _row_span(frame: np.ndarray, block: int = 32) -> Tuple[int, int]:
    """First and last row of a C-contiguous ``bool`` frame that hold a pixel, or ``(-1, -1)`` when it is empty.

    The first row is a short-circuiting ``argmax`` over the flat frame; the last one a scan of row blocks from the
    bottom: both stop at the mask instead of reading the whole frame.
    """
    flat = frame.reshape(-1)
    first = int(np.argmax(flat))
    if not flat[first]:
        return -1, -1
    height = frame.shape[0]
    for stop in range(height, 0, -block):
        chunk = frame[max(stop - block, 0):stop]
        if chunk.any():
            return first // frame.shape[1], max(stop - block, 0) + int(np.flatnonzero(chunk.any(axis=1))[-1])
    raise AssertionError('unreachable: the frame has a pixel')


def _frame_counts(pred: np.ndarray, gt: np.ndarray, matcher: _DiskMatcher, need_f: bool) -> np.ndarray:
    """Per frame: intersection, union, |Bp|, |Bp matched|, |Bg|, |Bg matched| (``int64`` ``(T, 6)``)."""
    frames, height, width = pred.shape
    counts = np.zeros((frames, 6), dtype=np.int64)
    for t in range(frames):
        p0, p1 = _row_span(pred[t])
        g0, g1 = _row_span(gt[t])
        if p0 < 0 and g0 < 0:
            continue  # both empty: J = 1 and no boundary on either side (F = 1)
        top = min(r for r in (p0, g0) if r >= 0)
        bottom = max(p1, g1)
        # one zero row/column past the masks (where the image has one), so boundary rules are the full frame's
        y0, y1 = max(top - 1, 0), min(bottom + 2, height)
        cols = np.flatnonzero(pred[t, top:bottom + 1].any(axis=0) | gt[t, top:bottom + 1].any(axis=0))
        x0, x1 = max(int(cols[0]) - 1, 0), min(int(cols[-1]) + 2, width)
        p = pred[t, y0:y1, x0:x1].view(np.uint8)
        g = gt[t, y0:y1, x0:x1].view(np.uint8)
        counts[t, 0] = cv2.countNonZero(cv2.bitwise_and(p, g))
        counts[t, 1] = cv2.countNonZero(cv2.bitwise_or(p, g))
        if need_f:
            bp, bg = _crop_boundary(p), _crop_boundary(g)
            counts[t, 2] = cv2.countNonZero(bp)
            counts[t, 4] = cv2.countNonZero(bg)
            if counts[t, 2] and counts[t, 4]:
                counts[t, 3] = matcher.count(bp, bg)
                counts[t, 5] = matcher.count(bg, bp)
    return counts


def _jaccard_from_counts(counts: np.ndarray) -> np.ndarray:
    inter, union = counts[:, 0], counts[:, 1]
    with np.errstate(divide='ignore', invalid='ignore'):
        j = inter / union
    j[union == 0] = 1.0
    return j


def _f_from_counts(counts: np.ndarray) -> np.ndarray:
    n_pred, m_pred, n_gt, m_gt = counts[:, 2], counts[:, 3], counts[:, 4], counts[:, 5]
    precision = np.ones(len(counts))
    recall = np.ones(len(counts))
    both = (n_pred > 0) & (n_gt > 0)
    precision[both] = m_pred[both] / n_pred[both].astype(np.float64)
    recall[both] = m_gt[both] / n_gt[both].astype(np.float64)
    recall[(n_pred == 0) & (n_gt > 0)] = 0.0  # nothing predicted where there is a boundary
    precision[(n_pred > 0) & (n_gt == 0)] = 0.0  # a boundary predicted where there is none
    total = precision + recall
    with np.errstate(divide='ignore', invalid='ignore'):
        f = 2 * precision * recall / total
    f[total == 0] = 0.0
    return f


def _scores(pred: Any, gt: Any, bound_th: float, need_f: bool):
    pred, gt = _pair(pred, gt)
    single = pred.ndim == 2
    if single:
        pred, gt = pred[None], gt[None]
    radius = boundary_tolerance(pred.shape[1], pred.shape[2], bound_th)
    counts = _frame_counts(np.ascontiguousarray(pred), np.ascontiguousarray(gt), _DiskMatcher(radius), need_f)
    return single, counts


def _out(single: bool, values: np.ndarray) -> Union[float, np.ndarray]:
    return float(values[0]) if single else values


def jaccard(pred: Any, gt: Any) -> Union[float, np.ndarray]:
    """Region similarity J (IoU) of ``pred`` and ``gt``: masks ``(H, W)`` -> float, stacks ``(T, H, W)`` -> ``(T,)``.

    Both masks empty -> 1 (DAVIS ``db_eval_iou``).
    """
    single, counts = _scores(pred, gt, BOUND_TH, need_f=False)
    return _out(single, _jaccard_from_counts(counts))


def boundary_f(pred: Any, gt: Any, bound_th: float = BOUND_TH) -> Union[float, np.ndarray]:
    """Boundary accuracy F of ``pred`` and ``gt``: masks ``(H, W)`` -> float, stacks ``(T, H, W)`` -> ``(T,)``.

    DAVIS ``db_eval_boundary(gt, pred, bound_th=bound_th)``; see the module docstring for the definition.
    """
    single, counts = _scores(pred, gt, bound_th, need_f=True)
    return _out(single, _f_from_counts(counts))


def j_and_f(pred: Any, gt: Any, bound_th: float = BOUND_TH):
    """``(J, F)`` of ``pred`` and ``gt`` in one pass.

    Args:
        pred: predicted mask ``(H, W)`` or frames ``(T, H, W)``, any dtype (read as ``!= 0``).
        gt: ground truth of the same shape.
        bound_th: boundary tolerance (:func:`boundary_tolerance`).

    Returns:
        ``(J, F)``: two floats for one mask, two ``float64`` arrays ``(T,)`` for a stack. An expression's J&F is
        ``(J.mean() + F.mean()) / 2``.
    """
    single, counts = _scores(pred, gt, bound_th, need_f=True)
    return _out(single, _jaccard_from_counts(counts)), _out(single, _f_from_counts(counts))


__all__ = ['BOUND_TH', 'boundary_tolerance', 'tolerance_disk', 'boundary_map', 'jaccard', 'boundary_f', 'j_and_f']
