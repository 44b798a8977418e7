"""Evaluate a (micro) UniPixel checkpoint on held-out toy scenes, from generation, through the predictor.

* Image referring segmentation: every expression of the image scenes (MeViS layout, read with
  :class:`~unipixel_plugin.data.formats.MeViSDataset`), answered by :meth:`UniPixelPredictor.segment` (greedy
  generation; the masks come from the generated ``<|seg|>`` tokens). cIoU (summed intersections over summed unions),
  mean IoU, and the same for a *largest object* baseline (the ground-truth mask of the scene's largest visible
  object, whatever the expression).
* Video referring segmentation: the same on the video scenes, all frames; J (region IoU), F (boundary F-measure,
  DAVIS-style with a tolerance of 0.8% of the diagonal) and J&F per expression, averaged; the share of frames where
  the object is visible that get a non-empty mask.
* Region QA: "What colour is [0]?" / "Which shape is [0]?" about each object, prompted by a point (a random pixel of
  its visible mask), a box (its visible box) or a mask (every object of the scene as ``<|mem|>``, the question about
  object ``[i]``), on one frame; accuracy of the generated answer (exact word).

``python -m unipixel_plugin.toy.evaluate CHECKPOINT DATA_ROOT [--split valid_u] [--json out.json]``
"""
from __future__ import annotations

import argparse
import json
import math
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from unipixel_plugin.prompts import SEG_TOKEN
from unipixel_plugin.toy.scenes import MEVIS, QUESTIONS, VIDEOS, load_manifest


def iou(pred: np.ndarray, gt: np.ndarray) -> tuple[int, int]:
    """``(intersection, union)`` pixel counts."""
    return int((pred & gt).sum()), int((pred | gt).sum())


def boundary(mask: np.ndarray) -> np.ndarray:
    import cv2
    m = mask.astype(np.uint8)
    return m.astype(bool) & ~cv2.erode(m, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT,
                                       borderValue=0).astype(bool)


def boundary_f(pred: np.ndarray, gt: np.ndarray, bound_th: float = 0.008) -> float:
    """DAVIS boundary F-measure of one frame (both empty: 1; one empty: 0)."""
    import cv2
    if not pred.any() and not gt.any():
        return 1.0
    if not pred.any() or not gt.any():
        return 0.0
    radius = max(1, math.ceil(bound_th * math.hypot(*gt.shape)))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    pb, gb = boundary(pred), boundary(gt)
    gd = cv2.dilate(gb.astype(np.uint8), disk).astype(bool)
    pd = cv2.dilate(pb.astype(np.uint8), disk).astype(bool)
    precision = (pb & gd).sum() / max(pb.sum(), 1)
    recall = (gb & pd).sum() / max(gb.sum(), 1)
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))


def region_j(pred: np.ndarray, gt: np.ndarray) -> float:
    inter, union = iou(pred, gt)
    return 1.0 if union == 0 else inter / union


def predicted_mask(result, shape) -> np.ndarray:
    """Union of the result's masks ``(T, H, W)`` (empty when the answer has no ``<|seg|>``)."""
    out = np.zeros(shape, bool)
    for m in result.masks:
        out |= np.asarray(m, bool).reshape(shape)
    return out


def load_predictor(checkpoint: str, max_new_tokens: int = 12):
    from unipixel_plugin.inference import UniPixelPredictor
    from unipixel_plugin.toy.model import LLM_PIXELS
    return UniPixelPredictor.from_pretrained(checkpoint, device='cpu', dtype='float32', sample_frames=0,
                                             min_pixels=LLM_PIXELS, max_pixels=LLM_PIXELS,
                                             max_new_tokens=max_new_tokens)


def evaluate_segmentation(predictor, data_root: str, split: str, max_samples: int | None = None) -> dict:
    """Referring segmentation from generation on the MeViS-layout scenes (images and videos apart)."""
    from unipixel_plugin.masks import decode_rle

    from unipixel_plugin.data.formats import MeViSDataset
    from unipixel_plugin.data.pipeline import LoadSample
    from unipixel_plugin.prompts import normalise_query

    manifest = {s['name']: s for s in load_manifest(data_root)['scenes']}
    mask_dict = json.loads((Path(data_root) / MEVIS / split / 'mask_dict.json').read_text())
    expression_kind = {}
    for s in manifest.values():
        for o in s['objects']:
            for text, kind in o['expressions']:
                expression_kind[(s['name'], o['anno_id'], text)] = kind
    dataset = MeViSDataset(data_root=data_root, split=split,
                           pipeline=[LoadSample(num_frames=0, sample_type='uniform', max_objects=0)])
    stats = {k: defaultdict(float) for k in ('image', 'video')}
    per_kind = defaultdict(lambda: [0, 0, 0])  # kind -> [inter, union, count]
    examples = []
    count = 0
    for idx in range(len(dataset)):
        if max_samples is not None and count >= max_samples:
            break
        sample = dataset[idx]
        vid = sample.meta['video']
        scene = manifest[vid]
        gt = sample.masks.any(axis=0)  # (T, H, W): the expression's object(s)
        result = predictor.segment(sample.frames, normalise_query(sample.query))
        pred = predicted_mask(result, gt.shape)
        st = stats['image' if gt.shape[0] == 1 else 'video']
        st['n'] += 1
        st['seg_answers'] += result.text.count(SEG_TOKEN) == 1
        inter, union = iou(pred, gt)
        st['inter'] += inter
        st['union'] += union
        st['iou_sum'] += region_j(pred, gt)
        # the 'largest object' baseline: the scene's largest visible object on the first frame
        areas = [o['area'][0] for o in scene['objects']]
        largest = scene['objects'][int(np.argmax(areas))]
        base = np.stack([decode_rle(r) for r in mask_dict[str(largest['anno_id'])]])
        b_inter, b_union = iou(base, gt)
        st['base_inter'] += b_inter
        st['base_union'] += b_union
        st['base_iou_sum'] += region_j(base, gt)
        anno = sample.objects[0].object_id[0] if sample.objects else None
        kind = expression_kind.get((vid, anno, sample.query), 'other')
        pk = per_kind[f'{"image" if gt.shape[0] == 1 else "video"}/{kind}']
        pk[0] += inter
        pk[1] += union
        pk[2] += 1
        if gt.shape[0] > 1:
            js = [region_j(p, g) for p, g in zip(pred, gt)]
            fs = [boundary_f(p, g) for p, g in zip(pred, gt)]
            st['J'] += float(np.mean(js))
            st['F'] += float(np.mean(fs))
            visible = gt.reshape(gt.shape[0], -1).any(-1)
            st['visible_frames'] += int(visible.sum())
            st['tracked_frames'] += int((pred.reshape(pred.shape[0], -1).any(-1) & visible).sum())
            st['all_frames_tracked'] += bool((pred.reshape(pred.shape[0], -1).any(-1) | ~visible).all())
        if len(examples) < 8:
            examples.append({'id': sample.id, 'query': sample.query, 'answer': result.text,
                             'iou': round(region_j(pred, gt), 3)})
        count += 1
    out = {}
    for kind, st in stats.items():
        n = max(st['n'], 1)
        if not st['n']:
            continue
        entry = {'samples': int(st['n']), 'cIoU': st['inter'] / max(st['union'], 1), 'mIoU': st['iou_sum'] / n,
                 'largest_object_cIoU': st['base_inter'] / max(st['base_union'], 1),
                 'largest_object_mIoU': st['base_iou_sum'] / n, 'one_seg_answer_rate': st['seg_answers'] / n}
        if kind == 'video':
            entry.update({'J': st['J'] / n, 'F': st['F'] / n, 'J&F': (st['J'] + st['F']) / (2 * n),
                          'frames_with_mask': st['tracked_frames'] / max(st['visible_frames'], 1),
                          'expressions_tracked_on_every_frame': st['all_frames_tracked'] / n})
        out[kind] = entry
    out['per_kind_cIoU'] = {k: {'cIoU': v[0] / max(v[1], 1), 'samples': v[2]} for k, v in sorted(per_kind.items())}
    out['examples'] = examples
    return out


def evaluate_region_qa(predictor, data_root: str, max_scenes: int | None = None, seed: int = 0) -> dict:
    """Region QA accuracy by prompt kind (point / box / mask) and media kind (image / video)."""
    from PIL import Image
    from unipixel_plugin.masks import decode_rle

    from unipixel_plugin.inference import PromptObject

    root = Path(data_root)
    info = load_manifest(data_root)
    mask_dict = json.loads((root / MEVIS / info['split'] / 'mask_dict.json').read_text())
    rng = np.random.default_rng(seed)
    correct, total = defaultdict(int), defaultdict(int)
    examples = []
    scenes = info['scenes'][:max_scenes] if max_scenes else info['scenes']
    for scene in scenes:
        folder = root / VIDEOS / scene['name']
        files = sorted(folder.glob('*.jpg'))
        frames = np.stack([np.asarray(Image.open(f).convert('RGB')) for f in files])
        media = frames if len(files) > 1 else frames[0]
        masks = [np.stack([decode_rle(r) for r in mask_dict[str(o['anno_id'])]])
                 for o in scene['objects']]
        for i, obj in enumerate(scene['objects']):
            t = int(rng.integers(len(files)))
            ys, xs = np.nonzero(masks[i][t])
            k = int(rng.integers(len(xs)))
            point = PromptObject(point=(float(xs[k]) + 0.5, float(ys[k]) + 0.5), frame=t)
            box = PromptObject(box=tuple(obj['boxes'][t]), frame=t)
            for topic, question in QUESTIONS.items():
                expected = obj['colour'] if topic == 'colour' else obj['shape']
                asks = {'point': dict(question=question, regions=[point]),
                        'box': dict(question=question, regions=[box]),
                        'mask': dict(question=question.replace('[0]', f'[{i}]'),
                                     masks=[m[t] for m in masks], mask_frame=t)}
                for prompt, kwargs in asks.items():
                    result = predictor.ask(media, **kwargs)
                    answer = result.text.strip().strip('.').lower()
                    key = f'{scene["kind"]}/{prompt}'
                    total[key] += 1
                    correct[key] += answer == expected
                    if len(examples) < 12:
                        examples.append({'scene': scene['name'], 'prompt': prompt, 'question': kwargs['question'],
                                         'expected': expected, 'answer': result.text})
    out = {k: {'accuracy': correct[k] / total[k], 'questions': total[k]} for k in sorted(total)}
    for prompt in ('point', 'box', 'mask'):
        keys = [k for k in total if k.endswith('/' + prompt)]
        if keys:
            out[f'all/{prompt}'] = {'accuracy': sum(correct[k] for k in keys) / sum(total[k] for k in keys),
                                    'questions': sum(total[k] for k in keys)}
    out['examples'] = examples
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description='Evaluate a micro UniPixel on held-out toy scenes.')
    parser.add_argument('checkpoint')
    parser.add_argument('data_root', help='a data root written by unipixel_plugin.toy.scenes.write_scenes')
    parser.add_argument('--split', default='valid_u')
    parser.add_argument('--max-seg', type=int, default=None, help='at most this many referring expressions')
    parser.add_argument('--max-qa-scenes', type=int, default=None, help='region QA on at most this many scenes')
    parser.add_argument('--skip-qa', action='store_true')
    parser.add_argument('--json', help='write the figures here')
    args = parser.parse_args(argv)
    import torch
    torch.set_num_threads(2)
    predictor = load_predictor(args.checkpoint)
    start = time.time()
    results = {'segmentation': evaluate_segmentation(predictor, args.data_root, args.split, args.max_seg)}
    if not args.skip_qa:
        results['region_qa'] = evaluate_region_qa(predictor, args.data_root, args.max_qa_scenes)
    results['eval_seconds'] = round(time.time() - start, 1)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return results


if __name__ == '__main__':
    main()
