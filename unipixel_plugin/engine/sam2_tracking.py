"""SAM 2 tracking with gradients, for training the ``<|seg|>`` -> mask path.

The video predictor that inference uses runs under ``torch.inference_mode``; training needs the same tracking
with autograd, as upstream UniPixel does with its ``SAM2Train``: every frame's image features are computed
first, frame 0 is prompted with the LLM's hidden tokens (two "not-a-point" pads + the hidden tokens, dense
prompt = ``no_mask_embed``), and every later frame is predicted from the memory of the frames before it, in
order. Each frame keeps its candidate masks, IoU predictions and object scores for :class:`SAM2MaskLoss`.

This module composes the building blocks of ``sam2.modeling.sam2_base.SAM2Base`` (memory conditioning,
prompt encoder, mask decoder, memory encoder) instead of calling its ``_forward_sam_heads``: pip SAM 2 always
replaces the masks of frames scored "no object" by a constant there, which would cut their gradient; upstream
applies that replacement only in inference, and so does this module (nowhere).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from unipixel_plugin.engine.mask_loss import FrameMaskOutput


def _sam_heads(sam2, pix_feat: torch.Tensor, high_res: list[torch.Tensor] | None, hidden: torch.Tensor | None,
               multimask: bool) -> dict:
    """Prompt encoder + mask decoder on one frame for ``N`` objects; ``hidden`` ``(N, K, C)`` or None."""
    n = pix_feat.size(0)
    device = pix_feat.device
    coords = torch.zeros(n, 1, 2, device=device, dtype=pix_feat.dtype)
    labels = -torch.ones(n, 1, dtype=torch.int32, device=device)  # "not-a-point" pad, as SAM 2 does without clicks
    sparse, dense = sam2.sam_prompt_encoder((coords, labels), None, None, hidden=hidden)
    low_res, ious, tokens, object_score_logits = sam2.sam_mask_decoder(
        image_embeddings=pix_feat,
        image_pe=sam2.sam_prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=multimask,
        repeat_image=False,
        high_res_features=high_res)
    low_res = low_res.float()
    high_res_masks = F.interpolate(low_res, size=(sam2.image_size, sam2.image_size), mode='bilinear',
                                   align_corners=False)
    rows = torch.arange(n, device=device)
    best = ious.argmax(-1) if multimask else torch.zeros(n, dtype=torch.long, device=device)
    token = tokens[rows, best] if multimask and tokens.size(1) > 1 else tokens[:, 0]
    obj_ptr = sam2.obj_ptr_proj(token)
    if sam2.pred_obj_scores:
        present = object_score_logits.sigmoid() if sam2.soft_no_obj_ptr else (object_score_logits > 0).float()
        if sam2.fixed_no_obj_ptr:
            obj_ptr = present * obj_ptr
        obj_ptr = obj_ptr + (1 - present) * sam2.no_obj_ptr
    return dict(multimasks=high_res_masks, ious=ious, object_score_logits=object_score_logits,
                best_mask=high_res_masks[rows, best][:, None], obj_ptr=obj_ptr)


def track_for_training(sam2, frames: torch.Tensor, hidden: torch.Tensor,
                       independent_frames: bool = False) -> list[FrameMaskOutput]:
    """See :func:`_track`; in a low-precision SAM 2 (DeepSpeed bf16 casts the whole model, as upstream trains) it
    runs under autocast, because the package computes its sine / Fourier position encodings and upsamplings in
    float32 and feeds them to layers whose weights are then bfloat16."""
    dtype = next(sam2.parameters()).dtype
    if dtype == torch.float32:
        return _track(sam2, frames, hidden, independent_frames)
    with torch.autocast(device_type=sam2.device.type, dtype=dtype):
        return _track(sam2, frames, hidden, independent_frames)


def _track(sam2, frames: torch.Tensor, hidden: torch.Tensor, independent_frames: bool = False) -> list[FrameMaskOutput]:
    """Track ``N`` objects prompted by hidden tokens on frame 0 through ``T`` frames, with autograd.

    Args:
        sam2: the model's SAM 2 (:class:`~unipixel_plugin.models.sam2_extension.UniPixelSAM2`).
        frames: ``(T, 3, S, S)`` normalised SAM 2 frames.
        hidden: ``(N, K, C)`` hidden prompt tokens from ``seg_head``, one row per object.
        independent_frames: prompt every frame with ``hidden`` and no memory (upstream's ``sam2_batch_mode``).
    Returns:
        one :class:`FrameMaskOutput` per frame.
    """
    num_frames, num_objects = frames.size(0), hidden.size(0)
    device = sam2.device
    train_backbone = torch.is_grad_enabled() and any(p.requires_grad for p in sam2.image_encoder.parameters())
    # SAM 2's own dtype: float32 normally; bfloat16 when a strategy casts the whole model (DeepSpeed bf16, as upstream)
    dtype = next(sam2.parameters()).dtype
    with torch.set_grad_enabled(train_backbone):
        backbone_out = sam2.forward_image(frames.to(device, dtype))
    _, vision_feats, vision_pos, feat_sizes = sam2._prepare_backbone_features(backbone_out)
    # the package's FPN neck upsamples in float32, so in bfloat16 some levels come out float32: one dtype for all
    vision_feats = [x.to(dtype) for x in vision_feats]
    vision_pos = [x.to(dtype) for x in vision_pos]
    hidden = hidden.to(device, dtype)
    memory = {'cond_frame_outputs': {}, 'non_cond_frame_outputs': {}}
    outputs = []
    for t in range(num_frames):
        # (HW, T, C) -> this frame, once per object
        feats = [x[:, t:t + 1].expand(-1, num_objects, -1) for x in vision_feats]
        pos = [x[:, t:t + 1].expand(-1, num_objects, -1) for x in vision_pos]
        is_cond = independent_frames or t == 0
        if independent_frames:
            memory = {'cond_frame_outputs': {}, 'non_cond_frame_outputs': {}}
        pix_feat = sam2._prepare_memory_conditioned_features(
            frame_idx=0 if independent_frames else t,
            is_init_cond_frame=is_cond,
            current_vision_feats=feats[-1:],
            current_vision_pos_embeds=pos[-1:],
            feat_sizes=feat_sizes[-1:],
            output_dict=memory,
            num_frames=1 if independent_frames else num_frames,
            track_in_reverse=False)
        high_res = None
        if len(feats) > 1:
            high_res = [x.permute(1, 2, 0).reshape(num_objects, x.size(2), *s) for x, s in zip(feats[:-1],
                                                                                              feat_sizes[:-1])]
        heads = _sam_heads(sam2, pix_feat, high_res, hidden if is_cond else None, sam2._use_multimask(is_cond, None))
        outputs.append(FrameMaskOutput(heads['multimasks'], heads['ious'], heads['object_score_logits']))
        if independent_frames or t == num_frames - 1:
            continue
        mem_feats, mem_pos = sam2._encode_new_memory(
            current_vision_feats=feats,
            feat_sizes=feat_sizes,
            pred_masks_high_res=heads['best_mask'].to(dtype),
            object_score_logits=heads['object_score_logits'],
            is_mask_from_pts=False)
        entry = {'maskmem_features': mem_feats, 'maskmem_pos_enc': mem_pos, 'obj_ptr': heads['obj_ptr']}
        memory['cond_frame_outputs' if is_cond else 'non_cond_frame_outputs'][t] = entry
    return outputs


__all__ = ['track_for_training']
