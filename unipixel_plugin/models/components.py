"""UniPixel's components around Qwen2.5-VL: the visual prompt encoder, the object-memory projector and the SAM 2
mask head. Each is a registered ``MODELS`` component that can be built alone from a config dict; inside
:class:`~unipixel_plugin.models.PixelQwen2_5_VLForConditionalGeneration` their sub-modules sit at the top level of the
state dict (``ref_encoder.*``, ``ref_proj*``, ``tem_*``, ``msk_proj.*``, ``seg_head.*``, ``sam2.*``), as in the
official checkpoints.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
from sam2.modeling.sam.prompt_encoder import PromptEncoder
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLRMSNorm

from unipixel_plugin.registry import MODELS


class TemporalPositionEncoding(nn.Module):
    """1-D random Fourier features of a frame index (upstream's ``PositionEmbedding1DRandom``).

    The Gaussian matrix is a persistent buffer: it comes from the checkpoint, never re-drawn.
    """

    def __init__(self, num_pos_feats: int = 128, scale: float = 1.0):
        super().__init__()
        self.register_buffer('positional_encoding_gaussian_matrix', scale * torch.randn(1, num_pos_feats))

    @torch.no_grad()
    def forward(self, frame_idx: torch.Tensor, length: int) -> torch.Tensor:
        """``frame_idx`` ``(N,)`` indices in ``[0, length)`` -> ``(N, 2 * num_pos_feats)`` encodings."""
        t = frame_idx.float().reshape(-1, 1) / (length - 1)
        proj = (2 * t - 1) @ self.positional_encoding_gaussian_matrix.float()
        proj = 2 * math.pi * proj
        out = torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1)
        return out.to(self.positional_encoding_gaussian_matrix.dtype)


def _linear_dtype(x: torch.Tensor, layer: nn.Module) -> torch.Tensor:
    weight = next(layer.parameters())
    return x.to(weight.device, weight.dtype)


@MODELS.register_module()
class VisualPromptEncoder(nn.Module):
    """Point and box prompts -> one ``<|ref|>`` embedding per object.

    A point is one click (label 1); a box is its two corners (labels 2, 3). Coordinates are in the
    ``image_size`` x ``image_size`` SAM 2 space. The SAM prompt encoder embeds them (plus the "not-a-point"
    pad), the flattened tokens are projected to ``3 * sam_dim``; the frame index gets a 1-D Fourier encoding plus a
    learned embedding, projected to ``3 * sam_dim``; both are concatenated and projected to the LLM width.
    """

    def __init__(self, llm_dim: int, sam_dim: int = 256, image_size: int = 768, embedding_size: int | None = None):
        super().__init__()
        embedding_size = embedding_size or image_size // 16
        self.ref_encoder = PromptEncoder(
            embed_dim=sam_dim,
            image_embedding_size=(embedding_size, embedding_size),
            input_image_size=(image_size, image_size),
            mask_in_chans=16)
        self.ref_proj_single = nn.Linear(sam_dim * 2, sam_dim * 3)
        self.ref_proj_double = nn.Linear(sam_dim * 3, sam_dim * 3)
        self.ref_proj = nn.Sequential(nn.GELU(), nn.Linear(sam_dim * 6, llm_dim))
        self.tem_pe = TemporalPositionEncoding(sam_dim // 2)
        self.tem_emb = nn.Embedding(1, sam_dim)
        self.tem_proj = nn.Linear(sam_dim, sam_dim * 3)

    def forward(self, point_coords: list[torch.Tensor], point_labels: list[torch.Tensor],
                frame_idx: torch.Tensor, num_frames: int) -> torch.Tensor:
        """
        Args:
            point_coords: per object, ``(1, 1, 2)`` (point) or ``(1, 2, 2)`` (box corners), SAM-space pixels.
            point_labels: per object, ``(1, 1)`` = [[1]] or ``(1, 2)`` = [[2, 3]].
            frame_idx: ``(num_objects,)`` frame index of each prompt in the sampled video.
            num_frames: frames of the sampled video (``2 * grid_t``).
        Returns:
            ``(num_objects, llm_dim)`` embeddings for the ``<|ref|>`` tokens, in the LLM's dtype.
        """
        spatial = []
        for coords, labels in zip(point_coords, point_labels):
            if coords.dim() != 3 or coords.size(0) != 1 or coords.size(1) not in (1, 2) or coords.size(-1) != 2:
                raise ValueError(f'a point prompt is (1, 1, 2) and a box (1, 2, 2), got {tuple(coords.shape)}')
            device = self.tem_emb.weight.device
            tokens, _ = self.ref_encoder((coords.to(device).float(), labels.to(device)), None, None)
            proj = self.ref_proj_single if tokens.size(1) == 2 else self.ref_proj_double
            spatial.append(proj(_linear_dtype(tokens.flatten(1), proj)))
        spatial = torch.cat(spatial)
        if frame_idx.numel() != spatial.size(0):
            raise ValueError(f'{spatial.size(0)} point/box prompts but {frame_idx.numel()} prompt frame indices')
        temporal = self.tem_pe(frame_idx.to(self.tem_emb.weight.device), num_frames)
        temporal = _linear_dtype(temporal, self.tem_emb) + self.tem_emb.weight[0]
        temporal = self.tem_proj(_linear_dtype(temporal, self.tem_proj))
        fused = torch.cat([spatial, temporal.to(spatial.dtype)], dim=1)
        return self.ref_proj(_linear_dtype(fused, self.ref_proj[1]))


@MODELS.register_module()
class MaskFeatureProjector(nn.Sequential):
    """``msk_proj``: masked-mean vision-merger input features (``4 * vit_dim``) -> one ``<|mem|>`` embedding."""

    def __init__(self, in_dim: int, llm_dim: int):
        super().__init__(nn.Linear(in_dim, in_dim), nn.GELU(), nn.Linear(in_dim, llm_dim))


@MODELS.register_module()
class SegTokenHead(nn.Sequential):
    """``seg_head``: the LLM state that predicts ``<|seg|>`` -> ``hidden_tokens`` SAM 2 sparse prompt tokens."""

    def __init__(self, llm_dim: int, sam_dim: int = 256, hidden_tokens: int = 2):
        super().__init__(Qwen2_5_VLRMSNorm(llm_dim), nn.Linear(llm_dim, llm_dim), nn.GELU(),
                         nn.Linear(llm_dim, sam_dim * hidden_tokens))
        self.hidden_tokens = hidden_tokens

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """``(..., llm_dim)`` -> ``(..., hidden_tokens, sam_dim)``."""
        out = super().forward(hidden)
        return out.reshape(*out.shape[:-1], self.hidden_tokens, -1)


@MODELS.register_module()
class SAM2MaskHead(nn.Module):
    """Decode masks from ``<|seg|>`` hidden states: ``seg_head`` -> hidden prompt on frame 0 -> SAM 2 tracking.

    Args:
        llm_dim: LLM width. sam2_config / image_size: the SAM 2 variant and its input size.
        sam2_overrides: extra Hydra overrides of the variant (see :func:`~.sam2_extension.build_sam2`).
        hidden_tokens: sparse tokens per ``<|seg|>`` (2 in UniPixel).
    """

    def __init__(self, llm_dim: int, sam2_config: str = 'configs/sam2.1_hiera_b+', image_size: int = 768,
                 hidden_tokens: int = 2, sam2_overrides=None):
        super().__init__()
        from unipixel_plugin.models.sam2_extension import build_sam2
        self.sam2 = build_sam2(sam2_config, image_size, overrides=sam2_overrides)
        self.seg_head = SegTokenHead(llm_dim, self.sam2.hidden_dim, hidden_tokens)

    @torch.inference_mode()
    def decode(self, hidden: torch.Tensor, frames, frame_size, batch_mode: bool = False,
               keep_memories: int | None = None, verbose: bool = False):
        """Yield ``(frame_idx, logits)`` for one object, ``logits`` ``(H, W)`` float at the original size.

        Args:
            hidden: ``(llm_dim,)`` LLM state (before the final norm) at the position predicting ``<|seg|>``.
            frames: ``(T, 3, S, S)`` normalised SAM 2 frames, or a lazy sequence of ``(3, S, S)``.
            frame_size: original ``(H, W)``.
            batch_mode: decode each frame as an independent image (upstream's ``sam2_batch_mode``).
            keep_memories: bound the per-frame state kept while tracking (long videos); None keeps all.
        """
        for frame_idx, logits in self.decode_objects(hidden[None], frames, frame_size, batch_mode, keep_memories,
                                                     verbose):
            yield frame_idx, logits[0]

    @torch.inference_mode()
    def decode_objects(self, hidden: torch.Tensor, frames, frame_size, batch_mode: bool = False,
                       keep_memories: int | None = None, verbose: bool = False, features: dict | None = None):
        """Track several objects in one pass over the frames: yield ``(frame_idx, logits (N, H, W))``.

        Each object is prompted on frame 0 with its own hidden tokens and tracked independently (no
        non-overlap constraint), so the masks equal decoding every ``<|seg|>`` on its own, as upstream does, while
        each frame is read and encoded once.
        """
        prompts = self.seg_head(hidden.to(self.seg_head[1].weight.dtype)).float()  # (N, K, sam_dim)
        if batch_mode:
            for idx in range(len(frames)):
                single = frames[idx][None] if torch.is_tensor(frames) else [frames[idx]]
                state = self.sam2.init_state(single, frame_size, cache_all_features=False)
                for obj, prompt in enumerate(prompts):
                    self.sam2.add_new_hidden_state(state, 0, obj, prompt[None])
                for _, _, logits in self.sam2.propagate_in_video(state):
                    yield idx, logits[:, 0]
            return
        state = self.sam2.init_state(frames, frame_size, cache_all_features=keep_memories is None,
                                     features=features)
        for obj, prompt in enumerate(prompts):
            self.sam2.add_new_hidden_state(state, 0, obj, prompt[None])
        for frame_idx, _, logits in self.sam2.propagate_in_video(state, keep_memories=keep_memories,
                                                                 verbose=verbose):
            yield frame_idx, logits[:, 0]


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


__all__ = [
    'TemporalPositionEncoding', 'VisualPromptEncoder', 'MaskFeatureProjector', 'SegTokenHead', 'SAM2MaskHead',
    'pool_object_memory', 'raster_to_window_order'
]
