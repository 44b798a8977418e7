"""VideoRefer-700K: object-level video instructions (short captions, detailed captions, QA) as upstream trains on them.

Layout (relative to the data root), as UniPixel-SFT-1M ships it (annotations without masks, masks one file per item):

* ``videorefer/VideoRefer-700K/videorefer-short-caption-500k-wo-masks.json``, ``...-detailed-caption-125k-wo-masks
  .json``, ``...-qa-75k-wo-masks.json`` = ``[{"id", "video", "conversations": [{"from": "human", "value":
  "<video>\\n... <region> ..."}, {"from": "gpt", "value"}], "annotation": [{"<frame number>": {...}} per object],
  "ratio"}]``; only the frame numbers of ``annotation`` are read;
* ``videorefer/VideoRefer-700K/masks_{short_caption,detailed_caption,qa}/<n>.json`` for the ``n``-th item of the
  file (position in the list, before any filtering) = ``[per object [per timeline frame [COCO RLE | polygon | null,
  ...]]]`` (upstream's ``'rle'`` mask files), read only when a sample is loaded;
* ``videorefer/VideoRefer-700K/videos/<video>``: a video file, or a folder of ``.jpg`` frames.

The timeline is the annotated frames (union over objects, ascending), as upstream's ``load_frames_with_inds``. An
item annotated on ONE frame is shown as the whole video with the object masked on that frame only (upstream's
"single frame mode", always used for short captions): the timeline is then every frame of the video, the object
is sparse (``ObjectMasks.positions``) and ``prompt_frame`` keeps that frame among the sampled ones.

Readers (upstream's names):

* ``videorefer_short_caption_ref`` (stage 1): ``ref_*``; ``<region>`` becomes ``<|ref|>``; no filtering.
* ``videorefer_short_caption``, ``videorefer_detailed_caption``, ``videorefer_qa``: ``region_video``; items with
  0 or more than 5 objects or ``ratio < 0.3`` are skipped. Objects are named ``[id]`` in the text: QA items with an
  introduction line ("There are <object0><region> and ...\\n<question>") keep the question only, with ``<objectN>``
  -> ``[N]`` (the introduction becomes the ``<|mem|>`` prefix); single-region items call the region by an id in
  0..15 (upstream draws it at random each time, here :func:`~..templates.stable_draw` fixes it per item). The
  "Here is a video ... highlighted regions" prefix depends on the sampled frames and is the model side's job.
* ``videorefer_qa_mem``: ``mem_video`` (object memory: ``[N] <|ref|>`` prompts answered by ``[N] <|seg|>``);
  the answer is added as one option (letter fixed per item, upstream draws it once) and the request wrapped as
  ``"... Please localize the relevant objects with IDs."``; items annotated on one frame are skipped.

Items upstream rejects with an ``assert`` while parsing are skipped and recorded in ``dataset.problems`` (upstream's
assert stops the whole run; here a bad item loses only itself); items it would only fail on when loading (a short
caption annotated on several frames, an introduction that does not list every object) are skipped silently, as they
never train.
"""
from __future__ import annotations

import os
import re
from typing import Iterable, Optional

from ...prompts import MEM_REQUEST, REF_TOKEN, SEG_TOKEN
from ...registry import DATASETS
from ..base import UniPixelDataset, expect, load_json_list, stable_draw
from ..media import list_frame_files
from ..schema import MaskPart, ObjectMasks, Sample
from ..visual_prompts import split_prompt_types

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.mov', '.webm', '.m4v', '.flv', '.wmv', '.mpg', '.mpeg')
OBJECT_REGION = re.compile(r'<object\d+><region>')
MAX_OBJECTS = 5
MIN_RATIO = 0.3
NUM_REGION_IDS = 16  # a lone region is called [0] .. [15]


def strip_video_placeholder(question: str, where: str) -> str:
    """Drop the leading ``'<video>\\n'`` / trailing ``'\\n<video>'`` upstream requires."""
    expect(question.startswith('<video>\n') or question.endswith('\n<video>'),
           f'{where}: the question neither starts with "<video>\\n" nor ends with "\\n<video>"')
    if question.startswith('<video>\n'):
        question = question[len('<video>\n'):].strip()
    if question.endswith('\n<video>'):
        question = question[:-len('\n<video>')].strip()
    expect('<video>' not in question, f'{where}: more than one <video> placeholder')
    return question


def tag_id(tag: str) -> Optional[str]:
    """``'<object12><region>'`` -> ``'12'`` (``None`` unless written canonically, e.g. ``'<object01>'``)."""
    oid = tag[len('<object'):-len('><region>')]
    return oid if oid.isdigit() and oid == str(int(oid)) else None


class VideoRefer700KDataset(UniPixelDataset):
    """Shared parser. Subclasses set ``SOURCE``, ``ANNO``, ``MASKS``, ``ROLE`` (``'ref'``, ``'region'`` or
    ``'mem'``), ``SINGLE_FRAME`` (every item is shown on one frame) and ``CHECK`` (upstream's sanity checks:
    ``None``, ``'one_region'`` or ``'qa'``)."""

    ROOT = 'videorefer/VideoRefer-700K'
    VIDEOS = f'{ROOT}/videos'
    ANNO = ''
    MASKS = ''
    ROLE = 'region'
    SINGLE_FRAME = False
    CHECK: Optional[str] = None

    def parse(self) -> Iterable[Sample]:
        anno_file = self.path(self.ANNO)
        items = load_json_list(anno_file, 'items')
        self._folders: dict[str, list[str]] = {}
        samples = []
        for n, item in enumerate(items):
            sample = self.try_item(self._item, n, item, anno_file, file=anno_file,
                                   sample=str(item.get('id', n)) if isinstance(item, dict) else str(n))
            if sample is not None:
                samples.append(sample)
        self._folders = {}
        return split_prompt_types(samples, self.SOURCE)

    def _item(self, n: int, item: dict, anno_file: str) -> Optional[Sample]:
        expect(isinstance(item, dict), f'{anno_file} (item {n}): expected an object, got {type(item).__name__}')
        return self._sample(n, item, f'{anno_file} (item {n}, id {item.get("id")})')

    def _sample(self, n: int, item: dict, where: str) -> Optional[Sample]:
        for key in ('video', 'conversations', 'annotation'):
            expect(key in item, f'{where}: missing "{key}"')
        annotation = item['annotation']
        expect(isinstance(annotation, list), f'{where}: "annotation" must be a list (one entry per object)')
        if self.ROLE != 'ref':
            if len(annotation) == 0 or len(annotation) > MAX_OBJECTS:
                return None
            expect('ratio' in item, f'{where}: missing "ratio"')
            if item['ratio'] < MIN_RATIO:
                return None
        turns = item['conversations']
        expect(isinstance(turns, list) and len(turns) == 2, f'{where}: expected one (human, gpt) exchange')
        question = strip_video_placeholder(turns[0]['value'].strip(), where)
        response = turns[1]['value'].strip()
        expect(question.count('<region>') == len(annotation), f'{where}: the question has '
               f'{question.count("<region>")} <region> but {len(annotation)} objects are annotated')
        self._sanity(question, where)

        object_frames = [sorted(int(k) for k in obj) for obj in annotation]
        timeline = sorted({t for frames in object_frames for t in frames})
        expect(len(timeline) > 0, f'{where}: no annotated frame')
        single = self.SINGLE_FRAME or self.ROLE == 'ref' or len(timeline) == 1
        if single and len(timeline) != 1:
            return None  # upstream's single frame mode fails on these when loading
        if self.ROLE == 'mem' and single:
            return None

        key = f'{self.SOURCE}/{n}'
        text = self._text(question, response, len(annotation), key, where)
        if text is None:
            return None
        user, assistant, object_ids = text

        media_type, media, frame_indices = self._media(item['video'], timeline, single, where)
        mask_file = self.path(self.MASKS, f'{n}.json')
        objects = []
        for o, frames in enumerate(object_frames):
            if single:
                objects.append(ObjectMasks([[MaskPart('json', mask_file, values=(o, 0), source=mask_file)]],
                                           object_id=object_ids[o], positions=[timeline[0]]))
            else:
                annotated = set(frames)
                objects.append(ObjectMasks([[MaskPart('json', mask_file, values=(o, i), source=mask_file)]
                                            if t in annotated else None for i, t in enumerate(timeline)],
                                           object_id=object_ids[o]))
        data_type = {'ref': 'ref_point', 'region': 'region_video', 'mem': 'mem_video'}[self.ROLE]
        return Sample(
            id=str(n),
            source=self.SOURCE,
            data_type=data_type,
            media_type=media_type,
            media=media,
            frame_indices=frame_indices,
            conversation=[{'role': 'user', 'content': user}, {'role': 'assistant', 'content': assistant}],
            objects=objects,
            prompt_frame=timeline[0] if single else None,
            meta={'qid': item.get('id'), 'video': item['video'], 'timeline': timeline, 'question': question,
                  'answer': response, 'mask_file': mask_file})

    def _sanity(self, question: str, where: str):
        """Upstream's parse-time checks of the detailed-caption and QA files."""
        if self.CHECK == 'one_region':
            expect(question.count('<region>') == 1, f'{where}: a caption item must have exactly one <region>')
        elif self.CHECK == 'qa':
            expect(question.count('\n') in (0, 1), f'{where}: a QA question has at most one line break')
            if '\n' in question:
                expect(question.startswith('There') and '<object' in question,
                       f'{where}: a two-line QA question must introduce its objects ("There are <object0><region>'
                       ' ...")')
            else:
                expect(question.count('<region>') == 1 and '<object' not in question,
                       f'{where}: a one-line QA question must have one bare <region>')

    def _text(self, question: str, response: str, num_objects: int, key: str,
              where: str) -> Optional[tuple[str, str, list[int]]]:
        """``(user turn, assistant turn, object ids)`` or ``None`` to skip the item."""
        if self.ROLE == 'ref':
            expect('<object' not in question and '<object' not in response,
                   f'{where}: a short caption must not name objects')
            expect(num_objects == 1, f'{where}: a short caption has one object, got {num_objects}')
            return question.replace('<region>', REF_TOKEN), response, [0]
        if self.ROLE == 'region':
            return self._region_text(question, response, num_objects, key)
        return self._memory_text(question, response, num_objects, key, where)

    def _region_text(self, question: str, response: str, num_objects: int,
                     key: str) -> Optional[tuple[str, str, list[int]]]:
        if self.CHECK == 'qa' and '\n' in question:  # a QA reader (or a subclass): the introduction line
            intro, question = question.split('\n')
            tags = OBJECT_REGION.findall(intro)
            if len(tags) != num_objects or num_objects == 0:
                return None
            ids = []
            for tag in tags:
                oid = tag_id(tag)
                if oid is None:
                    return None
                obj = tag[:-len('<region>')]
                question, response = question.replace(obj, f'[{oid}]'), response.replace(obj, f'[{oid}]')
                ids.append(int(oid))
            if '<region>' in question or '<object' in question or '<object' in response:
                return None
            return question, response, ids
        if num_objects != 1 or '<object' in question or '<object' in response:
            return None
        oid = stable_draw(key, NUM_REGION_IDS)
        return question.replace('<region>', f'[{oid}]'), response, [oid]

    def _memory_text(self, question: str, response: str, num_objects: int, key: str,
                     where: str) -> Optional[tuple[str, str, list[int]]]:
        letter = 'ABCD'[stable_draw(f'{key}/option', 4)]
        question = f'{question}\nOptions:\n({letter}) {response}'  # the answer may name objects too
        if '<object' in question:
            tags = OBJECT_REGION.findall(question)
            answer, ids = [], []
            for tag in tags:
                oid = tag_id(tag)
                expect(oid is not None, f'{where}: object tag {tag!r} is not <objectN><region>')
                question = question.replace(tag, f'[{oid}] {REF_TOKEN}').replace(tag[:-len('<region>')], f'[{oid}]')
                answer.append(f'[{oid}] {SEG_TOKEN}')
                ids.append(int(oid))
            answer = ' '.join(answer)
            expect('<region>' not in question, f'{where}: a <region> without an <objectN> tag')
        else:
            oid = stable_draw(key, NUM_REGION_IDS)
            question = question.replace('<region>', f'[{oid}] {REF_TOKEN}')
            answer, ids = f'[{oid}] {SEG_TOKEN}', [oid]
        expect(question.count(REF_TOKEN) == answer.count(SEG_TOKEN) > 0,
               f'{where}: {question.count(REF_TOKEN)} {REF_TOKEN} but {answer.count(SEG_TOKEN)} {SEG_TOKEN}')
        if len(ids) != num_objects:
            return None  # prompts and masks would not pair up
        return MEM_REQUEST.format(question), answer, ids

    def _media(self, video: str, timeline: list[int], single: bool,
               where: str) -> tuple[str, list[str], Optional[list[int]]]:
        """``(media_type, media, frame_indices)``: the whole video when ``single``, else the annotated frames."""
        path = self.path(self.VIDEOS, video)
        if not path.lower().endswith(VIDEO_EXTENSIONS) and os.path.isdir(path):
            if path not in self._folders:
                self._folders[path] = list_frame_files(path, ('.jpg',))  # upstream lists .jpg only
            files = self._folders[path]
            expect(timeline[-1] < len(files), f'{where}: frame {timeline[-1]} is annotated but {path} holds '
                   f'{len(files)} .jpg frames')
            return 'frames', (list(files) if single else [files[t] for t in timeline]), None
        return 'video', [path], (None if single else list(timeline))


ROOT = VideoRefer700KDataset.ROOT


@DATASETS.register_module(name=['VideoReferShortCaptionRefDataset', 'videorefer_short_caption_ref'])
class VideoReferShortCaptionRefDataset(VideoRefer700KDataset):
    """Short captions with a point / box prompt (``ref_*``; upstream's stage 1). Split: ``train``."""

    SOURCE = 'videorefer_short_caption_ref'
    ANNO = f'{ROOT}/videorefer-short-caption-500k-wo-masks.json'
    MASKS = f'{ROOT}/masks_short_caption'
    ROLE = 'ref'
    SPLITS = {'train': [ANNO]}


@DATASETS.register_module(name=['VideoReferShortCaptionDataset', 'videorefer_short_caption'])
class VideoReferShortCaptionDataset(VideoRefer700KDataset):
    """Short captions with a mask prompt (``region_video``; registered upstream, in no stage). Split: ``train``."""

    SOURCE = 'videorefer_short_caption'
    ANNO = f'{ROOT}/videorefer-short-caption-500k-wo-masks.json'
    MASKS = f'{ROOT}/masks_short_caption'
    SINGLE_FRAME = True
    SPLITS = {'train': [ANNO]}


@DATASETS.register_module(name=['VideoReferDetailedCaptionDataset', 'videorefer_detailed_caption'])
class VideoReferDetailedCaptionDataset(VideoRefer700KDataset):
    """Detailed captions of one highlighted object (``region_video``). Split: ``train``."""

    SOURCE = 'videorefer_detailed_caption'
    ANNO = f'{ROOT}/videorefer-detailed-caption-125k-wo-masks.json'
    MASKS = f'{ROOT}/masks_detailed_caption'
    CHECK = 'one_region'
    SPLITS = {'train': [ANNO]}


@DATASETS.register_module(name=['VideoReferQADataset', 'videorefer_qa'])
class VideoReferQADataset(VideoRefer700KDataset):
    """Questions about highlighted objects (``region_video``). Split: ``train``."""

    SOURCE = 'videorefer_qa'
    ANNO = f'{ROOT}/videorefer-qa-75k-wo-masks.json'
    MASKS = f'{ROOT}/masks_qa'
    CHECK = 'qa'
    SPLITS = {'train': [ANNO]}


@DATASETS.register_module(name=['VideoReferQAMemDataset', 'videorefer_qa_mem'])
class VideoReferQAMemDataset(VideoRefer700KDataset):
    """The questions as object-memory samples (``mem_video``). Split: ``train``."""

    SOURCE = 'videorefer_qa_mem'
    ANNO = f'{ROOT}/videorefer-qa-75k-wo-masks.json'
    MASKS = f'{ROOT}/masks_qa'
    ROLE = 'mem'
    CHECK = 'qa'
    SPLITS = {'train': [ANNO]}


__all__ = [
    'VideoRefer700KDataset', 'VideoReferShortCaptionRefDataset', 'VideoReferShortCaptionDataset',
    'VideoReferDetailedCaptionDataset', 'VideoReferQADataset', 'VideoReferQAMemDataset'
]
