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
from unipixel_plugin.models.object_memory import ObjectMemoryBank
from unipixel_plugin.models.processing_unipixel import PromptObject
from unipixel_plugin.prompts import BEST_OPTION_PREFIX, ask_with_options, localize_answer, localize_request


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

    def segment(self, query: str, answer: str | None = None, prompt_type: str = 'query') -> list[int]:
        """Segment ``query`` (phrased as ``prompt_type``, see :meth:`UniPixelPredictor.segment`); every mask of the
        answer becomes a new object. Returns the new ids."""
        result = self.predictor.segment(self.media, query, answer=answer, prompt_type=prompt_type)
        return self._remember(result, labels=[query] * len(result.masks))

    def localize(self, question: str, regions: Sequence[PromptObject], options: Sequence[str] = ()) -> list[int]:
        """PixelQA pass 1: objects given as points/boxes are answered with ``[id] <|seg|>`` and their masks stored.

        The regions get the next free ids; ``[k]`` in the question (k = 0, 1, ... in region order) names region k.
        The prompt is upstream's: the question with ``[id] <|ref|>`` at each region's first mention, the options,
        then "Please localize the relevant objects with IDs.".
        """
        first = max(self.bank.ids) + 1 if len(self.bank) else 0
        ids = list(range(first, first + len(regions)))
        text, order = localize_request(question, ids, options)
        answer = localize_answer([ids[k] for k in order])
        result = self.predictor.run([Request(self.media, text, tuple(regions[k] for k in order), answer)])[0]
        if not isinstance(result, UniPixelResult):
            raise result.exception
        return self._remember(result, ids=[ids[k] for k in order])

    def ask(self, question: str, objects: Sequence[int] = (), options: Sequence[str] = (),
            answer_prefix: str = '') -> UniPixelResult:
        """Answer ``question``; ``objects`` (ids in the bank, named ``[id]`` in the question) are given to the
        model as ``<|mem|>`` tokens (memory pre-filling). With ``options`` this is PixelQA pass 2 as upstream
        runs it: the options, "Please only give the best option." and generation after "The best option is (".
        """
        refer = None
        text = question
        if objects:
            frames = torch.from_numpy(np.array(self.media.frames))
            grid = self.predictor.inputs.grid_for(frames)
            prefix, refer = self.bank.inputs(objects, grid, num_frames=len(self.media.frames))
            text = prefix + question
        if options:
            text = ask_with_options(text, options)
            answer_prefix = answer_prefix or BEST_OPTION_PREFIX
        result = self.predictor.run([Request(self.media, text, refer_mask=refer, answer_prefix=answer_prefix)])[0]
        if not isinstance(result, UniPixelResult):
            raise result.exception
        self._remember(result)
        return result


__all__ = ['Conversation']
