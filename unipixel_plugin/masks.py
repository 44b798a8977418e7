"""Masks in and out, for data, inference and evaluation alike: COCO RLE, COCO polygons, LabelMe shapes, PNG files,
resizing and boxes.

Every decoder returns ``bool`` arrays ``(H, W)`` and raises :class:`MaskError` naming the offending file and
annotation when an annotation is malformed, instead of the bare ``TypeError``/``KeyError`` pycocotools raises.
Predictions are written as COCO RLE (``{"size": [H, W], "counts": str}``) and 0/255 PNGs, the conventions of
UniPixel's and the benchmarks' prediction files.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import cv2
import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils


class MaskError(ValueError):
    """A mask annotation is malformed, unreadable or inconsistent with its frame."""


def _short(obj, limit: int = 120) -> str:
    text = repr(obj)
    return text if len(text) <= limit else text[:limit] + '...'


def rle_string_counts(counts: bytes) -> list[int]:
    """Run lengths of a compressed COCO RLE string (the LEB128-like format of the COCO mask API).

    Each run is stored in 5-bit groups (char - 48), bit 0x20 continues, bit 0x10 of the last group is the sign;
    from the third run on, a run is stored as the difference to the run two places before.
    """
    runs: list[int] = []
    pos, n = 0, len(counts)
    while pos < n:
        value, shift, more = 0, 0, True
        while more:
            if pos >= n:
                raise ValueError('string ends inside a run length')
            c = counts[pos] - 48
            if not 0 <= c < 64:
                raise ValueError(f'invalid character {chr(counts[pos])!r} at {pos}')
            value |= (c & 0x1f) << shift
            more = bool(c & 0x20)
            pos += 1
            shift += 5
            if not more and c & 0x10:
                value |= -1 << shift
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


def decode_rle(rle: dict, source: Optional[str] = None) -> np.ndarray:
    """Decode one COCO RLE (compressed ``counts`` string/bytes, or uncompressed ``counts`` list).

    Returns:
        ``bool`` array ``(H, W)`` with ``(H, W) = rle['size']``.
    """
    where = f' (from {source})' if source else ''
    if not isinstance(rle, dict) or 'size' not in rle or 'counts' not in rle:
        raise MaskError(f'malformed COCO RLE{where}: expected a dict with "size" and "counts", got {_short(rle)}')
    size = rle['size']
    if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(isinstance(s, int) and s > 0 for s in size)):
        raise MaskError(f'malformed COCO RLE{where}: "size" must be [height, width], got {_short(size)}')
    counts = rle['counts']
    try:
        if isinstance(counts, list):
            if sum(counts) != size[0] * size[1]:
                raise MaskError(f'malformed COCO RLE{where}: run lengths sum to {sum(counts)}, '
                                f'expected {size[0]}*{size[1]}={size[0] * size[1]}')
            rle = mask_utils.frPyObjects(rle, size[0], size[1])
        else:
            if isinstance(counts, str):
                counts = counts.encode('ascii')
            elif not isinstance(counts, bytes):
                raise MaskError(f'malformed COCO RLE{where}: "counts" must be a string or a list, '
                                f'got {_short(counts)}')
            # pycocotools writes past its buffer on inconsistent strings: check the runs before decoding
            runs = rle_string_counts(counts)
            if any(r < 0 for r in runs) or sum(runs) != size[0] * size[1]:
                raise MaskError(f'malformed COCO RLE{where}: run lengths sum to {sum(runs)} (negative runs: '
                                f'{sum(r < 0 for r in runs)}), expected {size[0]}*{size[1]}={size[0] * size[1]}')
            rle = {'size': list(size), 'counts': counts}
        mask = mask_utils.decode(rle)
    except MaskError:
        raise
    except Exception as err:
        raise MaskError(f'cannot decode COCO RLE{where}: {type(err).__name__}: {err}; rle={_short(rle)}') from err
    if mask.shape != tuple(size):
        raise MaskError(f'COCO RLE{where} decodes to {mask.shape}, but its size says {tuple(size)}')
    return mask.astype(bool)


def encode_rle(mask: np.ndarray) -> dict:
    """``(H, W)`` bool -> COCO RLE ``{"size": [H, W], "counts": str}``."""
    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {'size': [int(s) for s in rle['size']], 'counts': rle['counts'].decode('ascii')}


def decode_polygons(polygons: Sequence[Sequence[float]], size: tuple[int, int],
                    source: Optional[str] = None) -> np.ndarray:
    """Rasterise COCO polygons (flat ``[x0, y0, x1, y1, ...]`` lists) with pycocotools, as the COCO API does.

    Returns:
        ``bool`` array ``size = (H, W)``; the union of the polygons.
    """
    where = f' (from {source})' if source else ''
    if size is None:
        raise MaskError(f'COCO polygons{where} need the image size (height, width)')
    if not isinstance(polygons, (list, tuple)) or len(polygons) == 0:
        raise MaskError(f'malformed COCO polygons{where}: expected a non-empty list of lists, got {_short(polygons)}')
    for poly in polygons:
        if not isinstance(poly, (list, tuple)) or len(poly) < 6 or len(poly) % 2:
            raise MaskError(f'malformed COCO polygon{where}: expected an even number (>= 6) of coordinates, '
                            f'got {_short(poly)}')
    try:
        rles = mask_utils.frPyObjects([list(map(float, p)) for p in polygons], size[0], size[1])
        return mask_utils.decode(mask_utils.merge(rles)).astype(bool)
    except Exception as err:
        raise MaskError(f'cannot rasterise COCO polygons{where}: {type(err).__name__}: {err}') from err


def draw_shapes(shapes: Sequence[dict], size: tuple[int, int], values: dict,
                source: Optional[str] = None) -> np.ndarray:
    """Draw LabelMe-style polygon shapes into a label map, as LISA and upstream do for ReasonSeg.

    Shapes are drawn largest area first, each filled and outlined (1 px) with integer (truncated) vertices, so
    that a smaller shape drawn later overrides a larger one.

    Args:
        shapes: ``[{'label': str, 'points': [[x, y], ...]}, ...]``.
        size: ``(H, W)``.
        values: label -> value to draw (labels not listed are skipped).

    Returns:
        ``uint8`` array ``(H, W)``, 0 where nothing is drawn.
    """
    where = f' (from {source})' if source else ''
    polys = []
    for shape in shapes:
        if not isinstance(shape, dict) or 'points' not in shape or 'label' not in shape:
            raise MaskError(f'malformed shape{where}: expected {{"label", "points"}}, got {_short(shape)}')
        if shape['label'] not in values:
            continue
        points = np.asarray(shape['points'], dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or len(points) < 3:
            raise MaskError(f'malformed polygon in shape "{shape["label"]}"{where}: expected >= 3 [x, y] points, '
                            f'got {_short(shape["points"])}')
        pts = points.astype(np.int32)[None]
        area = np.zeros(size, dtype=np.uint8)
        cv2.polylines(area, pts, True, 1, 1)
        cv2.fillPoly(area, pts, 1)
        polys.append((int(area.sum()), pts, values[shape['label']]))
    canvas = np.zeros(size, dtype=np.uint8)
    # stable sort on -area == upstream's np.argsort(areas)[::-1] except among exact ties
    for _, pts, value in sorted(polys, key=lambda x: -x[0]):
        cv2.polylines(canvas, pts, True, int(value), 1)
        cv2.fillPoly(canvas, pts, int(value))
    return canvas


def read_label_png(path: str) -> np.ndarray:
    """Read an index / label PNG as its raw values (palette indices are kept, not converted to RGB).

    Returns:
        integer array ``(H, W)`` (or ``(H, W, C)`` for a colour PNG; callers reject that).
    """
    if not os.path.isfile(path):
        raise MaskError(f'mask file not found: {path}')
    try:
        with Image.open(path) as img:
            return np.asarray(img)
    except Exception as err:
        raise MaskError(f'cannot decode mask PNG {path}: {type(err).__name__}: {err}') from err


def save_mask_png(path: str, mask: np.ndarray) -> None:
    """Write a 0/255 single-channel PNG (the convention of UniPixel's and ReVOS' prediction files)."""
    Image.fromarray(np.asarray(mask, dtype=np.uint8) * 255).save(path)


def load_mask_png(path: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a mask PNG (any non-zero pixel is foreground); check its ``(H, W)`` against ``size`` if given."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'mask file not found: {path}')
    try:
        with Image.open(path) as img:
            mask = np.asarray(img.convert('L')) > 0
    except Exception as err:
        raise ValueError(f'cannot read mask {path}: {err}') from err
    if size is not None and mask.shape != tuple(size):
        raise ValueError(f'mask {path} is {mask.shape[1]}x{mask.shape[0]} but the media is {size[1]}x{size[0]}')
    return mask


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a ``bool`` mask ``(h, w)`` to ``size = (H, W)``."""
    if mask.shape == tuple(size):
        return mask
    resized = cv2.resize(mask.astype(np.uint8), (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
    return resized.astype(bool)


def mask_to_box(mask: np.ndarray) -> Optional[np.ndarray]:
    """Tight box of a ``bool`` mask ``(H, W)`` as ``[x0, y0, x1, y1]`` (inclusive pixel indices), or ``None``."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()], dtype=np.float64)


__all__ = [
    'MaskError', 'rle_string_counts', 'encode_rle', 'decode_rle', 'decode_polygons', 'draw_shapes', 'read_label_png',
    'save_mask_png', 'load_mask_png', 'resize_mask', 'mask_to_box'
]
