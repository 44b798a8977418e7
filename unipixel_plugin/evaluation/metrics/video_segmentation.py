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

Speed: the reference builds the boundary maps of each whole frame from shifted copies and dilates both with the
disk (OpenCV), frame by frame. Here the masks are packed 64 pixels to a 64-bit word; J's counts are popcounts;
for F each frame is cropped to the rows and words that hold its masks (nothing outside can be a boundary pixel),
the crops of many frames are stacked on one canvas, and the boundary maps (shifts and XORs of words), the disk
dilations (shifted ORs: one horizontal dilation per distinct half-width of the disk, then one OR per disk row)
and the matched counts (popcounts of ANDs) are whole-canvas numpy operations on 1/64 of the pixels.
"""
from __future__ import annotations

import math
from typing import Any, Tuple, Union

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


_WORD_BITS = 64
CANVAS_WORDS = 1 << 16
"""Crops are scored in batches laid out on canvases of about this many 64-bit words (512 KiB per map: the
whole-canvas operations then run in cache)."""


def _popcount(array: np.ndarray, axis) -> np.ndarray:
    """Set bits of an unsigned integer array, summed over ``axis``."""
    if array.dtype == np.uint8 and array.ndim == 2 and axis == 1 and array.shape[1] % 8 == 0 \
            and array.flags.c_contiguous:
        array = array.view(np.uint64)  # same bits, an eighth of the elements
    if hasattr(np, 'bitwise_count'):
        return np.bitwise_count(array).sum(axis=axis, dtype=np.int64)
    return np.unpackbits(np.ascontiguousarray(array).view(np.uint8)).reshape(
        array.shape + (8 * array.itemsize,)).sum(axis=-1, dtype=np.int64).sum(axis=axis)


# A canvas is uint64 (words, rows): word k of a row holds columns 64 k .. 64 k + 63 of it (bit i = column 64 k + i),
# stored word-major so that every operation below runs over long contiguous blocks.

def _from_right(words: np.ndarray, shift: int) -> np.ndarray:
    """Each bit takes the value of the bit ``shift`` columns to its right (0 past the last word)."""
    out = words >> np.uint64(shift)
    out[:-1] |= words[1:] << np.uint64(_WORD_BITS - shift)
    return out


def _from_left(words: np.ndarray, shift: int) -> np.ndarray:
    """Each bit takes the value of the bit ``shift`` columns to its left (0 before the first word)."""
    out = words << np.uint64(shift)
    out[1:] |= words[:-1] >> np.uint64(_WORD_BITS - shift)
    return out


def _grow(words: np.ndarray, shift: int) -> np.ndarray:
    """``words | _from_left(words, shift) | _from_right(words, shift)`` with fewer temporaries."""
    near, far = np.uint64(shift), np.uint64(_WORD_BITS - shift)
    out = words << near
    out |= words
    out |= words >> near
    out[1:] |= words[:-1] >> far
    out[:-1] |= words[1:] << far
    return out


def _packed_boundary(canvas: np.ndarray, last_column: np.ndarray, row_mask: np.ndarray) -> np.ndarray:
    """seg2bmap on a canvas: a pixel differs from its east, south or south-east neighbour.

    ``last_column`` has the bit of the image's last column set (in crops that reach it): there the east and
    south-east neighbours are taken equal to the pixel (no neighbour). Crops that reach the image's last row have
    that row repeated below them, so their south neighbour is equal too. ``row_mask`` clears the rows outside
    the crops.
    """
    east = _from_right(canvas, 1)
    east |= canvas & last_column
    south = np.zeros_like(canvas)
    south[:, :-1] = canvas[:, 1:]
    south_east = _from_right(south, 1)
    south_east |= canvas & last_column
    out = (canvas ^ east) | (canvas ^ south) | (canvas ^ south_east)
    out &= row_mask
    return out


def _dilate_disk(bits: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation of a canvas by the tolerance disk: the rows shifted by ``dy`` after a horizontal dilation
    by ``isqrt(r**2 - dy**2)`` (one per distinct half-width, each grown from the previous by shifted ORs)."""
    half_widths = [math.isqrt(radius * radius - dy * dy) for dy in range(radius + 1)]
    by_width, current, reach = {}, bits, 0
    for width in sorted(set(half_widths)):
        while reach < width:
            step = min(width - reach, 2 * reach + 1, _WORD_BITS - 1)
            current = _grow(current, step)
            reach += step
        by_width[width] = current
    out = by_width[half_widths[0]].copy()
    for dy in range(1, radius + 1):
        row = by_width[half_widths[dy]]
        out[:, dy:] |= row[:, :-dy]
        out[:, :-dy] |= row[:, dy:]
    return out


def _frame_counts(pred: np.ndarray, gt: np.ndarray, radius: int, need_f: bool) -> np.ndarray:
    """Per frame: intersection, union, |Bp|, |Bp matched|, |Bg|, |Bg matched| (``int64`` ``(T, 6)``).

    The masks are packed 8 pixels to a byte; J's counts are popcounts of whole frames. For F each frame is
    cropped to the rows and bytes that hold its masks plus a margin of zero pixels (or the image edge), the crops
    of many frames are stacked on a canvas of 64-bit words ``radius + 2`` rows apart, and the boundary maps, disk
    dilations and matched counts are a few dozen whole-canvas bit operations.
    """
    frames, height, width = pred.shape
    counts = np.zeros((frames, 6), dtype=np.int64)
    p_bytes = np.packbits(pred, axis=-1, bitorder='little')
    g_bytes = np.packbits(gt, axis=-1, bitorder='little')
    counts[:, 0] = _popcount((p_bytes & g_bytes).reshape(frames, -1), axis=1)
    union = p_bytes | g_bytes
    counts[:, 1] = _popcount(union.reshape(frames, -1), axis=1)
    if not need_f:
        return counts
    rows_any = union.any(axis=2)
    byte_columns = np.bitwise_or.reduce(union, axis=1)  # (T, bytes)
    present = np.flatnonzero(rows_any.any(axis=1))
    if present.size == 0:
        return counts
    first_row = rows_any.argmax(axis=1)
    last_row = height - 1 - rows_any[:, ::-1].argmax(axis=1)
    bytes_any = byte_columns != 0
    first_byte = bytes_any.argmax(axis=1)
    last_byte = union.shape[-1] - 1 - bytes_any[:, ::-1].argmax(axis=1)
    crops = []
    for t in present.tolist():
        b0 = int(first_byte[t])
        if b0 > 0 and byte_columns[t, b0] & 1:
            b0 -= 1  # the zero column left of the masks lies in the byte before
        crops.append((t, max(int(first_row[t]) - 1, 0), int(last_row[t]) + 1, b0, int(last_byte[t]) + 1))
    # a canvas is as wide as its widest crop: batch crops of similar widths (at most 1/4 wider than the narrowest)
    crops.sort(key=lambda c: c[4] - c[3])
    batch, size, narrowest = [], 0, 0
    for crop in crops:
        n_words = -(-(crop[4] - crop[3]) // 8)
        if batch and (size >= CANVAS_WORDS or 4 * n_words > 5 * narrowest):
            _score_canvas(p_bytes, g_bytes, batch, height, width, radius, counts)
            batch, size = [], 0
        if not batch:
            narrowest = n_words
        batch.append(crop)
        size += (crop[2] - crop[1] + radius + 2) * n_words
    if batch:
        _score_canvas(p_bytes, g_bytes, batch, height, width, radius, counts)
    return counts


def _score_canvas(p_bytes, g_bytes, batch, height, width, radius, counts) -> None:
    """Boundary pixel and matched counts of the crops ``batch`` = ``[(t, y0, y1, b0, b1)]`` (rows, bytes)."""
    n_bytes = p_bytes.shape[-1]
    starts, offset = [], 0
    for _, y0, y1, _, _ in batch:
        starts.append(offset)
        offset += (y1 - y0) + radius + 2
    n_words = max(-(-(b1 - b0) // 8) for *_, b0, b1 in batch)
    p_canvas = np.zeros((n_words, offset), np.uint64)
    g_canvas = np.zeros_like(p_canvas)
    last_column = np.zeros_like(p_canvas)
    row_mask = np.zeros(offset, np.uint64)
    p_view = p_canvas.view(np.uint8).reshape(n_words, offset, 8)
    g_view = g_canvas.view(np.uint8).reshape(n_words, offset, 8)
    for (t, y0, y1, b0, b1), s in zip(batch, starts, strict=True):
        h, nb = y1 - y0, b1 - b0
        words = -(-nb // 8)
        for view, source in ((p_view, p_bytes), (g_view, g_bytes)):
            block = np.zeros((h, 8 * words), np.uint8)
            block[:, :nb] = source[t, y0:y1, b0:b1]
            view[:words, s:s + h] = block.reshape(h, words, 8).transpose(1, 0, 2)
        row_mask[s:s + h] = ~np.uint64(0)
        if b1 == n_bytes:
            column = width - 1 - 8 * b0
            last_column[column // _WORD_BITS, s:s + h] = np.uint64(1) << np.uint64(column % _WORD_BITS)
        if y1 == height:  # repeat the image's last row below the crop: no south neighbour = an equal one
            p_canvas[:, s + h] = p_canvas[:, s + h - 1]
            g_canvas[:, s + h] = g_canvas[:, s + h - 1]
    starts = np.asarray(starts)
    frame_of = np.fromiter((b[0] for b in batch), dtype=np.intp, count=len(batch))
    p_bound = _packed_boundary(p_canvas, last_column, row_mask)
    g_bound = _packed_boundary(g_canvas, last_column, row_mask)

    def per_crop(words: np.ndarray) -> np.ndarray:
        return np.add.reduceat(_popcount(words, axis=0), starts)

    counts[frame_of, 2] += per_crop(p_bound)
    counts[frame_of, 4] += per_crop(g_bound)
    counts[frame_of, 3] += per_crop(p_bound & _dilate_disk(g_bound, radius))
    counts[frame_of, 5] += per_crop(g_bound & _dilate_disk(p_bound, radius))


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
    counts = _frame_counts(np.ascontiguousarray(pred), np.ascontiguousarray(gt), radius, need_f)
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
