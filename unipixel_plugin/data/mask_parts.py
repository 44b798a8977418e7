"""Decoding the lazy masks of :mod:`.schema` (:class:`MaskPart` s: COCO RLE, COCO polygons, LabelMe shapes, label
PNGs, JSON mask files) with the decoders of :mod:`unipixel_plugin.masks`.

Every function returns ``bool`` arrays ``(H, W)`` and raises :class:`MaskError` naming the offending file and
annotation when an annotation is malformed, instead of the bare ``TypeError``/``KeyError`` pycocotools raises.
"""
from __future__ import annotations

import json
import os
from collections import OrderedDict
from typing import Any, Optional, Sequence

import numpy as np

from ..masks import MaskError, decode_polygons, decode_rle, draw_shapes, read_label_png, resize_mask
from .schema import MaskPart, ObjectMasks


def _where(part: MaskPart) -> str:
    return f' (from {part.source})' if part.source else ''


def _short(obj, limit: int = 120) -> str:
    text = repr(obj)
    return text if len(text) <= limit else text[:limit] + '...'


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
