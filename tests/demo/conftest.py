"""Demo fixtures: the predictor the demo serves by default (the tiny toy checkpoint, at the CLI's frame sizes) and
handlers on a private folder."""
import pytest


@pytest.fixture(scope='session')
def demo_predictor(tiny_ckpt):
    """What ``unipixel demo`` loads without --checkpoint: the same tiny checkpoint (seed 0, SAM 2 at 256 px) and
    the CLI's small frame budget for it."""
    from unipixel_plugin.inference import UniPixelPredictor
    return UniPixelPredictor.from_pretrained(str(tiny_ckpt), device='cpu', dtype='float32', min_pixels=56 * 56,
                                             max_pixels=112 * 112, max_new_tokens=16)


@pytest.fixture
def demo_folders(tmp_path):
    from unipixel_plugin.demo import DemoFolders
    return DemoFolders.create(tmp_path / 'demo')


@pytest.fixture
def handlers(demo_predictor, demo_folders):
    from unipixel_plugin.demo import DemoHandlers
    from unipixel_plugin.prompts import SEG_ANSWER
    return DemoHandlers(demo_predictor, demo_folders, forced_answer=SEG_ANSWER, note='UNTRAINED test weights')


@pytest.fixture(scope='session')
def drawn_circle():
    """The bundled sample picture's blue circle (scripts/make_sample_media.py: centre (115, 80), radius 18), read from
    the picture itself (its exact blue) as an ``(H, W)`` bool mask."""
    import numpy as np
    from PIL import Image

    from unipixel_plugin.toy import sample_media
    rgb = np.asarray(Image.open(sample_media('image')).convert('RGB')).astype(int)
    return np.abs(rgb - np.array([30, 60, 220])).sum(-1) < 30
