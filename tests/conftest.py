"""Shared fixtures: one tiny official-layout checkpoint per session, the model loaded from it, and sample media."""
import os

import numpy as np
import pytest
import torch

os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope='session')
def tiny_ckpt(tmp_path_factory):
    from unipixel_plugin.testing import make_tiny_checkpoint
    return make_tiny_checkpoint(tmp_path_factory.mktemp('tiny_ckpt'), seed=0)


@pytest.fixture(scope='session')
def tiny_model(tiny_ckpt):
    from unipixel_plugin.models import PixelQwen2_5_VLForConditionalGeneration
    return PixelQwen2_5_VLForConditionalGeneration.from_pretrained(str(tiny_ckpt), dtype=torch.float32).eval()


@pytest.fixture(scope='session')
def tiny_processor(tiny_ckpt):
    from transformers import AutoProcessor
    return AutoProcessor.from_pretrained(str(tiny_ckpt))


@pytest.fixture(scope='session')
def build_inputs(tiny_processor, tiny_model):
    from unipixel_plugin.processing import UniPixelInputs
    return UniPixelInputs(tiny_processor, tiny_model.config.sam2_image_size, min_pixels=56 * 56,
                          max_pixels=112 * 112)


def square_frames(num_frames: int = 1, h: int = 60, w: int = 90) -> torch.Tensor:
    """``(T, H, W, 3)`` uint8: a red square moving right on a dark background."""
    frames = np.full((num_frames, h, w, 3), 30, dtype=np.uint8)
    for t in range(num_frames):
        frames[t, 10:30, 10 + 5 * t:30 + 5 * t] = (220, 20, 20)
    return torch.from_numpy(frames)


@pytest.fixture(scope='session')
def make_frames():
    return square_frames


@pytest.fixture
def image_frames():
    return square_frames(1)


@pytest.fixture
def video_frames():
    return square_frames(4)
