"""The lmms-eval side of UniPixel's image referring-segmentation tasks (RefCOCO, RefCOCO+, RefCOCOg): documents
from the native files through the dataset readers, prompts, per-sample statistics and the cIoU / gIoU aggregations.

The task folders (``tasks/unipixel_refcoco*``) bind these with ``!function utils.<name>``; the scoring is
:mod:`unipixel_plugin.evaluation.metrics`, the same as ``unipixel score`` and the MMEngine ``RefSegMetric``.

A document is JSON-friendly: ``image`` (path), ``query``, ``prompt`` (upstream's template), the ids, and ``gt`` (the
COCO RLE of the referred object). Answers come back from the ``unipixel`` model as a JSON string with COCO RLE masks
(lmms-eval's sam3 precedent); any other model's plain text answer scores as an empty mask.
"""
from __future__ import annotations

import json

import numpy as np

from unipixel_plugin.evaluation.lmms.documents import answer_record, media_messages, process_docs_hook
from unipixel_plugin.evaluation.metrics import cumulative_iou, generalized_iou, intersection_and_union
from unipixel_plugin.masks import decode_rle, encode_rle
from unipixel_plugin.prompts import seg_request

READERS = {'refcoco': 'RefCOCODataset', 'refcoco+': 'RefCOCOPlusDataset', 'refcocog': 'RefCOCOgDataset'}


def build_docs(dataset: str, split: str, data_root: str | None = None) -> list[dict]:
    """One document per sentence of ``dataset``'s ``split``, read by the project's reader from ``data_root`` (else
    ``$UNIPIXEL_DATA_ROOT``)."""
    import unipixel_plugin.data  # noqa: F401  (registers the readers)
    from unipixel_plugin.data.mask_parts import decode_object
    from unipixel_plugin.registry import DATASETS
    if dataset not in READERS:
        raise ValueError(f'unknown referring-segmentation dataset {dataset!r}; expected one of {sorted(READERS)}')
    reader = DATASETS.get(READERS[dataset])(data_root=data_root, split=split)
    docs = []
    for i in range(len(reader)):
        sample = reader.get_data_info(i)
        height, width = sample.meta['height'], sample.meta['width']
        gt = decode_object(sample.objects[0], [0], (height, width))[0]
        docs.append({'doc_id': i, 'image': sample.media[0], 'query': sample.query, 'sent_id': sample.meta['sent_ids'][0],
                     'ref_id': sample.meta['ref_ids'][0], 'image_id': sample.meta['image_id'],
                     'prompt': seg_request(sample.query, 'query', 'image'), 'gt': json.dumps(encode_rle(gt))})
    return docs


def process_docs_for(dataset: str, split: str):
    """The ``process_docs`` hook of one split (:func:`~.documents.process_docs_hook`)."""
    return process_docs_hook(build_docs, dataset, split)


def doc_to_messages(doc: dict) -> list[dict]:
    return media_messages('image', doc['image'], doc['prompt'])


def doc_to_visual(doc: dict) -> list:
    from PIL import Image
    return [Image.open(doc['image']).convert('RGB')]


def doc_to_text(doc: dict) -> str:
    return doc['prompt']


def predicted_mask(answer: str, size: tuple[int, int]) -> np.ndarray:
    """The union of the answer's masks on its first frame (all False for a text-only answer or no mask)."""
    out = np.zeros(size, dtype=bool)
    record = answer_record(answer)
    for track in record.get('masks') or []:
        if track:
            mask = decode_rle(track[0])
            if mask.shape == tuple(size):
                out |= mask
    return out


def process_results(doc: dict, results: list) -> dict:
    """Per-sample intersection and union (the sufficient statistics of both cIoU and gIoU)."""
    gt = decode_rle(json.loads(doc['gt']))
    pred = predicted_mask(results[0] if results else '', gt.shape)
    inter, union = intersection_and_union(pred, gt)
    stats = {'intersection': float(inter), 'union': float(union), 'sent_id': doc['sent_id']}
    return {'cIoU': stats, 'gIoU': stats}


def aggregate_ciou(items: list[dict]) -> float:
    return float(cumulative_iou([i['intersection'] for i in items], [i['union'] for i in items]))


def aggregate_giou(items: list[dict]) -> float:
    return float(generalized_iou([i['intersection'] for i in items], [i['union'] for i in items]))


__all__ = ['build_docs', 'process_docs_for', 'doc_to_messages', 'doc_to_visual', 'doc_to_text', 'predicted_mask',
           'process_results', 'aggregate_ciou', 'aggregate_giou']
