"""Qwen2.5-VL's M-RoPE position ids as transformers 4.53 (upstream UniPixel's version, what the checkpoints were
trained with) computes them.

transformers 5.x changed where the text after a vision block starts: 4.53 continues at the largest vision position
plus one, ``max(t_index, h_index, w_index) + 1``, which includes the temporal index (``t * second_per_grid_t *
tokens_per_second``); 5.x continues at ``max(grid_h, grid_w) / spatial_merge_size``, spatial only. The two agree
while the spatial extent is the larger, and differ as soon as ``2 * (grid_t - 1) + 1`` exceeds it, e.g. 16 frames of
a small or upscaled video (a grid of 8 x 20 x 28 patches: 4.53 resumes text at +15, 5.x at +14), shifting every
later position. 4.53 also gives image tokens temporal index 0 and casts ``second_per_grid_t`` to an integer before
the multiply. :func:`upstream_rope_index` reproduces 4.53 and is bound to the model's ``get_rope_index``.
"""
from __future__ import annotations

import itertools

import torch


def upstream_rope_index(self, input_ids: torch.LongTensor, mm_token_type_ids: torch.Tensor,
                        image_grid_thw: torch.LongTensor | None = None, video_grid_thw: torch.LongTensor | None = None,
                        second_per_grid_ts: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                        **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    """``(position_ids (3, B, L), mrope_position_deltas (B, 1))`` with transformers 4.53's rule (module docstring);
    the signature is transformers 5's ``Qwen2_5_VLModel.get_rope_index`` (``self`` is that model)."""
    merge = self.config.vision_config.spatial_merge_size
    tokens_per_second = self.config.vision_config.tokens_per_second
    device = input_ids.device
    position_ids = torch.ones(3, *input_ids.shape, dtype=input_ids.dtype, device=device)
    grids = {1: iter(image_grid_thw) if image_grid_thw is not None else iter(()),
             2: iter(video_grid_thw) if video_grid_thw is not None else iter(())}
    seconds = iter(second_per_grid_ts) if second_per_grid_ts is not None else None
    deltas = []
    for b in range(input_ids.shape[0]):
        kinds = mm_token_type_ids[b]
        keep = attention_mask[b].bool() if attention_mask is not None else torch.ones_like(kinds, dtype=torch.bool)
        parts, start = [], 0
        for kind, group in itertools.groupby(kinds[keep].tolist()):
            length = len(list(group))
            if kind == 0:
                parts.append(torch.arange(length, device=device).view(1, -1).expand(3, -1) + start)
            else:
                t, h, w = (int(v) for v in next(grids[kind]))
                h, w = h // merge, w // merge
                if t * h * w != length:
                    raise ValueError(f'{length} vision tokens for a grid of {t}x{h}x{w} merged patches')
                second = (next(seconds) if seconds is not None else 1.0) if kind == 2 else 0
                # 4.53: torch.as_tensor(second_per_grid_t, dtype=<the frame range's integer dtype>)
                second = torch.as_tensor(second, device=device).to(torch.long)
                t_index = (torch.arange(t, device=device).view(-1, 1).expand(-1, h * w) * second
                           * tokens_per_second).long().flatten()
                h_index = torch.arange(h, device=device).view(1, -1, 1).expand(t, -1, w).flatten()
                w_index = torch.arange(w, device=device).view(1, 1, -1).expand(t, h, -1).flatten()
                parts.append(torch.stack([t_index, h_index, w_index]) + start)
            start = int(parts[-1].max()) + 1
        positions = torch.cat(parts, dim=1)
        position_ids[:, b, keep] = positions.to(position_ids.dtype)
        deltas.append(int(positions.max()) + 1 - int(keep.sum()))
    return position_ids, torch.tensor(deltas, device=device).unsqueeze(1)


__all__ = ['upstream_rope_index']
