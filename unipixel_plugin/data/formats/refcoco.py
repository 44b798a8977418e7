"""RefCOCO, RefCOCO+, RefCOCOg and RefClef (the ``refer`` API layout, as LISA ships it).

Layout (relative to the data root): ``lisa/refer_seg/<dataset>/refs(<split_by>).p`` (pickled list of
``{ref_id, ann_id, image_id, category_id, split, sentences: [{sent_id, sent, raw, tokens}], sent_ids, file_name}``)
and ``lisa/refer_seg/<dataset>/instances.json`` (COCO ``images`` / ``annotations`` with polygon or RLE
``segmentation``); images in ``lisa/refer_seg/images/mscoco/images/train2014`` (RefClef:
``lisa/refer_seg/images/saiapr_tc-12``). ``split_by`` is ``unc`` except RefCOCOg (``umd``).

Splits follow the refer API: ``train`` / ``val`` exact; ``testA`` / ``testB`` / ``testC`` match refs whose split
contains the letter (so ``testAB`` counts for both); ``test`` matches every split containing ``test``.

Like upstream, ``train`` yields one sample per image whose turns are all its sentences (the pipeline keeps at most
three random turns), and the evaluation splits yield one sample per sentence.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable

from ...prompts import seg_conversation
from ...registry import DATASETS
from ..base import UniPixelDataset, expect, expect_text, load_json, load_pickle
from ..schema import MaskPart, ObjectMasks, Sample


def split_matches(ref_split: str, split: str) -> bool:
    """Whether a ref of split ``ref_split`` belongs to the requested ``split`` (refer API semantics)."""
    if split in ('testA', 'testB', 'testC'):
        return split[-1] in ref_split
    if split in ('testAB', 'testBC', 'testAC'):
        return ref_split == split
    if split == 'test':
        return 'test' in ref_split
    return ref_split == split


def segmentation_part(segmentation, height: int, width: int, where: str) -> MaskPart:
    """A COCO ``segmentation`` (polygons or RLE) as a lazy :class:`MaskPart`."""
    if isinstance(segmentation, dict):
        return MaskPart('rle', segmentation, size=(height, width), source=where)
    expect(isinstance(segmentation, list) and len(segmentation) > 0,
           f'{where}: segmentation must be polygons (list of lists) or an RLE dict, got {str(segmentation)[:80]}')
    if not isinstance(segmentation[0], list):  # a single flat polygon
        segmentation = [segmentation]
    return MaskPart('polygons', segmentation, size=(height, width), source=where)


class RefCOCODatasetBase(UniPixelDataset):
    """Shared parser; subclasses set ``DATASET``, ``SPLIT_BY``, ``IMAGES`` and ``SPLITS``."""

    DATASET = ''
    SPLIT_BY = 'unc'
    IMAGES = 'lisa/refer_seg/images/mscoco/images/train2014'
    ANNO_ROOT = 'lisa/refer_seg'
    SPLIT_ALIASES = {'valid': ('val',), 'validation': ('val',)}

    def __init__(self, *args, group_by_image: bool = None, **kwargs):
        self._group_by_image = group_by_image
        super().__init__(*args, **kwargs)

    @classmethod
    def files(cls) -> list[str]:
        folder = f'{cls.ANNO_ROOT}/{cls.DATASET}'
        return [f'{folder}/refs({cls.SPLIT_BY}).p', f'{folder}/instances.json']

    @property
    def group_by_image(self) -> bool:
        """One multi-turn sample per image (upstream's training) or one sample per sentence (evaluation)."""
        return self.split == 'train' if self._group_by_image is None else self._group_by_image

    def parse(self) -> Iterable[Sample]:
        refs_file, inst_file = (self.path(p) for p in self.files())
        refs = load_pickle(refs_file)
        expect(isinstance(refs, list), f'{refs_file}: expected a list of refs, got {type(refs).__name__}')
        instances = load_json(inst_file)
        expect(isinstance(instances, dict) and 'images' in instances and 'annotations' in instances,
               f'{inst_file}: expected COCO instances with "images" and "annotations"')
        images = {img['id']: img for img in instances['images']}
        anns = {ann['id']: ann for ann in instances['annotations']}

        by_image: dict = OrderedDict()
        for n, ref in enumerate(refs):
            if not isinstance(ref, dict) or 'image_id' not in ref:
                self.skip(f'{refs_file}: ref {n} is not a ref with an "image_id": {str(ref)[:80]!r}', refs_file,
                          sample=str(n))
            elif split_matches(ref.get('split', ''), self.split):
                by_image.setdefault(ref['image_id'], []).append(ref)

        for image_id, image_refs in by_image.items():
            if image_id not in images:
                self.skip(f'{inst_file}: image {image_id} (used by refs {[r.get("ref_id") for r in image_refs]} in '
                          f'{refs_file}) not listed', inst_file, sample=str(image_id))
                continue
            img = images[image_id]
            turns = []  # (sentence, sent_id, ref, ann)
            for ref in image_refs:
                turns += self.try_item(self._turns, ref, anns, refs_file, inst_file, file=refs_file,
                                       sample=f'ref {ref.get("ref_id")}', default=[])
            groups = [turns] if self.group_by_image else [[t] for t in turns]
            for group in groups:
                if group:
                    sample = self.try_item(self._image_sample, group, img, inst_file, file=inst_file,
                                           sample=str(img['id'] if self.group_by_image else group[0][1]))
                    if sample is not None:
                        yield sample

    def _turns(self, ref: dict, anns: dict, refs_file: str, inst_file: str) -> list[tuple]:
        """``(sentence, sent_id, ref, ann)`` of each sentence of one ref; an empty sentence loses only itself."""
        expect(ref['ann_id'] in anns, f'{inst_file}: annotation {ref["ann_id"]} of ref {ref["ref_id"]} not found')
        turns = []
        for sent in ref['sentences']:
            ok = self.try_item(expect_text, sent['sent'], f'{refs_file}: ref {ref["ref_id"]} sentence '
                               f'{sent.get("sent_id")}', 'sentence', file=refs_file, sample=str(sent.get('sent_id')))
            if ok is not None:  # the text as it is (upstream does not strip it)
                turns.append((sent['sent'], sent['sent_id'], ref, anns[ref['ann_id']]))
        return turns

    def _image_sample(self, turns: list, img: dict, where: str) -> Sample:
        return self._sample(turns, self.path(self.IMAGES, img['file_name']), img, img['height'], img['width'], where)

    def _sample(self, turns: list, path: str, img: dict, height: int, width: int, where: str) -> Sample:
        conversation, objects, boxes, turn_objects, ann_index = [], [], [], [], {}
        for text, _, ref, ann in turns:
            if ann['id'] not in ann_index:
                ann_index[ann['id']] = len(objects)
                part = segmentation_part(ann['segmentation'], height, width, f'{where} (annotation {ann["id"]})')
                objects.append(ObjectMasks([[part]], object_id=ann['id']))
                x, y, w, h = ann['bbox']
                boxes.append([x, y, x + w, y + h])
            turn_objects.append([ann_index[ann['id']]])
            conversation += seg_conversation(text, 'query', 'image')
        first_text, first_sent_id = turns[0][0], turns[0][1]
        sample_id = str(img['id']) if self.group_by_image else str(first_sent_id)
        return Sample(
            id=sample_id,
            source=self.SOURCE,
            data_type='seg_image',
            media_type='image',
            media=[path],
            conversation=conversation,
            query=first_text if len(turns) == 1 else None,
            query_type='query',
            objects=objects,
            boxes=boxes,
            meta={'image_id': img['id'], 'height': height, 'width': width, 'turn_objects': turn_objects,
                  'queries': [t[0] for t in turns],
                  'sent_ids': [t[1] for t in turns], 'ref_ids': [t[2]['ref_id'] for t in turns]})


def _splits(names: tuple, files: list) -> dict:
    return {name: files for name in names}


@DATASETS.register_module(name=['RefCOCODataset', 'refcoco'])
class RefCOCODataset(RefCOCODatasetBase):
    """RefCOCO (UNC). Splits: ``train``, ``val``, ``testA``, ``testB``."""

    SOURCE = DATASET = 'refcoco'
    SPLITS = _splits(('train', 'val', 'testA', 'testB'),
                     ['lisa/refer_seg/refcoco/refs(unc).p', 'lisa/refer_seg/refcoco/instances.json'])


@DATASETS.register_module(name=['RefCOCOPlusDataset', 'refcoco+'])
class RefCOCOPlusDataset(RefCOCODatasetBase):
    """RefCOCO+ (UNC). Splits: ``train``, ``val``, ``testA``, ``testB``."""

    SOURCE = DATASET = 'refcoco+'
    SPLITS = _splits(('train', 'val', 'testA', 'testB'),
                     ['lisa/refer_seg/refcoco+/refs(unc).p', 'lisa/refer_seg/refcoco+/instances.json'])


@DATASETS.register_module(name=['RefCOCOgDataset', 'refcocog'])
class RefCOCOgDataset(RefCOCODatasetBase):
    """RefCOCOg (UMD split). Splits: ``train``, ``val``, ``test``."""

    SOURCE = DATASET = 'refcocog'
    SPLIT_BY = 'umd'
    SPLITS = _splits(('train', 'val', 'test'),
                     ['lisa/refer_seg/refcocog/refs(umd).p', 'lisa/refer_seg/refcocog/instances.json'])


@DATASETS.register_module(name=['RefClefDataset', 'refclef'])
class RefClefDataset(RefCOCODatasetBase):
    """RefClef (ReferIt, UNC). Splits: ``train``, ``val``, ``testA``, ``testB``, ``testC``."""

    SOURCE = DATASET = 'refclef'
    IMAGES = 'lisa/refer_seg/images/saiapr_tc-12'
    SPLITS = _splits(('train', 'val', 'testA', 'testB', 'testC'),
                     ['lisa/refer_seg/refclef/refs(unc).p', 'lisa/refer_seg/refclef/instances.json'])
