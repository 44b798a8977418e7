"""The lmms-eval side of UniPixel's referring video segmentation tasks (MeViS valid_u, Ref-DAVIS17, ReVOS, Ref-SAV,
GroundMoRe test; MeViS valid and Ref-YouTube-VOS valid for their servers): documents from the native files through the dataset
readers, per-expression J and F, and the dataset aggregations (mean over expressions; ReVOS: referring / reasoning /
overall, upstream's 0.01 % rounding), all from :mod:`unipixel_plugin.evaluation.metrics`.

MeViS ``valid`` and Ref-YouTube-VOS ``valid`` hide their masks: their documents have no ``gt``, ``process_results``
keeps each expression's predicted masks, and the aggregation writes the archive the official server takes
(:mod:`unipixel_plugin.evaluation.submission`) to ``<--output_path>/submissions/<task>.zip`` and logs where it is.

A document holds the frame folder (``video``), the ids, upstream's prompt for the expression, and ``gt``: per frame
the COCO RLE of the union of the expression's objects. GroundMoRe's documents also list ``frame_files``: the 20
frames upstream evaluates on (``np.linspace`` over the video's frames), which the adapter uses instead of the whole
folder (the LLM sees 16 of them, SAM 2 all 20); its ground truth is limited to the question's action window and its
prompt is upstream's ``question`` template. The ``unipixel`` model (``sam2_frames=all``, upstream's
evaluation protocol) answers with a JSON string of per-frame RLEs over every frame of the folder; a plain text
answer, or a frame without a mask, is an empty mask (so missing frames lower J, as in the reference scripts).
"""
from __future__ import annotations

import json
import os

import numpy as np

from unipixel_plugin.evaluation.lmms.documents import (answer_record, process_docs_hook,
                                                      video_doc_to_messages, video_doc_to_text,
                                                      video_doc_to_visual)
from unipixel_plugin.evaluation.metrics import j_and_f, revos_summary
from unipixel_plugin.masks import decode_rle, encode_rle
from unipixel_plugin.prompts import seg_request

READERS = {'mevis': 'MeViSDataset', 'ref_davis17': 'RefDAVIS17Dataset', 'revos': 'ReVOSDataset',
           'ref_sav': 'RefSAVEvalDataset', 'ref_youtube_vos': 'RefYouTubeVOSDataset', 'groundmore': 'GroundMoReDataset'}
# benchmarks evaluated on chosen frames of a folder, not all of it: documents list them (``frame_files``)
FRAME_LISTS = {'groundmore'}
# splits whose masks are hidden: scored by the official server from the archive the aggregation writes
SERVER_SPLITS = {('mevis', 'valid'), ('ref_youtube_vos', 'valid')}


def build_docs(dataset: str, split: str, data_root: str | None = None) -> list[dict]:
    """One document per expression of ``dataset``'s ``split`` (``data_root``, else ``$UNIPIXEL_DATA_ROOT``)."""
    import unipixel_plugin.data  # noqa: F401  (registers the readers)
    from unipixel_plugin.data.mask_parts import decode_object
    from unipixel_plugin.data.media import read_image_size
    from unipixel_plugin.registry import DATASETS
    if dataset not in READERS:
        raise ValueError(f'unknown referring video dataset {dataset!r}; expected one of {sorted(READERS)}')
    reader = DATASETS.get(READERS[dataset])(data_root=data_root, split=split)
    server = (dataset, reader.split) in SERVER_SPLITS
    docs = []
    for i in range(len(reader)):
        sample = reader.get_data_info(i)
        size = read_image_size(sample.media[0])
        gt = ''
        if not server:
            positions = list(range(len(sample.media)))
            union = np.zeros((len(positions), *size), dtype=bool)
            for obj in sample.objects:
                union |= decode_object(obj, positions, size)
            gt = json.dumps([encode_rle(m) for m in union])
        docs.append({
            'doc_id': i, 'video': os.path.dirname(sample.media[0]), 'video_id': sample.meta['video'],
            'exp_id': sample.meta.get('exp_id', sample.meta.get('qid')), 'query': sample.query, 'type_id': int(sample.meta.get('type_id', -1)),
            'prompt': seg_request(sample.query, sample.query_type or 'query', 'video'),
            'frames': json.dumps(sample.meta.get('frame_names') or
                                 [os.path.splitext(os.path.basename(p))[0] for p in sample.media]),
            'height': size[0], 'width': size[1], 'benchmark': dataset, 'split': reader.split, 'gt': gt,
            **({'frame_files': json.dumps(list(sample.media))} if dataset in FRAME_LISTS else {})})
    return docs


def process_docs_for(dataset: str, split: str):
    """The ``process_docs`` hook of one split (:func:`~.documents.process_docs_hook`)."""
    return process_docs_hook(build_docs, dataset, split)


doc_to_messages, doc_to_visual, doc_to_text = video_doc_to_messages, video_doc_to_visual, video_doc_to_text


def predicted_track(answer: str, num_frames: int, size: tuple[int, int]) -> np.ndarray:
    """``(T, H, W)``: the answer's first mask track (its first ``<|seg|>``) on the document's frames, empty where
    none: upstream's infer_seg.py scores ``model.seg[0]``, as the MMEngine ``RefVOSMetric`` does; tracks of later
    ``<|seg|>`` tokens are not scored."""
    out = np.zeros((num_frames, *size), dtype=bool)
    record = answer_record(answer)
    indices = record.get('frame_indices') or list(range(num_frames))
    for track in (record.get('masks') or [])[:1]:
        for t, rle in zip(indices, track):
            if rle and 0 <= t < num_frames:
                mask = decode_rle(rle)
                if mask.shape == tuple(size):
                    out[t] |= mask
    return out


def process_results(doc: dict, results: list) -> dict:
    """Per-expression J and F (means over all the expression's frames), as the reference scripts."""
    gt = np.stack([decode_rle(r) for r in json.loads(doc['gt'])])
    pred = predicted_track(results[0] if results else '', gt.shape[0], gt.shape[1:])
    j, f = j_and_f(pred, gt)
    stats = {'J': float(np.mean(j)), 'F': float(np.mean(f)), 'type_id': doc['type_id'],
             'expression': f'{doc["video_id"]}/{doc["exp_id"]}'}
    return {'J': stats, 'F': stats, 'J&F': stats}


def process_results_submission(doc: dict, results: list) -> dict:
    """A hidden-mask split: the expression's predicted masks, one COCO RLE per frame (empty where none)."""
    frames = json.loads(doc['frames'])
    pred = predicted_track(results[0] if results else '', len(frames), (doc['height'], doc['width']))
    item = {'benchmark': doc['benchmark'], 'split': doc['split'], 'video_id': doc['video_id'],
            'exp_id': doc['exp_id'], 'frames': frames, 'masks': [encode_rle(m) for m in pred]}
    return {'archived_expressions': item}


def aggregate_submission(items: list[dict], args=None) -> int:
    """Write the server archive of a hidden-mask split (see the module docstring) under ``args.output_path``
    (lmms-eval's ``--output_path``; the working folder without one) and log where it is. Returns the number of
    expressions archived: this split has no local score."""
    from unipixel_plugin.evaluation.submission import announce, write_submission
    if not items:
        raise ValueError('no expression to archive: the split has no documents')
    benchmark, split = items[0]['benchmark'], items[0]['split']
    task = f'unipixel_{benchmark}_{split}'
    out = getattr(args, 'output_path', None) or '.'
    path = os.path.join(out, 'submissions', f'{task}.zip')
    unique = {(i['video_id'], i['exp_id']): i for i in reversed(items)}  # a document padded in twice counts once
    expressions = ((i['video_id'], i['exp_id'], i['frames'], (decode_rle(r) for r in i['masks']))
                   for _, i in sorted(unique.items()))
    written = write_submission(benchmark, expressions, path)
    announce(task, benchmark, written)
    return written['expressions']


def aggregate_j(items: list[dict]) -> float:
    return float(np.mean([i['J'] for i in items]))


def aggregate_f(items: list[dict]) -> float:
    return float(np.mean([i['F'] for i in items]))


def aggregate_jf(items: list[dict]) -> float:
    return (aggregate_j(items) + aggregate_f(items)) / 2


def _revos_overall(items: list[dict], key: str) -> float:
    summary = revos_summary([((i['J'], i['F']), i['type_id']) for i in items], round_percent=True)
    return summary['overall'][key] / 100


def aggregate_revos_overall(items: list[dict]) -> float:
    """ReVOS overall J&F (fraction): mean of the referring and reasoning subsets, each expression rounded to 0.01 %
    first (upstream's script); type 2 expressions count in neither subset."""
    return _revos_overall(items, 'JF')


def aggregate_revos_overall_j(items: list[dict]) -> float:
    """ReVOS overall J, as :func:`aggregate_revos_overall`."""
    return _revos_overall(items, 'J')


def aggregate_revos_overall_f(items: list[dict]) -> float:
    """ReVOS overall F, as :func:`aggregate_revos_overall`."""
    return _revos_overall(items, 'F')


__all__ = ['build_docs', 'process_docs_for', 'doc_to_messages', 'doc_to_visual', 'doc_to_text', 'predicted_track',
           'process_results', 'process_results_submission', 'aggregate_submission', 'aggregate_j', 'aggregate_f',
           'aggregate_jf', 'aggregate_revos_overall', 'aggregate_revos_overall_j', 'aggregate_revos_overall_f']
