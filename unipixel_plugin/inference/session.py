"""Multi-turn conversations about one image or video, with an object memory bank kept across turns.

    conv = Conversation(predictor, 'clip.mp4')
    ids = conv.segment('the man in red')              # masks go into the bank: ids [0]
    ids += conv.localize('Who passes the ball to whom?', [PromptObject(point=(120, 80))])   # PixelQA pass 1
    answer = conv.ask('What is [0] doing?', objects=[0])  # remembered objects come back as <|mem|> tokens
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from unipixel_plugin.inference.media import Media, load_media
from unipixel_plugin.inference.predictor import Request, UniPixelPredictor, UniPixelResult
from unipixel_plugin.models.memory_bank import ObjectMemoryBank
from unipixel_plugin.processing import PromptObject


class Conversation:
    """Turns about one medium. ``bank`` holds every object segmented so far, by id."""

    def __init__(self, predictor: UniPixelPredictor, media, sample_frames: int | None = None):
        self.predictor = predictor
        self.media: Media = media if isinstance(media, Media) else load_media(media, sample_frames or
                                                                              predictor.sample_frames)
        self.bank = ObjectMemoryBank()
        self.history: list[UniPixelResult] = []

    def _remember(self, result: UniPixelResult, labels=None, ids=None) -> list[int]:
        labels = labels or [None] * len(result.masks)
        ids = ids or [None] * len(result.masks)
        prompts = result.prompts or [None] * len(result.masks)
        self.history.append(result)
        return [self.bank.add(torch.from_numpy(m), i, p, lab) for m, p, lab, i in
                zip(result.masks, prompts, labels, ids)]

    def segment(self, query: str, answer: str | None = None) -> list[int]:
        """Segment ``query``; every mask of the answer becomes a new object. Returns the new ids."""
        result = self.predictor.segment(self.media, query, answer=answer)
        return self._remember(result, labels=[query] * len(result.masks))

    def localize(self, question: str, regions: Sequence[PromptObject], options: Sequence[str] = ()) -> list[int]:
        """PixelQA pass 1: objects given as points/boxes are answered with ``[id] <|seg|>``; their masks are stored
        under the ids ``0..len(regions)-1`` offset by the objects already known."""
        first = max(self.bank.ids) + 1 if len(self.bank) else 0
        ids = list(range(first, first + len(regions)))
        text = question
        if options:
            text += '\nOptions:\n' + '\n'.join(options)
        text += '\nPlease localize the relevant objects with IDs.'
        objects = ' '.join(f'[{i}] <|ref|>' for i in ids)
        text = f'{objects}\n{text}'
        answer = ' '.join(f'[{i}] <|seg|>' for i in ids)
        result = self.predictor.run([Request(self.media, text, tuple(regions), answer)])[0]
        if not isinstance(result, UniPixelResult):
            raise result.exception
        return self._remember(result, ids=ids)

    def ask(self, question: str, objects: Sequence[int] = ()) -> UniPixelResult:
        """Answer ``question``; ``objects`` (ids in the bank, named ``[id]`` in the question) are given to the
        model as ``<|mem|>`` tokens (memory pre-filling)."""
        refer = None
        text = question
        if objects:
            frames = torch.from_numpy(np.array(self.media.frames))
            grid = self.predictor.inputs.grid_for(frames)
            prefix, refer = self.bank.inputs(objects, grid, num_frames=len(self.media.frames))
            text = prefix + question
        result = self.predictor.run([Request(self.media, text, refer_mask=refer)])[0]
        if not isinstance(result, UniPixelResult):
            raise result.exception
        self._remember(result)
        return result


__all__ = ['Conversation']
