"""General instruction data: LLaVA-1.5 mix-665K (images, text) and VideoGPT+ 576K (videos), in one file.

Layout (relative to the data root): ``general/llava_v1_5_mix665k_with_videogpt_plus_576k.json`` = ``[{"id",
"image" | "video" (optional), "conversations": [{"from": "human" | "gpt", "value"}]}]``; images under
``llava_instruct/``, videos under ``videogpt_plus/``. The ``<image>`` / ``<video>`` placeholder at the start or end of
the first turn is removed (the media is attached to the sample instead).

``source`` is ``llava_instruct_665k`` (images and text-only) or ``videogpt_plus_576k`` (videos); ``data_type`` is
``multimodal`` or ``text``. Upstream reads these videos at 2 fps up to the frame budget; here they go through the
same frame sampling as every other video.
"""
from __future__ import annotations

from typing import Iterable

from ...registry import DATASETS
from ..base import UniPixelDataset, expect, load_json_list
from ..schema import Sample

ROLES = {'human': 'user', 'gpt': 'assistant'}


def strip_placeholder(text: str) -> str:
    """Drop a leading ``'<image>\\n'`` / ``'<video>\\n'`` or a trailing ``'\\n<image>'`` / ``'\\n<video>'``."""
    for key in ('<image>', '<video>'):
        if text.startswith(f'{key}\n'):
            text = text[len(key) + 1:]
        if text.endswith(f'\n{key}'):
            text = text[:-len(key) - 1]
    return text


@DATASETS.register_module(name=['LlavaVideoGPTPlusDataset', 'llava_instruct_665k_videogpt_plus_576k'])
class LlavaVideoGPTPlusDataset(UniPixelDataset):
    """LLaVA-665K + VideoGPT+ 576K instruction data. Split: ``train``."""

    SOURCE = 'llava_instruct_665k_videogpt_plus_576k'
    ANNO = 'general/llava_v1_5_mix665k_with_videogpt_plus_576k.json'
    IMAGES = 'llava_instruct'
    VIDEOS = 'videogpt_plus'
    SPLITS = {'train': [ANNO]}

    def parse(self) -> Iterable[Sample]:
        anno_file = self.path(self.ANNO)
        items = load_json_list(anno_file, 'conversations')
        for n, item in enumerate(items):
            sample = self.try_item(self._item, n, item, anno_file, file=anno_file,
                                   sample=str(item.get('id', n)) if isinstance(item, dict) else str(n))
            if sample is not None:
                yield sample

    def _item(self, n: int, item: dict, anno_file: str) -> Sample:
        expect(isinstance(item, dict), f'{anno_file} (item {n}): expected an object, got {type(item).__name__}')
        where = f'{anno_file} (item {n}, id {item.get("id")})'
        expect(not ('image' in item and 'video' in item), f'{where}: has both "image" and "video"')
        turns = item.get('conversations') or []
        expect(len(turns) >= 2 and turns[0].get('from') == 'human',
               f'{where}: expected a conversation starting with a "human" turn')
        conversation = []
        for i, turn in enumerate(turns):
            expect(turn.get('from') in ROLES, f'{where}: turn {i} is from {turn.get("from")!r}')
            value = strip_placeholder(turn['value']) if i == 0 else turn['value']
            conversation.append({'role': ROLES[turn['from']], 'content': value})
        if 'image' in item:
            source, data_type, media_type, media = 'llava_instruct_665k', 'multimodal', 'image', \
                [self.path(self.IMAGES, item['image'])]
        elif 'video' in item:
            source, data_type, media_type, media = 'videogpt_plus_576k', 'multimodal', 'video', \
                [self.path(self.VIDEOS, item['video'])]
        else:
            source, data_type, media_type, media = 'llava_instruct_665k', 'text', 'none', []
        return Sample(
            id=str(item.get('id', n)),
            source=source,
            data_type=data_type,
            media_type=media_type,
            media=media,
            conversation=conversation,
            meta={'index': n})
