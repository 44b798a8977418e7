"""Batching loaded samples: ``unipixel_collate(samples) -> dict`` of per-sample lists.

Nothing model-specific happens here (no tokenisation, no resizing): the model-input builder takes this dict.
Arrays become tensors only so that dataloader workers hand them over through shared memory.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..registry import FUNCTIONS
from .schema import Sample

BATCH_KEYS = ('ids', 'sources', 'data_types', 'groups', 'conversations', 'frames', 'frame_sizes', 'sampled',
              'masks', 'ignore_masks', 'prompts', 'kept_objects', 'object_ids', 'options', 'answers', 'tasks',
              'meta', 'num_replaced')


@FUNCTIONS.register_module()
def unipixel_collate(samples: Sequence[Sample]) -> dict:
    """Batch loaded :class:`Sample` s as lists, one entry per sample.

    Returns:
        dict with (``B`` samples):

        - ``ids`` / ``sources`` / ``data_types`` / ``groups``: ``list[str]`` (``groups`` = batch group);
        - ``conversations``: ``list[list[{'role', 'content'}]]``;
        - ``frames``: ``list[uint8 Tensor (T, H, W, 3)]`` (``None`` for text samples);
        - ``frame_sizes``: ``list[(H, W)]`` (``None`` for text samples);
        - ``sampled``: ``list[list[int]]`` timeline positions of the frames;
        - ``masks``: ``list[bool Tensor (O, T, H, W)]`` (``None`` if not loaded);
        - ``ignore_masks``: ``list[bool Tensor (T, H, W) | None]``;
        - ``prompts``: ``list[list[VisualPrompt] | None]``, one prompt per kept object;
        - ``kept_objects`` / ``object_ids``: which objects of each sample the masks are, by position and by id;
        - ``options`` / ``answers`` / ``tasks`` / ``meta``: per-sample values or ``None``;
        - ``num_replaced``: how many bad samples the mixture replaced to produce this batch.
    """
    if len(samples) == 0:
        raise ValueError('unipixel_collate got an empty batch')
    for s in samples:
        if not isinstance(s, Sample):
            raise TypeError(f'unipixel_collate expects Sample objects, got {type(s).__name__}')

    def tensor(array):
        return None if array is None else torch.from_numpy(array)

    kept = [s.kept_objects if s.kept_objects is not None else list(range(len(s.objects))) for s in samples]
    return {
        'ids': [s.key for s in samples],
        'sources': [s.source for s in samples],
        'data_types': [s.data_type for s in samples],
        'groups': [s.group for s in samples],
        'conversations': [s.conversation for s in samples],
        'frames': [tensor(s.frames) for s in samples],
        'frame_sizes': [None if s.frames is None else tuple(s.frames.shape[1:3]) for s in samples],
        'sampled': [s.sampled for s in samples],
        'masks': [tensor(s.masks) for s in samples],
        'ignore_masks': [tensor(s.ignore_mask) for s in samples],
        'prompts': [s.prompts for s in samples],
        'kept_objects': kept,
        'object_ids': [[s.objects[o].object_id for o in k] for s, k in zip(samples, kept)],
        'options': [s.options for s in samples],
        'answers': [s.answer for s in samples],
        'tasks': [s.task for s in samples],
        'meta': [s.meta for s in samples],
        'num_replaced': sum(len(s.meta.get('replaced', ())) for s in samples),
    }
