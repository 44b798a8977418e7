"""Procedural scenes for the micro UniPixel: coloured shapes in images and short videos, written in native formats.

A scene holds 3-4 objects (a circle, square or triangle, in one of five colours, of varied size); no two objects
share both colour and shape. In a video every object moves in one direction (left / right / up / down), and
objects drawn later occlude earlier ones (masks are what is visible). Each object gets referring expressions that
pick it out of its scene:

* ``"the red circle"`` (always unique), ``"the circle"`` (when it is the only circle);
* ``"the biggest square"`` / ``"the smallest square"`` (two or more squares, clearly different sizes);
* video: ``"the circle moving left"`` (the only circle moving left), ``"the red circle moving left"``.

and region questions: ``"What colour is [0]?"`` -> ``"red"``, ``"Which shape is [0]?"`` -> ``"circle"``.

:func:`write_scenes` writes them under a data root in the layouts the project's readers already read:

* ``mevis/<split>/`` (``meta_expressions.json`` + ``mask_dict.json`` with COCO RLE + ``JPEGImages/<video>/``):
  referring segmentation, read by :class:`~unipixel_plugin.data.formats.MeViSDataset`; an image is a 1-frame video
  (the reader makes it a ``seg_image`` sample);
* ``videorefer/VideoRefer-700K/videorefer-short-caption-500k-wo-masks.json`` + ``masks_short_caption/<n>.json``:
  one question about one object prompted by a point or a box on one frame (``<|ref|>``), read by
  :class:`~unipixel_plugin.data.formats.VideoReferShortCaptionRefDataset`;
* ``videorefer/VideoRefer-700K/videorefer-qa-75k-wo-masks.json`` + ``masks_qa/<n>.json``: the same questions with
  every object of the scene given as a mask (``<|mem|>``), read by
  :class:`~unipixel_plugin.data.formats.VideoReferQADataset`;
* ``lisa/refer_seg/refcoco/{refs(unc).p,instances.json}`` + ``lisa/refer_seg/images/mscoco/images/train2014/``:
  the image scenes again in the RefCOCO layout, read by :class:`~unipixel_plugin.data.formats.RefCOCODataset`
  (split ``train``, or ``val`` for a held-out split): its training samples hold up to three expressions of one image
  as turns, so one image trains SAM 2 on several objects at once (what teaches the mask decoder to follow the
  prompt rather than segment whatever is salient);
* ``toy_scenes.json``: the ground truth of every scene (objects, boxes, expressions, questions) for evaluation.

Frames are written once, under ``videorefer/VideoRefer-700K/videos/<video>/``; the MeViS frame folders are relative
symbolic links to them. Same arguments, same files.
"""
from __future__ import annotations

import json
import os
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

COLOURS = {
    'red': (220, 45, 45),
    'green': (45, 185, 70),
    'blue': (55, 95, 235),
    'yellow': (235, 210, 50),
    'purple': (165, 75, 210),
}
SHAPES = ('circle', 'square', 'triangle')
DIRECTIONS = {'left': (0.0, -1.0), 'right': (0.0, 1.0), 'up': (-1.0, 0.0), 'down': (1.0, 0.0)}
SIZE_RATIO = 1.3  # "the biggest X" needs the biggest X this many times larger (in radius) than the next one
MIN_VISIBLE = 0.4  # every object keeps at least this share of its area visible on every frame
QUESTIONS = {'colour': 'What colour is [0]?', 'shape': 'Which shape is [0]?'}

MEVIS = 'mevis'
VIDEOREFER = 'videorefer/VideoRefer-700K'
REF_ANNO = f'{VIDEOREFER}/videorefer-short-caption-500k-wo-masks.json'
REF_MASKS = f'{VIDEOREFER}/masks_short_caption'
QA_ANNO = f'{VIDEOREFER}/videorefer-qa-75k-wo-masks.json'
QA_MASKS = f'{VIDEOREFER}/masks_qa'
VIDEOS = f'{VIDEOREFER}/videos'
MANIFEST = 'toy_scenes.json'
REFCOCO = 'lisa/refer_seg/refcoco'
COCO_IMAGES = 'lisa/refer_seg/images/mscoco/images/train2014'


@dataclass
class SceneObject:
    """One shape. ``centres`` is ``(T, 2)`` ``(y, x)`` pixel centres; ``radius`` its half-size in pixels."""
    colour: str
    shape: str
    radius: float
    centres: list
    direction: Optional[str] = None
    expressions: list = field(default_factory=list)  # [(text, kind)]


@dataclass
class Scene:
    name: str
    size: int
    num_frames: int
    objects: list
    background_seed: int

    @property
    def kind(self) -> str:
        return 'image' if self.num_frames == 1 else 'video'


def shape_mask(shape: str, cy: float, cx: float, radius: float, size: int) -> np.ndarray:
    """``(size, size)`` bool mask of a shape centred at ``(cy, cx)``: a disc, an axis-aligned square of half-side
    ``0.9 * radius`` (similar area), or an upward triangle with its apex ``radius`` above the centre."""
    yy, xx = np.mgrid[:size, :size].astype(np.float32) + 0.5
    dy, dx = yy - cy, xx - cx
    if shape == 'circle':
        return dy**2 + dx**2 <= radius**2
    if shape == 'square':
        half = 0.9 * radius
        return (np.abs(dy) <= half) & (np.abs(dx) <= half)
    if shape == 'triangle':
        top, bottom = -radius, 0.8 * radius
        width = 1.15 * radius * (dy - top) / (bottom - top)  # half-width grows from the apex to the base
        return (dy >= top) & (dy <= bottom) & (np.abs(dx) <= width)
    raise ValueError(f'unknown shape {shape!r}; expected one of {SHAPES}')


def render(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """``(frames (T, S, S, 3) uint8, visible masks (O, T, S, S) bool)``; later objects occlude earlier ones."""
    s, t_count = scene.size, scene.num_frames
    rng = np.random.default_rng(scene.background_seed)
    base = rng.uniform(30, 90)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[:s, :s] / s
    gradient = rng.uniform(0, 35) * (np.cos(angle) * xx + np.sin(angle) * yy)
    background = base + gradient[..., None] + rng.normal(0, 8, (s, s, 3))
    tints = [np.asarray(COLOURS[o.colour], np.float32) + rng.normal(0, 8, 3) for o in scene.objects]
    frames = np.zeros((t_count, s, s, 3), np.uint8)
    full = np.zeros((len(scene.objects), t_count, s, s), bool)
    for t in range(t_count):
        image = background.copy()
        for i, obj in enumerate(scene.objects):
            cy, cx = obj.centres[t]
            full[i, t] = shape_mask(obj.shape, cy, cx, obj.radius, s)
            image[full[i, t]] = tints[i] + rng.normal(0, 6, (int(full[i, t].sum()), 3))
        frames[t] = np.clip(image, 0, 255).astype(np.uint8)
    visible = full.copy()
    for i in range(len(scene.objects)):
        for j in range(i + 1, len(scene.objects)):
            visible[i] &= ~full[j]
    return frames, visible


def _full_areas(scene: Scene) -> np.ndarray:
    return np.array([[shape_mask(o.shape, *o.centres[t], o.radius, scene.size).sum() for t in range(scene.num_frames)]
                     for o in scene.objects], dtype=np.float64)


def sample_scene(rng: np.random.Generator, name: str, size: int = 112, num_frames: int = 1,
                 num_objects: tuple[int, int] = (3, 4)) -> Scene:
    """A random scene whose objects all stay visible (at least :data:`MIN_VISIBLE` of each, on every frame)."""
    combos = [(c, s) for c in COLOURS for s in SHAPES]
    for _ in range(200):
        count = int(rng.integers(num_objects[0], num_objects[1] + 1))
        picked = rng.choice(len(combos), size=count, replace=False)
        objects = []
        for k in picked:
            colour, shape = combos[k]
            radius = float(rng.uniform(0.08, 0.19) * size)
            if num_frames == 1:
                centre = rng.uniform(radius, size - radius, 2)
                objects.append(SceneObject(colour, shape, radius, [centre.tolist()]))
                continue
            direction = str(rng.choice(list(DIRECTIONS)))
            step = np.asarray(DIRECTIONS[direction]) * rng.uniform(0.025, 0.05) * size
            travel = step * (num_frames - 1)
            low = np.maximum(radius, radius - travel)
            high = np.minimum(size - radius, size - radius - travel)
            if np.any(high <= low):
                break
            start = rng.uniform(low, high)
            centres = [(start + t * step).tolist() for t in range(num_frames)]
            objects.append(SceneObject(colour, shape, radius, centres, direction))
        if len(objects) != count:
            continue
        scene = Scene(name, size, num_frames, objects, int(rng.integers(2**31)))
        _, visible = render(scene)
        ratio = visible.reshape(count, num_frames, -1).sum(-1) / np.maximum(_full_areas(scene), 1)
        if ratio.min() >= MIN_VISIBLE:
            add_expressions(scene)
            return scene
    raise RuntimeError(f'could not place {num_objects} objects in a {size}x{size} scene')


def add_expressions(scene: Scene) -> None:
    """Fill every object's ``expressions`` with the phrases that pick it out of its scene (``(text, kind)``)."""
    objects = scene.objects
    for obj in objects:
        obj.expressions = [(f'the {obj.colour} {obj.shape}', 'attribute')]
        same_shape = [o for o in objects if o.shape == obj.shape]
        if len(same_shape) == 1:
            obj.expressions.append((f'the {obj.shape}', 'shape'))
        else:
            radii = sorted((o.radius for o in same_shape), reverse=True)
            if obj.radius == radii[0] and radii[0] >= SIZE_RATIO * radii[1]:
                obj.expressions.append((f'the biggest {obj.shape}', 'size'))
            if obj.radius == radii[-1] and radii[-2] >= SIZE_RATIO * radii[-1]:
                obj.expressions.append((f'the smallest {obj.shape}', 'size'))
        if obj.direction is not None:
            moving = [o for o in same_shape if o.direction == obj.direction]
            if len(moving) == 1:
                obj.expressions.append((f'the {obj.shape} moving {obj.direction}', 'motion'))
            obj.expressions.append((f'the {obj.colour} {obj.shape} moving {obj.direction}', 'attribute_motion'))


def rle(mask: np.ndarray) -> dict:
    from unipixel_plugin.masks import encode_rle
    return encode_rle(mask)


def box_of(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def write_scenes(data_root, num_images: int = 200, num_videos: int = 100, num_frames: int = 6, size: int = 112,
                 seed: int = 0, split: str = 'train', expressions_per_object: int = 2) -> Path:
    """Write ``num_images`` image scenes and ``num_videos`` video scenes (``num_frames`` frames) under
    ``data_root`` in the native layouts listed in the module docstring; returns ``data_root``.

    Args:
        split: the MeViS split folder (``'train'``; ``'valid_u'`` for held-out evaluation data).
        expressions_per_object: at most this many referring expressions per object (drawn from its phrases).
    """
    from PIL import Image

    root = Path(data_root)
    rng = np.random.default_rng(seed)
    mevis = root / MEVIS / split
    (mevis / 'JPEGImages').mkdir(parents=True, exist_ok=True)
    for folder in (REF_MASKS, QA_MASKS, VIDEOS):
        (root / folder).mkdir(parents=True, exist_ok=True)
    videos, mask_dict, ref_items, qa_items, manifest = {}, {}, [], [], []
    coco = {'images': [], 'annotations': [], 'categories': [{'id': 1, 'name': 'shape'}]}
    refs = []
    (root / COCO_IMAGES).mkdir(parents=True, exist_ok=True)
    anno_id = 0
    kinds = ['image'] * num_images + ['video'] * num_videos
    for n, kind in enumerate(kinds):
        name = f'{split}_{kind}_{n:05d}'
        scene = sample_scene(rng, name, size, 1 if kind == 'image' else num_frames)
        frames, visible = render(scene)
        frame_dir = root / VIDEOS / name
        frame_dir.mkdir(parents=True, exist_ok=True)
        frame_names = [f'{t:05d}' for t in range(scene.num_frames)]
        for t, frame in enumerate(frames):
            Image.fromarray(frame).save(frame_dir / f'{frame_names[t]}.jpg', quality=95)
        link = mevis / 'JPEGImages' / name
        if not link.exists():
            os.symlink(os.path.relpath(frame_dir, link.parent), link)

        # referring segmentation (MeViS layout)
        expressions, ids = {}, []
        for i, obj in enumerate(scene.objects):
            mask_dict[str(anno_id)] = [rle(visible[i, t]) for t in range(scene.num_frames)]
            ids.append(anno_id)
            picks = rng.permutation(len(obj.expressions))[:expressions_per_object]
            for k in sorted(picks.tolist()):
                text, _ = obj.expressions[k]
                expressions[str(len(expressions))] = {'exp': text, 'obj_id': [i], 'anno_id': [anno_id]}
            if kind == 'image':
                _coco_ref(coco, refs, n, name, obj, anno_id, visible[i, 0], picks, split)
            anno_id += 1
        videos[name] = {'expressions': expressions, 'frames': frame_names}
        if kind == 'image':
            Image.fromarray(frames[0]).save(root / COCO_IMAGES / f'{name}.jpg', quality=95)
            coco['images'].append({'id': n, 'file_name': f'{name}.jpg', 'height': size, 'width': size})

        # region questions: a point / box on one frame (<|ref|>), and every object as a mask (<|mem|>)
        intro = ('There are ' + ', '.join(f'<object{i}><region>' for i in range(len(scene.objects))) +
                 f' in the {kind}.')
        for i, obj in enumerate(scene.objects):
            for topic, question in QUESTIONS.items():
                answer = obj.colour if topic == 'colour' else obj.shape
                t = int(rng.integers(scene.num_frames))
                ref_n = len(ref_items)
                ref_items.append({
                    'id': f'{name}/{i}/{topic}', 'video': name, 'ratio': 1.0,
                    'conversations': [{'from': 'human', 'value': '<video>\nHere are the regions:\n[0]: <region>\n' +
                                       question},
                                      {'from': 'gpt', 'value': answer}],
                    'annotation': [{str(t): {}}]})
                (root / REF_MASKS / f'{ref_n}.json').write_text(json.dumps([[rle(visible[i, t])]]))
                qa_n = len(qa_items)
                qa_items.append({
                    'id': f'{name}/{i}/{topic}', 'video': name, 'ratio': 1.0,
                    'conversations': [{'from': 'human', 'value': '<video>\n' + intro + '\n' +
                                       question.replace('[0]', f'<object{i}>')},
                                      {'from': 'gpt', 'value': answer}],
                    'annotation': [{str(t): {} for t in range(scene.num_frames)} for _ in scene.objects]})
                (root / QA_MASKS / f'{qa_n}.json').write_text(json.dumps(
                    [[rle(visible[o, t]) for t in range(scene.num_frames)] for o in range(len(scene.objects))]))

        record = asdict(scene)
        for i, obj in enumerate(record['objects']):
            obj['anno_id'] = ids[i]
            obj['area'] = [int(visible[i, t].sum()) for t in range(scene.num_frames)]
            obj['boxes'] = [box_of(visible[i, t]) for t in range(scene.num_frames)]
        record['kind'] = scene.kind
        manifest.append(record)

    (mevis / 'meta_expressions.json').write_text(json.dumps({'videos': videos}))
    (mevis / 'mask_dict.json').write_text(json.dumps(mask_dict))
    (root / REF_ANNO).write_text(json.dumps(ref_items))
    (root / QA_ANNO).write_text(json.dumps(qa_items))
    _merge_refcoco(root / REFCOCO, coco, refs, split)
    (root / MANIFEST).write_text(json.dumps({'split': split, 'seed': seed, 'size': size, 'scenes': manifest}))
    return root


def refcoco_id_offset(split: str) -> int:
    """What the RefCOCO layout adds to a scene object's ``anno_id`` (and image / ref ids) in ``split`` (``'train'``;
    any other split is the held-out ``'val'``), so that the splits' ids never collide in the one file pair."""
    return (1 + ['train', 'val'].index('train' if split == 'train' else 'val')) * 10**7


def _merge_refcoco(folder: Path, coco: dict, refs: list, split: str) -> None:
    """Write this split's refs into the one RefCOCO file pair, keeping the other splits already there."""
    folder.mkdir(parents=True, exist_ok=True)
    ref_split = 'train' if split == 'train' else 'val'
    old_coco, old_refs = {'images': [], 'annotations': []}, []
    if (folder / 'instances.json').is_file() and (folder / 'refs(unc).p').is_file():
        old_coco = json.loads((folder / 'instances.json').read_text())
        with open(folder / 'refs(unc).p', 'rb') as f:
            old_refs = [r for r in pickle.load(f) if r['split'] != ref_split]
        kept = {r['image_id'] for r in old_refs}
        old_coco['images'] = [i for i in old_coco['images'] if i['id'] in kept]
        old_coco['annotations'] = [a for a in old_coco['annotations'] if a['image_id'] in kept]
    # ids unique across splits: each split's ids live in their own range
    offset = refcoco_id_offset(ref_split)
    for image in coco['images']:
        image['id'] += offset
    for ann in coco['annotations']:
        ann['id'] += offset
        ann['image_id'] += offset
    for ref in refs:
        ref['ref_id'] += offset
        ref['ann_id'] += offset
        ref['image_id'] += offset
        for sent in ref['sentences']:
            sent['sent_id'] += offset * 10
        ref['sent_ids'] = [x['sent_id'] for x in ref['sentences']]
    merged = dict(coco, images=old_coco['images'] + coco['images'],
                  annotations=old_coco['annotations'] + coco['annotations'])
    (folder / 'instances.json').write_text(json.dumps(merged))
    with open(folder / 'refs(unc).p', 'wb') as f:
        pickle.dump(old_refs + refs, f)


def _coco_ref(coco: dict, refs: list, image_id: int, name: str, obj, anno_id: int, mask: np.ndarray, picks,
              split: str) -> None:
    """One object of an image scene as a COCO annotation + a RefCOCO ref with the object's picked expressions."""
    x0, y0, x1, y1 = box_of(mask)
    coco['annotations'].append({'id': anno_id, 'image_id': image_id, 'category_id': 1, 'segmentation': rle(mask),
                                'bbox': [x0, y0, x1 - x0, y1 - y0], 'area': int(mask.sum()), 'iscrowd': 0})
    sentences = []
    for k in sorted(picks.tolist()):
        text = obj.expressions[k][0]
        sent_id = anno_id * 10 + k
        sentences.append({'sent_id': sent_id, 'sent': text, 'raw': text, 'tokens': text.split()})
    refs.append({'ref_id': anno_id, 'ann_id': anno_id, 'image_id': image_id, 'category_id': 1,
                 'split': 'train' if split == 'train' else 'val', 'sentences': sentences,
                 'sent_ids': [x['sent_id'] for x in sentences], 'file_name': f'{name}.jpg'})


def load_manifest(data_root) -> dict:
    """The ground truth written by :func:`write_scenes` (``scenes``: objects with colour, shape, radius, centres,
    direction, expressions, ``anno_id``, per-frame visible ``area`` and ``boxes``)."""
    return json.loads((Path(data_root) / MANIFEST).read_text())


__all__ = ['COLOURS', 'SHAPES', 'DIRECTIONS', 'QUESTIONS', 'Scene', 'SceneObject', 'shape_mask', 'render',
           'sample_scene', 'add_expressions', 'write_scenes', 'load_manifest', 'refcoco_id_offset']
