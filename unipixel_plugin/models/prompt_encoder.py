"""The visual prompt encoder: point and box regions -> ``<|ref|>`` embeddings.

Inside :class:`~unipixel_plugin.models.PixelQwen2_5_VLForConditionalGeneration` its sub-modules sit at the top level
of the state dict (``ref_encoder.*``, ``ref_proj_single``, ``ref_proj_double``, ``ref_proj``, ``tem_pe``, ``tem_emb``,
``tem_proj``), as in the official checkpoints; it can also be built alone.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
from sam2.modeling.sam.prompt_encoder import PromptEncoder


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


__all__ = ['TemporalPositionEncoding', 'VisualPromptEncoder']
