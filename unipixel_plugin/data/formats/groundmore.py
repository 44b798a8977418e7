"""GroundMoRe: motion-grounded video reasoning (questions answered with a mask and a short answer).

Layout (relative to the data root): ``groundmore/{trainval_v2,test_v2}.json`` = ``{"videos": {video: {"questions":
{qid: {"question", "answer", "q_type", "obj_id": "1, 2"}}}}}``; per video ``groundmore/annotations/<video>/images/
<frame>.jpg`` and ``masks/<frame>.png`` (pixel value = object id). Videos without an annotation folder are
skipped, as upstream does.

``train`` uses the frames that have a mask; ``test`` takes 20 frames by ``np.linspace(0, n - 1, 20, dtype=int)``
(upstream's choice; short videos repeat frames) and has no mask where a frame has no PNG. In ``test`` a question's
object is also masked only inside the question's action window, as upstream's ``eval_groundmore.py`` scores it:
frames ``(action_start - clip start) * 6`` to ``(action_end - clip start) * 6 - 1`` (6 fps; times ``"MM:SS"``; the clip
start is the ``MMSS`` before the last ``_`` of the video id, e.g. ``..._0012_0045`` starts at 00:12). A question
without both times keeps every mask (``meta['action_window']`` is ``None``).
"""
from __future__ import annotations

import os
from typing import Iterable

import numpy as np

from ...prompts import seg_conversation
from ...registry import DATASETS
from ..base import UniPixelDataset, expect, expect_text, load_json
from ..media import list_frame_files
from ..schema import MaskPart, ObjectMasks, Sample

EVAL_FRAMES = 20
FPS = 6


def time_to_seconds(text: str) -> int:
    """``"MM:SS"`` / ``"HH:MM:SS"`` (or ``"SS"``) -> seconds."""
    parts = [int(p) for p in str(text).strip().split(':')]
    if not 1 <= len(parts) <= 3:
        raise ValueError(f'{text!r} is not a time like "MM:SS"')
    while len(parts) < 3:
        parts.insert(0, 0)
    return parts[0] * 3600 + parts[1] * 60 + parts[2]


def action_window(video: str, start: str, end: str) -> tuple[int, int]:
    """The frame numbers ``(first, last)`` of a question's action, both inclusive (upstream's eval_groundmore.py)."""
    clip = video[-9:].split('_')[0]
    if len(clip) != 4 or not clip.isdigit():
        raise ValueError(f'video id {video!r} does not end with the clip span "MMSS_MMSS"')
    clip_start = time_to_seconds(f'{clip[:2]}:{clip[2:]}')
    return (time_to_seconds(start) - clip_start) * FPS, (time_to_seconds(end) - clip_start) * FPS - 1


@DATASETS.register_module(name=['GroundMoReDataset', 'groundmore'])
class GroundMoReDataset(UniPixelDataset):
    """GroundMoRe. Splits: ``train`` (``trainval_v2.json``), ``test`` (``test_v2.json``)."""

    SOURCE = 'groundmore'
    META = {'train': 'groundmore/trainval_v2.json', 'test': 'groundmore/test_v2.json'}
    ANNOTATIONS = 'groundmore/annotations'
    SPLITS = {'train': [META['train'], ANNOTATIONS], 'test': [META['test'], ANNOTATIONS]}

    def parse(self) -> Iterable[Sample]:
        meta_file = self.path(self.META[self.split])
        videos = load_json(meta_file, ordered=True)
        expect(isinstance(videos, dict) and isinstance(videos.get('videos'), dict),
               f'{meta_file}: expected {{"videos": {{video: {{"questions": ...}}}}}}')
        for vid, video in videos['videos'].items():
            folder = self.path(self.ANNOTATIONS, vid)
            if not os.path.isdir(folder):
                continue
            if not (isinstance(video, dict) and isinstance(video.get('questions', {}), dict)):
                self.skip(f'{meta_file}: video {vid}: expected {{"questions": {{qid: ...}}}}; its questions are '
                          'skipped', meta_file, video=vid)
                continue
            frames, masks, numbers = self._timeline(folder)
            if not frames:
                continue
            for qid, q in video.get('questions', {}).items():
                sample = self.try_item(self._sample, vid, str(qid), q, frames, masks, numbers, meta_file,
                                       file=meta_file, video=vid, sample=f'{vid}/{qid}')
                if sample is not None:
                    yield sample

    def _timeline(self, folder: str) -> tuple[list[str], list, list[int] | None]:
        """The frames, their mask PNGs (or None) and, in ``test``, their positions in the video's frame list."""
        mask_dir, image_dir = os.path.join(folder, 'masks'), os.path.join(folder, 'images')
        mask_files = list_frame_files(mask_dir, ('.png',)) if os.path.isdir(mask_dir) else []
        if self.split == 'train':
            stems = [os.path.splitext(os.path.basename(m))[0] for m in mask_files]
            return [os.path.join(image_dir, f'{s}.jpg') for s in stems], mask_files, None
        images = list_frame_files(image_dir, ('.jpg',))
        if not images:
            return [], [], None
        keep = np.linspace(0, len(images) - 1, num=EVAL_FRAMES, dtype=int).tolist()
        images = [images[i] for i in keep]
        by_stem = {os.path.splitext(os.path.basename(m))[0]: m for m in mask_files}
        return images, [by_stem.get(os.path.splitext(os.path.basename(i))[0]) for i in images], keep

    def _sample(self, vid: str, qid: str, q: dict, frames: list[str], masks: list, numbers: list[int] | None,
                meta_file: str) -> Sample:
        where = f'{meta_file} ({vid}/{qid})'
        for key in ('question', 'answer', 'obj_id'):
            expect(key in q, f'{where}: missing "{key}"')
        try:
            oids = tuple(int(o) for o in str(q['obj_id']).split(','))
        except ValueError as err:
            raise ValueError(f'{where}: obj_id {q["obj_id"]!r} is not a comma-separated list of ints') from err
        question = expect_text(q['question'], where, 'question')
        if not question.endswith('?'):
            question += '?'
        media = 'video' if len(frames) > 1 else 'image'
        window = None
        if numbers is not None and q.get('action_start') is not None and q.get('action_end') is not None:
            window = action_window(vid, q['action_start'], q['action_end'])
            masks = [m if window[0] <= n <= window[1] else None for m, n in zip(masks, numbers)]
        obj = ObjectMasks([[MaskPart('png', m, values=oids, source=m)] if m else None for m in masks],
                          object_id=list(oids))
        return Sample(
            id=f'{vid}/{qid}',
            source=self.SOURCE,
            data_type=f'seg_{media}',
            media_type='frames',
            media=frames,
            conversation=seg_conversation(question, 'question', media, q['answer']),
            query=question,
            query_type='question',
            objects=[obj],
            answer=q['answer'],
            task=q.get('q_type'),
            meta={'video': vid, 'qid': qid, 'obj_id': list(oids), 'action_window': window})
