"""M-RoPE positions follow transformers 4.53 (upstream's): text after a video resumes at the largest vision position
+ 1, the temporal index included (transformers 5 resumes at max(grid_h, grid_w) / 2)."""
import types

import torch

from unipixel_plugin.models.rope_index import upstream_rope_index


def _model():
    vision = types.SimpleNamespace(spatial_merge_size=2, tokens_per_second=2)
    return types.SimpleNamespace(config=types.SimpleNamespace(vision_config=vision))


def test_text_after_a_long_video_resumes_after_the_temporal_extent():
    # 3 text tokens, a video of grid (8, 4, 4) = 8 x 2 x 2 merged tokens, 2 text tokens
    kinds = torch.tensor([[0] * 3 + [2] * 32 + [0] * 2])
    ids = torch.zeros_like(kinds)
    pos, delta = upstream_rope_index(_model(), ids, kinds, video_grid_thw=torch.tensor([[8, 4, 4]]),
                                     second_per_grid_ts=torch.tensor([1.0]))
    assert pos[:, 0, :3].tolist() == [[0, 1, 2]] * 3
    assert pos[0, 0, 3:35].unique().tolist() == [3, 5, 7, 9, 11, 13, 15, 17]  # t * 1 s * 2 tokens/s
    assert pos[1, 0, 3:35].unique().tolist() == [3, 4] and pos[2, 0, 3:35].unique().tolist() == [3, 4]
    # 4.53: max vision position (17) + 1; transformers 5 would give 3 + max(4, 4) // 2 = 5
    assert pos[:, 0, 35:].tolist() == [[18, 19]] * 3
    assert delta.tolist() == [[20 - 37]]


def test_padding_is_skipped_and_the_model_uses_this_rule(tiny_model):
    kinds = torch.tensor([[0, 0, 2, 2, 2, 2, 0]])
    mask = torch.tensor([[0, 1, 1, 1, 1, 1, 1]])
    pos, delta = upstream_rope_index(_model(), torch.zeros_like(kinds), kinds,
                                     video_grid_thw=torch.tensor([[4, 2, 2]]), attention_mask=mask)
    assert pos[:, 0, 1:].tolist() == [[0, 1, 3, 5, 7, 8], [0, 1, 1, 1, 1, 8], [0, 1, 1, 1, 1, 8]]
    assert tiny_model.model.get_rope_index.__func__ is upstream_rope_index
