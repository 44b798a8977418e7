"""The demo's handlers called directly (no browser, no server): outputs match the predictor's, errors are messages."""
import json
import os
import zipfile

import numpy as np
import pytest

pytest.importorskip('gradio')

from unipixel_plugin.demo import DemoLimits, UploadError  # noqa: E402
from unipixel_plugin.demo import regions as region_prompts  # noqa: E402
from unipixel_plugin.inference import PromptObject  # noqa: E402
from unipixel_plugin.masks import decode_rle, encode_rle  # noqa: E402
from unipixel_plugin.prompts import BEST_OPTION_PREFIX, MEM_TOKEN, REF_TOKEN, SEG_ANSWER  # noqa: E402
from unipixel_plugin.toy import sample_media  # noqa: E402

IMAGE, VIDEO = str(sample_media('image')), str(sample_media('video'))
# the sample picture's blue circle (scripts/make_sample_media.py: cv2.circle at (115, 80), radius 18, on frame 0)
CIRCLE_CENTRE, CIRCLE_RADIUS = (115, 80), 18


def test_the_drawn_circle_is_where_the_sample_script_puts_it(drawn_circle):
    ys, xs = np.nonzero(drawn_circle)
    assert abs(xs.mean() - CIRCLE_CENTRE[0]) < 1 and abs(ys.mean() - CIRCLE_CENTRE[1]) < 1
    assert abs(drawn_circle.sum() - np.pi * CIRCLE_RADIUS ** 2) < 0.1 * np.pi * CIRCLE_RADIUS ** 2


# ---------------------------------------------------------------------- tab 1: segmentation
def test_segment_an_image_gives_the_predictors_mask_as_png_zip_and_rle(handlers, demo_predictor):
    views = list(handlers.segment(IMAGE, 'the blue circle', 'auto', SEG_ANSWER))
    assert len(views) == 1 and views[0].done
    view = views[0]
    direct = demo_predictor.segment(IMAGE, 'the blue circle', answer=SEG_ANSWER, prompt_type='query')
    mask = direct.masks[0][0]
    assert mask.sum() > 0, 'the forced <|seg|> gave an empty mask: nothing below would be compared'
    assert view.answer == SEG_ANSWER and view.warnings == []
    assert view.status == '1 object(s) over 1 frame(s)'
    archive, record_path = view.files
    assert archive.endswith('sample_masks.zip') and record_path.endswith('sample.json')
    record = json.loads(open(record_path).read())
    assert record['prompt'] == 'Please segment the blue circle in this image.' == direct.prompt
    assert np.array_equal(decode_rle(record['objects'][0]['rle'][0]), mask)
    with zipfile.ZipFile(archive) as zf:
        assert zf.namelist() == ['sample_obj0_frame00000.png']
        from PIL import Image
        png = np.asarray(Image.open(zf.open('sample_obj0_frame00000.png'))) > 0
    assert np.array_equal(png, mask)
    from PIL import Image
    assert Image.open(view.overlay).size == (160, 120)
    # every file is under the demo's output folder (the only result folder the server serves)
    for path in (view.overlay, archive, record_path):
        assert os.path.commonpath([path, str(handlers.folders.outputs)]) == str(handlers.folders.outputs)


def test_segment_without_seg_token_warns_instead_of_failing(handlers):
    view = list(handlers.segment(IMAGE, 'the blue circle', 'query', 'There is nothing to segment.'))[-1]
    assert view.answer == 'There is nothing to segment.'
    assert view.warnings and '<|seg|>' in view.warnings[0]
    record = json.loads(open(view.files[1]).read())
    assert record['objects'] == []


@pytest.fixture(scope='module')
def short_video(tmp_path_factory):
    """The sample video's first 6 frames (mp4v, as OpenCV writes it): the streaming path in a few seconds."""
    import cv2
    from unipixel_plugin.inference.media import frame_reader
    read, _ = frame_reader(VIDEO)
    path = tmp_path_factory.mktemp('video') / 'short.mp4'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 8, (160, 120))
    for t in range(6):
        writer.write(np.ascontiguousarray(read(t)[..., ::-1]))
    writer.release()
    return str(path)


def test_segment_a_video_streams_every_frame(handlers, demo_predictor, short_video):
    handlers.preview_every = 4
    views = list(handlers.segment(short_video, 'the blue circle', 'query', SEG_ANSWER))
    previews, final = views[:-1], views[-1]
    assert [v.status for v in previews] == ['tracking: frame 1 of 6', 'tracking: frame 5 of 6',
                                            'tracking: frame 6 of 6']
    assert all(not v.done and v.overlay and v.video is None for v in previews)
    assert final.done and final.video and final.video.endswith('short_overlay.mp4')
    record = final.record
    assert record['frame_indices'] == list(range(6))
    direct = list(demo_predictor.segment_stream(short_video, 'the blue circle', answer=SEG_ANSWER))
    assert len(direct) == 6
    for t, (frame_idx, masks, text) in enumerate(direct):
        assert frame_idx == t and text == SEG_ANSWER
        assert record['objects'][0]['rle'][t] == encode_rle(masks[0])
    with zipfile.ZipFile(final.files[0]) as zf:
        assert sorted(zf.namelist()) == [f'short_obj0_frame{t:05d}.png' for t in range(6)]
    assert not list(handlers.folders.outputs.glob('*/preview_*.png')), 'previews are removed once done'
    import av
    with av.open(final.video) as container:  # what a browser plays: H.264 (or VP9), every frame
        assert container.streams.video[0].codec_context.name in ('h264', 'libopenh264', 'vp9')
        assert sum(1 for _ in container.decode(video=0)) == 6


@pytest.mark.parametrize('query', ['', '   '])
def test_empty_query_is_refused(handlers, query):
    with pytest.raises(ValueError, match='query is empty'):
        list(handlers.segment(IMAGE, query))


def test_bad_uploads_are_refused_with_what_to_do(handlers, tmp_path):
    text = tmp_path / 'notes.txt'
    text.write_text('hello')
    with pytest.raises(UploadError, match=r"notes.txt: unsupported file type '.txt'"):
        list(handlers.segment(str(text), 'the dog'))
    corrupt = tmp_path / 'broken.png'
    corrupt.write_bytes(open(IMAGE, 'rb').read()[:200])
    with pytest.raises(UploadError, match='broken.png cannot be decoded as an image'):
        list(handlers.segment(str(corrupt), 'the dog'))
    fake_video = tmp_path / 'clip.mp4'
    fake_video.write_bytes(b'\x00not a video' * 50)
    with pytest.raises(UploadError, match='clip.mp4 cannot be decoded as a video'):
        handlers.open_media(str(fake_video))
    with pytest.raises(UploadError, match='no image or video given'):
        list(handlers.segment(None, 'the dog'))
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    with pytest.raises(UploadError, match='empty'):
        list(handlers.segment(str(empty), 'the dog'))


def test_limits_on_upload_size_and_frames(handlers):
    handlers.limits = DemoLimits(max_upload_mb=0.001)
    with pytest.raises(UploadError, match='at most 0.001 MB'):
        list(handlers.segment(IMAGE, 'the blue circle'))
    handlers.limits = DemoLimits(max_frames=8)
    with pytest.raises(UploadError, match='has 16 frames; this demo tracks at most 8'):
        list(handlers.segment(VIDEO, 'the blue circle'))


# ---------------------------------------------------------------------- clicking regions
def test_points_and_two_click_boxes(handlers):
    state, frame = handlers.open_media(IMAGE)
    assert frame.shape == (120, 160, 3) and state['num_frames'] == 1
    state, drawn, listing = handlers.click(state, region_prompts.POINT, 115, 80)
    assert listing == '[0] point (115, 80) on the image'
    assert not np.array_equal(drawn, frame) and not np.array_equal(drawn[80, 115], frame[80, 115])
    state, _, listing = handlers.click(state, region_prompts.BOX, 60, 70)  # corners in any order
    assert 'click the opposite corner' in listing and len(state['regions']) == 1
    state, _, listing = handlers.click(state, region_prompts.BOX, 20, 30)
    assert listing.splitlines()[1] == '[1] box (20, 30, 60, 70) on the image'
    assert region_prompts.prompt_objects(state) == [PromptObject(point=(115.0, 80.0)),
                                                     PromptObject(box=(20.0, 30.0, 60.0, 70.0))]
    with pytest.raises(ValueError, match='span no area'):
        state2, _, _ = handlers.click(state, region_prompts.BOX, 10, 10)
        handlers.click(state2, region_prompts.BOX, 10, 50)
    state, _, listing = handlers.clear(state)
    assert state['regions'] == [] and listing.startswith('no regions')


def test_a_point_outside_the_frame_is_refused(handlers):
    state, _ = handlers.open_media(IMAGE)
    with pytest.raises(ValueError, match=r'\(200, 10\) is outside the 160x120 frame'):
        handlers.click(state, region_prompts.POINT, 200, 10)
    # a state sent through the API with a point off the frame
    state['regions'] = [{'point': [-5.0, 10.0], 'frame': 0}]
    with pytest.raises(ValueError, match='outside the 160x120 frame'):
        handlers.ask(state, 'What is [0]?')


def test_video_frames_to_click_on_are_the_sampled_ones(handlers, demo_predictor):
    state, _ = handlers.open_media(VIDEO)
    assert state['kind'] == 'video' and state['num_frames'] == 16 and state['indices'] == list(range(16))
    state, picture = handlers.show_frame(state, 5)
    from unipixel_plugin.inference import load_media
    expected = load_media(VIDEO, demo_predictor.sample_frames).frames[5]
    assert np.array_equal(picture, expected)
    state, _, listing = handlers.click(state, region_prompts.POINT, 115, 75)
    assert listing == '[0] point (115, 75) on frame 5 (source frame 5)'
    assert region_prompts.prompt_objects(state) == [PromptObject(point=(115.0, 75.0), frame=5)]
    with pytest.raises(ValueError, match='not one of the 16 sampled frames'):
        handlers.show_frame(state, 16)


# ---------------------------------------------------------------------- tab 2: region questions
def test_ask_about_a_point_and_a_painted_mask(handlers, demo_predictor):
    state, frame = handlers.open_media(IMAGE)
    state, _, _ = handlers.click(state, region_prompts.POINT, 115, 80)
    view = handlers.ask(state, 'What is [0]?')
    direct = demo_predictor.ask(IMAGE, 'What is [0]?', [PromptObject(point=(115.0, 80.0))])
    assert view.answer == direct.text and view.prompt == f'What is [0] {REF_TOKEN}?'
    assert view.overlay.shape == (120, 160, 3)

    painted = np.zeros((120, 160, 4), np.uint8)
    painted[30:70, 20:60, 3] = 255  # the red square, painted as layer 1
    editor = {'background': frame, 'layers': [np.zeros_like(painted), painted], 'composite': frame}
    view = handlers.ask(state, 'Is [0] next to [1]?', editor)
    assert view.prompt.count(MEM_TOKEN) == 1 and view.prompt.count(REF_TOKEN) == 1
    assert view.prompt.startswith('Here is an image with the following highlighted regions:\n[1]:')
    direct = demo_predictor.ask(IMAGE, 'Is [0] next to [1]?', [PromptObject(point=(115.0, 80.0))],
                                masks=[painted[..., 3] > 0])
    assert view.answer == direct.text


def test_ask_needs_a_region_and_a_question(handlers):
    state, _ = handlers.open_media(IMAGE)
    with pytest.raises(ValueError, match='no region to ask about'):
        handlers.ask(state, 'What is [0]?')
    with pytest.raises(ValueError, match='question is empty'):
        handlers.ask(state, ' ')
    with pytest.raises(ValueError, match='upload an image or a video first'):
        handlers.ask(None, 'What is [0]?')


def test_editor_masks_are_resized_to_the_media():
    from unipixel_plugin.demo.handlers import editor_masks
    layer = np.zeros((60, 80, 4), np.uint8)
    layer[10:20, 10:20, 3] = 200
    masks = editor_masks({'layers': [layer, None, np.zeros_like(layer)]}, (120, 160))
    assert len(masks) == 1 and masks[0].shape == (120, 160) and masks[0].sum() == 400
    assert editor_masks(None, (120, 160)) == []


# ---------------------------------------------------------------------- tab 3: PixelQA
def test_pixelqa_runs_both_passes_through_the_memory_bank(handlers, demo_predictor):
    from unipixel_plugin.inference import Conversation
    state, _ = handlers.open_media(IMAGE)
    state, _, _ = handlers.click(state, region_prompts.POINT, 115, 80)
    state, _, _ = handlers.click(state, region_prompts.BOX, 20, 30)
    state, _, _ = handlers.click(state, region_prompts.BOX, 60, 70)
    options = '(A) a square\n(B) a circle'
    view = handlers.pixelqa(state, 'What shape is [0]?', options)

    conv = Conversation(demo_predictor, IMAGE)
    ids = conv.localize('What shape is [0]?', region_prompts.prompt_objects(state), ['(A) a square', '(B) a circle'])
    located = conv.history[-1]
    answer = conv.ask('What shape is [0]?', objects=ids, options=['(A) a square', '(B) a circle'])
    assert view.localized == located.text == '[1] <|seg|> [0] <|seg|>'  # region [1] is unmentioned: first
    assert view.object_ids == ids == [1, 0]
    assert view.answer == BEST_OPTION_PREFIX + answer.text
    assert view.mask_areas == [int(conv.bank[i].masks.sum()) for i in ids]
    assert all(area > 0 for area in view.mask_areas), 'pass 1 masks are what the memory bank carries to pass 2'
    from PIL import Image
    assert Image.open(view.overlay).size == (160, 120)


def test_pixelqa_needs_options_and_objects(handlers):
    state, _ = handlers.open_media(IMAGE)
    with pytest.raises(ValueError, match='at least two options'):
        handlers.pixelqa(state, 'What is [0]?', '(A) one')
    with pytest.raises(ValueError, match='no object to ask about'):
        handlers.pixelqa(state, 'What is [0]?', '(A) one\n(B) two')
