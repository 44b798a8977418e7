"""Decoding the lazy masks of :mod:`.schema` (COCO RLE, COCO polygons, LabelMe shapes, label PNGs, JSON mask files).

Every function returns ``bool`` arrays ``(H, W)`` and raises :class:`MaskError` naming the offending file and
annotation when an annotation is malformed, instead of the bare ``TypeError``/``KeyError`` pycocotools raises.
"""
from __future__ import annotations

import json
import os
from collections import OrderedDict
from typing import Any, Optional, Sequence

import cv2
import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from .schema import MaskPart, ObjectMasks


class MaskError(ValueError):
    """A mask annotation is malformed, unreadable or inconsistent with its frame."""


def _where(part: MaskPart) -> str:
    return f' (from {part.source})' if part.source else ''


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


# JSON mask files read last, per process: the frames and objects of one sample share a file; samples are drawn at
# random, so a few files suffice (an SA-V masklet file can weigh megabytes)
_JSON_CACHE: 'OrderedDict[tuple, Any]' = OrderedDict()
JSON_CACHE_SIZE = 4


def read_mask_json(path: str) -> Any:
    """A JSON mask file (VideoRefer-700K ``masks_*/<n>.json``, ViCaS ``masks/<video>/<n>.json``, SA-V
    ``*_manual.json``), cached per process (the last :data:`JSON_CACHE_SIZE` files; a changed file is re-read)."""
    try:
        stat = os.stat(path)
    except FileNotFoundError as err:
        raise MaskError(f'mask file not found: {path}') from err
    key = (path, stat.st_mtime_ns, stat.st_size)
    if key in _JSON_CACHE:
        _JSON_CACHE.move_to_end(key)
        return _JSON_CACHE[key]
    try:
        with open(path, 'r', encoding='utf-8') as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise MaskError(f'cannot parse mask file {path}: {err} (the file is truncated or corrupt)') from err
    _JSON_CACHE[key] = data
    while len(_JSON_CACHE) > JSON_CACHE_SIZE:
        _JSON_CACHE.popitem(last=False)
    return data


def json_entry(part: MaskPart) -> Any:
    """The entry a ``'json'`` part points to: its file walked along the key path ``part.values``."""
    node = read_mask_json(part.data)
    keys = tuple(part.values or ())
    for key in keys:
        where = f'mask file {part.data}: key path {list(keys)} fails at {key!r}'
        if isinstance(node, list):
            if not isinstance(key, int) or not -len(node) <= key < len(node):
                raise MaskError(f'{where} (a list of {len(node)} entries)')
            node = node[key]
        elif isinstance(node, dict):
            if key in node:
                node = node[key]
            elif str(key) in node:
                node = node[str(key)]
            else:
                raise MaskError(f'{where} (no such key; keys: {_short(list(node)[:10])})')
        else:
            raise MaskError(f'{where} (reached a {type(node).__name__}, not a list or dict)')
    return node


def decode_json_entry(entry: Any, size: Optional[tuple[int, int]],
                      source: Optional[str] = None) -> Optional[np.ndarray]:
    """Decode an entry of a JSON mask file: a COCO RLE, ``None``, a flat polygon, or a list of entries (union).

    Args:
        size: ``(H, W)`` polygons are drawn at (RLEs carry their own size).

    Returns:
        ``bool`` array ``(H, W)``, or ``None`` when the entry holds no mask. Masks of another size than the first
        one are resized to it.
    """
    where = f' (from {source})' if source else ''
    if entry is None:
        return None
    if isinstance(entry, dict):
        return decode_rle(entry, source)
    if isinstance(entry, list):
        if entry and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in entry):
            return decode_polygons([entry], size, source)
        out = None
        for item in entry:
            mask = decode_json_entry(item, size, source)
            if mask is None:
                continue
            if out is None:
                out = mask
            else:
                out = out | resize_mask(mask, out.shape)
        return out
    raise MaskError(f'malformed mask entry{where}: expected a COCO RLE, null, a polygon or a list of them, '
                    f'got {_short(entry)}')


def decode_part(part: MaskPart, frame_size: Optional[tuple[int, int]] = None) -> np.ndarray:
    """Decode one :class:`MaskPart` to a ``bool`` array ``(H, W)``.

    ``frame_size`` stands in for ``part.size`` where the annotation does not carry its size (polygons, shapes).
    """
    size = part.size if part.size is not None else frame_size
    if part.kind == 'rle':
        return decode_rle(part.data, part.source)
    if part.kind == 'polygons':
        return decode_polygons(part.data, size, part.source)
    if part.kind == 'shapes':
        if size is None or not part.values:
            raise MaskError(f'shape masks{_where(part)} need a size and values (the labels that form the object)')
        # draw every shape, so that smaller shapes of other labels (e.g. "ignore") cut into this object
        labels = sorted({s.get('label') for s in part.data if isinstance(s, dict)}, key=str)
        codes = {label: i + 1 for i, label in enumerate(labels)}
        canvas = draw_shapes(part.data, size, codes, part.source)
        return np.isin(canvas, [codes[v] for v in part.values if v in codes])
    if part.kind == 'png':
        label = read_label_png(part.data)
        if label.ndim != 2:
            raise MaskError(f'mask PNG {part.data} has shape {label.shape}; expected a single-channel label map')
        if part.values is None:
            return label > 0
        return np.isin(label, np.asarray(part.values))
    if part.kind == 'json':
        mask = decode_json_entry(json_entry(part), size, f'{part.data} at {list(part.values or ())}')
        if mask is not None:
            return mask
        if size is None:
            raise MaskError(f'mask file {part.data}: the entry at {list(part.values or ())} is empty and the frame '
                            'size is unknown')
        return np.zeros(size, dtype=bool)
    raise MaskError(f'unknown mask kind {part.kind!r}{_where(part)}; expected rle, polygons, shapes, png or json')


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a ``bool`` mask ``(h, w)`` to ``size = (H, W)``."""
    if mask.shape == tuple(size):
        return mask
    resized = cv2.resize(mask.astype(np.uint8), (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
    return resized.astype(bool)


def decode_frame(parts: Optional[Sequence[MaskPart]],
                 frame_size: Optional[tuple[int, int]] = None,
                 on_size_mismatch: str = 'resize') -> Optional[np.ndarray]:
    """Union of the parts of one object on one frame.

    Args:
        parts: the frame's parts (``None`` or empty: not annotated).
        frame_size: ``(H, W)`` of the frame; parts of another size are resized (``on_size_mismatch='resize'``,
            what upstream does) or rejected (``'error'``).

    Returns:
        ``bool`` array ``(H, W)``; ``None`` when there are no parts and no ``frame_size``.
    """
    if on_size_mismatch not in ('resize', 'error'):
        raise ValueError(f"on_size_mismatch must be 'resize' or 'error', got {on_size_mismatch!r}")
    if not parts:
        return None if frame_size is None else np.zeros(frame_size, dtype=bool)
    out = None
    for part in parts:
        mask = decode_part(part, frame_size)
        if frame_size is None:
            frame_size = mask.shape
        if mask.shape != tuple(frame_size):
            if on_size_mismatch == 'error':
                raise MaskError(f'mask{_where(part)} is {mask.shape[1]}x{mask.shape[0]} (WxH) but the frame is '
                                f'{frame_size[1]}x{frame_size[0]}')
            mask = resize_mask(mask, frame_size)
        out = mask if out is None else (out | mask)
    return out


def decode_object(obj: ObjectMasks,
                  positions: Sequence[int],
                  frame_size: tuple[int, int],
                  on_size_mismatch: str = 'resize') -> np.ndarray:
    """Decode one object's masks on some timeline positions.

    Returns:
        ``bool`` array ``(T, H, W)`` with ``T = len(positions)``; frames where the object is not annotated are
        empty.
    """
    out = np.zeros((len(positions), *frame_size), dtype=bool)
    for i, pos in enumerate(positions):
        try:
            parts = obj.parts(pos)
        except IndexError as err:
            raise MaskError(str(err)) from err
        out[i] = decode_frame(parts, frame_size, on_size_mismatch)
    return out


def part_size(part: MaskPart) -> Optional[tuple[int, int]]:
    """``(H, W)`` an annotation claims, without decoding it (``None`` if only decoding can tell: PNG, JSON file)."""
    if part.kind == 'rle' and isinstance(part.data, dict) and 'size' in part.data:
        return tuple(part.data['size'])
    if part.kind in ('polygons', 'shapes'):
        return None if part.size is None else tuple(part.size)
    return None


def mask_to_box(mask: np.ndarray) -> Optional[np.ndarray]:
    """Tight box of a ``bool`` mask ``(H, W)`` as ``[x0, y0, x1, y1]`` (inclusive pixel indices), or ``None``."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()], dtype=np.float64)
