"""Shared fixtures: one tiny official-layout checkpoint per session, the model loaded from it, sample media, and a
private toy root (toy checkpoint + procedural data) for the engine and toy tests."""
import contextlib
import os

import numpy as np
import pytest
import torch

os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope='session')
def tiny_ckpt(tmp_path_factory):
    from unipixel_plugin.toy.checkpoint import make_tiny_checkpoint
    return make_tiny_checkpoint(tmp_path_factory.mktemp('tiny_ckpt'), seed=0)


@pytest.fixture(scope='session')
def toy_checkpoint():
    """The trained toy (unipixel_plugin/assets/toy_model, trained by configs/unipixel_toy.py): a model whose masks
    follow the query, for the tests that compare masks."""
    from unipixel_plugin.engine.toy_recipe import packaged_toy
    path = packaged_toy()
    assert path is not None, ('the package ships no toy trained with the current configs/unipixel_toy.py: run '
                              '`python -m unipixel_plugin.engine.toy_recipe --package` and commit the result')
    return path


@pytest.fixture(scope='session')
def toy_predictor(toy_checkpoint):
    from unipixel_plugin.inference import UniPixelPredictor
    from unipixel_plugin.toy.model import LLM_PIXELS
    return UniPixelPredictor.from_pretrained(str(toy_checkpoint), device='cpu', dtype='float32',
                                             min_pixels=LLM_PIXELS, max_pixels=LLM_PIXELS, progress=False,
                                             max_new_tokens=12, keep_logits=True)


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
    from unipixel_plugin.models.processing_unipixel import UniPixelInputs
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


@pytest.fixture(scope='session')
def toy_root(tmp_path_factory):
    """A private toy root, also exported as UNIPIXEL_TOY_ROOT so that configs' ``pretrained='toy'`` find it."""
    from unipixel_plugin.toy.cache import TOY_ROOT_ENV, ensure_toy_checkpoint
    from unipixel_plugin.toy.refvos import ensure_toy_data
    root = tmp_path_factory.mktemp('toy_root')
    ensure_toy_checkpoint(str(root))
    ensure_toy_data(str(root))
    previous = os.environ.get(TOY_ROOT_ENV)
    os.environ[TOY_ROOT_ENV] = str(root)
    yield root
    if previous is None:
        os.environ.pop(TOY_ROOT_ENV, None)
    else:
        os.environ[TOY_ROOT_ENV] = previous


@pytest.fixture(scope='session')
def toy_ckpt(toy_root):
    from unipixel_plugin.toy.cache import ensure_toy_checkpoint
    return ensure_toy_checkpoint(str(toy_root))


@contextlib.contextmanager
def seg_forced(model, from_call: int):
    """Within the block, ``<|seg|>`` wins greedy decoding from the ``from_call``-th ``lm_head`` call on: a hook adds
    1e4 to its logit, so the raw logits the model checks agree with what generation picks (random tiny weights never
    emit ``<|seg|>`` by themselves)."""
    seg, calls = model.config.seg_token_id, []

    def boost(module, args, out):
        calls.append(1)
        if len(calls) >= from_call:
            out = out.clone()
            out[..., seg] += 1e4
        return out

    handle = model.lm_head.register_forward_hook(boost)
    try:
        yield
    finally:
        handle.remove()


@pytest.fixture(scope='session')
def force_seg():
    return seg_forced

