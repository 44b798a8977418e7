"""The toy scenes as datasets of the configs: the project's RefCOCO and MeViS readers over scenes made on first use.

``ToyRefCOCODataset`` reads the image scenes in the RefCOCO layout (training samples group up to ``max_turns``
expressions of one image, as upstream's RefCOCO samples do) and ``ToyMeViSDataset`` the scenes in the MeViS layout
(the videos, and the image scenes as one-frame videos). ``ToyRegionRefDataset`` and ``ToyRegionMaskDataset``
read the scenes' region questions ("What colour is [0]?") through the VideoRefer-700K readers, prompted by a point or
a box (``<|ref|>``) or by every object's mask (``<|mem|>``), in the notation the predictor sends
(:meth:`~unipixel_plugin.inference.UniPixelPredictor.ask`). The training
split comes from :data:`~unipixel_plugin.toy.cache.TRAIN_SCENES`, the held-out one (``valid_u``) from
:data:`~unipixel_plugin.toy.cache.HELDOUT_SCENES` (other seeds, so no scene is shared).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from unipixel_plugin.data.formats.refcoco import RefCOCODataset
from unipixel_plugin.data.formats.refvos import MeViSDataset
from unipixel_plugin.data.formats.videorefer_700k import VideoReferQADataset, VideoReferShortCaptionRefDataset
from unipixel_plugin.data.schema import ObjectMasks
from unipixel_plugin.prompts import REF_TOKEN, place_ref_tokens, seg_conversation
from unipixel_plugin.registry import DATASETS
from unipixel_plugin.toy.cache import ensure_toy_scenes
from unipixel_plugin.toy.scenes import MANIFEST, refcoco_id_offset


def _scene_root(root, split, kwargs) -> str:
    if 'data_root' in kwargs:
        raise TypeError('the toy datasets write their own data: give root= (the toy root), not data_root=')
    return str(ensure_toy_scenes(root, split=split))


@DATASETS.register_module(name=['ToyRefCOCODataset', 'toy_refcoco'])
class ToyRefCOCODataset(RefCOCODataset):
    """Image scenes, RefCOCO layout. ``split``: ``'train'`` or ``'val'`` (the held-out scenes).

    ``shape_groups``: add to every image sample one turn per shape present, ``"every circle"``, whose target is
    the union of the scene's circles. A shape-wide target is what teaches a from-scratch SAM 2 to tell the shapes
    apart (docs/toy_research.md, session 7); the held-out expressions are unchanged (``"the circle"`` is only said
    of a shape that occurs once, where the two targets are the same mask).
    """

    SOURCE = 'toy_refcoco'

    def __init__(self, root: Optional[str] = None, split: str = 'train', shape_groups=False, **kwargs):
        if shape_groups not in (False, True, 'only'):
            raise ValueError(f"{self.SOURCE}: shape_groups must be False, True or 'only', got {shape_groups!r}")
        self.shape_groups = shape_groups
        super().__init__(data_root=_scene_root(root, 'train' if split == 'train' else 'valid_u', kwargs),
                         split=split, **kwargs)

    def parse(self):
        samples = super().parse()
        if not self.shape_groups:
            yield from samples
            return
        manifest = json.loads((Path(self.data_root) / MANIFEST).read_text())
        offset = refcoco_id_offset(self.split)
        shapes = {o['anno_id'] + offset: o['shape'] for scene in manifest['scenes'] for o in scene['objects']}
        for sample in samples:
            yield self.try_item(with_shape_groups, sample, shapes, self.shape_groups == 'only',
                                file=str(Path(self.data_root) / MANIFEST), sample=sample.id, default=sample)


def with_shape_groups(sample, shapes: dict, only: bool = False):
    """``sample`` (a multi-turn RefCOCO-layout image sample) with one more turn per shape among its objects:
    ``"every <shape>"``, answered by one ``<|seg|>`` whose mask is the union of those objects' masks; ``only``:
    those turns alone (the sample's own turns dropped)."""
    by_shape: dict = {}
    for index, obj in enumerate(sample.objects):
        if obj.object_id not in shapes:
            raise ValueError(f'object {obj.object_id} of image sample {sample.id} is not in the scenes manifest')
        by_shape.setdefault(shapes[obj.object_id], []).append(index)
    objects, boxes, conversation, queries = [], [], [], []  # the group turns
    for shape, members in sorted(by_shape.items()):
        text = f'every {shape}'
        member_boxes = [sample.boxes[i] for i in members]
        objects.append(ObjectMasks([[part for i in members for part in sample.objects[i].frames[0]]],
                                   object_id=f'every-{shape}', name=shape))
        boxes.append([min(b[0] for b in member_boxes), min(b[1] for b in member_boxes),
                      max(b[2] for b in member_boxes), max(b[3] for b in member_boxes)])
        conversation += seg_conversation(text, 'query', 'image')
        queries.append(text)
    first = 0 if only else len(sample.objects)  # index of the first group object in the result
    meta = dict(sample.meta, turn_objects=[] if only else [list(t) for t in sample.meta['turn_objects']],
                queries=[] if only else list(sample.meta['queries']))
    meta['turn_objects'] += [[first + g] for g in range(len(objects))]
    meta['queries'] += queries
    for key in ('sent_ids', 'ref_ids'):
        if key in meta:
            meta[key] = ([] if only else list(meta[key])) + [None] * len(objects)
    if not only:
        objects, boxes = list(sample.objects) + objects, list(sample.boxes) + boxes
        conversation = list(sample.conversation) + conversation
    return sample.replace(objects=objects, boxes=boxes, conversation=conversation, meta=meta, query=None)


@DATASETS.register_module(name=['ToyMeViSDataset', 'toy_mevis'])
class ToyMeViSDataset(MeViSDataset):
    """Video (and one-frame image) scenes, MeViS layout. ``split``: ``'train'`` or ``'valid_u'`` (held out);
    ``media``: ``'video'`` scenes, ``'image'`` scenes or ``'all'``."""

    SOURCE = 'toy_mevis'

    def __init__(self, root: Optional[str] = None, split: str = 'train', media: str = 'all', **kwargs):
        self.media = media
        super().__init__(data_root=_scene_root(root, split, kwargs), split=split, **kwargs)

    def parse(self):
        return _keep_media(super().parse(), self.media, self.SOURCE)


MEDIA_KINDS = ('image', 'video', 'all')


def _keep_media(samples, media: str, source: str) -> list:
    """The samples of image scenes, of video scenes, or all (the scene name says which: ``<split>_image_<n>``)."""
    if media not in MEDIA_KINDS:
        raise ValueError(f'{source}: media must be one of {MEDIA_KINDS}, got {media!r}')
    if media == 'all':
        return list(samples)
    return [s for s in samples if f'_{media}_' in str(s.meta.get('video', ''))]


@DATASETS.register_module(name=['ToyRegionRefDataset', 'toy_region_ref'])
class ToyRegionRefDataset(VideoReferShortCaptionRefDataset):
    """Region questions about one object prompted by a point or a box on one frame (``ref_point`` / ``ref_box``).

    The scenes write them as VideoRefer-700K short captions (a "regions" line holding the ``<|ref|>``, then the
    question); here the question is asked the way :meth:`UniPixelPredictor.ask` asks it: ``"What colour is [0]
    <|ref|>?"``. ``media``: ``'image'`` scenes, ``'video'`` scenes or ``'all'``. Split: ``train`` (the scenes of
    :data:`~unipixel_plugin.toy.cache.TRAIN_SCENES`) or ``valid_u`` (the held-out ones).
    """

    SOURCE = 'toy_region_ref'
    SPLITS = {'train': [VideoReferShortCaptionRefDataset.ANNO], 'valid_u': [VideoReferShortCaptionRefDataset.ANNO]}

    def __init__(self, root: Optional[str] = None, split: str = 'train', media: str = 'image', **kwargs):
        self.media = media
        super().__init__(data_root=_scene_root(root, split, kwargs), split=split, **kwargs)

    def parse(self):
        samples = _keep_media(super().parse(), self.media, self.SOURCE)
        for sample in samples:
            user = sample.conversation[0]['content']
            question = user.rsplit('\n', 1)[-1]  # the question line, after the line holding the <|ref|>
            if REF_TOKEN in question or user.count(REF_TOKEN) != 1:
                raise ValueError(f'{self.SOURCE} (sample {sample.id}): expected one {REF_TOKEN} on a line before '
                                 f'the question, got {user!r}')
            text, _ = place_ref_tokens(question, 1)
            sample.conversation = [dict(sample.conversation[0], content=text), *sample.conversation[1:]]
        return samples


@DATASETS.register_module(name=['ToyRegionMaskDataset', 'toy_region_mask'])
class ToyRegionMaskDataset(VideoReferQADataset):
    """Region questions about one of the scene's objects, every object given as a mask (``region_video``: one
    ``<|mem|>`` per object and frame group, the question names the object ``[i]``). ``media`` and ``split`` as in
    :class:`ToyRegionRefDataset`."""

    SOURCE = 'toy_region_mask'
    SPLITS = {'train': [VideoReferQADataset.ANNO], 'valid_u': [VideoReferQADataset.ANNO]}

    def __init__(self, root: Optional[str] = None, split: str = 'train', media: str = 'image', **kwargs):
        self.media = media
        super().__init__(data_root=_scene_root(root, split, kwargs), split=split, **kwargs)

    def parse(self):
        return _keep_media(super().parse(), self.media, self.SOURCE)


__all__ = ['ToyRefCOCODataset', 'with_shape_groups', 'ToyMeViSDataset', 'ToyRegionRefDataset', 'ToyRegionMaskDataset']
