"""``unipixel score``: any model's prediction folder scored with this package's metrics, the same way for all.

Ref-VOS family (``revos``, ``mevis_valid_u``, ``ref_davis17``, ``ref_sav``): PRED is the PNG tree upstream and the
official scripts read, ``<video id>/<expression id>/<frame>.png`` (0/255; video ids may contain '/'). The ground
truth is read from the benchmark's native files where the dataset readers of :mod:`unipixel_plugin.data` say they
live (``data_root``, else ``$UNIPIXEL_DATA_ROOT``). A missing video folder scores 0 and counts (as the MeViS and
ReVOS scripts do); a missing frame PNG counts as an empty mask and is listed by name.

GroundMoRe (``groundmore``, split ``test``): the same PNG tree, ``<video>/<question id>/<frame>.png`` (``<frame>`` the
image's file stem, as upstream's infer_seg.py writes it), scored on upstream's 20 frames per video (``np.linspace``
over the video's frames) against the question's object inside its action window, as eval_groundmore.py and the
``unipixel_groundmore_test`` task score it; per ``q_type`` too (``per_type``). A missing video folder scores 0 for
each of its questions and counts; a missing question folder or frame PNG is an empty mask and is listed (upstream's
script crashes on a missing folder and reads a missing PNG as empty).

Image referring segmentation (``refcoco``, ``refcoco+``, ``refcocog``): PRED holds ``predictions.json``, a list of
``{image_id, ref_id, sent_id, segmentation: COCO RLE}``; ``reason_seg``: ``[{image, text_idx, segmentation}]``
(``image`` = the file stem). A sentence without a prediction counts as an empty mask and is listed. ReasonSeg's
"ignore" regions are excluded by default (LISA's protocol) or clamped to background (``ignore='background'``,
upstream UniPixel's scoring).

Scores are fractions under ``J``, ``F``, ``J&F`` (ReVOS: under ``referring``, ``reasoning``, ``overall``, plus ``A``
and ``R`` with the PNG convention named in ``protocol``) or ``cIoU``, ``gIoU``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from unipixel_plugin.data.base import load_json, load_pickle, resolve_data_root
from unipixel_plugin.evaluation.metrics import running_anno_ids, score_prediction_folder


@dataclass(frozen=True)
class FolderBenchmark:
    reader: str  # the dataset reader whose file table locates the annotations
    split: str
    keying: str = 'anno_id'  # 'anno_id' (meta_expressions' anno ids) or 'running' (VISA's mask_dict.pkl)


FOLDER_BENCHMARKS = {
    'revos': FolderBenchmark('ReVOSDataset', 'valid'),
    'mevis_valid_u': FolderBenchmark('MeViSDataset', 'valid_u'),
    'ref_davis17': FolderBenchmark('RefDAVIS17Dataset', 'valid', keying='running'),
    'ref_sav': FolderBenchmark('RefSAVEvalDataset', 'valid'),
}
IMAGE_BENCHMARKS = {'refcoco': ('RefCOCODataset', 'val'), 'refcoco+': ('RefCOCOPlusDataset', 'val'),
                    'refcocog': ('RefCOCOgDataset', 'val'), 'reason_seg': ('ReasonSegDataset', 'val')}
FRAME_LIST_BENCHMARKS = {'groundmore': ('GroundMoReDataset', 'test')}  # scored on the reader's chosen frames
BENCHMARKS = tuple(FOLDER_BENCHMARKS) + tuple(FRAME_LIST_BENCHMARKS) + tuple(IMAGE_BENCHMARKS)


def _reader(name: str):
    import unipixel_plugin.data  # noqa: F401  (registers the readers)
    from unipixel_plugin.registry import DATASETS
    return DATASETS.get(name)


def _annotation_file(root: str, rel: str, what: str) -> str:
    path = os.path.join(root, rel)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{what}: {path} not found (looked under the data root {root}; give --data-root or '
                                f'set UNIPIXEL_DATA_ROOT)')
    return path


def score_folder(benchmark: str, pred: str, data_root: str | None = None, split: str | None = None,
                 ar_convention: str = 'binary', round_percent: bool = True) -> dict:
    """Score the PNG tree ``pred`` on ``benchmark``; returns the JSON-able result (fractions)."""
    if benchmark not in FOLDER_BENCHMARKS:
        raise ValueError(f'unknown benchmark {benchmark!r}; expected one of {", ".join(BENCHMARKS)}')
    if not os.path.isdir(pred):
        raise FileNotFoundError(f'prediction folder {pred} not found')
    spec = FOLDER_BENCHMARKS[benchmark]
    split = split or spec.split
    reader = _reader(spec.reader)
    root = resolve_data_root(data_root)
    meta = load_json(_annotation_file(root, reader.META[split], f'{benchmark} {split} expressions'))
    videos = meta['videos']
    masks_rel = reader.MASKS.get(split)
    if masks_rel is None:
        raise ValueError(f'{benchmark} {split} has no public ground truth (scored by the official server only)')
    masks_path = _annotation_file(root, masks_rel, f'{benchmark} {split} masks')
    mask_dict = load_pickle(masks_path) if masks_path.endswith('.pkl') else load_json(masks_path)
    if spec.keying == 'running':
        videos = running_anno_ids(videos)
    foreground = None
    if benchmark == 'revos':
        fg_path = os.path.join(root, reader.FOREGROUND)
        foreground = load_json(fg_path) if os.path.isfile(fg_path) else None
    scores = score_prediction_folder(pred, videos, mask_dict, foreground=foreground,
                                     ar_convention=ar_convention if foreground is not None else None,
                                     on_error='zero' if benchmark == 'revos' else 'raise')
    out = {'benchmark': benchmark, 'split': split, 'prediction': os.path.abspath(pred),
           'missing_videos': scores.missing_videos,
           'missing_frames': [str(f) for f in scores.missing_frames], 'errors': [str(e) for e in scores.errors]}
    if benchmark == 'revos':
        summary = scores.revos_summary(round_percent=round_percent)
        names = {'referring': 'referring', 'reason': 'reasoning', 'overall': 'overall'}
        for key, name in names.items():
            values = summary[key]
            out[name] = {('J&F' if k == 'JF' else k): v / 100 for k, v in values.items()
                         if k in ('J', 'F', 'JF', 'A', 'R')}
        out['protocol'] = ('expressions rounded to 0.01 %' if round_percent else 'unrounded') + \
            (f'; A/R on {ar_convention} PNG values' if foreground is not None else '; no foreground file: no A/R')
    else:
        out.update({k: v for k, v in scores.summary().items() if k in ('J', 'F', 'J&F')})
        out['expressions'] = len(scores.expressions)
    return out


def score_groundmore(pred: str, data_root: str | None = None, split: str | None = None,
                     benchmark: str = 'groundmore') -> dict:
    """Score the PNG tree ``pred`` on GroundMoRe (see the module docstring); returns the JSON-able result
    (fractions). The frames and the ground truth are the GroundMoRe reader's (20 frames, action windows), the
    same the lmms-eval task builds its documents from; J and F per question are means over the 20 frames."""
    import cv2
    import numpy as np

    from unipixel_plugin.data.mask_parts import decode_object
    from unipixel_plugin.data.media import read_image_size
    from unipixel_plugin.evaluation.metrics import j_and_f
    if benchmark not in FRAME_LIST_BENCHMARKS:
        raise ValueError(f'unknown benchmark {benchmark!r}; expected one of {", ".join(FRAME_LIST_BENCHMARKS)}')
    if not os.path.isdir(pred):
        raise FileNotFoundError(f'prediction folder {pred} not found')
    reader_name, default_split = FRAME_LIST_BENCHMARKS[benchmark]
    reader = _reader(reader_name)(data_root=data_root, split=split or default_split)
    if len(reader) == 0:
        raise ValueError(f'{benchmark} {reader.split} has no questions under the data root (no annotation folder '
                         'of a listed video)')
    per_question, types, missing_videos, missing_frames = {}, {}, [], []
    for i in range(len(reader)):
        sample = reader.get_data_info(i)
        vid, qid = sample.meta['video'], str(sample.meta['qid'])
        types[(vid, qid)] = sample.task or 'unknown'
        if not os.path.isdir(os.path.join(pred, vid)):
            if vid not in missing_videos:
                missing_videos.append(vid)
            per_question[(vid, qid)] = (0.0, 0.0)
            continue
        size = read_image_size(sample.media[0])
        positions = list(range(len(sample.media)))
        gt = np.zeros((len(positions), *size), dtype=bool)
        for obj in sample.objects:
            gt |= decode_object(obj, positions, size)
        masks = np.zeros_like(gt)
        for t, frame in enumerate(sample.media):
            stem = os.path.splitext(os.path.basename(frame))[0]
            path = os.path.join(pred, vid, qid, f'{stem}.png')
            image = cv2.imread(path, cv2.IMREAD_GRAYSCALE) if os.path.isfile(path) else None
            if image is None:
                missing_frames.append(f'{vid}/{qid}/{stem}.png')
                continue
            if image.shape != size:
                raise ValueError(f'{path} is {image.shape[1]}x{image.shape[0]}, the frame {size[1]}x{size[0]}')
            masks[t] = image != 0
        j, f = j_and_f(masks, gt)
        per_question[(vid, qid)] = (float(np.mean(j)), float(np.mean(f)))

    def summary(keys) -> dict:
        j = float(np.mean([per_question[k][0] for k in keys]))
        f = float(np.mean([per_question[k][1] for k in keys]))
        return {'J': j, 'F': f, 'J&F': (j + f) / 2}

    out = {'benchmark': benchmark, 'split': reader.split, 'prediction': os.path.abspath(pred),
           **summary(list(per_question)), 'expressions': len(per_question),
           'per_type': {t: summary([k for k in per_question if types[k] == t]) for t in sorted(set(types.values()))},
           'protocol': 'default',  # the unipixel_groundmore_test task's (leaderboard rows match on it)
           'missing_videos': missing_videos, 'missing_frames': missing_frames, 'errors': []}
    return out


def score_predictions(benchmark: str, pred: str, data_root: str | None = None, split: str | None = None,
                      ignore: str = 'exclude', convention: str = 'exact') -> dict:
    """Score ``pred`` (a folder holding ``predictions.json``, or the file) on an image benchmark (fractions)."""
    import json

    import numpy as np

    from unipixel_plugin.data.mask_parts import decode_object
    from unipixel_plugin.evaluation.metrics import cumulative_iou, generalized_iou, intersection_and_union
    from unipixel_plugin.masks import decode_rle
    if benchmark not in IMAGE_BENCHMARKS:
        raise ValueError(f'unknown benchmark {benchmark!r}; expected one of {", ".join(BENCHMARKS)}')
    path = os.path.join(pred, 'predictions.json') if os.path.isdir(pred) else pred
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path} not found: PRED is a folder holding predictions.json (or the file)')
    with open(path) as f:
        items = json.load(f)
    if not isinstance(items, list):
        raise ValueError(f'{path}: expected a list of predictions, got {type(items).__name__}')
    reader_name, default_split = IMAGE_BENCHMARKS[benchmark]
    split = split or default_split
    reader = _reader(reader_name)(data_root=data_root, split=split)
    reason = benchmark == 'reason_seg'
    key_of = (lambda p: (str(p['image']), str(p['text_idx']))) if reason else (lambda p: str(p['sent_id']))
    predictions = {}
    for n, item in enumerate(items):
        try:
            predictions[key_of(item)] = item['segmentation']
        except (KeyError, TypeError) as err:
            raise ValueError(f'{path}: prediction {n} lacks {err} (expected '
                             f'{"image, text_idx" if reason else "sent_id"} and segmentation)') from None
    inters, unions, missing = [], [], []
    for i in range(len(reader)):
        sample = reader.get_data_info(i)
        if reason:
            key = (sample.meta['image'], sample.id.rsplit('/', 1)[1])
            size = _size_of(sample)
        else:
            key = str(sample.meta['sent_ids'][0])
            size = (sample.meta['height'], sample.meta['width'])
        gt = decode_object(sample.objects[0], [0], size)[0]
        ignore_mask = decode_object(sample.ignore, [0], size)[0] if getattr(sample, 'ignore', None) else None
        if key in predictions:
            pred_mask = decode_rle(predictions[key])
            if pred_mask.shape != gt.shape:
                raise ValueError(f'{path}: the prediction for {key} is {pred_mask.shape[1]}x{pred_mask.shape[0]}, '
                                 f'the image {gt.shape[1]}x{gt.shape[0]}')
        else:
            pred_mask = np.zeros_like(gt)
            missing.append(key if isinstance(key, str) else '/'.join(key))
        inter, union = intersection_and_union(pred_mask, gt, ignore_mask, ignore=ignore)
        inters.append(inter)
        unions.append(union)
    if not inters:
        raise ValueError(f'{benchmark} {split} has no samples under the data root')
    return {'benchmark': benchmark, 'split': split, 'prediction': os.path.abspath(path),
            'protocol': f'ignore={ignore}' if reason else 'default', 'samples': len(inters),
            'cIoU': cumulative_iou(inters, unions, convention), 'gIoU': generalized_iou(inters, unions, convention),
            'missing_predictions': missing, 'missing_videos': [], 'missing_frames': []}


def _size_of(sample) -> tuple[int, int]:
    from PIL import Image
    with Image.open(sample.media[0]) as image:
        return image.height, image.width


def score(benchmark: str, pred: str, data_root: str | None = None, split: str | None = None, **kwargs) -> dict:
    """:func:`score_folder`, :func:`score_groundmore` or :func:`score_predictions`, by benchmark."""
    if benchmark in IMAGE_BENCHMARKS:
        return score_predictions(benchmark, pred, data_root, split, **kwargs)
    if benchmark in FRAME_LIST_BENCHMARKS:  # the ReVOS-only options (A/R convention, rounding) do not apply
        return score_groundmore(pred, data_root, split, benchmark=benchmark)
    return score_folder(benchmark, pred, data_root, split, **kwargs)


def format_table(result: dict) -> str:
    """A few readable lines of a :func:`score_folder` result (percent)."""
    head = f'{result["benchmark"]} ({result["split"]})'
    lines = []
    groups = [(n, result[n]) for n in ('referring', 'reasoning', 'overall') if n in result] or [('', result)]
    groups += sorted((result.get('per_type') or {}).items())  # GroundMoRe's question types
    for name, values in groups:
        cells = '  '.join(f'{k} {100 * values[k]:6.2f}' for k in ('J', 'F', 'J&F', 'A', 'R', 'cIoU', 'gIoU')
                          if k in values)
        lines.append(f'{head:28s} {name:10s} {cells}')
    if result['missing_videos']:
        lines.append(f'missing videos (scored 0): {len(result["missing_videos"])}, e.g. {result["missing_videos"][0]}')
    if result['missing_frames']:
        lines.append(f'missing frame PNGs (empty masks): {len(result["missing_frames"])}, e.g. '
                     f'{result["missing_frames"][0]}')
    if result.get('missing_predictions'):
        lines.append(f'missing predictions (empty masks): {len(result["missing_predictions"])}, e.g. '
                     f'{result["missing_predictions"][0]}')
    return '\n'.join(lines)


__all__ = ['BENCHMARKS', 'FOLDER_BENCHMARKS', 'FRAME_LIST_BENCHMARKS', 'IMAGE_BENCHMARKS', 'score', 'score_folder',
           'score_groundmore', 'score_predictions', 'format_table']
