"""Upstream's LLM pixel budgets, one implementation for every path (docs/porting.md has the table)."""
import pytest
import torch

from unipixel_plugin.models.processing_unipixel import UniPixelInputs, pixel_budget

P = 28 * 28


@pytest.mark.parametrize('path, frames, expected', [
    ('inference', 1, (128 * P, 256 * P * 16)),       # an image: int(16 / 1)
    ('inference', 16, (128 * P, 256 * P)),
    ('inference', 5, (128 * P, 256 * P * 3)),
    ('inference', 40, (128 * P, 256 * P)),           # more frames than sampled: the factor stays 1
    ('train', 8, (128 * P, 256 * P)),                # the recipe's 8 frames: int(8 / 8)
    ('train', 1, (128 * P, 256 * P * 8)),            # min(int(8 / 1), 8)
    ('train', 3, (128 * P, 256 * P * 2)),
    ('train_image_instruct', 1, (128 * P, 2048 * P)),
    ('train_video_instruct', 8, (128 * P, 256 * P)),
    ('videorefer_q', 16, (100 * P, 144 * P)),
    ('videorefer_q', 4, (100 * P, 144 * P * 4)),
    ('general_video', 16, (128 * P, 256 * P)),
])
def test_budget_table(path, frames, expected):
    assert pixel_budget(frames, path) == expected


def test_the_predictors_frame_count_is_the_numerator():
    assert pixel_budget(4, 'inference', sample_frames=8) == (128 * P, 256 * P * 2)
    with pytest.raises(ValueError, match='unknown pixel budget'):
        pixel_budget(4, 'eval')


def test_inputs_use_their_budget_and_fixed_bounds_win(tiny_processor):
    inputs = UniPixelInputs(tiny_processor, 256, budget='train')
    frames = torch.zeros(8, 480, 640, 3, dtype=torch.uint8)
    grid = inputs.grid_for(frames)
    assert int(grid[0, 1] * grid[0, 2]) * 14 * 14 <= 256 * P  # upstream's training budget for 8 frames
    wide = UniPixelInputs(tiny_processor, 256).grid_for(frames)  # inference: int(16 / 8) = 2 x
    assert int(wide[0, 1] * wide[0, 2]) > int(grid[0, 1] * grid[0, 2])
    fixed = UniPixelInputs(tiny_processor, 256, min_pixels=56 * 56, max_pixels=112 * 112, budget='train')
    assert fixed.bounds(8) == (56 * 56, 112 * 112)


def test_training_preprocessor_budgets_by_data_type():
    from unipixel_plugin.engine.data_preprocessor import UniPixelDataPreprocessor
    image = torch.zeros(1, 4, 4, 3)
    video = torch.zeros(8, 4, 4, 3)
    assert UniPixelDataPreprocessor.budget_of({'data_type': 'multimodal'}, image) == 'train_image_instruct'
    assert UniPixelDataPreprocessor.budget_of({'data_type': 'multimodal'}, video) == 'train_video_instruct'
    assert UniPixelDataPreprocessor.budget_of({'data_type': 'seg_video'}, video) == 'train'
