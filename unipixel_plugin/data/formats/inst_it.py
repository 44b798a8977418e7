"""Inst-IT: instance-level captions of images and questions about numbered instances (``[1]``, ``[2]`` ...) in videos.

Layout (relative to the data root):

* ``inst_it/Inst-IT-Dataset/inst_it_dataset_image_51k_w_mask.json`` = ``[{"image_id", "image_path": "<dir>/<file>",
  "instance_level_caption": {"<id>": {"short", "long"}}, "segmentations": {"<id>": {"mask": COCO RLE}}}]``; the image
  is ``inst_it/Inst-IT-Dataset/images_raw/<file>`` (``image_path`` without its first folder, as upstream);
* ``inst_it/Inst-IT-Dataset/inst_it_dataset_video_21k_w_mask.json`` = ``[{"video_id", "video_path": "<dir>/<folder>",
  "question_answer_pairs": [{"question", "answer"}], "segmentations": {"<frame file name>": {"<id>": {"mask":
  COCO RLE}}}}]``; the frames are the ``.jpg`` / ``.png`` files of ``inst_it/Inst-IT-Dataset/videos_raw/<folder>``
  in the order of the number in their names.

Readers (upstream's names):

* ``inst_it_image_short_caption_raw_ref`` (stage 1): one ``ref_*`` sample per instance: "Give me a short
  description of <|ref|>." -> its short caption.
* ``inst_it_video_qa_raw``: one ``region_video`` sample per question that names instances; videos with more than
  10 frames or more than 5 named instances (over all their questions) are skipped. Every frame is read
  (``meta['all_frames']``: upstream does not sample Inst-IT) and half of the loads keep the masks of one frame
  only (``meta['single_frame_prob'] = 0.5``), as upstream.
* ``inst_it_video_qa_raw_mem``: one ``mem_video`` (``mem_image`` for one frame) sample per question with 1 to 5
  instances in the question or its answer, which is added as one option (letter fixed per question); the first
  mention of each instance gets ``<|ref|>`` and the answer is ``"[1] <|seg|> [2] <|seg|>"``; videos with more
  than 8 frames are skipped.

The annotation slips upstream repairs are repaired the same way (``<0>`` -> ``<1>``, ``[0N]`` -> ``[N]``); a
question that names ``[0]`` is skipped and recorded in ``dataset.problems`` (upstream asserts ids start at 1).
Instances are listed in the order they are first mentioned (upstream: in the order of a Python ``set``).
"""
from __future__ import annotations

import os
import re
from typing import Iterable, Optional

from ...prompts import MEM_REQUEST, REF_SHORT_CAPTION_REQUEST, REF_TOKEN, SEG_TOKEN
from ...registry import DATASETS
from ..base import UniPixelDataset, expect, load_json_list, stable_draw
from ..media import MediaError, list_frame_files
from ..schema import MaskPart, ObjectMasks, Sample
from ..visual_prompts import split_prompt_types

ID_TAG = re.compile(r'\[\d+\]')
MAX_OBJECTS = 5


def repair_ids(text: str) -> str:
    """Upstream's repair of Inst-IT annotation slips: frame ``<0>`` -> ``<1>``, instance ``[0N]`` -> ``[N]``."""
    text = text.replace('<0>', '<1>')
    for j in range(1, 10):
        text = text.replace(f'[0{j}]', f'[{j}]')
    return text


def id_tags(*texts: str) -> list[str]:
    """The ``[N]`` tags of ``texts``, each once, in order of first appearance."""
    return list(dict.fromkeys(tag for text in texts for tag in ID_TAG.findall(text)))


def instance_id(tag: str, where: str) -> int:
    oid = tag[1:-1]
    expect(oid == str(int(oid)), f'{where}: instance tag {tag} is not written as [N]')
    return int(oid)


def maybe_int(key: str):
    return int(key) if key.isdigit() else key


class InstITVideoDataset(UniPixelDataset):
    """Shared parser of the video file; subclasses set ``MAX_FRAMES`` and implement :meth:`video_samples`."""

    ROOT = 'inst_it/Inst-IT-Dataset'
    ANNO = f'{ROOT}/inst_it_dataset_video_21k_w_mask.json'
    VIDEOS = f'{ROOT}/videos_raw'
    SPLITS = {'train': [ANNO]}
    MAX_FRAMES = 10

    def parse(self) -> Iterable[Sample]:
        anno_file = self.path(self.ANNO)
        items = load_json_list(anno_file, 'videos')
        samples = []
        for n, raw in enumerate(items):
            vid = str(raw.get('video_id')) if isinstance(raw, dict) else None
            samples += self.try_item(self._video, n, raw, anno_file, file=anno_file, video=vid, default=[])
        return split_prompt_types(samples, self.SOURCE)

    def _video(self, n: int, raw: dict, anno_file: str) -> list[Sample]:
        expect(isinstance(raw, dict), f'{anno_file} (item {n}): expected an object, got {type(raw).__name__}')
        where = f'{anno_file} (item {n}, video {raw.get("video_id")})'
        for key in ('video_id', 'video_path', 'question_answer_pairs', 'segmentations'):
            expect(key in raw, f'{where}: missing "{key}"')
        expect('/' in raw['video_path'], f'{where}: video_path {raw["video_path"]!r} has no folder to drop')
        folder = self.path(self.VIDEOS, raw['video_path'].split('/', 1)[1])
        try:
            frames = list_frame_files(folder, ('.png', '.jpg'))
        except MediaError as err:
            raise MediaError(f'{where}: {err}') from err
        if 0 < len(frames) <= self.MAX_FRAMES:
            return self.video_samples(raw, frames, anno_file, where)
        return []

    def video_samples(self, raw: dict, frames: list[str], anno_file: str, where: str) -> list[Sample]:
        raise NotImplementedError

    @staticmethod
    def instance_masks(raw: dict, frames: list[str], oid: int, anno_file: str) -> ObjectMasks:
        """The instance's RLE on each frame where ``segmentations[<frame file>][<id>]`` has one."""
        segs = raw['segmentations']
        parts = []
        for path in frames:
            entry = segs.get(os.path.basename(path), {}).get(str(oid))
            parts.append([MaskPart('rle', entry['mask'], source=anno_file)] if entry else None)
        return ObjectMasks(parts, object_id=oid)


@DATASETS.register_module(name=['InstITVideoQADataset', 'inst_it_video_qa_raw'])
class InstITVideoQADataset(InstITVideoDataset):
    """Inst-IT video questions with mask prompts (``region_video``). Split: ``train``."""

    SOURCE = 'inst_it_video_qa_raw'
    MAX_FRAMES = 10

    def video_samples(self, raw: dict, frames: list[str], anno_file: str, where: str) -> list[Sample]:
        oids, questions = [], []
        vid = str(raw['video_id'])
        for i, qa in enumerate(raw['question_answer_pairs']):
            parsed = self.try_item(self._question, i, qa, where, file=anno_file, video=vid, sample=f'{vid}/{i}')
            if not parsed or not parsed[2]:  # a bad question (recorded), or one that names no instance
                continue
            que, ans, ids = parsed
            oids += [o for o in ids if o not in oids]
            questions.append((i, que, ans, ids))
        if len(oids) > MAX_OBJECTS or not questions:
            return []
        masks = {oid: self.instance_masks(raw, frames, oid, anno_file) for oid in oids}
        return [Sample(
            id=f'{vid}/{i}',
            source=self.SOURCE,
            data_type='region_video',
            media_type='frames',
            media=list(frames),
            conversation=[{'role': 'user', 'content': que}, {'role': 'assistant', 'content': ans}],
            objects=[masks[o] for o in ids],
            meta={'video': vid, 'qa_index': i, 'all_frames': True, 'single_frame_prob': 0.5})
                for i, que, ans, ids in questions]

    @staticmethod
    def _question(i: int, qa: dict, where: str) -> tuple[str, str, list[int]]:
        """``(question, answer, instance ids)`` of one question, slips repaired."""
        que, ans = qa['question'], qa['answer']
        expect('[0]' not in que and '[0]' not in ans, f'{where}: question {i} names instance [0] (ids start at 1)')
        que, ans = repair_ids(que), repair_ids(ans)
        return que, ans, [instance_id(tag, where) for tag in id_tags(que, ans)]


@DATASETS.register_module(name=['InstITVideoQAMemDataset', 'inst_it_video_qa_raw_mem'])
class InstITVideoQAMemDataset(InstITVideoDataset):
    """Inst-IT video questions as object-memory samples (``mem_video`` / ``mem_image``). Split: ``train``."""

    SOURCE = 'inst_it_video_qa_raw_mem'
    MAX_FRAMES = 8

    def video_samples(self, raw: dict, frames: list[str], anno_file: str, where: str) -> list[Sample]:
        vid = str(raw['video_id'])
        samples = []
        for i, qa in enumerate(raw['question_answer_pairs']):
            sample = self.try_item(self._question_sample, vid, i, qa, raw, frames, anno_file, where, file=anno_file,
                                   video=vid, sample=f'{vid}/{i}')
            if sample is not None:
                samples.append(sample)
        return samples

    def _question_sample(self, vid: str, i: int, qa: dict, raw: dict, frames: list[str], anno_file: str,
                         where: str) -> Optional[Sample]:
        expect('[0]' not in qa['question'] and '[0]' not in qa['answer'],
               f'{where}: question {i} names instance [0] (ids start at 1)')
        letter = 'ABCD'[stable_draw(f'{self.SOURCE}/{vid}/{i}/option', 4)]
        question = repair_ids(f'{qa["question"]}\nOptions:\n({letter}) {qa["answer"]}')
        tags = id_tags(question)
        if not tags or len(tags) > MAX_OBJECTS:
            return None
        ids = [instance_id(tag, where) for tag in tags]
        for tag in tags:
            question = question.replace(tag, f'{tag} {REF_TOKEN}', 1)
        answer = ' '.join(f'{tag} {SEG_TOKEN}' for tag in tags)
        return Sample(
            id=f'{vid}/{i}',
            source=self.SOURCE,
            data_type='mem_video' if len(frames) > 1 else 'mem_image',
            media_type='frames',
            media=list(frames),
            conversation=[{'role': 'user', 'content': MEM_REQUEST.format(question)},
                          {'role': 'assistant', 'content': answer}],
            objects=[self.instance_masks(raw, frames, oid, anno_file) for oid in ids],
            meta={'video': vid, 'qa_index': i, 'all_frames': True, 'question': question})


@DATASETS.register_module(name=['InstITImageShortCaptionRefDataset', 'inst_it_image_short_caption_raw_ref'])
class InstITImageShortCaptionRefDataset(UniPixelDataset):
    """Inst-IT image instances with a point / box prompt and their short caption (``ref_*``). Split: ``train``."""

    SOURCE = 'inst_it_image_short_caption_raw_ref'
    ROOT = 'inst_it/Inst-IT-Dataset'
    ANNO = f'{ROOT}/inst_it_dataset_image_51k_w_mask.json'
    IMAGES = f'{ROOT}/images_raw'
    SPLITS = {'train': [ANNO]}

    def parse(self) -> Iterable[Sample]:
        anno_file = self.path(self.ANNO)
        items = load_json_list(anno_file, 'images')
        samples = []
        for n, raw in enumerate(items):
            image = self.try_item(self._image, n, raw, anno_file, file=anno_file,
                                  video=None, sample=str(raw.get('image_id', n)) if isinstance(raw, dict) else str(n))
            if image is None:
                continue
            path, where = image
            for oid, caption in raw['instance_level_caption'].items():
                sample = self.try_item(self._instance, raw, oid, caption, path, anno_file, where, file=anno_file,
                                       sample=f'{raw["image_id"]}_{oid}')
                if sample is not None:
                    samples.append(sample)
        return split_prompt_types(samples, self.SOURCE)

    def _image(self, n: int, raw: dict, anno_file: str) -> tuple[str, str]:
        """``(image path, where)`` of one image item."""
        expect(isinstance(raw, dict), f'{anno_file} (item {n}): expected an object, got {type(raw).__name__}')
        where = f'{anno_file} (item {n}, image {raw.get("image_id")})'
        for key in ('image_id', 'image_path', 'instance_level_caption', 'segmentations'):
            expect(key in raw, f'{where}: missing "{key}"')
        expect('/' in raw['image_path'], f'{where}: image_path {raw["image_path"]!r} has no folder to drop')
        expect(isinstance(raw['instance_level_caption'], dict) and isinstance(raw['segmentations'], dict),
               f'{where}: "instance_level_caption" and "segmentations" must be dicts of instance id -> ...')
        return self.path(self.IMAGES, raw['image_path'].split('/', 1)[1]), where

    def _instance(self, raw: dict, oid: str, caption: dict, image: str, anno_file: str, where: str) -> Sample:
        seg = raw['segmentations'].get(oid)
        expect(seg is not None and 'mask' in seg, f'{where}: instance {oid} has a caption but no mask')
        expect('short' in caption, f'{where}: instance {oid} has no short caption')
        return Sample(
            id=f'{raw["image_id"]}_{oid}',
            source=self.SOURCE,
            data_type='ref_point',
            media_type='image',
            media=[image],
            conversation=[{'role': 'user', 'content': REF_SHORT_CAPTION_REQUEST},
                          {'role': 'assistant', 'content': caption['short']}],
            objects=[ObjectMasks([[MaskPart('rle', seg['mask'], source=anno_file)]], object_id=maybe_int(oid))],
            meta={'image_id': raw['image_id']})


__all__ = [
    'InstITVideoDataset', 'InstITVideoQADataset', 'InstITVideoQAMemDataset', 'InstITImageShortCaptionRefDataset',
    'repair_ids', 'id_tags'
]
