"""Osprey-724K: conversations about, and descriptions of, masked regions of COCO images.

Layout (relative to the data root): ``osprey/Osprey-724K/{osprey_conversation,osprey_lvis_positive_negative,
osprey_detail_description}.json`` = ``[{"id", "file_name", "height", "width", "annotation": [{"segmentation":
COCO polygons or RLE, ...}], "conversations": [{"from": "human" | "gpt", "value"}]}]`` (the detail file has
``"description": ["<region1>: ...", ...]`` instead of ``conversations``); images ``osprey/coco/train2014/<file_name>``
(positive / negative: ``osprey/coco/imgs/<file_name>``). ``<regionN>`` names the ``N``-th annotation (1-based).

Readers (upstream's names), all ``region_image`` (mask prompts, ``<|mem|>``), one sample per image with all turns:

* ``osprey_conversation``, ``osprey_pos_neg``: ``<regionN>`` -> ``[N]`` after upstream's repairs of broken tags
  (``<region1]``, ``<region1.``, ``<region 1>``, ``<region of1>``); an item with a bare ``<region>``, a tag left
  broken, or a region beyond its annotations is skipped, as upstream.
* ``osprey_detail_description``: one turn per description, "Can you provide me with a detailed description of the
  region in the picture marked by [N]?" (upstream's first template) -> the description; repairs ``<RegionN>``,
  ``<reginN>``, ``<regin N>``; an item whose description names not exactly one region is skipped.

The objects are the regions in order of first mention, ``object_id`` = ``N``. The "Here is an image with the
following highlighted regions" prefix is the model side's job (it depends on the loaded masks).
"""
from __future__ import annotations

import re
from typing import Iterable, Optional

from ...prompts import REGION_DETAIL_REQUEST
from ...registry import DATASETS
from ..base import UniPixelDataset, expect, load_json_list
from ..schema import ObjectMasks, Sample
from .refcoco import segmentation_part

REGION_TAG = re.compile(r'<region\d+>')
# upstream's repairs of the tags, applied in this order
CONVERSATION_REPAIRS = ((re.compile(r'<region(\d+)]'), r'<region\1>'),
                        (re.compile(r'<region(\d+).'), r'<region\1>'),
                        (re.compile(r'<region (\d+)>'), r'<region\1>'),
                        (re.compile(r'<region of(\d+)>'), r'<region\1>'))
DESCRIPTION_REPAIRS = ((re.compile(r'<Region(\d+)>'), r'<region\1>'), (re.compile(r'<regin(\d+)>'), r'<region\1>'),
                       (re.compile(r'<regin (\d+)>'), r'<region\1>'))


def repair(text: str, repairs) -> str:
    for pattern, replacement in repairs:
        text = pattern.sub(replacement, text)
    return text


def region_number(tag: str, where: str) -> int:
    oid = tag[len('<region'):-1]
    expect(oid == str(int(oid)), f'{where}: region tag {tag} is not written as <regionN>')
    return int(oid)


class OspreyDataset(UniPixelDataset):
    """Shared parser; subclasses set ``ANNO``, ``IMAGES`` and implement :meth:`turns`."""

    ROOT = 'osprey/Osprey-724K'
    ANNO = ''
    IMAGES = 'osprey/coco/train2014'
    TEXT_KEY = 'conversations'

    def parse(self) -> Iterable[Sample]:
        anno_file = self.path(self.ANNO)
        items = load_json_list(anno_file, 'images')
        self.num_invalid = 0  # items upstream drops (reported like its "Invalid samples" line)
        for n, raw in enumerate(items):
            sample = self.try_item(self._item, n, raw, anno_file, file=anno_file,
                                   sample=str(raw.get('id', n)) if isinstance(raw, dict) else str(n))
            if sample is not None:
                yield sample

    def _item(self, n: int, raw: dict, anno_file: str) -> Optional[Sample]:
        expect(isinstance(raw, dict), f'{anno_file} (item {n}): expected an object, got {type(raw).__name__}')
        where = f'{anno_file} (item {n}, id {raw.get("id")})'
        for key in ('file_name', 'height', 'width', 'annotation', self.TEXT_KEY):
            expect(key in raw, f'{where}: missing "{key}"')
        parsed = self.turns(raw, where)
        if parsed is None:
            self.num_invalid += 1
            return None
        turns, numbers = parsed
        objects = [ObjectMasks([[segmentation_part(raw['annotation'][k - 1]['segmentation'], raw['height'],
                                                   raw['width'], f'{where} (region {k})')]], object_id=k)
                   for k in numbers]
        conversation = []
        for question, answer in turns:
            conversation += [{'role': 'user', 'content': question}, {'role': 'assistant', 'content': answer}]
        return Sample(
            id=str(raw.get('id', n)),
            source=self.SOURCE,
            data_type='region_image',
            media_type='image',
            media=[self.path(self.IMAGES, raw['file_name'])],
            conversation=conversation,
            objects=objects,
            meta={'index': n, 'file_name': raw['file_name'], 'height': raw['height'], 'width': raw['width']})

    def turns(self, raw: dict, where: str) -> Optional[tuple[list[tuple[str, str]], list[int]]]:
        """``([(question, answer)], region numbers in order of first mention)``, or ``None`` to skip the item."""
        raise NotImplementedError


class OspreyConversationBase(OspreyDataset):

    def turns(self, raw: dict, where: str) -> Optional[tuple[list[tuple[str, str]], list[int]]]:
        numbers, texts = [], []
        num_regions = len(raw['annotation'])
        for i, turn in enumerate(raw['conversations']):
            if i % 2 == 0:  # upstream checks the human turns only
                expect(turn.get('from') == 'human', f'{where}: turn {i} is from {turn.get("from")!r}, not "human"')
            value = turn['value']
            if '<region>' in value:
                return None
            value = repair(value, CONVERSATION_REPAIRS)
            if '<region ' in value:
                return None
            for tag in REGION_TAG.findall(value):
                k = region_number(tag, where)
                if k > num_regions:
                    return None
                if k not in numbers:
                    numbers.append(k)
                value = value.replace(tag, f'[{k}]', 1)
            expect('<region' not in value, f'{where}: turn {i} keeps an unreadable region tag: {value[:120]!r}')
            texts.append(value)
        if not numbers:
            return None
        return list(zip(texts[0::2], texts[1::2])), numbers


@DATASETS.register_module(name=['OspreyConversationDataset', 'osprey_conversation'])
class OspreyConversationDataset(OspreyConversationBase):
    """Osprey conversations about regions. Split: ``train``."""

    SOURCE = 'osprey_conversation'
    ANNO = f'{OspreyDataset.ROOT}/osprey_conversation.json'
    SPLITS = {'train': [ANNO]}


@DATASETS.register_module(name=['OspreyPosNegDataset', 'osprey_pos_neg'])
class OspreyPosNegDataset(OspreyConversationBase):
    """Osprey LVIS positive / negative questions about regions. Split: ``train``."""

    SOURCE = 'osprey_pos_neg'
    ANNO = f'{OspreyDataset.ROOT}/osprey_lvis_positive_negative.json'
    IMAGES = 'osprey/coco/imgs'
    SPLITS = {'train': [ANNO]}


@DATASETS.register_module(name=['OspreyDetailDescriptionDataset', 'osprey_detail_description'])
class OspreyDetailDescriptionDataset(OspreyDataset):
    """Osprey detailed region descriptions. Split: ``train``."""

    SOURCE = 'osprey_detail_description'
    ANNO = f'{OspreyDataset.ROOT}/osprey_detail_description.json'
    TEXT_KEY = 'description'
    SPLITS = {'train': [ANNO]}

    def turns(self, raw: dict, where: str) -> Optional[tuple[list[tuple[str, str]], list[int]]]:
        numbers, turns = [], []
        for i, desc in enumerate(raw['description']):
            desc = repair(desc, DESCRIPTION_REPAIRS).strip()
            expect(desc.startswith('<region'), f'{where}: description {i} does not start with <regionN>: '
                   f'{desc[:80]!r}')
            tags = REGION_TAG.findall(desc)
            if len(tags) != 1:
                return None
            k = region_number(tags[0], where)
            if k > len(raw['annotation']):
                return None
            if k not in numbers:
                numbers.append(k)
            text = re.findall(r'<region\d+>: (.*)', desc)
            expect(len(text) > 0 and len(text[0]) > 0, f'{where}: description {i} is not "<regionN>: text"')
            turns.append((REGION_DETAIL_REQUEST.format(f'[{k}]'), text[0]))
        if not numbers:
            return None
        return turns, numbers


__all__ = [
    'OspreyDataset', 'OspreyConversationDataset', 'OspreyPosNegDataset', 'OspreyDetailDescriptionDataset',
    'CONVERSATION_REPAIRS', 'DESCRIPTION_REPAIRS'
]
