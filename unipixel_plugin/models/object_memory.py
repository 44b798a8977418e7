"""Object memory: how masks become ``<|mem|>`` tokens, and the bank that keeps objects between turns.

* :class:`MaskFeatureProjector` (``msk_proj``) and :func:`pool_object_memory`: the masked mean of the vision-merger
  inputs per object and temporal group, projected to one ``<|mem|>`` embedding ("memory pre-filling");
  :func:`raster_to_window_order` maps raster-ordered patches onto Qwen2.5-VL's window order (upstream reads the
  features in window order; ``config.mem_window_order``).
* :func:`refer_mask_from_masks` and :func:`mem_prompt_prefix`: object masks on the LLM frames -> ``refer_mask`` and
  the region-QA prefix with one ``<|mem|>`` per non-empty (object, temporal group).
* :class:`ObjectMemoryBank`: upstream runs PixelQA as two passes glued together in a script: pass 1 answers
  ``<|ref|>`` prompts with ``[id] <|seg|>`` and SAM 2 gives a mask track per object; pass 2 puts those masks back into
  the prompt as ``<|mem|>`` tokens. Here the bank holds the objects between passes (and between conversation turns).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from unipixel_plugin.prompts import region_prefix


class MaskFeatureProjector(nn.Sequential):
    """``msk_proj``: masked-mean vision-merger input features (``4 * vit_dim``) -> one ``<|mem|>`` embedding."""

    def __init__(self, in_dim: int, llm_dim: int):
        super().__init__(nn.Linear(in_dim, in_dim), nn.GELU(), nn.Linear(in_dim, llm_dim))


def pool_object_memory(features: torch.Tensor, refer_mask: torch.Tensor) -> torch.Tensor:
    """Masked mean of merger-input features per object and per temporal group (upstream's memory pre-filling).

    Args:
        features: ``(grid_t * h * w, C)`` vision-merger MLP inputs of one video (``h, w`` = merged grid), in the
            order they are read (window order upstream, see ``mem_window_order``).
        refer_mask: ``(grid_t, num_objects, h, w)`` bool.
    Returns:
        ``(M, C)``: one row per (object, temporal group) with a non-empty mask, objects first then groups.
    """
    grid_t, num_objects, h, w = refer_mask.shape
    step = h * w
    if features.size(0) != grid_t * step:
        raise ValueError(f'refer_mask covers {grid_t}x{h}x{w} = {grid_t * step} merged patches but the video has '
                         f'{features.size(0)}: build it with the same video_grid_thw as the pixel inputs')
    rows = []
    for obj in range(num_objects):
        mask = refer_mask[:, obj].reshape(grid_t, step)
        for t in range(grid_t):
            if mask[t].any():
                rows.append(features[t * step:(t + 1) * step][mask[t]].mean(dim=0))
    if not rows:
        return features.new_zeros(0, features.size(1))
    return torch.stack(rows)


def raster_to_window_order(video_grid_thw: torch.Tensor, spatial_merge_size: int, window_size: int,
                           patch_size: int) -> torch.Tensor:
    """Index that maps raster-ordered merged patches of one video to Qwen2.5-VL's window order."""
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import get_vision_window_index
    window_index, _ = get_vision_window_index(video_grid_thw.reshape(1, 3), spatial_merge_size=spatial_merge_size,
                                              window_size=window_size, patch_size=patch_size)
    return window_index


def refer_mask_from_masks(masks: torch.Tensor, video_grid_thw: torch.Tensor, patch_size: int = 14,
                          merge_size: int = 2, fill_empty: bool = True) -> torch.Tensor:
    """Object masks ``(T, O, H, W)`` on the LLM frames -> ``refer_mask`` ``(grid_t, O, grid_h/2, grid_w/2)`` bool.

    As upstream's PixelQA: frames are paired (max over each temporal patch, an odd count padded with the last
    frame), an object with an empty mask everywhere is treated as the whole frame (``fill_empty``; upstream's
    VideoRefer-Bench-Q script does not do this: ``fill_empty=False`` leaves such an object without ``<|mem|>``), then
    the mask is resized to the patch grid (bilinear, antialiased) and max-pooled over each merged 28x28 patch.
    """
    masks = masks.float()
    if masks.size(0) % 2:
        masks = torch.cat([masks, masks[-1:]])
    t, objects, h, w = masks.shape
    paired = masks.reshape(t // 2, 2, objects, h, w).amax(dim=1)
    for obj in range(objects):
        if fill_empty and not paired[:, obj].any():
            paired[:, obj] = 1
    grid_t, grid_h, grid_w = (int(v) for v in video_grid_thw.reshape(-1)[:3])
    if paired.size(0) != grid_t:
        raise ValueError(f'masks cover {paired.size(0)} temporal groups but the video has grid_t={grid_t}')
    resized = F.interpolate(paired, size=(grid_h * patch_size, grid_w * patch_size), mode='bilinear',
                            align_corners=False, antialias=True)
    pooled = F.max_pool2d(resized, kernel_size=patch_size * merge_size, stride=patch_size * merge_size)
    return pooled > 0


def mem_prompt_prefix(refer_mask: torch.Tensor, num_frames: int, object_ids: Sequence[int] | None = None) -> str:
    """The region-QA prefix that places one ``<|mem|>`` per (object, temporal group) with a non-empty mask.

    ``num_frames`` is the media's frame count: 1 gives upstream's image wording, more its video wording with the
    frame pair ``<t>-<t+1>`` of each group (the wording: :func:`unipixel_plugin.prompts.region_prefix`).
    """
    objects = refer_mask.size(1)
    object_ids = list(range(objects)) if object_ids is None else [int(i) for i in object_ids]
    if len(object_ids) != objects:
        raise ValueError(f'{len(object_ids)} object ids for {objects} objects in refer_mask')
    groups = [refer_mask[:, obj].flatten(1).any(dim=1).nonzero()[:, 0].tolist() for obj in range(objects)]
    return region_prefix(groups, object_ids, num_frames)


@dataclass
class MemoryObject:
    """One remembered object.

    Attributes:
        masks: ``(T, H, W)`` bool mask track on the media's sampled frames.
        prompt: ``(K, sam_dim)`` SAM 2 hidden prompt that produced it (the object's feature), if known.
        label: free text (e.g. the referring expression).
    """
    masks: torch.Tensor
    prompt: torch.Tensor | None = None
    label: str | None = None
    meta: dict = field(default_factory=dict)


class ObjectMemoryBank:
    """Objects by id; ``inputs(...)`` turns a selection into the ``<|mem|>`` prefix and ``refer_mask`` tensor."""

    def __init__(self):
        self.objects: dict[int, MemoryObject] = {}

    def __len__(self):
        return len(self.objects)

    def __contains__(self, obj_id):
        return obj_id in self.objects

    def __getitem__(self, obj_id) -> MemoryObject:
        if obj_id not in self.objects:
            raise KeyError(f'object {obj_id} is not in the memory bank (known: {sorted(self.objects)})')
        return self.objects[obj_id]

    @property
    def ids(self) -> list[int]:
        return sorted(self.objects)

    def clear(self):
        self.objects.clear()

    def add(self, masks, obj_id: int | None = None, prompt: torch.Tensor | None = None, label: str | None = None,
            **meta) -> int:
        """Remember an object's ``(T, H, W)`` mask track (or ``(1, T, H, W)`` as in ``model.seg``); returns its id."""
        masks = torch.as_tensor(masks)
        if masks.dim() == 4 and masks.size(0) == 1:
            masks = masks[0]
        if masks.dim() != 3:
            raise ValueError(f'an object mask track is (T, H, W), got {tuple(masks.shape)}')
        obj_id = (max(self.objects) + 1 if self.objects else 0) if obj_id is None else int(obj_id)
        self.objects[obj_id] = MemoryObject(masks.bool().cpu(), None if prompt is None else prompt.detach().cpu(),
                                            label, meta)
        return obj_id

    def add_from_model(self, model, obj_ids=None, labels=None) -> list[int]:
        """Remember every mask of the model's last call (``model.seg``), with its SAM 2 prompt."""
        prompts = getattr(model, 'seg_prompts', [None] * len(model.seg))
        obj_ids = list(obj_ids) if obj_ids is not None else [None] * len(model.seg)
        if len(obj_ids) != len(model.seg):
            raise ValueError(f'{len(obj_ids)} ids for {len(model.seg)} masks from the last call')
        labels = list(labels) if labels is not None else [None] * len(model.seg)
        return [self.add(m, i, p, lab) for m, i, p, lab in zip(model.seg, obj_ids, prompts, labels)]

    def inputs(self, obj_ids, video_grid_thw: torch.Tensor, num_frames: int | None = None):
        """``(prefix text, refer_mask)`` for the objects ``obj_ids`` on the media encoded as ``video_grid_thw``.

        ``refer_mask`` is ``(grid_t, len(obj_ids), grid_h / 2, grid_w / 2)`` bool; the prefix holds one ``<|mem|>``
        per object and temporal group where the mask is non-empty (upstream's region-QA layout).
        """
        obj_ids = list(obj_ids)
        if not obj_ids:
            raise ValueError('choose at least one object from the memory bank')
        tracks = [self[i].masks for i in obj_ids]
        lengths = {t.shape for t in tracks}
        if len(lengths) > 1:
            raise ValueError(f'objects {obj_ids} were segmented on different frames/sizes: {sorted(lengths)}')
        masks = torch.stack(tracks, dim=1)  # (T, O, H, W)
        refer = refer_mask_from_masks(masks, video_grid_thw)
        prefix = mem_prompt_prefix(refer, num_frames or masks.size(0), obj_ids)
        return prefix, refer


__all__ = [
    'MaskFeatureProjector', 'pool_object_memory', 'raster_to_window_order', 'refer_mask_from_masks',
    'mem_prompt_prefix', 'MemoryObject', 'ObjectMemoryBank'
]
