"""What only trained weights can pass: the demo's mask for "the blue circle" covers the drawn circle.

Gated on the package shipping a trained toy (``unipixel_plugin.engine.toy_recipe.packaged_toy()``, the model
``unipixel demo`` serves by default once it exists): then the test runs on exactly what ``unipixel demo`` loads, with
a generated answer, and must pass. Without one it runs on the random-weight tiny checkpoint (``<|seg|>`` forced, so a
mask exists) and is an expected failure (xfail, not strict): those masks are noise. Everything that does not depend
on the weights is tested strictly in test_handlers.py and test_browser.py.
"""
import pytest

pytest.importorskip('gradio')


def packaged_trained_toy():
    try:
        from unipixel_plugin.engine.toy_recipe import packaged_toy
    except ImportError:  # a tree without the toy recipe
        return None
    return packaged_toy()


TRAINED_TOY = packaged_trained_toy()


@pytest.fixture
def demo_under_test(request, demo_folders):
    """``(handlers, forced answer)``: the handlers ``unipixel demo`` builds without --checkpoint when a trained toy
    ships (never reached otherwise: the CLI would train one first), else the random tiny checkpoint's."""
    from unipixel_plugin.prompts import SEG_ANSWER
    if TRAINED_TOY is None:
        return request.getfixturevalue('handlers'), SEG_ANSWER
    from unipixel_plugin.cli import build_parser
    from unipixel_plugin.cli.inference import _load_predictor
    from unipixel_plugin.demo import DemoHandlers
    predictor, _ = _load_predictor(build_parser().parse_args(['demo', '--device', 'cpu', '--quiet']))
    return DemoHandlers(predictor, demo_folders), ''


@pytest.mark.xfail(TRAINED_TOY is None, strict=False,
                   reason='the package ships no trained toy (engine.toy_recipe.packaged_toy() is None): the tiny '
                   'checkpoint has random weights, its masks are noise')
def test_the_mask_covers_the_blue_circle(demo_under_test, drawn_circle):
    from unipixel_plugin.masks import decode_rle
    from unipixel_plugin.toy import sample_media
    handlers, forced = demo_under_test
    view = list(handlers.segment(str(sample_media('image')), 'the blue circle', 'auto', forced))[-1]
    assert '<|seg|>' in view.answer and view.record['objects'], f'no mask: the answer was {view.answer!r}'
    mask = decode_rle(view.record['objects'][0]['rle'][0])
    iou = (mask & drawn_circle).sum() / (mask | drawn_circle).sum()
    assert iou >= 0.5, f'IoU with the drawn circle is {iou:.3f}'
