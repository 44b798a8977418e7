"""Your own data: one JSON / JSONL file of items, each naming its media, its text and its masks (docs/custom_data.md).

Layout: ``<data_root>/custom/<split>.jsonl`` (or ``.json``, a list), or any file given as ``ann_file=``. One item::

    {"id": "dog-1",                                   # optional (default: the item's line / index)
     "media": "images/dog.jpg",                       # an image, a list of frame files, or a video file
     "query": "the dog on the left",                  # referring segmentation ...
     "query_type": "query",                           #   query | sentence | explanatory | question | description
     "question": "What is [0] holding?",              # ... or a question about regions [0], [1] ... (or none)
     "answer": "A frisbee.",                          # the answer (question / explanatory queries)
     "masks": ["masks/dog.png"],                      # one entry per object (see below)
     "prompt": "mask"}                                # regions given as masks (<|mem|>), "point" or "box" (<|ref|>)

An object's mask is a COCO RLE (``{"size": [h, w], "counts": ...}``), a PNG path (any non-zero pixel), or, for a list of
frames, a list with one such entry (or ``null``: not visible) per frame. Paths are relative to the annotation file's
folder (``media_root=`` overrides it).

What an item becomes:

* ``query`` + masks: ``seg_image`` / ``seg_video``, the request and answer in upstream's templates
  (:func:`~unipixel_plugin.prompts.seg_conversation`); the listed objects form one target (their union), as a
  multi-object expression does in MeViS;
* ``question`` + ``answer`` + masks: region understanding (``region_image`` / ``region_video`` with ``<|mem|>`` masks,
  or ``ref_point`` / ``ref_box`` with a point / box drawn from each mask and ``<|ref|>`` placed at ``[k]``);
* ``question`` + ``answer`` without masks: ``multimodal`` (or ``text`` without media).

A malformed item (missing media key, a mask of the wrong shape, a frame list and per-frame masks of different lengths,
an unknown prompt) is skipped and reported in ``dataset.problems`` / ``unipixel data check``; the rest loads.
"""
from __future__ import annotations

import json
import os
from typing import Iterable, Optional

from ...prompts import QUERY_TYPES, place_ref_tokens, seg_conversation
from ...registry import DATASETS
from ..base import AnnotationError, UniPixelDataset, expect, expect_text, resolve_data_root
from ..schema import MaskPart, ObjectMasks, Sample

PROMPTS = ('mask', 'point', 'box')
VIDEO_SUFFIXES = ('.mp4', '.avi', '.mov', '.mkv', '.webm')


def _splits(names=('train', 'val', 'test')) -> dict:
    return {name: [f'custom/{name}.jsonl'] for name in names}


def read_items(path: str) -> list:
    """The items of a ``.jsonl`` (one JSON object per line; blank lines ignored) or ``.json`` (a list) file.

    A line that is not JSON becomes an :class:`AnnotationError` entry in place of its item, so that it loses only
    itself."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if path.endswith('.json'):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as err:
            raise AnnotationError(f'{path}: not valid JSON ({err})') from err
        if not isinstance(items, list):
            raise AnnotationError(f'{path}: expected a list of items, got {type(items).__name__}')
        return items
    items = []
    for n, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as err:
            items.append(AnnotationError(f'{path}: line {n + 1} is not valid JSON ({err.msg})'))
    return items


@DATASETS.register_module(name=['CustomDataset', 'custom'])
class CustomDataset(UniPixelDataset):
    """Your own data (see the module docstring). Splits: ``train``, ``val``, ``test`` under ``custom/``.

    Args:
        ann_file: the annotation file (absolute, or relative to the data root) instead of ``custom/<split>.jsonl``.
        media_root: folder the items' relative paths start from (default: the annotation file's folder).
    """

    SOURCE = 'custom'
    SPLITS = _splits()

    def __init__(self, data_root: Optional[str] = None, split: Optional[str] = None, *,
                 ann_file: Optional[str] = None, media_root: Optional[str] = None, **kwargs):
        self.media_root = media_root
        self.custom_file = None
        if ann_file is not None:
            if data_root is None and os.path.isabs(ann_file):
                data_root = os.path.dirname(ann_file)
            self.custom_file = ann_file if os.path.isabs(ann_file) else os.path.join(resolve_data_root(data_root),
                                                                                       ann_file)
            path = self.custom_file
            # this instance's file instead of the custom/<split>.jsonl layout
            self.missing_files = lambda *_: [] if os.path.isfile(path) else [path]
        super().__init__(data_root=data_root, split=split, **kwargs)

    @classmethod
    def missing_files(cls, data_root: str, split: str) -> list[str]:
        stem = os.path.join(data_root, 'custom', cls.canonical_split(split))
        return [] if os.path.isfile(stem + '.jsonl') or os.path.isfile(stem + '.json') else [f'custom/{split}.jsonl']

    def annotation_path(self) -> str:
        if self.custom_file:
            return self.custom_file
        stem = self.path('custom', self.split)
        return stem + '.jsonl' if os.path.isfile(stem + '.jsonl') else stem + '.json'

    def parse(self) -> Iterable[Sample]:
        path = self.annotation_path()
        root = self.media_root or os.path.dirname(os.path.abspath(path))
        for n, item in enumerate(read_items(path)):
            key = str(item.get('id', n)) if isinstance(item, dict) else str(n)
            if isinstance(item, AnnotationError):
                self.skip(str(item), path, sample=key)
                continue
            sample = self.try_item(self._sample, item, key, root, f'{path}: item {key}', file=path, sample=key)
            if sample is not None:
                yield sample

    def _resolve(self, root: str, value) -> str:
        expect(isinstance(value, str) and value, f'a path must be a non-empty string, got {value!r}')
        return value if os.path.isabs(value) else os.path.join(root, value)

    def _sample(self, item: dict, key: str, root: str, where: str) -> Sample:
        expect(isinstance(item, dict), f'{where}: an item is a JSON object, got {type(item).__name__}')
        unknown = set(item) - {'id', 'media', 'query', 'query_type', 'question', 'answer', 'masks', 'prompt'}
        expect(not unknown, f'{where}: unknown keys {sorted(unknown)}')
        media_type, media = self._media(item.get('media'), root, where)
        masks = item.get('masks') or []
        expect(isinstance(masks, list), f'{where}: "masks" must be a list (one entry per object)')
        timeline = len(media) if media_type == 'frames' else 1
        expect(not masks or media_type in ('image', 'frames'), f'{where}: masks need an image or a list of frames '
               '(a video file has no frame list to align per-frame masks with)')
        objects = [self._object(m, o, timeline, media_type, root, f'{where}, object {o}') for o, m in enumerate(masks)]
        medium = 'image' if media_type == 'image' else 'video'
        prompt = item.get('prompt', 'mask')
        expect(prompt in PROMPTS, f'{where}: "prompt" must be one of {PROMPTS}, got {prompt!r}')
        common = dict(id=key, source=self.SOURCE, media_type=media_type, media=media,
                      meta={'item': key, 'num_objects': len(objects)})
        if item.get('query') is not None:
            query = expect_text(item['query'], where, 'query')
            query_type = item.get('query_type', 'query')
            expect(query_type in QUERY_TYPES, f'{where}: "query_type" must be one of {QUERY_TYPES}')
            expect(objects, f'{where}: a query needs the masks of what it refers to')
            expect(media_type != 'none', f'{where}: a query needs media')
            answer = item.get('answer')
            union = ObjectMasks([sum((obj.frames[t] or [] for obj in objects), []) or None for t in range(timeline)],
                                object_id=0)
            return Sample(data_type=f'seg_{medium}', conversation=seg_conversation(query, query_type, medium, answer),
                          query=query, query_type=query_type, objects=[union], **common)
        question = expect_text(item.get('question'), where, 'question (or a query)')
        answer = expect_text(item.get('answer'), where, 'answer')
        if not objects:
            return Sample(data_type='multimodal' if media_type != 'none' else 'text',
                          conversation=[{'role': 'user', 'content': question},
                                        {'role': 'assistant', 'content': answer}], **common)
        if prompt == 'mask':
            return Sample(data_type=f'region_{medium}', objects=objects,
                          conversation=[{'role': 'user', 'content': question},
                                        {'role': 'assistant', 'content': answer}], **common)
        text, order = place_ref_tokens(question, len(objects))
        prompt_frame = None
        if media_type == 'frames':  # prompt on the first frame where the first region is visible
            prompt_frame = next((t for t in range(timeline) if objects[order[0]].frames[t]), 0)
        return Sample(data_type=f'ref_{prompt}', prompt_type=prompt, prompt_frame=prompt_frame,
                      objects=[objects[i] for i in order],
                      conversation=[{'role': 'user', 'content': text}, {'role': 'assistant', 'content': answer}],
                      **common)

    def _media(self, media, root: str, where: str) -> tuple[str, list]:
        if media is None:
            return 'none', []
        if isinstance(media, list):
            expect(media, f'{where}: "media" is an empty list of frames')
            return 'frames', [self._resolve(root, m) for m in media]
        path = self._resolve(root, media)
        return ('video' if path.lower().endswith(VIDEO_SUFFIXES) else 'image'), [path]

    def _object(self, entry, index: int, timeline: int, media_type: str, root: str, where: str) -> ObjectMasks:
        if media_type == 'frames':
            expect(isinstance(entry, list) and len(entry) == timeline,
                   f'{where}: with {timeline} frames, a mask is a list of {timeline} per-frame entries (RLE, PNG '
                   f'path or null), got {type(entry).__name__}'
                   f'{" of " + str(len(entry)) if isinstance(entry, list) else ""}')
            frames = [None if e is None else [self._part(e, root, f'{where}, frame {t}')] for t, e in enumerate(entry)]
            expect(any(frames), f'{where}: the object has no mask on any frame')
            return ObjectMasks(frames, object_id=index)
        return ObjectMasks([[self._part(entry, root, where)]], object_id=index)

    def _part(self, entry, root: str, where: str) -> MaskPart:
        if isinstance(entry, dict):
            expect('counts' in entry and 'size' in entry, f'{where}: an RLE mask has "size" and "counts"')
            return MaskPart('rle', entry, source=where)
        if isinstance(entry, str):
            path = self._resolve(root, entry)
            expect(os.path.isfile(path), f'{where}: mask file {path} not found')
            return MaskPart('png', path, source=path)
        raise AnnotationError(f'{where}: a mask is a COCO RLE dict or a PNG path, got {type(entry).__name__}')


__all__ = ['CustomDataset', 'read_items']
