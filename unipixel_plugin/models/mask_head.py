"""The mask head: ``<|seg|>`` hidden states -> SAM 2 hidden prompts -> masks tracked through the frames.

Inside :class:`~unipixel_plugin.models.PixelQwen2_5_VLForConditionalGeneration` its sub-modules sit at the top level
of the state dict (``seg_head.*``, ``sam2.*``), as in the official checkpoints; it can also be built alone.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLRMSNorm


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


class SAM2MaskHead(nn.Module):
    """Decode masks from ``<|seg|>`` hidden states: ``seg_head`` -> hidden prompt on frame 0 -> SAM 2 tracking.

    Args:
        llm_dim: LLM width. sam2_config / image_size: the SAM 2 variant and its input size.
        hidden_tokens: sparse tokens per ``<|seg|>`` (2 in UniPixel).
        sam2_overrides: extra Hydra overrides of the variant (see :func:`~.sam2_extension.build_sam2`).
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
        each frame is read and encoded once. A SAM 2 cast to bfloat16 / float16 (``UniPixelPredictor(...,
        sam2_dtype='bf16')``, upstream's evaluation numerics) runs each step under autocast: the sam2 package makes
        its position encodings and upsamplings in float32 and feeds them to the low-precision layers.
        """
        dtype = next(self.sam2.parameters()).dtype
        steps = self._decode_steps(hidden, frames, frame_size, batch_mode, keep_memories, verbose, features)
        if dtype == torch.float32:
            yield from steps
            return
        device_type = next(self.sam2.parameters()).device.type
        while True:  # autocast around each step only: the caller runs outside it between yields
            with torch.autocast(device_type=device_type, dtype=dtype):
                try:
                    item = next(steps)
                except StopIteration:
                    return
            yield item

    def _decode_steps(self, hidden, frames, frame_size, batch_mode, keep_memories, verbose, features):
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

__all__ = ['SegTokenHead', 'SAM2MaskHead']
