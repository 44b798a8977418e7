"""VideoRefer-Bench: questions (-Q, also PixelQA's base) and descriptions (-D) of highlighted objects in videos.

Layout (relative to the data root): ``videorefer/VideoRefer-Bench/VideoRefer-Bench-Q.json`` = ``[{"id", "video",
"Question": "... <object3><region> ...", "type", "options": ["(A) ...", ...], "Answer": "(A) ...", "frame_idx",
"annotation": [{"<frame number>": {"segmentation": COCO RLE}} per object]}]``; media under
``videorefer/VideoRefer-Bench/videos/<video>`` (a video file or a folder of frames).
``VideoRefer-Bench-D.json`` = ``[{"video", "caption", "frame_idx", "annotation"}]`` with media under
``videos/Panda-70M-part/``; its question is fixed (upstream's) and ``answer`` is the reference caption.

The timeline is the annotated frames (the union over objects, ascending), as upstream; ``prompt_frame`` is
``frame_idx``'s position in it (upstream always keeps that frame among the sampled ones). Objects are numbered by
their ``<objectN>`` tag (``0`` when the question has a single bare ``<region>``). ``answer`` is the option letter.
"""
from __future__ import annotations

import os
import re
from typing import Iterable, Optional

from ...prompts import VIDEOREFER_DETAIL_QUESTION, question_with_options
from ...registry import DATASETS
from ..base import UniPixelDataset, expect, load_json_list
from ..media import list_frame_files
from ..schema import MaskPart, ObjectMasks, Sample

OBJECT_TAG = re.compile(r'<object(\d+)><region>')
ANSWER_LETTER = re.compile(r'\(([A-Z])\)')


def item_id(item, n: int) -> str:
    """The id a list item's sample gets: its ``"id"``, else its position in the file."""
    return str(item.get('id', n)) if isinstance(item, dict) else str(n)


def timeline_objects(annotation: list, object_ids: list, where: str) -> tuple[list[int], list[ObjectMasks]]:
    """The annotated frames (union over objects, ascending) and each object's lazy masks on them."""
    timeline = sorted({int(k) for obj in annotation for k in obj})
    expect(len(timeline) > 0, f'{where}: no annotated frame')
    objects = []
    for oid, obj in zip(object_ids, annotation):
        frames = []
        for t in timeline:
            entry = obj.get(str(t))
            frames.append([MaskPart('rle', entry['segmentation'], source=where)] if entry else None)
        objects.append(ObjectMasks(frames, object_id=oid))
    return timeline, objects


def timeline_media(video: str, timeline: list[int], where: str) -> tuple[str, list[str], Optional[list[int]]]:
    """``(media_type, media, frame_indices)`` for a video file or a folder of frames."""
    if os.path.isdir(video):
        files = list_frame_files(video)
        expect(timeline[-1] < len(files), f'{where}: frame {timeline[-1]} annotated but {video} holds '
               f'{len(files)} frames')
        return 'frames', [files[t] for t in timeline], None
    return 'video', [video], timeline


@DATASETS.register_module(name=['VideoReferBenchQDataset', 'videorefer_bench_q'])
class VideoReferBenchQDataset(UniPixelDataset):
    """VideoRefer-Bench-Q. Split: ``test``. ``data_type='region_video'`` (mask prompts, ``<|mem|>``)."""

    SOURCE = 'videorefer_bench_q'
    DEFAULT_SPLIT = 'test'
    ANNO = 'videorefer/VideoRefer-Bench/VideoRefer-Bench-Q.json'
    VIDEOS = 'videorefer/VideoRefer-Bench/videos'
    SPLITS = {'test': [ANNO]}

    def parse(self) -> Iterable[Sample]:
        anno_file = self.path(self.ANNO)
        items = load_json_list(anno_file, 'questions')
        for n, item in enumerate(items):
            sample = self.try_item(self._sample, item, n, anno_file, file=anno_file, sample=item_id(item, n))
            if sample is not None:
                yield sample

    def _sample(self, item: dict, n: int, anno_file: str) -> Sample:
        expect(isinstance(item, dict), f'{anno_file} (item {n}): expected an object, got {type(item).__name__}')
        where = f'{anno_file} (item {n}, id {item.get("id")})'
        for key in ('video', 'Question', 'options', 'Answer', 'frame_idx', 'annotation'):
            expect(key in item, f'{where}: missing "{key}"')
        question, objects_anno = item['Question'], item['annotation']
        expect(question.count('<region>') == len(objects_anno),
               f'{where}: the question has {question.count("<region>")} <region> but {len(objects_anno)} objects '
               'are annotated')
        tags = [int(t) for t in OBJECT_TAG.findall(question)]
        object_ids = tags if len(tags) == len(objects_anno) else list(range(len(objects_anno)))

        timeline, objects = timeline_objects(objects_anno, object_ids, where)
        frame_idx = int(item['frame_idx'])
        expect(frame_idx in timeline, f'{where}: frame_idx {frame_idx} is not an annotated frame {timeline}')
        media_type, media, frame_indices = timeline_media(self.path(self.VIDEOS, item['video']), timeline, where)

        answer = ANSWER_LETTER.search(item['Answer'])
        return Sample(
            id=str(item.get('id', n)),
            source=self.SOURCE,
            data_type='region_video',
            media_type=media_type,
            media=media,
            frame_indices=frame_indices,
            conversation=[{'role': 'user', 'content': question_with_options(question, item['options'])}],
            objects=objects,
            prompt_frame=timeline.index(frame_idx),
            options=list(item['options']),
            answer=answer.group(1) if answer else item['Answer'].strip(),
            task=item.get('type'),
            meta={'question': question, 'answer_text': item['Answer'], 'frame_idx': frame_idx,
                  'timeline': timeline, 'video': item['video']})


@DATASETS.register_module(name=['VideoReferBenchDDataset', 'videorefer_bench_d'])
class VideoReferBenchDDataset(UniPixelDataset):
    """VideoRefer-Bench-D (detailed description of one highlighted object). Split: ``test``."""

    SOURCE = 'videorefer_bench_d'
    DEFAULT_SPLIT = 'test'
    ANNO = 'videorefer/VideoRefer-Bench/VideoRefer-Bench-D.json'
    VIDEOS = 'videorefer/VideoRefer-Bench/videos/Panda-70M-part'
    SPLITS = {'test': [ANNO]}
    QUESTION = VIDEOREFER_DETAIL_QUESTION

    def parse(self) -> Iterable[Sample]:
        anno_file = self.path(self.ANNO)
        items = load_json_list(anno_file, 'items')
        for n, item in enumerate(items):
            sample = self.try_item(self._sample, item, n, anno_file, file=anno_file, sample=item_id(item, n))
            if sample is not None:
                yield sample

    def _sample(self, item: dict, n: int, anno_file: str) -> Sample:
        expect(isinstance(item, dict), f'{anno_file} (item {n}): expected an object, got {type(item).__name__}')
        where = f'{anno_file} (item {n})'
        for key in ('video', 'caption', 'frame_idx', 'annotation'):
            expect(key in item, f'{where}: missing "{key}"')
        timeline, objects = timeline_objects(item['annotation'], list(range(len(item['annotation']))), where)
        frame_idx = int(item['frame_idx'])
        expect(frame_idx in timeline, f'{where}: frame_idx {frame_idx} is not an annotated frame {timeline}')
        media_type, media, frame_indices = timeline_media(self.path(self.VIDEOS, item['video']), timeline, where)
        return Sample(
            id=str(item.get('id', n)),
            source=self.SOURCE,
            data_type='region_video',
            media_type=media_type,
            media=media,
            frame_indices=frame_indices,
            conversation=[{'role': 'user', 'content': self.QUESTION}],
            objects=objects,
            prompt_frame=timeline.index(frame_idx),
            answer=item['caption'],
            meta={'frame_idx': frame_idx, 'timeline': timeline, 'video': item['video']})
