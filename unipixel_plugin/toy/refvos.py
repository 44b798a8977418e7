"""The procedural referring-video fixture: coloured shapes moving over a textured background, in MeViS' layout.

:func:`write_toy_refvos` writes ``toy_refvos/{train,valid}`` (``meta_expressions.json`` + ``mask_dict.json`` with
COCO RLE + JPEG frames): squares and circles with the expressions "the <colour> <shape>" (one object) and "the two
shapes" (both). :class:`ToyRefVOSDataset` reads it with the same Ref-VOS parser as MeViS; the tiny CPU config
(``configs/unipixel_tiny_cpu_seg.py``) trains on it, so that ``mim train unipixel_plugin unipixel_tiny_cpu_seg.py``
runs on a laptop with no data and no hub access.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np

from unipixel_plugin.data.formats.refvos import MetaExpressionsDataset, needed_files
from unipixel_plugin.registry import DATASETS
from unipixel_plugin.masks import encode_rle
from unipixel_plugin.toy.cache import create_once, toy_root

COLOURS = {'red': (220, 40, 40), 'green': (40, 200, 60), 'blue': (50, 80, 230), 'yellow': (230, 210, 40)}
SHAPES = ('square', 'circle')
SPLITS = ('train', 'valid')


def ensure_toy_data(root: Optional[str] = None, num_videos: int = 6, num_frames: int = 6,
                    frame_size: tuple[int, int] = (96, 128), seed: int = 0) -> Path:
    """The data root holding ``toy_refvos/`` (created on first use); pass it as a reader's ``data_root``."""
    h, w = frame_size
    target = toy_root(root) / f'data-v{num_videos}-f{num_frames}-{h}x{w}-s{seed}'
    return create_once(target, lambda tmp: write_toy_refvos(tmp, num_videos, num_frames, frame_size, seed))


def _shape_mask(shape: str, cy: float, cx: float, radius: float, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    if shape == 'square':
        return (np.abs(yy - cy) <= radius) & (np.abs(xx - cx) <= radius)
    return (yy - cy)**2 + (xx - cx)**2 <= radius**2


def write_toy_refvos(data_root, num_videos: int = 6, num_frames: int = 6, frame_size: tuple[int, int] = (96, 128),
                     seed: int = 0) -> None:
    """Write ``toy_refvos/{train,valid}`` (MeViS layout) under ``data_root``; same seed, same files."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    h, w = frame_size
    colour_names = list(COLOURS)
    for split in SPLITS:
        folder = Path(data_root) / 'toy_refvos' / split
        videos, mask_dict, anno_id = {}, {}, 0
        for v in range(num_videos):
            vid = f'{split}_{v:03d}'
            background = (rng.integers(40, 90, (h, w, 3)) + np.linspace(0, 40, w)[None, :, None]).astype(np.uint8)
            picked = rng.choice(len(colour_names), size=2, replace=False)
            objects = []
            for k, c in enumerate(picked):
                radius = float(rng.uniform(0.1, 0.18) * min(h, w))
                start = rng.uniform([radius, radius], [h - radius, w - radius])
                velocity = rng.uniform(-1, 1, 2) * min(h, w) * 0.08
                objects.append(dict(colour=colour_names[c], shape=SHAPES[k % 2] if v % 2 else SHAPES[(k + 1) % 2],
                                    radius=radius, start=start, velocity=velocity, anno_id=anno_id + k))
            anno_id += len(objects)
            frame_names = [f'{t:05d}' for t in range(num_frames)]
            (folder / 'JPEGImages' / vid).mkdir(parents=True, exist_ok=True)
            rles = {o['anno_id']: [] for o in objects}
            for t, name in enumerate(frame_names):
                image = background.copy()
                for o in objects:
                    cy, cx = np.clip(o['start'] + t * o['velocity'], [o['radius']] * 2,
                                     [h - o['radius'], w - o['radius']])
                    mask = _shape_mask(o['shape'], cy, cx, o['radius'], h, w)
                    image[mask] = COLOURS[o['colour']]  # drawn in order: later objects occlude earlier ones
                    rles[o['anno_id']].append(mask)
                # masks are what is visible: remove the parts that later objects cover
                for i, o in enumerate(objects):
                    visible = rles[o['anno_id']][t].copy()
                    for later in objects[i + 1:]:
                        visible &= ~rles[later['anno_id']][t]
                    rles[o['anno_id']][t] = visible
                Image.fromarray(image).save(folder / 'JPEGImages' / vid / f'{name}.jpg', quality=95)
            for key, masks in rles.items():
                mask_dict[str(key)] = [encode_rle(m) for m in masks]
            expressions = {str(i): {'exp': f'the {o["colour"]} {o["shape"]}', 'obj_id': [i], 'anno_id': [o['anno_id']]}
                           for i, o in enumerate(objects)}
            expressions[str(len(objects))] = {'exp': 'the two shapes', 'obj_id': list(range(len(objects))),
                                              'anno_id': [o['anno_id'] for o in objects]}
            videos[vid] = {'expressions': expressions, 'frames': frame_names}
        (folder / 'meta_expressions.json').write_text(json.dumps({'videos': videos}))
        (folder / 'mask_dict.json').write_text(json.dumps(mask_dict))


@DATASETS.register_module(name=['ToyRefVOSDataset', 'toy_refvos'])
class ToyRefVOSDataset(MetaExpressionsDataset):
    """The procedural referring-video fixture, read like MeViS. Splits: ``train``, ``valid``.

    Args:
        root: toy root (see :func:`toy_root`); the fixture is created there on first use.
        num_videos / num_frames / frame_size / seed: fixture parameters (each combination is its own folder).
        **kwargs: :class:`~unipixel_plugin.data.UniPixelDataset` arguments (``split``, ``pipeline`` ...).
    """

    SOURCE = 'toy_refvos'
    META = {s: f'toy_refvos/{s}/meta_expressions.json' for s in SPLITS}
    MASKS = {s: f'toy_refvos/{s}/mask_dict.json' for s in SPLITS}
    FRAMES = {s: f'toy_refvos/{s}/JPEGImages' for s in SPLITS}
    SPLITS = needed_files(META, MASKS)

    def __init__(self, root: Optional[str] = None, num_videos: int = 6, num_frames: int = 6,
                 frame_size: tuple[int, int] = (96, 128), seed: int = 0, **kwargs):
        if 'data_root' in kwargs:
            raise TypeError('ToyRefVOSDataset writes its own data: give root= (the toy root), not data_root=')
        data_root = ensure_toy_data(root, num_videos, num_frames, tuple(frame_size), seed)
        super().__init__(data_root=str(data_root), **kwargs)


__all__ = ['ToyRefVOSDataset', 'ensure_toy_data', 'write_toy_refvos', 'COLOURS', 'SHAPES', 'SPLITS']
