"""The demo driven the way a person uses it: headless Chromium (Debian's, via Playwright) on the served page.

Loads the page, uploads the bundled sample picture, segments "the blue circle" with the toy checkpoint, downloads the
COCO-RLE record, then clicks a point on the region tab and asks about it. The model is the demo's default, the
trained toy, and it generates its answers (nothing is teacher-forced): the mask must cover the drawn circle
(IoU >= 0.5) and the downloaded RLE must decode to that mask. A screenshot of every step is kept under
the test's folder, and copied to ``outputs/test-artifacts/demo/`` when ``UNIPIXEL_TEST_ARTIFACTS`` is set (to ``1``,
or to another base folder).
"""
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip('gradio')
sync_api = pytest.importorskip('playwright.sync_api')

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which('chromium') is None,
                                 reason='needs Debian\'s chromium (apt-get install chromium; .ci/run installs it)')]

CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                 '--disable-sync']
REPO = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 60_000


@pytest.fixture
def artifacts(tmp_path, request):
    folder = tmp_path / 'artifacts'
    folder.mkdir()
    yield folder
    wanted = os.environ.get('UNIPIXEL_TEST_ARTIFACTS')
    if wanted:  # kept whether the test passed or not: the screenshots say where it stopped
        base = REPO / 'outputs' / 'test-artifacts' if wanted.lower() in ('1', 'true', 'yes') else Path(wanted)
        target = base / 'demo'
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(folder, target)


@pytest.fixture
def server(default_handlers, serve):
    return serve(default_handlers)


@pytest.fixture
def page(server, artifacts):
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which('chromium'), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={'width': 1280, 'height': 900}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(server.local_url)
        yield page
        page.screenshot(path=str(artifacts / 'last.png'), full_page=True)  # where it stopped, pass or fail
        browser.close()


def value_of(page, selector: str) -> str:
    return page.locator(f'{selector} textarea, {selector} input').first.input_value()


def wait_value(page, selector: str, predicate: str):
    """Wait until the textbox under ``selector`` has a value satisfying the JS expression ``predicate`` (of v)."""
    page.wait_for_function(
        f'() => {{ const e = document.querySelector("{selector} textarea, {selector} input");'
        f' const v = e ? e.value : ""; return {predicate}; }}', timeout=TIMEOUT_MS)


def wait_idle(page) -> None:
    """Wait until no output of the page shows Gradio's progress tracker (the outputs have settled)."""
    page.wait_for_function(
        '() => [...document.querySelectorAll(\'[data-testid="status-tracker"]\')]'
        '.every(e => e.classList.contains("hide"))', timeout=TIMEOUT_MS)


def click_image_pixel(page, selector: str, x: float, y: float) -> None:
    """Click pixel (x, y) of the picture shown in ``selector`` (scaled with object-fit: contain)."""
    img = page.locator(f'{selector} img').first
    img.wait_for()
    box = img.bounding_box()
    natural_w, natural_h = img.evaluate('e => [e.naturalWidth, e.naturalHeight]')
    scale = min(box['width'] / natural_w, box['height'] / natural_h)
    left = (box['width'] - natural_w * scale) / 2
    top = (box['height'] - natural_h * scale) / 2
    img.click(position={'x': left + (x + 0.5) * scale, 'y': top + (y + 0.5) * scale})


def test_segment_then_ask_about_a_clicked_point(page, server, default_handlers, artifacts, drawn_circle):
    from unipixel_plugin.inference import PromptObject
    from unipixel_plugin.masks import decode_rle
    from unipixel_plugin.toy import sample_media

    sample = sample_media('image')
    predictor = default_handlers.predictor  # the demo's default: the trained toy

    # 1. the page
    page.wait_for_selector('#seg-run')
    assert default_handlers.note in page.content()
    page.screenshot(path=str(artifacts / '01-loaded.png'), full_page=True)

    # 2. upload the sample picture, segment "the blue circle"
    page.set_input_files('#seg-media input[type=file]', str(sample))
    page.locator('#seg-media a[download="sample.png"]').wait_for()  # uploaded
    page.fill('#seg-query textarea', 'the blue circle')
    page.click('#seg-run')
    wait_value(page, '#seg-answer', 'v.length > 0')
    page.locator('#seg-overlay img').first.wait_for()
    json_link = page.locator('#seg-downloads a[download="sample.json"]')
    json_link.wait_for()
    page.locator('#seg-downloads a[download="sample_masks.zip"]').wait_for()
    wait_idle(page)
    page.screenshot(path=str(artifacts / '02-segmented.png'), full_page=True)
    assert '<|seg|>' in value_of(page, '#seg-answer')

    # the overlay shown is the media's size
    natural = page.locator('#seg-overlay img').first.evaluate('e => [e.naturalWidth, e.naturalHeight]')
    assert natural == [160, 120]

    # 3. the downloaded COCO-RLE record decodes to exactly the predictor's mask for the same input
    with page.expect_download() as download:
        json_link.click()
    saved = artifacts / 'sample.json'
    download.value.save_as(str(saved))
    record = json.loads(saved.read_text())
    direct = predictor.segment(str(sample), 'the blue circle', prompt_type='query')
    assert len(direct.masks) == len(record['objects']) == 1
    expected = direct.masks[0][0]
    got = decode_rle(record['objects'][0]['rle'][0])
    assert got.shape == (120, 160)
    iou = (got & drawn_circle).sum() / (got | drawn_circle).sum()
    assert iou >= 0.5, f'the mask covers the drawn circle with IoU {iou:.2f}'
    assert np.array_equal(got, expected)
    assert record['answer'] == direct.text and '<|seg|>' in record['answer'] and record['prompt'] == direct.prompt

    # 4. region tab: click the circle's centre, ask about [0]
    page.get_by_role('tab', name='Region questions').click()
    page.set_input_files('#region-media input[type=file]', str(sample))
    page.locator('#region-media a[download="sample.png"]').wait_for()
    page.locator('#region-frame img').first.wait_for()
    click_image_pixel(page, '#region-frame', 115, 80)
    wait_value(page, '#region-regions', 'v.includes("[0] point")')
    listed = value_of(page, '#region-regions')
    x, y = (float(v) for v in re.search(r'\[0\] point \(([\d.]+), ([\d.]+)\)', listed).groups())
    assert abs(x - 115) <= 2 and abs(y - 80) <= 2, listed
    wait_idle(page)
    page.screenshot(path=str(artifacts / '03-point-clicked.png'), full_page=True)

    page.fill('#region-question textarea', 'What is [0]?')
    expected_answer = predictor.ask(str(sample), 'What is [0]?', [PromptObject(point=(x, y))]).text
    page.click('#region-run')
    page.locator('#region-overlay img').first.wait_for()
    wait_value(page, '#region-prompt', 'v.length > 0')
    wait_idle(page)
    page.screenshot(path=str(artifacts / '04-answered.png'), full_page=True)
    assert value_of(page, '#region-answer') == expected_answer.strip() or \
        value_of(page, '#region-answer') == expected_answer
    assert value_of(page, '#region-prompt') == 'What is [0] <|ref|>?'
