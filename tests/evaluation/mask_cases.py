"""Seeded inputs of the metric tests: the masks, samples, answers and the tiny Ref-VOS dataset whose reference
scores are stored in ``reference/`` (see ``reference/README.md``). Pure numpy / OpenCV / pycocotools and no
pytest, so that exactly the same inputs can be rebuilt anywhere from these parameters.
"""
from __future__ import annotations

import json
import os

import cv2
import numpy as np


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def ellipse(h: int, w: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1


def square(h: int, w: int, y0: int, x0: int, side: int) -> np.ndarray:
    out = np.zeros((h, w), bool)
    out[max(y0, 0):max(y0 + side, 0), max(x0, 0):max(x0 + side, 0)] = True
    return out


def random_blob(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """An ellipse anywhere (possibly cut by the border) with a few random holes and specks."""
    m = ellipse(h, w, rng.uniform(-0.2, 1.2) * h, rng.uniform(-0.2, 1.2) * w, rng.uniform(0.1, 0.8) * h + 0.5,
                rng.uniform(0.1, 0.8) * w + 0.5)
    return m ^ (rng.random((h, w)) < 0.02)


def _pixel(h, w, y, x):
    out = np.zeros((h, w), bool)
    out[y, x] = True
    return out


def davis_cases() -> dict:
    """name -> ``(pred, gt)``: frames ``(H, W)`` or stacks ``(T, H, W)``, bool unless the name says otherwise."""
    cases = {}
    for h, w in ((37, 53), (1, 9), (9, 1), (1, 1), (2, 2), (3, 5)):
        z, o = np.zeros((h, w), bool), np.ones((h, w), bool)
        cases[f'empty_empty_{h}x{w}'] = (z, z)
        cases[f'full_empty_{h}x{w}'] = (o, z)
        cases[f'empty_full_{h}x{w}'] = (z, o)
        cases[f'full_full_{h}x{w}'] = (o, o)
    h, w = 37, 53
    for y, x in ((18, 26), (0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1), (h - 1, 26), (18, w - 1)):
        cases[f'pixel_{y}_{x}_vs_empty'] = (_pixel(h, w, y, x), np.zeros((h, w), bool))
        cases[f'pixel_{y}_{x}_vs_neighbour'] = (_pixel(h, w, y, x), _pixel(h, w, max(y - 1, 0), max(x - 1, 0)))
        cases[f'pixel_{y}_{x}_vs_far'] = (_pixel(h, w, y, x), _pixel(h, w, (y + 5) % h, (x + 7) % w))
    top, left = np.zeros((h, w), bool), np.zeros((h, w), bool)
    top[0], left[:, 0] = True, True
    bottom, right = np.zeros((h, w), bool), np.zeros((h, w), bool)
    bottom[-1], right[:, -1] = True, True
    cases['border_top_vs_bottom'] = (top, bottom)
    cases['border_left_vs_right'] = (left, right)
    cases['border_bottom_vs_right'] = (bottom, right)
    cases['border_frame_vs_full'] = (top | bottom | left | right, np.ones((h, w), bool))
    hline, vline, diag = np.zeros((h, w), bool), np.zeros((h, w), bool), np.zeros((h, w), bool)
    hline[18, 5:48], vline[3:34, 26] = True, True
    diag[np.arange(h), np.arange(h)] = True
    cases['thin_hline_vs_shifted'] = (hline, np.roll(hline, 1, axis=0))
    cases['thin_vline_vs_hline'] = (vline, hline)
    cases['thin_diagonal_vs_shifted'] = (diag, np.roll(diag, 2, axis=1))
    checker = (np.indices((h, w)).sum(0) % 2).astype(bool)
    cases['checkerboard_vs_inverse'] = (checker, ~checker)
    cases['checkerboard_vs_square'] = (checker, square(h, w, 8, 8, 20))
    # the tolerance: 8 px at 480x854 (shifted by 8: F = 1; by 9: F < 1), 1 px at 37x53
    H, W = 480, 854
    base = square(H, W, 200, 300, 100)
    cases['square_480x854_shift8'] = (square(H, W, 200, 308, 100), base)
    cases['square_480x854_shift9'] = (square(H, W, 200, 309, 100), base)
    cases['square_480x854_shift8_diagonal'] = (square(H, W, 205, 306, 100), base)
    cases['square_37x53_shift1'] = (square(h, w, 10, 11, 12), square(h, w, 10, 10, 12))
    cases['square_37x53_shift2'] = (square(h, w, 10, 12, 12), square(h, w, 10, 10, 12))
    # dtypes: 0/255 and 0/1 uint8 must score like bool
    rng = _rng(7)
    a, b = random_blob(rng, 48, 64), random_blob(rng, 48, 64)
    cases['blob_bool'] = (a, b)
    cases['blob_uint8_255'] = (a.astype(np.uint8) * 255, b.astype(np.uint8) * 255)
    cases['blob_uint8_01'] = (a.astype(np.uint8), b.astype(np.uint8) * 255)
    # random frames of odd sizes
    for i, (h2, w2) in enumerate(((37, 53), (61, 47), (17, 120), (5, 7), (120, 77), (33, 33))):
        rng = _rng(100 + i)
        cases[f'random_blob_{h2}x{w2}'] = (random_blob(rng, h2, w2), random_blob(rng, h2, w2))
        cases[f'random_noise_{h2}x{w2}'] = (rng.random((h2, w2)) < 0.3, rng.random((h2, w2)) < 0.5)
    # stacks: a moving ellipse and its prediction, with an empty and a full frame among them
    rng = _rng(11)
    T, h3, w3 = 6, 72, 96
    gt = np.stack([ellipse(h3, w3, 30 + 2 * t, 20 + 8 * t, 15, 20) for t in range(T)])
    pred = np.stack([ellipse(h3, w3, 31 + 2 * t + rng.integers(-3, 4), 18 + 8 * t + rng.integers(-3, 4), 14, 22)
                     for t in range(T)])
    gt[2], pred[3] = False, True
    cases['stack_moving_ellipse'] = (pred, gt)
    return cases


def refseg_samples() -> list:
    """``(pred, gt, ignore)`` bool ``(H, W)`` samples for cIoU / gIoU (``ignore`` may be all False)."""
    rng = _rng(21)
    samples = []
    for i in range(12):
        h, w = int(rng.integers(20, 60)), int(rng.integers(20, 80))
        gt = random_blob(rng, h, w)
        pred = random_blob(rng, h, w) if i % 3 else (gt ^ (rng.random((h, w)) < 0.05))
        ignore = random_blob(rng, h, w) & (rng.random((h, w)) < 0.7) if i % 2 else np.zeros((h, w), bool)
        gt = gt & ~ignore  # in LISA's label map a pixel is target (1) or ignore (255), not both
        samples.append((pred, gt, ignore))
    h, w = 30, 40
    samples.append((np.zeros((h, w), bool), np.zeros((h, w), bool), np.zeros((h, w), bool)))  # union 0
    samples.append((np.zeros((h, w), bool), square(h, w, 5, 5, 10), np.zeros((h, w), bool)))  # nothing predicted
    samples.append((square(h, w, 5, 5, 10), np.zeros((h, w), bool), square(h, w, 0, 0, 30)))  # all ignored
    return samples


def pixelqa_objects() -> list:
    """``(pred, gt)`` bool volumes ``(T, H, W)`` for PixelQA's volume J and pixel F1."""
    rng = _rng(31)
    objects = []
    for i in range(8):
        t, h, w = int(rng.integers(1, 5)), int(rng.integers(10, 50)), int(rng.integers(10, 50))
        gt = np.stack([random_blob(rng, h, w) for _ in range(t)])
        pred = np.stack([random_blob(rng, h, w) for _ in range(t)]) if i % 2 else gt ^ (rng.random(gt.shape) < 0.1)
        objects.append((pred, gt))
    z = np.zeros((2, 9, 9), bool)
    objects += [(z, z), (~z, z), (z, ~z), (~z, ~z)]
    return objects


CHOICE_CASES = [
    # (response, answer letter, number of options, task)
    ('A', 'A', 4, 'Basic'), ('(B) the dog', 'B', 4, 'Basic'), ('B) the dog', 'C', 4, 'Basic'),
    ('c.', 'C', 4, 'Sequence'), ('D', 'D', 3, 'Sequence'), ('Bicycle', 'B', 4, 'Sequence'),
    ('(A)', 'A', 2, 'Relationship'), ('The answer is A', 'A', 4, 'Relationship'), ('(E) none', 'E', 5, 'Future'),
    ('e', 'E', 4, 'Future'), ('\nA', 'A', 4, 'Future'), ('A.', 'A', 4, ['Basic', 'Future']),
    ('b (A)', 'A', 4, 'Reasoning'), ('  A', 'A', 4, 'Reasoning'),
]
"""The last case starts with a space: upstream raises IndexError there (this project: a parse failure)."""


# ----- a tiny Ref-VOS dataset in the MeViS / ReVOS layout, with predictions -------------------------------------

REFVOS_FRAME_SIZE = (40, 56)


def _encode(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {'size': [int(v) for v in rle['size']], 'counts': rle['counts'].decode('ascii')}


def refvos_dataset(root: str, pred_value: int = 255) -> dict:
    """Writes ``meta_expressions.json``, ``mask_dict.json``, ``mask_dict_foreground.json`` and the predicted PNGs
    (``pred/<video>/<exp>/<frame>.png``, object pixels = ``pred_value``) under ``root``; returns their paths.

    Videos: ``vid_a`` (3 expressions; one GT of two overlapping objects, one with an empty GT frame), ``vid_b``
    (2 expressions), ``vid_missing`` (no prediction folder), ``vid_c`` (one expression with a missing frame PNG).
    ``type_id``: 0, 1 and 2 all occur.
    """
    rng = _rng(41)
    h, w = REFVOS_FRAME_SIZE
    videos, mask_dict, foreground = {}, {}, {}
    next_anno = [0]

    def add_object(frames_masks):
        k = next_anno[0]
        next_anno[0] += 1
        mask_dict[str(k)] = [_encode(m) if m.any() else None for m in frames_masks]
        return k

    layout = {'vid_a': (5, [[0, 1], [2], [3]]), 'vid_b': (4, [[0], [1]]), 'vid_missing': (3, [[0]]),
              'vid_c': (4, [[0]])}
    type_ids = iter([0, 1, 2, 1, 0, 0, 1])
    preds = {}
    for vid, (n_frames, expressions) in layout.items():
        frames = [f'{i:05d}' for i in range(n_frames)]
        objects = []
        for _ in range(4):
            cy, cx = rng.uniform(5, h - 5), rng.uniform(5, w - 5)
            objects.append([ellipse(h, w, cy + 2 * t, cx + 3 * t, rng.uniform(4, 12), rng.uniform(4, 15))
                            for t in range(n_frames)])
        objects[1] = [m | o for m, o in zip(objects[1], objects[0], strict=True)]  # overlaps object 0: gt sums reach 2
        objects[2][1] = np.zeros((h, w), bool)
        anno = [add_object(o) for o in objects]
        exps = {}
        for e, obj_idx in enumerate(expressions):
            exps[str(e)] = {'exp': f'expression {e} of {vid}', 'obj_id': obj_idx,
                            'anno_id': [anno[i] for i in obj_idx], 'type_id': next(type_ids)}
            gt = [np.any([objects[i][t] for i in obj_idx], axis=0) for t in range(n_frames)]
            preds[(vid, str(e))] = [np.roll(g, (int(rng.integers(-2, 3)), int(rng.integers(-3, 4))), axis=(0, 1))
                                    | (rng.random((h, w)) < 0.01) for g in gt]
        videos[vid] = {'expressions': exps, 'frames': frames}
        fg = [np.any([o[t] for o in objects], axis=0) | (rng.random((h, w)) < 0.05) for t in range(n_frames)]
        foreground[vid] = {'masks_rle': [_encode(m) for m in fg]}
    pred_root = os.path.join(root, 'pred')
    for (vid, e), masks in preds.items():
        if vid == 'vid_missing':
            continue
        folder = os.path.join(pred_root, vid, e)
        os.makedirs(folder, exist_ok=True)
        for t, m in enumerate(masks):
            if vid == 'vid_c' and t == 2:
                continue  # a missing frame PNG
            cv2.imwrite(os.path.join(folder, f'{t:05d}.png'), m.astype(np.uint8) * pred_value)
    paths = {'meta_expressions': os.path.join(root, 'meta_expressions.json'),
             'mask_dict': os.path.join(root, 'mask_dict.json'),
             'foreground': os.path.join(root, 'mask_dict_foreground.json'), 'pred_root': pred_root}
    for key, value in (('meta_expressions', {'videos': videos}), ('mask_dict', mask_dict),
                       ('foreground', foreground)):
        with open(paths[key], 'w') as f:
            json.dump(value, f)
    return paths
