"""VideoRefer-Bench-Q: multiple-choice questions about highlighted objects in videos (also PixelQA's base).

Layout (relative to the data root): ``videorefer/VideoRefer-Bench/VideoRefer-Bench-Q.json`` = ``[{"id", "video",
"Question": "... <object3><region> ...", "type", "options": ["(A) ...", ...], "Answer": "(A) ...", "frame_idx",
"annotation": [{"<frame number>": {"segmentation": COCO RLE}} per object]}]``; media under
``videorefer/VideoRefer-Bench/videos/<video>`` (a video file or a folder of frames).

The timeline is the annotated frames (the union over objects, ascending), as upstream; ``prompt_frame`` is
``frame_idx``'s position in it (upstream always keeps that frame among the sampled ones). Objects are numbered by
their ``<objectN>`` tag (``0`` when the question has a single bare ``<region>``). ``answer`` is the option letter.
"""
from __future__ import annotations

import os
import re
from typing import Iterable

from ...registry import DATASETS
from ..base import UniPixelDataset, expect, load_json
from ..media import list_frame_files
from ..schema import MaskPart, ObjectMasks, Sample

OBJECT_TAG = re.compile(r'<object(\d+)><region>')
ANSWER_LETTER = re.compile(r'\(([A-Z])\)')


def question_with_options(question: str, options: list[str]) -> str:
    """Upstream's multiple-choice prompt: the question, ``Options:`` one per line, then the instruction."""
    return question.strip() + '\nOptions:' + ''.join(f'\n{opt}' for opt in options) + \
        '\nPlease only give the best option.'


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
        items = load_json(anno_file)
        expect(isinstance(items, list), f'{anno_file}: expected a list of questions')
        for n, item in enumerate(items):
            yield self._sample(item, n, anno_file)

    def _sample(self, item: dict, n: int, anno_file: str) -> Sample:
        where = f'{anno_file} (item {n}, id {item.get("id")})'
        for key in ('video', 'Question', 'options', 'Answer', 'frame_idx', 'annotation'):
            expect(key in item, f'{where}: missing "{key}"')
        question, objects_anno = item['Question'], item['annotation']
        expect(question.count('<region>') == len(objects_anno),
               f'{where}: the question has {question.count("<region>")} <region> but {len(objects_anno)} objects '
               'are annotated')
        tags = [int(t) for t in OBJECT_TAG.findall(question)]
        object_ids = tags if len(tags) == len(objects_anno) else list(range(len(objects_anno)))

        timeline = sorted({int(k) for obj in objects_anno for k in obj})
        expect(len(timeline) > 0, f'{where}: no annotated frame')
        frame_idx = int(item['frame_idx'])
        expect(frame_idx in timeline, f'{where}: frame_idx {frame_idx} is not an annotated frame {timeline}')

        objects = []
        for oid, obj in zip(object_ids, objects_anno):
            frames = []
            for t in timeline:
                entry = obj.get(str(t))
                frames.append([MaskPart('rle', entry['segmentation'], source=where)] if entry else None)
            objects.append(ObjectMasks(frames, object_id=oid))

        video = os.path.join(self.path(self.VIDEOS), item['video'])
        if os.path.isdir(video):
            files = list_frame_files(video)
            expect(timeline[-1] < len(files), f'{where}: frame {timeline[-1]} annotated but {video} holds '
                   f'{len(files)} frames')
            media_type, media, frame_indices = 'frames', [files[t] for t in timeline], None
        else:
            media_type, media, frame_indices = 'video', [video], timeline

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
