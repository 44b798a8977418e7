"""Turning an annotation-level :class:`~.schema.Sample` into a loaded one: frames, masks and prompts decoded.

:func:`load_sample` is the whole training-time data path of one sample, seeded by the generator it is given:
choose the frames (uniform / random, as upstream), choose the conversation turns (at most ``max_turns``) and the
objects (at most ``max_objects``), decode the frames and the masks of the kept objects, and draw a point or box
prompt per object where the sample needs one. :class:`LoadSample` wraps it as a registered transform.
"""
from __future__ import annotations

import zlib
from typing import Optional

import numpy as np

from ..registry import TRANSFORMS
from .base import EmptyMaskError
from .mask_parts import decode_object
from .media import load_timeline, sample_frame_positions
from .schema import Sample
from .visual_prompts import sample_prompt

# data types whose objects must be visible on the sampled frames (they are prompted, or prompts are masks)
NEEDS_VISIBLE_OBJECTS = ('ref_point', 'ref_box', 'region_image', 'region_video', 'mem_image', 'mem_video')


def keep_frame(positions: list[int], keep: int) -> list[int]:
    """Make sure timeline position ``keep`` is among ``positions`` by replacing the nearest one (upstream's rule)."""
    if keep in positions:
        return positions
    dist = [abs(keep - p) for p in positions]
    positions = list(positions)
    positions[dist.index(min(dist))] = keep
    return positions


def choose_turns(sample: Sample, max_turns: int, rng: np.random.Generator) -> tuple[list[dict], list[int]]:
    """Pick at most ``max_turns`` (user, assistant) pairs of a multi-turn segmentation sample, in random order
    like upstream's ``random.sample``, and the objects they refer to.

    Returns:
        ``(conversation, object indices)``: one index per ``<|seg|>`` of the kept turns, in order, so an object
        that two turns refer to (two sentences of one RefCOCO ref) is listed twice, as upstream supervises each turn
        with its own mask; samples without ``meta['turn_objects']`` keep everything.
    """
    turn_objects = sample.meta.get('turn_objects')
    if not turn_objects:
        return sample.conversation, list(range(len(sample.objects)))
    if max_turns <= 0 or len(turn_objects) <= max_turns:
        return sample.conversation, [o for objects in turn_objects for o in objects]
    picked = rng.choice(len(turn_objects), size=max_turns, replace=False).tolist()
    conversation, objects = [], []
    for t in picked:
        conversation += sample.conversation[2 * t:2 * t + 2]
        objects += list(turn_objects[t])
    return conversation, objects


def keep_one_frame(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Masks ``(O, T, H, W)`` reduced to one random frame where every object is visible (upstream does this to half
    of its Inst-IT region samples, so that a region is also learnt from one frame); unchanged if there is none."""
    candidates = np.flatnonzero(masks.any(axis=(2, 3)).all(axis=0))
    if len(candidates) == 0:
        return masks
    t = int(candidates[rng.integers(len(candidates))])
    out = np.zeros_like(masks)
    out[:, t] = masks[:, t]
    return out


def choose_objects(objects: list[int], max_objects: int, rng: np.random.Generator) -> list[int]:
    """At most ``max_objects`` of ``objects`` (random subset, original order kept); ``<= 0`` keeps all."""
    if max_objects <= 0 or len(objects) <= max_objects:
        return objects
    picked = sorted(rng.choice(len(objects), size=max_objects, replace=False).tolist())
    return [objects[i] for i in picked]


def load_sample(sample: Sample,
                rng: np.random.Generator,
                num_frames: int = 8,
                sample_type: str = 'random',
                max_objects: int = 5,
                max_turns: int = 3,
                box_noise: float = 0.1,
                box_noise_bound: float = 20.0,
                prompt_space: Optional[int] = 768,
                on_size_mismatch: str = 'resize',
                num_threads: int = 1) -> Sample:
    """Decode one sample.

    Args:
        sample: annotation-level sample (not modified).
        rng: the only source of randomness (frames, turns, objects, prompts): same generator state, same result.
        num_frames: frames to sample from the timeline (``<= 0``: all).
        sample_type: ``'uniform'`` or ``'random'`` (see :func:`.media.sample_frame_positions`).
        max_objects: objects kept at most (upstream: 5); ``<= 0`` keeps all. Region (mask-prompt) samples keep
            all of theirs, since their text names every one.
        max_turns: turns kept at most for multi-turn segmentation samples (upstream: 3).
        box_noise, box_noise_bound, prompt_space: box prompt noise (see :func:`.visual_prompts.sample_box`).
        on_size_mismatch: ``'resize'`` masks whose size differs from the frames (upstream) or ``'error'``.
        num_threads: decoder threads per video.

    Returns:
        A new :class:`Sample` with ``sampled`` ``(T,)``, ``frames`` ``(T, H, W, 3)`` uint8, ``masks``
        ``(O, T, H, W)`` bool, ``ignore_mask`` ``(T, H, W)`` or ``None``, ``kept_objects`` and ``prompts``.

    Raises:
        MediaError, MaskError: unreadable media or malformed masks (message names the file).
        EmptyMaskError: an object of a prompted / region sample is empty on every sampled frame, or a label map
            holds no class.

    Sample ``meta`` keys acted on: ``label_map`` (the turns and objects are made from the classes found in the
    label PNG first, see :func:`.formats.semantic.expand_label_map`), ``turn_objects``, ``all_frames`` (the whole
    timeline is read whatever ``num_frames``), ``single_frame_prob`` (with this probability only the masks of one
    frame where every object is visible are kept).
    """
    if sample.meta.get('label_map'):
        from .formats.semantic import expand_label_map  # the class names live with the format
        sample = expand_label_map(sample)
    conversation, objects = choose_turns(sample, max_turns, rng)
    if not sample.data_type.startswith('region_'):
        # region samples keep every object: their text names all of them (upstream caps no region sample)
        objects = choose_objects(objects, max_objects, rng)
    if sample.media_type == 'none':
        return sample.replace(conversation=conversation, sampled=[], kept_objects=[])

    wanted = -1 if sample.meta.get('all_frames') else num_frames

    def choose(length: int) -> list[int]:
        positions = sample_frame_positions(length, wanted, sample_type, rng)
        if sample.prompt_frame is not None:
            positions = keep_frame(positions, sample.prompt_frame)
        return positions

    positions, frames = load_timeline(sample.media_type, sample.media, sample.frame_indices, choose, num_threads,
                                      sample.frame_stride)
    frame_size = frames.shape[1:3]

    masks = np.zeros((len(objects), len(positions), *frame_size), dtype=bool)
    for i, o in enumerate(objects):
        masks[i] = decode_object(sample.objects[o], positions, frame_size, on_size_mismatch)
    single_frame_prob = sample.meta.get('single_frame_prob')
    if single_frame_prob and len(objects) and rng.random() < single_frame_prob:
        masks = keep_one_frame(masks, rng)
    ignore_mask = None
    if sample.ignore is not None:
        ignore_mask = decode_object(sample.ignore, positions, frame_size, on_size_mismatch)

    if sample.data_type in NEEDS_VISIBLE_OBJECTS or sample.prompt_type:
        empty = [sample.objects[o].object_id for i, o in enumerate(objects) if not masks[i].any()]
        if empty:
            raise EmptyMaskError(f'sample {sample.key}: object(s) {empty} empty on all sampled frames '
                                 f'{positions}; a {sample.data_type} sample needs every object visible')

    prompts = None
    if sample.prompt_type:
        prompts = [sample_prompt(m, sample.prompt_type, rng, box_noise, box_noise_bound, prompt_space) for m in masks]

    return sample.replace(
        conversation=conversation,
        sampled=positions,
        frames=frames,
        masks=masks,
        ignore_mask=ignore_mask,
        kept_objects=objects,
        prompts=prompts)


def sample_rng(seed: int, *keys) -> np.random.Generator:
    """A generator determined by ``seed`` and any ints / strings (strings hashed with CRC32, stable across runs)."""
    ints = [k if isinstance(k, int) else zlib.crc32(str(k).encode()) for k in keys]
    return np.random.default_rng([seed, *ints])


@TRANSFORMS.register_module()
class LoadSample:
    """Transform for a reader's ``pipeline``: :func:`load_sample` seeded by ``seed`` and the sample's key.

    The same sample always loads the same way (for evaluation, use ``sample_type='uniform'``); the
    :class:`~.hybrid.HybridDataset` seeds by index and epoch instead, so that repeats differ.
    """

    def __init__(self, seed: int = 0, **kwargs):
        self.seed = seed
        self.kwargs = kwargs

    def __call__(self, sample: Sample) -> Sample:
        return load_sample(sample, sample_rng(self.seed, sample.key), **self.kwargs)

    def __repr__(self):
        args = ', '.join(f'{k}={v!r}' for k, v in {'seed': self.seed, **self.kwargs}.items())
        return f'{type(self).__name__}({args})'
