"""Demo fixtures: the predictor the demo serves, handlers on a private folder, the sample's drawn circle.

Two models: the random-weight tiny checkpoint (always there; ``demo_predictor``) and, when the package ships one,
the trained toy that ``unipixel demo`` loads by default (``trained_toy``, ``default_handlers``). Tests whose checks
must not depend on weights teacher-force ``<|seg|>``, so a mask exists whichever model runs.
"""
import os
import socket

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def serve(monkeypatch):
    """``serve(handlers) -> demo``: the page served on a free loopback port for the test, closed afterwards (the
    Gradio environment variables that ``launch_demo`` sets are restored)."""
    from unipixel_plugin.demo.app import launch_demo
    for name in ('GRADIO_TEMP_DIR', 'GRADIO_EXAMPLES_CACHE', 'GRADIO_ANALYTICS_ENABLED'):
        monkeypatch.setenv(name, os.environ.get(name, ''))
    started = []

    def start(handlers):
        started.append(launch_demo(handlers, port=free_port(), prevent_thread_lock=True, quiet=True))
        return started[-1]
    yield start
    for demo in started:
        demo.close()


@pytest.fixture(scope='session')
def demo_predictor(tiny_ckpt):
    """The random-weight tiny checkpoint (seed 0, SAM 2 at 256 px) at a small frame budget."""
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
def trained_toy():
    """The trained toy the package ships (``engine.toy_recipe.packaged_toy()``), or None while there is none."""
    try:
        from unipixel_plugin.engine.toy_recipe import packaged_toy
    except ImportError:  # a tree without the toy recipe
        return None
    return packaged_toy()


@pytest.fixture(scope='session')
def default_demo_predictor(trained_toy):
    """What ``unipixel demo`` loads without --checkpoint (the CLI's own loader), when that is the packaged trained
    toy; None otherwise (the CLI would first train one, for many minutes)."""
    if trained_toy is None:
        return None
    from unipixel_plugin.cli import build_parser
    from unipixel_plugin.cli.inference import _load_predictor
    predictor, _ = _load_predictor(build_parser().parse_args(['demo', '--device', 'cpu', '--quiet']))
    return predictor


@pytest.fixture
def default_handlers(default_demo_predictor, demo_folders):
    """Handlers on the demo's default model, the trained toy, as ``unipixel demo`` serves it: nothing
    teacher-forced, the model generates its answers."""
    assert default_demo_predictor is not None, 'the package ships no trained toy (engine.toy_recipe.packaged_toy)'
    from unipixel_plugin.cli.inference import DEMO_NOTE
    from unipixel_plugin.demo import DemoHandlers
    return DemoHandlers(default_demo_predictor, demo_folders, forced_answer=None, note=DEMO_NOTE)


@pytest.fixture(scope='session')
def drawn_circle():
    """The bundled sample picture's blue circle (scripts/make_sample_media.py: centre (115, 80), radius 18), read from
    the picture itself (its exact blue) as an ``(H, W)`` bool mask."""
    import numpy as np
    from PIL import Image

    from unipixel_plugin.toy import sample_media
    rgb = np.asarray(Image.open(sample_media('image')).convert('RGB')).astype(int)
    return np.abs(rgb - np.array([30, 60, 220])).sum(-1) < 30
