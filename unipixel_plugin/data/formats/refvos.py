"""Referring video object segmentation sets in the ``meta_expressions.json`` family.

Layouts (relative to the data root; upstream's ``data/``):

* MeViS: ``mevis/{train,valid_u,valid}/meta_expressions.json`` + ``mask_dict.json`` (none for ``valid``, whose
  masks are hidden), frames ``mevis/<split>/JPEGImages/<video>/<frame>.jpg``.
* ReVOS: ``revos/meta_expressions_{train,valid}_.json`` + ``revos/mask_dict.json`` (+ ``mask_dict_foreground.json``
  for the robustness score), frames ``revos/<video>/<frame>.jpg``; video ids contain ``/`` (``'TAO/...'``);
  expressions carry ``type_id`` (0 referring, 1 reasoning, 2 neither: left out of the ReVOS scores).
* LV-VIS: ``lvvis/meta_expressions.json`` + ``lvvis/mask_dict.json``, frames ``lvvis/train/JPEGImages``.
* Ref-SAV (evaluation): ``ref_sav/valid/meta_expressions_valid.json`` + ``mask_dict.json``, frames
  ``ref_sav/valid/videos/<video>/<frame>.jpg``.
* Ref-YouTube-VOS / Ref-DAVIS17 in the VISA layout: ``meta_expressions/<split>/meta_expressions.json`` without
  ``anno_id`` and a ``mask_dict.pkl`` keyed by a RUNNING expression index (see :func:`running_expression_index`).

``meta_expressions.json`` = ``{"videos": {video: {"expressions": {exp_id: {"exp", "obj_id", "anno_id"}},
"frames": [frame names]}}}``; ``mask_dict`` = ``{str(anno_id): [COCO RLE or null, one per frame]}``. An expression's
mask on a frame is the union of its ``anno_id`` s' masks. One sample per expression.

A bad expression loses only itself: an ``anno_id`` missing from the mask dict, masks for another number of frames
than the video lists, an empty text or a malformed entry skips that expression (a video entry without ``frames`` /
``expressions`` skips that video) and is recorded in ``dataset.problems``; an unreadable file, or one whose top level
is not what the format says, fails the split.
"""
from __future__ import annotations

from typing import Iterable, Optional

from ...prompts import seg_conversation
from ...registry import DATASETS
from ..base import EmptyExpressionError, UniPixelDataset, expect, load_json, load_pickle
from ..schema import MaskPart, ObjectMasks, Sample

REVOS_TASKS = {0: 'referring', 1: 'reasoning', 2: 'other'}


def running_expression_index(videos: dict, order: str = 'sorted') -> dict[tuple[str, str], int]:
    """Map ``(video, exp_id)`` to the key of its masks in a VISA-layout ``mask_dict.pkl``.

    The pickle numbers expressions with one counter running over ``sorted(videos)`` and, within a video,
    ``sorted(exp ids)`` compared AS STRINGS (so ``'10'`` comes before ``'2'``) — the order upstream's
    Ref-DAVIS17 evaluation (``get_meta_exp``) uses. Upstream's training loader instead walks the JSON in file
    order (``order='file'``); both agree when the file is stored sorted.
    """
    if order not in ('sorted', 'file'):
        raise ValueError(f"order must be 'sorted' or 'file', got {order!r}")
    index, counter = {}, 0
    vids = sorted(videos) if order == 'sorted' else list(videos)
    for vid in vids:
        exps = videos[vid]['expressions']
        for exp_id in (sorted(exps, key=str) if order == 'sorted' else list(exps)):
            index[(vid, str(exp_id))] = counter
            counter += 1
    return index


def as_list(value) -> list:
    """``obj_id`` / ``anno_id`` as a list (Ref-YouTube-VOS stores one id as a string, MeViS a list)."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def needed_files(meta: dict, masks: dict) -> dict[str, list[str]]:
    """Split -> annotation files it needs (expressions, and masks where the split has them)."""
    return {split: [meta[split]] + ([masks[split]] if masks.get(split) else []) for split in meta}


def expression_masks(anno_ids: list, mask_dict: dict, num_frames: int, where: str, named_by: str = '',
                     file: Optional[str] = None) -> ObjectMasks:
    """Lazy masks of one expression: per frame, the RLEs of its ``anno_ids`` (union).

    ``where`` names the masks in messages (the mask file, or ``file[index]``), ``named_by`` the expression that
    points to them, ``file`` the mask file (the file at fault in the :class:`~..base.AnnotationError`).
    """
    frames: list[list[MaskPart]] = [[] for _ in range(num_frames)]
    by = f' (named by {named_by})' if named_by else ''
    for anno_id in anno_ids:
        rles = mask_dict.get(str(anno_id), mask_dict.get(anno_id))
        expect(rles is not None, f'{where}: anno_id {anno_id}{by} has no entry in the mask dict', file)
        expect(isinstance(rles, list), f'{where}: anno_id {anno_id}{by} is a {type(rles).__name__}, not a list of '
               'masks (one per frame)', file)
        expect(len(rles) == num_frames, f'{where}: anno_id {anno_id}{by} has masks for {len(rles)} frames but the '
               f'video lists {num_frames} frames', file)
        for t, rle in enumerate(rles):
            if rle is not None:
                frames[t].append(MaskPart('rle', rle, source=where))
    return ObjectMasks([f or None for f in frames], object_id=list(anno_ids))


class MetaExpressionsDataset(UniPixelDataset):
    """Shared parser of the ``meta_expressions.json`` + ``mask_dict.json`` layout.

    Subclasses set, per split, ``META`` (expressions file), ``MASKS`` (mask dict or ``None``) and ``FRAMES``
    (frame folder), all relative to the data root.
    """

    META: dict[str, str] = {}
    MASKS: dict[str, Optional[str]] = {}
    FRAMES: dict[str, str] = {}
    QUERY_TYPE = 'query'
    SKIP_EMPTY_IN_TRAIN = True  # upstream drops expressions without objects when training

    def query(self, exp: dict) -> tuple[str, str]:
        """``(query text, query_type)`` of one expression."""
        return exp['exp'].strip(), self.QUERY_TYPE

    def extra(self, vid: str, exp_id: str, exp: dict) -> dict:
        """Source-specific fields for :class:`Sample` (``task``, ``meta`` ...)."""
        return {}

    def load_masks(self) -> Optional[dict]:
        mask_file = self.MASKS.get(self.split)
        if not mask_file:
            return None
        masks = load_json(self.path(mask_file))
        expect(isinstance(masks, dict), f'{self.path(mask_file)}: expected a dict of anno_id -> [mask per frame], got '
               f'a {type(masks).__name__}')
        return masks

    def masks_of(self, vid: str, exp_id: str, exp: dict, mask_dict: dict, num_frames: int) -> ObjectMasks:
        mask_file, meta_file = self.path(self.MASKS[self.split]), self.path(self.META[self.split])
        anno_ids = exp.get('anno_id')
        expect(anno_ids is not None, f'{meta_file}: expression {vid}/{exp_id} has no "anno_id"')
        anno_ids, obj_ids = as_list(anno_ids), as_list(exp.get('obj_id', anno_ids))
        expect(len(anno_ids) == len(obj_ids), f'{meta_file}: expression {vid}/{exp_id} has '
               f'{len(obj_ids)} obj_id but {len(anno_ids)} anno_id')
        return expression_masks(anno_ids, mask_dict, num_frames, mask_file,
                                named_by=f'expression {vid}/{exp_id} of {meta_file}', file=mask_file)

    def frames_of(self, vid: str, frames: list[str]) -> list[str]:
        return [self.path(self.FRAMES[self.split], vid, f'{name}.jpg') for name in frames]

    def crop(self, vid: str, objects: ObjectMasks) -> Optional[tuple[int, int]]:
        """Optional ``(start, end)`` timeline crop for a sample; ``None`` keeps the whole video."""
        return None

    def parse(self) -> Iterable[Sample]:
        meta_file = self.path(self.META[self.split])
        data = load_json(meta_file, ordered=True)
        expect(isinstance(data, dict) and isinstance(data.get('videos'), dict),
               f'{meta_file}: expected {{"videos": {{video: {{"frames", "expressions"}}}}}}')
        mask_dict = self.load_masks()
        for vid, video in data['videos'].items():
            if not (isinstance(video, dict) and isinstance(video.get('frames'), list)
                    and isinstance(video.get('expressions'), dict)):
                self.skip(f'{meta_file}: video {vid}: expected {{"frames": [...], "expressions": {{...}}}}; its '
                          'expressions are skipped', meta_file, video=vid)
                continue
            for exp_id, exp in video['expressions'].items():
                exp_id = str(exp_id)
                sample = self.try_item(self.expression, vid, exp_id, exp, list(video['frames']), mask_dict,
                                       meta_file, file=meta_file, video=vid, sample=f'{vid}/{exp_id}')
                if sample is not None:
                    yield sample

    def expression(self, vid: str, exp_id: str, exp: dict, frame_names: list[str], mask_dict: Optional[dict],
                   meta_file: str) -> Optional[Sample]:
        """The sample of one expression; ``None`` when it is left out on purpose (no object in train, empty crop).
        Raises :class:`~..base.AnnotationError` (or the error of a malformed entry) when it is bad."""
        where = f'{meta_file}: expression {vid}/{exp_id}'
        expect(isinstance(exp, dict), f'{where}: expected {{"exp", "obj_id", "anno_id"}}, got {str(exp)[:80]!r}')
        expect('exp' in exp, f'{where}: has no "exp" text')
        expect(isinstance(exp['exp'], str), f'{where}: "exp" is a {type(exp["exp"]).__name__}, not a text')
        if self.split == 'train' and self.SKIP_EMPTY_IN_TRAIN and 'obj_id' in exp and \
                len(as_list(exp['obj_id'])) == 0:
            return None
        query, query_type = self.query(exp)
        if not query:
            raise EmptyExpressionError(f'{where}: the expression text is empty ({exp["exp"]!r})')
        objects = []
        if mask_dict is not None:
            objects = [self.masks_of(vid, exp_id, exp, mask_dict, len(frame_names))]
            span = self.crop(vid, objects[0])
            if span is not None:
                start, end = span
                if end - start < 2:
                    return None
                frame_names = frame_names[start:end]
                objects = [ObjectMasks(objects[0].frames[start:end], objects[0].object_id)]
        media = 'video' if len(frame_names) > 1 else 'image'
        fields = dict(
            id=f'{vid}/{exp_id}',
            source=self.SOURCE,
            data_type=f'seg_{media}',
            media_type='frames',
            media=self.frames_of(vid, frame_names),
            conversation=seg_conversation(query, query_type, media),
            query=query,
            query_type=query_type,
            objects=objects,
            meta={'video': vid, 'exp_id': exp_id, 'obj_id': as_list(exp.get('obj_id')),
                  'frame_names': frame_names})
        extra = self.extra(vid, exp_id, exp)
        fields['meta'].update(extra.pop('meta', {}))
        fields.update(extra)
        return Sample(**fields)


@DATASETS.register_module(name=['MeViSDataset', 'mevis'])
class MeViSDataset(MetaExpressionsDataset):
    """MeViS (motion expressions). Splits: ``train``, ``valid_u`` (masks public), ``valid`` (masks hidden)."""

    SOURCE = 'mevis'
    META = {s: f'mevis/{s}/meta_expressions.json' for s in ('train', 'valid_u', 'valid')}
    MASKS = {'train': 'mevis/train/mask_dict.json', 'valid_u': 'mevis/valid_u/mask_dict.json', 'valid': None}
    FRAMES = {s: f'mevis/{s}/JPEGImages' for s in ('train', 'valid_u', 'valid')}
    SPLITS = needed_files(META, MASKS)


@DATASETS.register_module(name=['ReVOSDataset', 'revos'])
class ReVOSDataset(MetaExpressionsDataset):
    """ReVOS (reasoning VOS). ``task`` = ``'referring'`` / ``'reasoning'`` / ``'other'`` from ``type_id``.

    Training crops TAO videos (long) to the span where the expression's objects are annotated, as upstream does.
    ``meta['foreground_file']`` points to ``mask_dict_foreground.json`` (robustness score).
    """

    SOURCE = 'revos'
    META = {'train': 'revos/meta_expressions_train_.json', 'valid': 'revos/meta_expressions_valid_.json'}
    MASKS = {'train': 'revos/mask_dict.json', 'valid': 'revos/mask_dict.json'}
    FRAMES = {'train': 'revos', 'valid': 'revos'}
    FOREGROUND = 'revos/mask_dict_foreground.json'
    SPLITS = needed_files(META, MASKS)

    def query(self, exp: dict) -> tuple[str, str]:
        text = exp['exp'].strip()
        return text, 'sentence' if text.endswith('?') else 'query'

    def extra(self, vid: str, exp_id: str, exp: dict) -> dict:
        type_id = exp.get('type_id')
        return {'task': REVOS_TASKS.get(type_id),
                'meta': {'type_id': type_id, 'foreground_file': self.path(self.FOREGROUND)}}

    def crop(self, vid: str, objects: ObjectMasks) -> Optional[tuple[int, int]]:
        if self.split != 'train' or vid.split('/')[0] != 'TAO':
            return None
        annotated = objects.annotated_frames()
        if not annotated:
            return (0, 0)
        return annotated[0], annotated[-1] + 1


@DATASETS.register_module(name=['LVVISDataset', 'lvvis'])
class LVVISDataset(MetaExpressionsDataset):
    """LV-VIS as referring data (category names as expressions, ``_`` -> space). Split: ``train``."""

    SOURCE = 'lvvis'
    META = {'train': 'lvvis/meta_expressions.json'}
    MASKS = {'train': 'lvvis/mask_dict.json'}
    FRAMES = {'train': 'lvvis/train/JPEGImages'}
    SPLITS = needed_files(META, MASKS)

    def query(self, exp: dict) -> tuple[str, str]:
        return exp['exp'].replace('_', ' ').strip(), 'query'


@DATASETS.register_module(name=['RefSAVEvalDataset', 'ref_sav_eval'])
class RefSAVEvalDataset(MetaExpressionsDataset):
    """Ref-SAV evaluation split (long descriptions). Split: ``valid``."""

    SOURCE = 'ref_sav_eval'
    DEFAULT_SPLIT = 'valid'
    QUERY_TYPE = 'description'
    META = {'valid': 'ref_sav/valid/meta_expressions_valid.json'}
    MASKS = {'valid': 'ref_sav/valid/mask_dict.json'}
    FRAMES = {'valid': 'ref_sav/valid/videos'}
    SPLITS = needed_files(META, MASKS)


class VISADataset(MetaExpressionsDataset):
    """Ref-YouTube-VOS / Ref-DAVIS17 as upstream reads them (VISA layout, ``mask_dict.pkl``).

    Args:
        index_order: ``'sorted'`` (default; the order the pickle was written in and upstream evaluates with) or
            ``'file'`` (upstream's training loader: JSON order). See :func:`running_expression_index`.
    """

    SKIP_EMPTY_IN_TRAIN = False

    def __init__(self, *args, index_order: str = 'sorted', **kwargs):
        if index_order not in ('sorted', 'file'):
            raise ValueError(f"index_order must be 'sorted' or 'file', got {index_order!r}")
        self.index_order = index_order
        self._running_index: dict = {}
        super().__init__(*args, **kwargs)

    def load_masks(self) -> Optional[dict]:
        mask_file = self.MASKS.get(self.split)
        if not mask_file:
            return None
        masks = load_pickle(self.path(mask_file))
        expect(isinstance(masks, dict), f'{self.path(mask_file)}: expected a dict of expression index -> masks')
        meta_file = self.path(self.META[self.split])
        data = load_json(meta_file, ordered=True)
        videos = data.get('videos') if isinstance(data, dict) else None
        # the running index counts every expression of the file: one malformed video shifts all that follow it
        expect(isinstance(videos, dict) and all(isinstance(v, dict) and isinstance(v.get('expressions'), dict)
                                                for v in videos.values()),
               f'{meta_file}: expected {{"videos": {{video: {{"expressions": {{...}}}}}}}} for every video (the masks '
               f'of {self.path(mask_file)} are numbered over all of them)')
        self._running_index = running_expression_index(videos, self.index_order)
        expect(len(masks) == len(self._running_index),
               f'{self.path(mask_file)} holds {len(masks)} expressions but '
               f'{self.path(self.META[self.split])} lists {len(self._running_index)}: they are from different '
               'releases or splits')
        return masks

    def masks_of(self, vid: str, exp_id: str, exp: dict, mask_dict: dict, num_frames: int) -> ObjectMasks:
        index = self._running_index[(vid, exp_id)]
        mask_file = self.path(self.MASKS[self.split])
        obj = expression_masks([index], mask_dict, num_frames, f'{mask_file}[{index}]',
                               named_by=f'expression {vid}/{exp_id} of {self.path(self.META[self.split])}',
                               file=mask_file)
        return ObjectMasks(obj.frames, object_id=exp.get('obj_id'))

    def extra(self, vid: str, exp_id: str, exp: dict) -> dict:
        if not self._running_index:
            return {}
        return {'meta': {'mask_index': self._running_index[(vid, exp_id)]}}


@DATASETS.register_module(name=['RefYouTubeVOSDataset', 'ref_youtube_vos'])
class RefYouTubeVOSDataset(VISADataset):
    """Ref-YouTube-VOS. Splits: ``train`` (masks in ``mask_dict.pkl``), ``valid`` (masks hidden)."""

    SOURCE = 'ref_youtube_vos'
    META = {s: f'ref_youtube_vos/meta_expressions/{s}/meta_expressions.json' for s in ('train', 'valid')}
    MASKS = {'train': 'ref_youtube_vos/mask_dict.pkl', 'valid': None}
    FRAMES = {s: f'ref_youtube_vos/{s}/JPEGImages' for s in ('train', 'valid')}
    SPLITS = needed_files(META, MASKS)


@DATASETS.register_module(name=['RefDAVIS17Dataset', 'ref_davis17'])
class RefDAVIS17Dataset(VISADataset):
    """Ref-DAVIS17. Splits: ``train``, ``valid`` (both with ``mask_dict.pkl``). Some expressions have no mask."""

    SOURCE = 'ref_davis17'
    META = {s: f'ref_davis17/meta_expressions/{s}/meta_expressions.json' for s in ('train', 'valid')}
    MASKS = {s: f'ref_davis17/{s}/mask_dict.pkl' for s in ('train', 'valid')}
    FRAMES = {s: 'ref_davis17/DAVIS/JPEGImages/480p' for s in ('train', 'valid')}
    SPLITS = needed_files(META, MASKS)


def revos_foreground(path: str) -> dict:
    """ReVOS ``mask_dict_foreground.json``: ``{video: {"masks_rle": [COCO RLE per frame]}}`` (for the R score)."""
    data = load_json(path)
    expect(isinstance(data, dict), f'{path}: expected a dict of video -> {{"masks_rle": [...]}}')
    return data


__all__ = [
    'running_expression_index', 'expression_masks', 'MetaExpressionsDataset', 'MeViSDataset', 'ReVOSDataset',
    'LVVISDataset', 'RefSAVEvalDataset', 'VISADataset', 'RefYouTubeVOSDataset', 'RefDAVIS17Dataset',
    'revos_foreground', 'REVOS_TASKS'
]
