"""ViCaS: videos with captions whose phrases refer to tracked objects; upstream trains on the object referrals.

Layout (relative to the data root), as UniPixel-SFT-1M ships it (annotations without masks, masks one file per
referral):

* ``vicas/annotations/annotations_wo_masks_v1.0.json`` = ``{"<video id, 6 digits>": {"filename": "<video>...",
  "segmentations": [{"filename": "<frame file>", "track_ids": [...]}, ...], "object_referrals": [{"prompt",
  "track_ids": [...]}, ...]}}``;
* ``vicas/splits/v1.0/{train,val,test}.json`` = ``[video id (int), ...]``;
* ``vicas/video_frames/<video>/<frame file>`` with ``<video>`` = the first 6 characters of ``filename``;
* ``vicas/masks/<video>/<i>.json`` for referral ``i`` = ``[per annotated frame [COCO RLE or null per track]]``
  (upstream's ``'vicas'`` mask type: the referral's mask on a frame is the union of its tracks' masks).

One ``seg_video`` sample per referral, phrased as a sentence ("{prompt} Please provide the segmentation mask.");
the timeline is the annotated frames. Masks are given in ``train`` only, as upstream.
"""
from __future__ import annotations

from typing import Iterable

from ...prompts import seg_conversation
from ...registry import DATASETS
from ..base import UniPixelDataset, expect, expect_text, load_json
from ..schema import MaskPart, ObjectMasks, Sample

VICAS_ANNO = 'vicas/annotations/annotations_wo_masks_v1.0.json'


@DATASETS.register_module(name=['ViCaSDataset', 'vicas'])
class ViCaSDataset(UniPixelDataset):
    """ViCaS object referrals. Splits: ``train`` (with masks), ``val``, ``test``."""

    SOURCE = 'vicas'
    ANNO = VICAS_ANNO
    SPLIT_FILES = {s: f'vicas/splits/v1.0/{s}.json' for s in ('train', 'val', 'test')}
    FRAMES = 'vicas/video_frames'
    MASKS = 'vicas/masks'
    SPLITS = {s: [VICAS_ANNO, f] for s, f in SPLIT_FILES.items()}
    SPLIT_ALIASES = {'valid': ('val',), 'validation': ('val',)}

    def parse(self) -> Iterable[Sample]:
        split_file, anno_file = self.path(self.SPLIT_FILES[self.split]), self.path(self.ANNO)
        ids = load_json(split_file)
        expect(isinstance(ids, list), f'{split_file}: expected a list of video ids')
        annos = load_json(anno_file)
        expect(isinstance(annos, dict), f'{anno_file}: expected a dict of video id -> annotation')
        for anno_id in ids:
            key = str(anno_id).zfill(6)
            video = self.try_item(self._video, key, annos, anno_file, split_file, file=anno_file, video=key)
            if video is None:
                continue
            vid, frames, referrals, where = video
            for i, referral in enumerate(referrals):
                sample = self.try_item(self._referral, vid, i, referral, frames, where, file=anno_file, video=vid,
                                       sample=f'{vid}_{i}')
                if sample is not None:
                    yield sample

    def _video(self, key: str, annos: dict, anno_file: str, split_file: str) -> tuple:
        """``(video folder name, frame paths, referrals, where)`` of one video of the split."""
        expect(key in annos, f'{split_file}: video {key} is not in {anno_file} (files of different releases?)',
               split_file)
        raw = annos[key]
        where = f'{anno_file} (video {key})'
        for field in ('filename', 'segmentations', 'object_referrals'):
            expect(field in raw, f'{where}: missing "{field}"')
        vid = raw['filename'][:6]
        frames = [self.path(self.FRAMES, vid, s['filename']) for s in raw['segmentations']]
        expect(len(frames) > 0, f'{where}: no annotated frame')
        return vid, frames, list(raw['object_referrals']), where

    def _referral(self, vid: str, i: int, referral: dict, frames: list[str], where: str) -> Sample:
        query = expect_text(referral['prompt'], f'{where} referral {i}', 'prompt')
        media = 'video' if len(frames) > 1 else 'image'
        objects = []
        if self.split == 'train':
            mask_file = self.path(self.MASKS, vid, f'{i}.json')
            objects = [ObjectMasks([[MaskPart('json', mask_file, values=(t, ), source=mask_file)]
                                    for t in range(len(frames))], object_id=referral.get('track_ids'))]
        return Sample(
            id=f'{vid}_{i}',
            source=self.SOURCE,
            data_type=f'seg_{media}',
            media_type='frames',
            media=frames,
            conversation=seg_conversation(query, 'sentence', media),
            query=query,
            query_type='sentence',
            objects=objects,
            meta={'video': vid, 'referral': i, 'track_ids': referral.get('track_ids')})


__all__ = ['ViCaSDataset']
