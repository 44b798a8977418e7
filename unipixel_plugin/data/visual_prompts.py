"""Point and box prompts drawn from ground-truth masks, the way upstream trains its ``<|ref|>`` tokens.

Upstream (``sam2_utils.get_next_point(..., 'uniform', positive_only=True)`` and ``sample_box_points``) draws on
the mask resized to the SAM 2 input (768x768). Here prompts are drawn on the mask at its own resolution and given
in its pixel coordinates, so that the data stays model-agnostic; the box-noise bound, which SAM states in pixels
of its input, is converted (``noise_bound`` pixels of a ``prompt_space`` square), which gives the same noise
distribution up to the rounding of the resize. Scale by ``(S / W, S / H)`` to get SAM coordinates.
"""
from __future__ import annotations

import zlib
from typing import Optional, Sequence

import numpy as np

from ..masks import mask_to_box
from .schema import Sample, VisualPrompt

POINT_LABELS = np.array([1], dtype=np.int32)  # positive click
BOX_LABELS = np.array([2, 3], dtype=np.int32)  # top-left, bottom-right corner


def assign_prompt_types(num: int, rng: np.random.Generator, point_ratio: float = 0.5) -> list[str]:
    """``floor(num * point_ratio)`` ``'point'`` and the rest ``'box'``, in random order.

    With the default ratio that is exactly ``num // 2`` points: upstream splits each source's prompted samples so.
    """
    if not 0 <= point_ratio <= 1:
        raise ValueError(f'point_ratio must be in [0, 1], got {point_ratio}')
    kinds = np.array(['box'] * num, dtype=object)
    kinds[rng.permutation(num)[:int(num * point_ratio)]] = 'point'
    return kinds.tolist()


def sample_point(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A positive point drawn uniformly from the foreground of ``mask`` ``(H, W)``.

    Returns:
        float array ``(1, 2)``: ``[[x, y]]`` (integer pixel indices).
    """
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        raise ValueError('cannot sample a point from an empty mask')
    i = int(rng.integers(len(xs)))
    return np.array([[xs[i], ys[i]]], dtype=np.float32)


def sample_box(mask: np.ndarray,
               rng: np.random.Generator,
               noise: float = 0.1,
               noise_bound: float = 20.0,
               prompt_space: Optional[int] = 768) -> np.ndarray:
    """The mask's tight box with each corner moved by up to ``noise`` of the box side (SAM's box augmentation).

    Args:
        mask: ``bool`` array ``(H, W)``.
        noise: largest shift as a fraction of the box width (x) / height (y).
        noise_bound: cap on the shift, in pixels of a ``prompt_space`` x ``prompt_space`` image (SAM: 20 px of
            its input); ``prompt_space=None`` means pixels of ``mask``.

    Returns:
        float array ``(2, 2)``: ``[[x0, y0], [x1, y1]]`` clamped to ``[0, W - 1] x [0, H - 1]``.
    """
    box = mask_to_box(mask)
    if box is None:
        raise ValueError('cannot sample a box from an empty mask')
    height, width = mask.shape
    if noise > 0:
        bound_x = noise_bound * (width / prompt_space if prompt_space else 1.0)
        bound_y = noise_bound * (height / prompt_space if prompt_space else 1.0)
        max_dx = min((box[2] - box[0]) * noise, bound_x)
        max_dy = min((box[3] - box[1]) * noise, bound_y)
        shift = (2 * rng.random(4) - 1) * np.array([max_dx, max_dy, max_dx, max_dy])
        box = box + shift
        box = np.clip(box, 0, [width - 1, height - 1, width - 1, height - 1])
    return box.reshape(2, 2).astype(np.float32)


def sample_prompt(masks: np.ndarray,
                  kind: str,
                  rng: np.random.Generator,
                  noise: float = 0.1,
                  noise_bound: float = 20.0,
                  prompt_space: Optional[int] = 768) -> VisualPrompt:
    """A prompt for one object: pick a frame where it is visible, then a point or a box on it.

    Args:
        masks: ``bool`` array ``(T, H, W)`` of the object on the sampled frames.
        kind: ``'point'`` or ``'box'``.

    Returns:
        :class:`VisualPrompt` whose ``frame`` indexes ``masks``' first axis.
    """
    visible = np.flatnonzero(masks.reshape(len(masks), -1).any(axis=1))
    if len(visible) == 0:
        raise ValueError('the object is empty on every sampled frame; no prompt can be drawn')
    frame = int(visible[rng.integers(len(visible))])
    if kind == 'point':
        return VisualPrompt('point', sample_point(masks[frame], rng), POINT_LABELS.copy(), frame)
    if kind == 'box':
        coords = sample_box(masks[frame], rng, noise, noise_bound, prompt_space)
        return VisualPrompt('box', coords, BOX_LABELS.copy(), frame)
    raise ValueError(f"prompt kind must be 'point' or 'box', got {kind!r}")


def split_prompt_types(samples: Sequence[Sample], key: str) -> list[Sample]:
    """Give the prompted samples (``ref_*`` / ``mem_*``) of one source a prompt type, exactly half points and half
    boxes in an order fixed by ``key``, so that a reader's samples load with prompts on their own
    (:class:`~.pipeline.LoadSample`); :class:`~.hybrid.HybridDataset` redraws the split with its seed.

    ``ref_*`` samples get ``data_type`` ``'ref_point'`` / ``'ref_box'`` to match; other samples are unchanged.
    """
    samples = list(samples)
    prompted = [s for s in samples if s.data_type.startswith(('ref_', 'mem_'))]
    rng = np.random.default_rng(zlib.crc32(key.encode('utf-8')))
    for sample, kind in zip(prompted, assign_prompt_types(len(prompted), rng)):
        sample.prompt_type = kind
        if sample.data_type.startswith('ref_'):
            sample.data_type = f'ref_{kind}'
    return samples
