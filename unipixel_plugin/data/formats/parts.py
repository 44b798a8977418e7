"""Part segmentation in COCO format: PACO-LVIS and PASCAL-Part (as LISA's ``vlpart`` folder ships them).

Layout (relative to the data root): ``lisa/vlpart/paco/annotations/paco_lvis_v1_{train,val}.json`` with images
``lisa/coco/<file_name>``; ``lisa/vlpart/pascal_part/train.json`` with images
``lisa/vlpart/pascal_part/VOCdevkit/VOC2010/JPEGImages/<file_name>``. Category names are ``"object"`` or
``"object:part"``, each possibly with an ``_(qualifier)`` suffix that is dropped.

One sample per image; each annotation is one turn ("Please segment the {object} {part} in this image.") with its
own object, like upstream (the pipeline keeps at most three random turns). ``meta['names']`` keeps the
``(object, part)`` pairs so that a training pipeline can say "the {part} of the {object}" instead, as upstream
does half of the time.
"""
from __future__ import annotations

from typing import Iterable, Union

from ...prompts import seg_conversation
from ...registry import DATASETS
from ..base import UniPixelDataset, expect, load_json
from ..schema import ObjectMasks, Sample
from .refcoco import segmentation_part


def category_name(raw: str, where: str) -> Union[str, tuple[str, str]]:
    """``'dog:leg_(animal)'`` -> ``('dog', 'leg')``; ``'bench_(seat)'`` -> ``'bench'`` (other ``_`` kept: upstream)."""
    parts = raw.strip().split(':')
    expect(len(parts) in (1, 2), f'{where}: category name {raw!r} has more than one ":"')
    names = tuple(p.split('_(')[0] for p in parts)
    return names[0] if len(names) == 1 else names


class COCOPartsDataset(UniPixelDataset):
    """Shared parser; subclasses set ``ANNO`` (split -> COCO json) and ``IMAGES`` (split -> image folder)."""

    ANNO: dict[str, str] = {}
    IMAGES: dict[str, str] = {}

    def parse(self) -> Iterable[Sample]:
        anno_file = self.path(self.ANNO[self.split])
        coco = load_json(anno_file)
        for key in ('images', 'annotations', 'categories'):
            expect(key in coco, f'{anno_file}: not a COCO annotation file (no "{key}")')
        names = {c['id']: category_name(c['name'], anno_file) for c in coco['categories']}
        by_image: dict = {}
        for n, ann in enumerate(coco['annotations']):
            if not isinstance(ann, dict) or 'image_id' not in ann:
                self.skip(f'{anno_file}: annotation {n} has no "image_id": {str(ann)[:80]!r}', anno_file,
                          sample=str(n))
                continue
            by_image.setdefault(ann['image_id'], []).append(ann)
        for n, img in enumerate(coco['images']):
            anns = by_image.get(img.get('id') if isinstance(img, dict) else None, [])
            if anns:
                sample = self.try_item(self._sample, img, anns, names, anno_file, file=anno_file,
                                       sample=str(img.get('id', n)))
                if sample is not None:
                    yield sample

    def _sample(self, img: dict, anns: list, names: dict, where: str) -> Sample:
        conversation, objects, queries, pairs = [], [], [], []
        for ann in anns:
            expect(ann['category_id'] in names, f'{where}: annotation {ann["id"]} has unknown category '
                   f'{ann["category_id"]}')
            name = names[ann['category_id']]
            query = name if isinstance(name, str) else f'{name[0]} {name[1]}'
            part = segmentation_part(ann['segmentation'], img['height'], img['width'],
                                     f'{where} (annotation {ann["id"]})')
            objects.append(ObjectMasks([[part]], object_id=ann['id'], name=query))
            conversation += seg_conversation(query, 'query', 'image')
            queries.append(query)
            pairs.append(name if isinstance(name, str) else list(name))
        return Sample(
            id=str(img['id']),
            source=self.SOURCE,
            data_type='seg_image',
            media_type='image',
            media=[self.path(self.IMAGES[self.split], img['file_name'])],
            conversation=conversation,
            query_type='query',
            objects=objects,
            meta={'image_id': img['id'], 'height': img['height'], 'width': img['width'], 'queries': queries,
                  'names': pairs, 'turn_objects': [[i] for i in range(len(objects))]})


@DATASETS.register_module(name=['PACOLVISDataset', 'paco_lvis'])
class PACOLVISDataset(COCOPartsDataset):
    """PACO-LVIS (objects and parts). Splits: ``train``, ``val``."""

    SOURCE = 'paco_lvis'
    ANNO = {s: f'lisa/vlpart/paco/annotations/paco_lvis_v1_{s}.json' for s in ('train', 'val')}
    IMAGES = {'train': 'lisa/coco', 'val': 'lisa/coco'}
    SPLITS = {'train': [ANNO['train']], 'val': [ANNO['val']]}
    SPLIT_ALIASES = {'valid': ('val',), 'validation': ('val',)}


@DATASETS.register_module(name=['PASCALPartDataset', 'pascal_part'])
class PASCALPartDataset(COCOPartsDataset):
    """PASCAL-Part. Split: ``train``."""

    SOURCE = 'pascal_part'
    ANNO = {'train': 'lisa/vlpart/pascal_part/train.json'}
    IMAGES = {'train': 'lisa/vlpart/pascal_part/VOCdevkit/VOC2010/JPEGImages'}
    SPLITS = {'train': [ANNO['train']]}
