"""ReasonSeg (LISA): reasoning segmentation on images.

Layout (relative to the data root): ``lisa/reason_seg/ReasonSeg/{train,val,test}/<image>.jpg`` with a sibling
``<image>.json`` = ``{"text": [queries], "is_sentence": bool, "shapes": [{"label": "target" | "ignore" | "flag",
"points": [[x, y], ...], "shape_type": "polygon"}]}``; training also reads
``lisa/reason_seg/ReasonSeg/explanatory/train.json`` (``[{"image", "query", "outputs"}]``).

The target mask is drawn like LISA (largest polygon first, later smaller ones override); ``ignore`` polygons form
``Sample.ignore`` (LISA marks them 255 and leaves them out of the score; upstream UniPixel clamps them to
background); ``flag`` shapes are dropped. One sample per query text (plus one explanatory sample in training).
"""
from __future__ import annotations

import os
from typing import Iterable

from ...prompts import seg_conversation
from ...registry import DATASETS
from ..base import UniPixelDataset, expect, expect_text, load_json
from ..schema import MaskPart, ObjectMasks, Sample

SHAPE_LABELS = ('target', 'ignore', 'flag')


@DATASETS.register_module(name=['ReasonSegDataset', 'reason_seg'])
class ReasonSegDataset(UniPixelDataset):
    """ReasonSeg. Splits: ``train``, ``val``, ``test``.

    Args:
        add_explanatory: in ``train``, add the explanatory sample of each image listed in ``explanatory/train.json``
            (upstream does).
    """

    SOURCE = 'reason_seg'
    ROOT = 'lisa/reason_seg/ReasonSeg'
    EXPLANATORY = 'lisa/reason_seg/ReasonSeg/explanatory/train.json'
    SPLITS = {'train': [f'{ROOT}/train'], 'val': [f'{ROOT}/val'], 'test': [f'{ROOT}/test']}
    SPLIT_ALIASES = {'valid': ('val',), 'validation': ('val',)}

    def __init__(self, *args, add_explanatory: bool = True, **kwargs):
        self.add_explanatory = add_explanatory
        super().__init__(*args, **kwargs)

    def parse(self) -> Iterable[Sample]:
        folder = self.path(self.ROOT, self.split)
        images = sorted(n for n in os.listdir(folder) if n.endswith('.jpg'))
        explanatory = {}
        if self.split == 'train' and self.add_explanatory and os.path.isfile(self.path(self.EXPLANATORY)):
            exp_file = self.path(self.EXPLANATORY)
            items = load_json(exp_file)
            expect(isinstance(items, list), f'{exp_file}: expected a list of {{"image", "query", "outputs"}}')
            for n, item in enumerate(items):
                if not (isinstance(item, dict) and all(isinstance(item.get(k), str) for k in ('image', 'query',
                                                                                                'outputs'))):
                    self.skip(f'{exp_file}: item {n} is not {{"image", "query", "outputs"}} texts: '
                              f'{str(item)[:80]!r}', exp_file, sample=str(n))
                    continue
                explanatory[os.path.splitext(os.path.basename(item['image']))[0]] = item
        for name in images:
            stem = os.path.splitext(name)[0]
            # each image has its own JSON: a bad (even unparseable) one loses only that image
            yield from self.try_item(self._parse_image, folder, name, explanatory, default=[],
                                     file=os.path.join(folder, f'{stem}.json'), sample=stem)

    def _parse_image(self, folder: str, name: str, explanatory: dict) -> list[Sample]:
        stem = os.path.splitext(name)[0]
        image, meta_file = os.path.join(folder, name), os.path.join(folder, f'{stem}.json')
        expect(os.path.isfile(meta_file), f'{meta_file}: missing (the annotation of {image})')
        meta = load_json(meta_file)
        expect(isinstance(meta, dict) and 'shapes' in meta and 'text' in meta,
               f'{meta_file}: expected {{"text", "is_sentence", "shapes"}}')
        shapes = []
        for i, shape in enumerate(meta['shapes']):
            expect(shape.get('label') in SHAPE_LABELS, f'{meta_file}: shape {i} has label {shape.get("label")!r}; '
                   f'expected one of {SHAPE_LABELS}')
            expect(shape.get('shape_type', 'polygon') == 'polygon',
                   f'{meta_file}: shape {i} is a {shape.get("shape_type")!r}, only polygons are supported')
            if shape['label'] != 'flag':
                shapes.append({'label': shape['label'], 'points': shape['points']})
        size = (meta['imageHeight'], meta['imageWidth']) if 'imageHeight' in meta and 'imageWidth' in meta else None
        target = ObjectMasks([[MaskPart('shapes', shapes, size=size, values=('target',), source=meta_file)]],
                             object_id='target')
        ignore = None
        if any(s['label'] == 'ignore' for s in shapes):
            ignore = ObjectMasks([[MaskPart('shapes', shapes, size=size, values=('ignore',), source=meta_file)]],
                                 object_id='ignore')
        texts = meta['text'] if isinstance(meta['text'], list) else [meta['text']]
        query_type = 'sentence' if meta.get('is_sentence') else 'query'
        turns = [(str(i), text, query_type, None) for i, text in enumerate(texts)]
        if stem in explanatory:
            turns.append(('exp', explanatory[stem]['query'], 'explanatory', explanatory[stem]['outputs']))
        samples = []
        for qid, text, qtype, answer in turns:
            # an empty query loses only itself, not the image's other queries
            if self.try_item(expect_text, text, f'{meta_file}: text {qid}', 'query', file=meta_file,
                             sample=f'{stem}/{qid}') is None:
                continue
            samples.append(Sample(
                id=f'{stem}/{qid}',
                source=self.SOURCE,
                data_type='seg_image',
                media_type='image',
                media=[image],
                conversation=seg_conversation(text, qtype, 'image', answer),
                query=text,
                query_type=qtype,
                objects=[target],
                ignore=ignore,
                answer=answer,
                meta={'image': stem, 'annotation': meta_file}))
        return samples
