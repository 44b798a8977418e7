"""The object memory bank: objects found by segmentation passes, turned into ``<|mem|>`` inputs for later turns.

Upstream runs PixelQA as two passes glued together in a script: pass 1 answers ``<|ref|>`` prompts with
``[id] <|seg|>`` and SAM 2 gives a mask track per object; pass 2 puts those masks back into the prompt as ``<|mem|>``
tokens ("memory pre-filling"). Here the bank holds the objects between passes (and between conversation turns).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from unipixel_plugin.registry import MODELS


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


@MODELS.register_module()
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
        from unipixel_plugin.processing import mem_prompt_prefix, refer_mask_from_masks
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


__all__ = ['ObjectMemoryBank', 'MemoryObject']
