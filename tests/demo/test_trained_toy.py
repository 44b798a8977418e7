"""What only trained weights can pass: the demo's mask for "the blue circle" covers the drawn circle.

Gated on the package shipping a trained toy (``unipixel_plugin.engine.toy_recipe.packaged_toy()``, the model
``unipixel demo`` serves by default once it exists): then the test runs on exactly what ``unipixel demo`` loads, with a
generated answer, and must pass. Without one it runs on the random-weight tiny checkpoint (``<|seg|>`` forced, so a
mask exists) marked as an expected failure (xfail, not strict): those masks are noise. Everything that does not
depend on the weights is tested strictly in test_handlers.py and test_browser.py.
"""
import pytest

pytest.importorskip('gradio')


def test_the_mask_covers_the_blue_circle(request, trained_toy, default_handlers, drawn_circle):
    from unipixel_plugin.masks import decode_rle
    from unipixel_plugin.prompts import SEG_ANSWER
    from unipixel_plugin.toy import sample_media
    if trained_toy is None:
        request.node.add_marker(pytest.mark.xfail(
            strict=False, reason='the package ships no trained toy (engine.toy_recipe.packaged_toy() is None): the '
            'tiny checkpoint has random weights, its masks are noise'))
    forced = '' if trained_toy is not None else SEG_ANSWER  # the trained toy must say <|seg|> by itself
    view = list(default_handlers.segment(str(sample_media('image')), 'the blue circle', 'auto', forced))[-1]
    assert '<|seg|>' in view.answer and view.record['objects'], f'no mask: the answer was {view.answer!r}'
    mask = decode_rle(view.record['objects'][0]['rle'][0])
    iou = (mask & drawn_circle).sum() / (mask | drawn_circle).sum()
    assert iou >= 0.5, f'IoU with the drawn circle is {iou:.3f}'
