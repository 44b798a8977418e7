"""The lmms-eval side of UniPixel's image referring-segmentation tasks (RefCOCO, RefCOCO+, RefCOCOg, ReasonSeg):
documents from the native files through the dataset readers, prompts, per-sample statistics and the cIoU / gIoU
aggregations.

The task folders (``tasks/unipixel_refcoco``, ``tasks/unipixel_reasonseg``) bind these with
``!function utils.<name>``; the scoring is :mod:`unipixel_plugin.evaluation.metrics`, the same as ``unipixel score``
and the MMEngine ``RefSegMetric``.

A document is JSON-friendly: ``image`` (path), ``query``, ``prompt`` (upstream's template for the sample's query type:
``query`` for RefCOCO; ``sentence`` or ``query`` by ``is_sentence`` for ReasonSeg, as upstream's infer_seg.py), the
ids, and ``gt`` (the COCO RLE of the referred object). ReasonSeg documents also hold ``ignore`` (the RLE of LISA's
"ignore" polygons, ``""`` when there are none) and ``ignore_protocol``: ``exclude`` (LISA: those pixels are scored
by neither mask) or ``background`` (upstream UniPixel's infer_seg.py: they count as ground-truth background).
Answers come back from the ``unipixel`` model as a JSON string with COCO RLE masks (lmms-eval's sam3 precedent); any
other model's plain text answer scores as an empty mask.
"""
from __future__ import annotations

import json
import logging

import numpy as np

from unipixel_plugin.evaluation.lmms.documents import answer_record, media_messages, process_docs_hook
from unipixel_plugin.evaluation.metrics import cumulative_iou, generalized_iou, intersection_and_union
from unipixel_plugin.masks import decode_rle, encode_rle
from unipixel_plugin.prompts import seg_request

logger = logging.getLogger(__name__)

READERS = {'refcoco': 'RefCOCODataset', 'refcoco+': 'RefCOCOPlusDataset', 'refcocog': 'RefCOCOgDataset',
           'reason_seg': 'ReasonSegDataset'}
IGNORE_PROTOCOLS = ('exclude', 'background')


def build_docs(dataset: str, split: str, data_root: str | None = None, ignore: str = 'exclude') -> list[dict]:
    """One document per sentence (ReasonSeg: per query text) of ``dataset``'s ``split``, read by the project's reader
    from ``data_root`` (else ``$UNIPIXEL_DATA_ROOT``). ``ignore`` is ReasonSeg's protocol for its "ignore" regions
    (``exclude`` or ``background``, see the module docstring)."""
    import unipixel_plugin.data  # noqa: F401  (registers the readers)
    from unipixel_plugin.registry import DATASETS
    if dataset not in READERS:
        raise ValueError(f'unknown referring-segmentation dataset {dataset!r}; expected one of {sorted(READERS)}')
    if ignore not in IGNORE_PROTOCOLS:
        raise ValueError(f'ignore must be one of {IGNORE_PROTOCOLS}, got {ignore!r}')
    reader = DATASETS.get(READERS[dataset])(data_root=data_root, split=split)
    docs = []
    for i in range(len(reader)):
        sample = reader.get_data_info(i)
        try:
            doc = _reason_seg_doc(sample, ignore) if dataset == 'reason_seg' else _refcoco_doc(sample)
        except (ValueError, OSError, RuntimeError, KeyError, IndexError, TypeError) as err:
            # a sample whose masks or image cannot be read loses only itself
            logger.warning('%s %s: sample %s left out: %s: %s', dataset, split, sample.id, type(err).__name__, err)
            continue
        docs.append({'doc_id': len(docs), **doc})
    return docs


def _refcoco_doc(sample) -> dict:
    from unipixel_plugin.data.mask_parts import decode_object
    height, width = sample.meta['height'], sample.meta['width']
    gt = decode_object(sample.objects[0], [0], (height, width))[0]
    return {'image': sample.media[0], 'query': sample.query, 'sent_id': sample.meta['sent_ids'][0],
            'ref_id': sample.meta['ref_ids'][0], 'image_id': sample.meta['image_id'],
            'prompt': seg_request(sample.query, 'query', 'image'), 'gt': json.dumps(encode_rle(gt))}


def _reason_seg_doc(sample, ignore: str) -> dict:
    from unipixel_plugin.data.mask_parts import decode_object
    from unipixel_plugin.data.media import read_image_size
    size = read_image_size(sample.media[0])
    gt = decode_object(sample.objects[0], [0], size)[0]
    ignore_rle = ''
    if sample.ignore is not None:
        ignore_rle = json.dumps(encode_rle(decode_object(sample.ignore, [0], size)[0]))
    return {'image': sample.media[0], 'query': sample.query, 'query_type': sample.query_type,
            'image_name': sample.meta['image'], 'text_idx': sample.id.rsplit('/', 1)[1],
            'prompt': seg_request(sample.query, sample.query_type, 'image'), 'gt': json.dumps(encode_rle(gt)),
            'ignore': ignore_rle, 'ignore_protocol': ignore}


def process_docs_for(dataset: str, split: str, ignore: str = 'exclude'):
    """The ``process_docs`` hook of one split (:func:`~.documents.process_docs_hook`); ``ignore``: ReasonSeg's
    protocol for its "ignore" regions."""
    if dataset != 'reason_seg':
        return process_docs_hook(build_docs, dataset, split)
    return process_docs_hook(lambda d, s, root: build_docs(d, s, root, ignore=ignore), dataset, split)


def doc_to_messages(doc: dict) -> list[dict]:
    return media_messages('image', doc['image'], doc['prompt'])


def doc_to_visual(doc: dict) -> list:
    from PIL import Image
    return [Image.open(doc['image']).convert('RGB')]


def doc_to_text(doc: dict) -> str:
    return doc['prompt']


def predicted_mask(answer: str, size: tuple[int, int]) -> np.ndarray:
    """The answer's first mask (its first ``<|seg|>``, on its first frame), as upstream's infer_seg.py scores
    ``model.seg[0]`` and the MMEngine ``RefSegMetric`` does; masks of later ``<|seg|>`` tokens are not scored. All
    False for a text-only answer or no mask."""
    out = np.zeros(size, dtype=bool)
    tracks = answer_record(answer).get('masks') or []
    if tracks and tracks[0]:
        mask = decode_rle(tracks[0][0])
        if mask.shape == tuple(size):
            out |= mask
    return out


def process_results(doc: dict, results: list) -> dict:
    """Per-sample intersection and union (the sufficient statistics of both cIoU and gIoU); ReasonSeg's "ignore"
    pixels are handled by the document's ``ignore_protocol``."""
    gt = decode_rle(json.loads(doc['gt']))
    pred = predicted_mask(results[0] if results else '', gt.shape)
    ignore_mask = decode_rle(json.loads(doc['ignore'])) if doc.get('ignore') else None
    inter, union = intersection_and_union(pred, gt, ignore_mask, ignore=doc.get('ignore_protocol') or 'exclude')
    key = {'sent_id': doc['sent_id']} if 'sent_id' in doc else {'sample': f'{doc["image_name"]}/{doc["text_idx"]}'}
    stats = {'intersection': float(inter), 'union': float(union), **key}
    return {'cIoU': stats, 'gIoU': stats}


def aggregate_ciou(items: list[dict]) -> float:
    return float(cumulative_iou([i['intersection'] for i in items], [i['union'] for i in items]))


def aggregate_giou(items: list[dict]) -> float:
    return float(generalized_iou([i['intersection'] for i in items], [i['union'] for i in items]))


__all__ = ['build_docs', 'process_docs_for', 'doc_to_messages', 'doc_to_visual', 'doc_to_text', 'predicted_mask',
           'process_results', 'aggregate_ciou', 'aggregate_giou']
