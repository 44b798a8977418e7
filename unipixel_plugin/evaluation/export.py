"""``unipixel export``: the masks of an lmms-eval run, written as the prediction files ``unipixel score`` reads.

An lmms-eval run with ``--log_samples`` leaves one ``*_samples_<task>.jsonl`` per task: every line holds the
document's ``doc_id`` and the answer (``filtered_resps``; for this package's adapter, a JSON string with the answer's
masks as COCO RLE). lmms-eval 0.7 does not keep the documents themselves in that file, so they are built again from
the benchmark's native files, as the task built them (the task's name says which benchmark and split; the data root
is ``data_root`` or ``$UNIPIXEL_DATA_ROOT``, the one the run read). :func:`export_samples` turns such a file into

* image referring segmentation (the ``unipixel_refcoco*`` tasks): ``predictions.json``, a list of
  ``{image_id, ref_id, sent_id, segmentation}``;
* ReasonSeg (``unipixel_reasonseg_*``): ``predictions.json``, a list of ``{image, text_idx, segmentation}``;
* referring video segmentation (``unipixel_revos_valid``, ``unipixel_mevis_valid_u``, ``unipixel_ref_davis17_valid``,
  ``unipixel_ref_sav_valid``, ``unipixel_groundmore_test``): the PNG tree ``<video id>/<expression id>/<frame>.png``
  (8-bit, 0/255), one PNG per frame the document lists.

The masks are exactly the ones the task scored (the same decoding: the answer's first mask track, i.e. its first
``<|seg|>``, as upstream scores ``model.seg[0]``; empty where the answer has none), so ``unipixel score`` on the export gives the run's numbers — and the export of another
model's run, or another model's own prediction folder, is scored by the same code.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator

import numpy as np

KINDS = ('refcoco', 'reason_seg', 'video')


def read_samples(path: str) -> Iterator[dict]:
    """The logged samples of one task (``*_samples_<task>.jsonl``), one dict per line; a line that is not JSON is
    an error naming the file and line."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path} not found: give the *_samples_<task>.jsonl file that lmms-eval wrote with '
                                '--log_samples')
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}, line {n}: not a JSON sample ({err.msg})') from None


def sample_kind(doc: dict) -> str:
    """Which prediction format a document's answer goes to (one of :data:`KINDS`)."""
    if {'sent_id', 'image_id', 'ref_id'} <= set(doc):
        return 'refcoco'
    if {'image_name', 'text_idx'} <= set(doc):
        return 'reason_seg'
    if {'video_id', 'exp_id', 'frames', 'height', 'width'} <= set(doc):
        return 'video'
    raise ValueError(f'document {doc.get("doc_id")}: not a referring-segmentation document of this package '
                     f'(keys {sorted(doc)[:12]})')


def _answer(sample: dict) -> str:
    responses = sample.get('filtered_resps') or sample.get('resps') or ['']
    answer = responses[0] if isinstance(responses, list) else responses
    while isinstance(answer, list):  # lmms-eval nests the responses of a repeated request
        answer = answer[0] if answer else ''
    return answer if isinstance(answer, str) else ''


def task_of(samples_path: str) -> str:
    """The task a samples file belongs to, from lmms-eval's file name ``<date>_samples_<task>.jsonl``."""
    name = os.path.basename(samples_path)
    if '_samples_' not in name or not name.endswith('.jsonl'):
        raise ValueError(f'{samples_path}: not named <date>_samples_<task>.jsonl; give the task with --task')
    return name.split('_samples_', 1)[1][:-len('.jsonl')]


def task_documents(task: str, data_root: str | None = None) -> list[dict]:
    """The documents of one of this package's mask tasks, built from the native files as the task builds them."""
    from unipixel_plugin.evaluation.leaderboard import task_key
    from unipixel_plugin.evaluation.lmms import refer_segmentation, refer_video_segmentation
    benchmark, split, protocol = task_key(task)
    if benchmark in refer_segmentation.READERS:
        ignore = protocol.split('=', 1)[1] if protocol.startswith('ignore=') else 'exclude'
        return refer_segmentation.build_docs(benchmark, split, data_root, **(
            {'ignore': ignore} if benchmark == 'reason_seg' else {}))
    if benchmark in refer_video_segmentation.READERS:
        return refer_video_segmentation.build_docs(benchmark, split, data_root)
    raise ValueError(f'{task}: not one of this package\'s mask tasks (unipixel_refcoco*, unipixel_reasonseg_*, '
                     'unipixel_revos_valid, unipixel_mevis_valid_u, unipixel_ref_davis17_valid, '
                     'unipixel_ref_sav_valid, unipixel_groundmore_test)')


def export_samples(samples_path: str, out_dir: str, data_root: str | None = None, task: str | None = None) -> dict:
    """Write the predictions of one task's logged samples under ``out_dir``; returns what was written
    (``{'task', 'kind', 'predictions', 'path', 'empty'}``: ``empty`` counts answers without any mask pixel)."""
    from PIL import Image

    from unipixel_plugin.evaluation.lmms.refer_segmentation import predicted_mask
    from unipixel_plugin.evaluation.lmms.refer_video_segmentation import predicted_track
    from unipixel_plugin.masks import decode_rle, encode_rle

    task = task or task_of(samples_path)
    samples = list(read_samples(samples_path))
    if not samples:
        raise ValueError(f'{samples_path}: no samples')
    docs = None if all(s.get('doc') for s in samples) else task_documents(task, data_root)
    os.makedirs(out_dir, exist_ok=True)
    kind, items, empty = None, [], 0
    for n, sample in enumerate(samples):
        doc = sample.get('doc')
        if not doc:
            doc_id = sample.get('doc_id')
            if not isinstance(doc_id, int) or not 0 <= doc_id < len(docs):
                raise ValueError(f'{samples_path}, sample {n}: doc_id {doc_id!r} is not a document of {task} under '
                                 f'this data root ({len(docs)} documents): is it the root the run read?')
            doc = docs[doc_id]
        this = sample_kind(doc)
        if kind is not None and this != kind:
            raise ValueError(f'{samples_path}: document {doc.get("doc_id")} is a {this} document among {kind} ones')
        kind = this
        answer = _answer(sample)
        if kind == 'video':
            frames = doc['frames'] if isinstance(doc['frames'], list) else json.loads(doc['frames'])
            track = predicted_track(answer, len(frames), (int(doc['height']), int(doc['width'])))
            folder = os.path.join(out_dir, str(doc['video_id']), str(doc['exp_id']))
            os.makedirs(folder, exist_ok=True)
            for name, mask in zip(frames, track):
                Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)).save(os.path.join(folder, f'{name}.png'))
            empty += int(not track.any())
        else:
            size = decode_rle(json.loads(doc['gt'])).shape
            mask = predicted_mask(answer, size)
            empty += int(not mask.any())
            key = ({'image_id': doc['image_id'], 'ref_id': doc['ref_id'], 'sent_id': doc['sent_id']}
                   if kind == 'refcoco' else {'image': doc['image_name'], 'text_idx': doc['text_idx']})
            items.append({**key, 'segmentation': encode_rle(mask)})
    path = out_dir
    if kind != 'video':
        path = os.path.join(out_dir, 'predictions.json')
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(items, f)
    return {'task': task, 'kind': kind, 'predictions': len(samples), 'path': os.path.abspath(path), 'empty': empty}


__all__ = ['KINDS', 'read_samples', 'sample_kind', 'task_of', 'task_documents', 'export_samples']
