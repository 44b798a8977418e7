"""Semantic segmentation as referring segmentation: ADE20K, COCO-Stuff and Mapillary Vistas (LISA's ``sem_seg``).

Layout (relative to the data root), per split (``train`` / ``val``):

* ADE20K: label PNGs ``lisa/ade20k/annotations/{training,validation}/<name>.png``, images
  ``lisa/ade20k/images/{training,validation}/<name>.jpg``;
* COCO-Stuff: ``lisa/cocostuff/{train2017,val2017}/<name>.png``, images ``lisa/coco/{train2017,val2017}/<name>.jpg``;
* Mapillary Vistas v2.0: ``lisa/mapillary/{training,validation}/v2.0/labels/<name>.png`` (palette PNGs: the index
  is the class), images ``lisa/mapillary/{training,validation}/images/<name>.jpg``.

One ``seg_image`` sample per label PNG (sorted by name). The classes a sample asks for are only known once its
label map is read, so, as upstream, that happens when the sample is loaded: :func:`expand_label_map` (called by
:func:`~..pipeline.load_sample` for samples with ``meta['label_map']``) turns every class present in the PNG,
except the dataset's ignored ids, into one turn "Please segment the {class name} in this image." with the mask
``label == class id``; the pipeline then keeps at most three random turns. A label map without any class is an
:class:`~..pipeline.EmptyMaskError` (upstream asserts), so the mixture replaces the sample.

Class names and ignored ids are upstream's, pixel value = index in the list. Upstream's COCO-Stuff ids to ignore
are LISA's (classes whose name has a ``-``) shifted by one: ``person`` (0) and ``bush`` (96) are ignored while
``building-other`` (95) is kept. This package keeps upstream's list, the one its checkpoints were trained with.
"""
from __future__ import annotations

import os
from typing import Iterable

import numpy as np

from ...prompts import seg_conversation
from ...registry import DATASETS
from ..base import DatasetNotFoundError, EmptyMaskError, UniPixelDataset
from ...masks import MaskError, read_label_png
from ..schema import MaskPart, ObjectMasks, Sample

# class names by pixel value (upstream's lists: ADE20K's 150 + "unlabeled", COCO-Stuff's 182, Mapillary v2.0's 123)
ADE20K_CLASSES = tuple((
    'unlabeled|wall|building|sky|floor|tree|ceiling|road|bed|windowpane|grass|cabinet|sidewalk|person|'
    'earth|door|table|mountain|plant|curtain|chair|car|water|painting|sofa|shelf|house|sea|mirror|rug|'
    'field|armchair|seat|fence|desk|rock|wardrobe|lamp|bathtub|railing|cushion|base|box|column|signboard|'
    'chest of drawers|counter|sand|sink|skyscraper|fireplace|refrigerator|grandstand|path|stairs|runway|'
    'case|pool table|pillow|screen door|stairway|river|bridge|bookcase|blind|coffee table|toilet|flower|'
    'book|hill|bench|countertop|stove|palm|kitchen island|computer|swivel chair|boat|bar|arcade machine|'
    'hovel|bus|towel|light|truck|tower|chandelier|awning|streetlight|booth|television receiver|airplane|'
    'dirt track|apparel|pole|land|bannister|escalator|ottoman|bottle|buffet|poster|stage|van|ship|'
    'fountain|conveyer belt|canopy|washer|plaything|swimming pool|stool|barrel|basket|waterfall|tent|bag|'
    'minibike|cradle|oven|ball|food|step|tank|trade name|microwave|pot|animal|bicycle|lake|dishwasher|'
    'screen|blanket|sculpture|hood|sconce|vase|traffic light|tray|ashcan|fan|pier|crt screen|plate|'
    'monitor|bulletin board|shower|radiator|glass|clock|flag'
).split('|'))

COCO_STUFF_CLASSES = tuple((
    'person|bicycle|car|motorcycle|airplane|bus|train|truck|boat|traffic light|fire hydrant|street sign|'
    'stop sign|parking meter|bench|bird|cat|dog|horse|sheep|cow|elephant|bear|zebra|giraffe|hat|backpack|'
    'umbrella|shoe|eye glasses|handbag|tie|suitcase|frisbee|skis|snowboard|sports ball|kite|baseball bat|'
    'baseball glove|skateboard|surfboard|tennis racket|bottle|plate|wine glass|cup|fork|knife|spoon|bowl|'
    'banana|apple|sandwich|orange|broccoli|carrot|hot dog|pizza|donut|cake|chair|couch|potted plant|bed|'
    'mirror|dining table|window|desk|toilet|door|tv|laptop|mouse|remote|keyboard|cell phone|microwave|'
    'oven|toaster|sink|refrigerator|blender|book|clock|vase|scissors|teddy bear|hair drier|toothbrush|'
    'hair brush|banner|blanket|branch|bridge|building-other|bush|cabinet|cage|cardboard|carpet|'
    'ceiling-other|ceiling-tile|cloth|clothes|clouds|counter|cupboard|curtain|desk-stuff|dirt|door-stuff|'
    'fence|floor-marble|floor-other|floor-stone|floor-tile|floor-wood|flower|fog|food-other|fruit|'
    'furniture-other|grass|gravel|ground-other|hill|house|leaves|light|mat|metal|mirror-stuff|moss|'
    'mountain|mud|napkin|net|paper|pavement|pillow|plant-other|plastic|platform|playingfield|railing|'
    'railroad|river|road|rock|roof|rug|salad|sand|sea|shelf|sky|skyscraper|snow|solid-other|stairs|stone|'
    'straw|structural-other|table|tent|textile-other|towel|tree|vegetable|wall-brick|wall-concrete|'
    'wall-other|wall-panel|wall-stone|wall-tile|wall-wood|water-other|waterdrops|window-blind|'
    'window-other|wood'
).split('|'))

MAPILLARY_CLASSES = tuple((
    'bird|ground animal|ambiguous barrier|concrete block|curb|fence|guard rail|barrier|road median|'
    'road side|lane separator|temporary barrier|wall|bike lane|crosswalk - plain|curb cut|driveway|'
    'parking|parking aisle|pedestrian area|rail track|road|road shoulder|service lane|sidewalk|'
    'traffic island|bridge|building|garage|tunnel|person|person group|bicyclist|motorcyclist|other rider|'
    'lane marking - dashed line|lane marking - straight line|lane marking - zigzag line|'
    'lane marking - ambiguous|lane marking - arrow (left)|lane marking - arrow (other)|'
    'lane marking - arrow (right)|lane marking - arrow (split left or straight)|'
    'lane marking - arrow (split right or straight)|lane marking - arrow (straight)|'
    'lane marking - crosswalk|lane marking - give way (row)|lane marking - give way (single)|'
    'lane marking - hatched (chevron)|lane marking - hatched (diagonal)|lane marking - other|'
    'lane marking - stop line|lane marking - symbol (bicycle)|lane marking - symbol (other)|'
    'lane marking - text|lane marking (only) - dashed line|lane marking (only) - crosswalk|'
    'lane marking (only) - other|lane marking (only) - test|mountain|sand|sky|snow|terrain|vegetation|'
    'water|banner|bench|bike rack|catch basin|cctv camera|fire hydrant|junction box|mailbox|manhole|'
    'parking meter|phone booth|pothole|signage - advertisement|signage - ambiguous|signage - back|'
    'signage - information|signage - other|signage - store|street light|pole|pole group|'
    'traffic sign frame|utility pole|traffic cone|traffic light - general (single)|'
    'traffic light - pedestrians|traffic light - general (upright)|traffic light - general (horizontal)|'
    'traffic light - cyclists|traffic light - other|traffic sign - ambiguous|traffic sign (back)|'
    'traffic sign - direction (back)|traffic sign - direction (front)|traffic sign (front)|'
    'traffic sign - parking|traffic sign - temporary (back)|traffic sign - temporary (front)|trash can|'
    'bicycle|boat|bus|car|caravan|motorcycle|on rails|other vehicle|trailer|truck|vehicle group|'
    'wheeled slow|water valve|car mount|dynamic|ego vehicle|ground|static'
).split('|'))

# pixel values that are not classes (or are classes upstream leaves out)
ADE20K_IGNORE = (0, 255)
COCO_STUFF_IGNORE = (0, 96, 102, 103, 110, 112, 114, 115, 116, 117, 118, 121, 123, 126, 133, 142, 160, 164, 167, 171,
                     172, 173, 174, 175, 176, 177, 178, 180, 181, 255)
MAPILLARY_IGNORE = (123, 255)

# dataset -> (class names by pixel value, ignored pixel values)
SEMANTIC_CLASSES = {
    'ade20k': (ADE20K_CLASSES, ADE20K_IGNORE),
    'cocostuff': (COCO_STUFF_CLASSES, COCO_STUFF_IGNORE),
    'mapillary': (MAPILLARY_CLASSES, MAPILLARY_IGNORE),
}


def label_classes(label: np.ndarray, dataset: str, where: str) -> list[int]:
    """Class ids present in a label map ``(H, W)``, ascending, without the dataset's ignored ids."""
    names, ignore = SEMANTIC_CLASSES[dataset]
    present = [v for v in np.unique(label).tolist() if v not in ignore]
    unknown = [v for v in present if not 0 <= v < len(names)]
    if unknown:
        raise MaskError(f'label map {where}: pixel values {unknown[:10]} are not {dataset} classes (0..'
                        f'{len(names) - 1}, ignored {list(ignore)})')
    return present


def expand_label_map(sample: Sample) -> Sample:
    """The sample with one turn and one object per class of its label map (``meta['label_map']``).

    Returns:
        a copy with ``objects`` (``object_id`` = class id, ``name`` = class name; mask: the PNG's pixels of that
        value), ``conversation``, and ``meta['queries']`` / ``meta['turn_objects']``.

    Raises:
        MaskError: unreadable label PNG, or values that are no class. EmptyMaskError: no class present.
    """

    spec = sample.meta['label_map']
    path, dataset = spec['file'], spec['classes']
    label = read_label_png(path)
    if label.ndim != 2:
        raise MaskError(f'label map {path} has shape {label.shape}; expected a single-channel (index) PNG')
    classes = label_classes(label, dataset, path)
    if not classes:
        raise EmptyMaskError(f'sample {sample.key}: label map {path} holds no {dataset} class (only ignored values '
                             f'{sorted(set(np.unique(label).tolist()))[:10]})')
    names = SEMANTIC_CLASSES[dataset][0]
    objects, conversation = [], []
    for v in classes:
        objects.append(ObjectMasks([[MaskPart('png', path, values=(v, ), source=path)]], object_id=v, name=names[v]))
        conversation += seg_conversation(names[v], 'query', 'image')
    meta = dict(sample.meta, queries=[names[v] for v in classes], turn_objects=[[i] for i in range(len(classes))])
    return sample.replace(objects=objects, conversation=conversation, meta=meta)


class SemanticSegDataset(UniPixelDataset):
    """Shared reader; subclasses set ``LABELS`` / ``IMAGES`` (split -> folder)."""

    LABELS: dict[str, str] = {}
    IMAGES: dict[str, str] = {}
    SPLIT_ALIASES = {'valid': ('val',), 'validation': ('val',)}

    def parse(self) -> Iterable[Sample]:
        folder = self.path(self.LABELS[self.split])
        if not os.path.isdir(folder):
            raise DatasetNotFoundError(f'{self.SOURCE} ({self.split}): {folder} is not a folder of label PNGs')
        for name in sorted(n for n in os.listdir(folder) if n.endswith('.png')):
            stem = name[:-len('.png')]
            yield Sample(
                id=stem,
                source=self.SOURCE,
                data_type='seg_image',
                media_type='image',
                media=[self.path(self.IMAGES[self.split], f'{stem}.jpg')],
                query_type='query',
                meta={'label_map': {'file': os.path.join(folder, name), 'classes': self.SOURCE}})


@DATASETS.register_module(name=['ADE20KDataset', 'ade20k'])
class ADE20KDataset(SemanticSegDataset):
    """ADE20K (150 classes). Splits: ``train``, ``val``."""

    SOURCE = 'ade20k'
    LABELS = {'train': 'lisa/ade20k/annotations/training', 'val': 'lisa/ade20k/annotations/validation'}
    IMAGES = {'train': 'lisa/ade20k/images/training', 'val': 'lisa/ade20k/images/validation'}
    SPLITS = {s: [f] for s, f in LABELS.items()}


@DATASETS.register_module(name=['COCOStuffDataset', 'cocostuff'])
class COCOStuffDataset(SemanticSegDataset):
    """COCO-Stuff (182 ids, upstream's ignored ones left out). Splits: ``train``, ``val``."""

    SOURCE = 'cocostuff'
    LABELS = {'train': 'lisa/cocostuff/train2017', 'val': 'lisa/cocostuff/val2017'}
    IMAGES = {'train': 'lisa/coco/train2017', 'val': 'lisa/coco/val2017'}
    SPLITS = {s: [f] for s, f in LABELS.items()}


@DATASETS.register_module(name=['MapillaryDataset', 'mapillary'])
class MapillaryDataset(SemanticSegDataset):
    """Mapillary Vistas v2.0 (123 classes). Splits: ``train``, ``val``."""

    SOURCE = 'mapillary'
    LABELS = {'train': 'lisa/mapillary/training/v2.0/labels', 'val': 'lisa/mapillary/validation/v2.0/labels'}
    IMAGES = {'train': 'lisa/mapillary/training/images', 'val': 'lisa/mapillary/validation/images'}
    SPLITS = {s: [f] for s, f in LABELS.items()}


__all__ = [
    'ADE20K_CLASSES', 'COCO_STUFF_CLASSES', 'MAPILLARY_CLASSES', 'SEMANTIC_CLASSES', 'label_classes',
    'expand_label_map', 'SemanticSegDataset', 'ADE20KDataset', 'COCOStuffDataset', 'MapillaryDataset'
]
