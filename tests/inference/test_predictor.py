"""The predictor API: single and batched requests (equal results), streaming long videos, per-item errors,
multi-turn conversations through the object memory bank, and the outputs (RLE, PNG, overlays)."""
import json

import cv2
import numpy as np
import pytest
import torch

from unipixel_plugin.inference import Conversation, RequestError, UniPixelPredictor
from unipixel_plugin.inference.media import MediaError
from unipixel_plugin.inference import PromptObject


@pytest.fixture(scope='module')
def predictor(tiny_model, tiny_processor):
    return UniPixelPredictor(tiny_model, tiny_processor, min_pixels=56 * 56, max_pixels=112 * 112,
                             max_new_tokens=6, keep_logits=True)


def scene(t=0, h=60, w=90, shift=0):
    img = np.full((h, w, 3), 25, dtype=np.uint8)
    img[10:35, 10 + 3 * t + shift:35 + 3 * t + shift] = (220, 30, 30)
    img[30:55, 55:80] = (30, 60, 220)
    return img


def write_video(path, frames=24, h=60, w=90):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 8, (w, h))
    for t in range(frames):
        writer.write(np.ascontiguousarray(scene(t % 10, h, w)[..., ::-1]))
    writer.release()
    return path


def assert_masks_match(a, b):
    """Masks of two runs may differ only at pixels whose logit lies within 1e-4 of the threshold (0)."""
    assert len(a.masks) == len(b.masks)
    for ma, mb, la, lb in zip(a.masks, b.masks, a.logits, b.logits):
        assert ma.shape == mb.shape
        differ = ma != mb
        assert (np.minimum(np.abs(la), np.abs(lb))[differ] < 1e-4).all()


def test_segment_image_teacher_forced(predictor):
    result = predictor.segment(scene(), 'red square', answer='Sure, it is <|seg|>.')
    assert result.prompt == 'Please segment the red square in this image.'
    assert len(result.masks) == 1 and result.masks[0].shape == (1, 60, 90) and result.masks[0].dtype == bool
    assert result.prompts[0].shape == (2, 256)
    record = json.loads(json.dumps(result.to_record()))
    from unipixel_plugin.masks import decode_rle
    assert np.array_equal(decode_rle(record['objects'][0]['rle'][0]), result.masks[0][0])


def test_several_seg_tokens_give_several_mask_tracks(predictor):
    frames = np.stack([scene(t) for t in range(4)])
    result = predictor.segment(frames, 'Please segment the squares.', answer='They are <|seg|> and <|seg|>.',
                               prompt_type='raw')
    assert [m.shape for m in result.masks] == [(4, 60, 90)] * 2


def test_batched_generation_equals_one_at_a_time(predictor):
    media = [scene(0), np.stack([scene(t) for t in range(4)]), scene(0, shift=20), scene(0, h=56, w=84)]
    queries = ['red square', 'blue square', 'the thing on the left', 'square']
    batched = predictor.segment_batch(media, queries, batch_size=4)
    single = [predictor.segment(m, q) for m, q in zip(media, queries)]
    assert single[2].prompt == 'Please segment the thing on the left in this image.'
    for b, s in zip(batched, single):
        assert b.text == s.text and b.prompt == s.prompt
        assert_masks_match(b, s)


def test_batched_teacher_forced_masks_equal_single(predictor):
    media = [scene(0), scene(0, shift=25), np.stack([scene(t) for t in range(4)])]
    batched = predictor.segment_batch(media, ['red square'] * 3, answer='Sure, it is <|seg|>.')
    for m, b in zip(media, batched):
        s = predictor.segment(m, 'red square', answer='Sure, it is <|seg|>.')
        assert torch.allclose(b.prompts[0], s.prompts[0], atol=1e-4)
        assert_masks_match(b, s)
        assert b.logits[0].shape == b.masks[0].shape and np.array_equal(b.logits[0] > 0, b.masks[0])


def test_bad_items_in_a_batch_are_reported_and_the_rest_run(predictor, tmp_path):
    broken = tmp_path / 'broken.mp4'
    broken.write_bytes(b'not a video at all')
    results = predictor.segment_batch([scene(), str(tmp_path / 'missing.png'), str(broken), scene()],
                                      ['red square', 'red square', 'red square', ''], answer='It is <|seg|>.')
    assert not isinstance(results[0], RequestError) and len(results[0].masks) == 1
    assert isinstance(results[1], RequestError) and 'missing.png' in results[1].error
    assert isinstance(results[2], RequestError) and 'broken.mp4' in results[2].error
    assert isinstance(results[3], RequestError) and 'query is empty' in results[3].error


def test_single_request_errors_name_the_input(predictor, tmp_path):
    with pytest.raises(MediaError, match='nothing.jpg'):
        predictor.segment(str(tmp_path / 'nothing.jpg'), 'dog')
    empty = tmp_path / 'frames'
    empty.mkdir()
    with pytest.raises(MediaError, match='holds no'):
        predictor.segment(str(empty), 'dog')
    with pytest.raises(ValueError, match='outside the 90x60 frame'):
        predictor.ask(scene(), 'What is it?', [PromptObject(point=(200, 10))])
    with pytest.raises(ValueError, match='2 <\\|ref\\|> placeholders for 1 regions'):
        predictor.ask(scene(), 'Is [0] <|ref|> left of [1] <|ref|>?', [PromptObject(point=(20, 20))])


def test_region_questions_batch_and_single_agree(predictor):
    from unipixel_plugin.inference import Request
    reqs = [Request(scene(), 'What is [0] <|ref|>?', (PromptObject(point=(20, 20)), )),
            Request(np.stack([scene(t) for t in range(4)]), 'Compare them.',
                    (PromptObject(box=(50, 25, 85, 58), frame=1), PromptObject(point=(15, 15), frame=3)))]
    batched = predictor.run(reqs)
    single = [predictor.run([r])[0] for r in reqs]
    assert [b.text for b in batched] == [s.text for s in single]


def test_stream_long_video_yields_every_frame_in_order(predictor, tmp_path):
    video = write_video(tmp_path / 'long.mp4', frames=24)
    seen = []
    for frame_idx, masks, text in predictor.segment_stream(str(video), 'red square', sample_frames=4,
                                                           answer='Sure, it is <|seg|>.', keep_memories=8):
        assert masks.shape == (1, 60, 90) and masks.dtype == bool and text == 'Sure, it is <|seg|>.'
        seen.append(frame_idx)
    assert seen == list(range(24))


def test_stream_frame_folder_matches_in_memory_tracking(predictor, tmp_path):
    folder = tmp_path / 'frames'
    folder.mkdir()
    frames = np.stack([scene(t) for t in range(6)])
    for t, f in enumerate(frames):
        cv2.imwrite(str(folder / f'{t:05d}.png'), f[..., ::-1])
    streamed = np.stack([m[0] for _, m, _ in predictor.segment_stream(str(folder), 'red square', sample_frames=6,
                                                                      answer='Sure, it is <|seg|>.',
                                                                      keep_memories=None)])
    whole = predictor.segment(str(folder), 'red square', sample_frames=6, answer='Sure, it is <|seg|>.')
    assert streamed.shape == whole.masks[0].shape
    assert (streamed != whole.masks[0]).mean() < 1e-3


def test_conversation_keeps_objects_across_turns(predictor):
    frames = np.stack([scene(t) for t in range(4)])
    conv = Conversation(predictor, frames)
    first = conv.segment('red square', answer='Sure, it is <|seg|>.')
    assert first == [0] and conv.bank[0].label == 'red square'
    more = conv.localize('What are these?', [PromptObject(point=(60, 40)), PromptObject(box=(5, 5, 40, 40))])
    assert more == [1, 2] and conv.bank[2].masks.shape == (4, 60, 90)
    answer = conv.ask('What is [0] doing next to [2]?', objects=[0, 2])
    assert answer.prompt.startswith('Here is a video with 4 frames denoted as <1> to <4>.')
    assert '[0]: ' in answer.prompt and '[2]: ' in answer.prompt and '<|mem|>' in answer.prompt
    with pytest.raises(KeyError, match='object 9'):
        conv.ask('What is [9]?', objects=[9])


def test_mask_prompts_become_mem_objects(predictor):
    frames = np.stack([scene(t) for t in range(4)])
    mask = np.zeros((60, 90), dtype=bool)
    mask[10:35, 10:35] = True
    result = predictor.ask(frames, 'What is [1] doing?', regions=[PromptObject(point=(60, 40))], masks=[mask],
                           mask_frame=2, answer='It moves.')
    assert '[1]: <3>-<4> <|mem|>' in result.prompt and result.prompt.count('<|mem|>') == 1
    with pytest.raises(ValueError, match='mask 0 is 10x10 but the media is 90x60'):
        predictor.ask(frames, 'What?', masks=[np.ones((10, 10), bool)])
    with pytest.raises(ValueError, match='mask 0 is empty'):
        predictor.ask(frames, 'What?', masks=[np.zeros((60, 90), bool)])


def test_pixelqa_two_passes_with_upstream_prompts(predictor):
    frames = np.stack([scene(t) for t in range(4)])
    conv = Conversation(predictor, frames)
    ids = conv.localize('What is [0] doing to [1]?', [PromptObject(point=(20, 20)), PromptObject(point=(65, 40))],
                        options=['(A) pushing', '(B) chasing'])
    assert ids == [0, 1]
    first = conv.history[-1].prompt
    assert first == ('What is [0] <|ref|> doing to [1] <|ref|>?\nOptions:\n(A) pushing\n(B) chasing. '
                     'Please localize the relevant objects with IDs.')
    assert conv.history[-1].text == '[0] <|seg|> [1] <|seg|>'
    result = conv.ask('What is [0] doing to [1]?', objects=[0, 1], options=['(A) pushing', '(B) chasing'])
    assert result.prompt.endswith('(B) chasing\nPlease only give the best option.')
    assert result.prompt.count('<|mem|>') >= 2


def test_sam2_can_track_every_frame_while_the_llm_sees_a_sample(tiny_model, tiny_processor, tmp_path):
    video = write_video(tmp_path / 'clip.mp4', frames=10)
    every = UniPixelPredictor(tiny_model, tiny_processor, min_pixels=56 * 56, max_pixels=112 * 112,
                              sam2_frames='all')
    result = every.segment(str(video), 'red square', sample_frames=4, answer='Sure, it is <|seg|>.')
    assert result.frame_indices == list(range(10)) and result.masks[0].shape == (10, 60, 90)
    assert len(result.media.frames) == 4  # the LLM still sees 4 uniformly sampled frames
    streamed = np.stack([m[0] for _, m, _ in every.segment_stream(str(video), 'red square', sample_frames=4,
                                                                 answer='Sure, it is <|seg|>.', keep_memories=None)])
    assert (streamed != result.masks[0]).mean() < 1e-3
    with pytest.raises(ValueError, match="'sampled' or 'all'"):
        UniPixelPredictor(tiny_model, tiny_processor, sam2_frames='some')


def test_a_list_of_frame_files_is_a_video_of_exactly_those_frames(tiny_model, tiny_processor, tmp_path):
    from PIL import Image
    for t in range(8):
        Image.fromarray(scene(t)).save(tmp_path / f'{t:05d}.jpg')
    chosen = [str(tmp_path / f'{t:05d}.jpg') for t in (0, 2, 3, 7, 7)]  # a benchmark's pick, a repeat included
    every = UniPixelPredictor(tiny_model, tiny_processor, min_pixels=56 * 56, max_pixels=112 * 112,
                              sam2_frames='all')
    result = every.segment(chosen, 'red square', sample_frames=3, answer='Sure, it is <|seg|>.')
    # SAM 2 tracks the 5 listed frames (not the folder's 8); the LLM sees 3 of them, sampled as upstream
    assert result.frame_indices == list(range(5)) and result.masks[0].shape == (5, 60, 90)
    assert result.media.indices == [0, 2, 4] and result.media.total_frames == 5
    assert (result.media.frames[1] == np.asarray(Image.open(chosen[2]))).all()


def test_prompt_types_render_upstream_templates(predictor):
    kwargs = dict(answer='Sure, it is <|seg|>.')
    assert predictor.segment(scene(), 'the dog on the left', **kwargs).prompt == \
        'Please segment the dog on the left in this image.'  # README's example, no "the the"
    assert predictor.segment(scene(), 'Where is it?', prompt_type='sentence', **kwargs).prompt == \
        'Where is it? Please provide the segmentation mask.'
    assert predictor.segment(scene(), 'Segment it.', prompt_type='raw', **kwargs).prompt == 'Segment it.'
    with pytest.raises(ValueError, match='unknown query_type'):
        predictor.segment(scene(), 'x', prompt_type='caption', **kwargs)


def test_region_mentions_carry_the_ref_tokens_in_text_order(predictor):
    from unipixel_plugin.inference.predictor import Request
    a, b = PromptObject(point=(20, 20)), PromptObject(box=(40, 10, 80, 50))
    prepared = predictor._prepare(Request(scene(), 'Is [1] left of [0]?', (a, b)), None, False)
    assert prepared.text == 'Is [1] <|ref|> left of [0] <|ref|>?'
    coords, labels, _ = prepared.prompts
    # the first <|ref|> is region 1's (a box: two corners, labels 2 and 3), the second region 0's point
    assert coords[0].shape == (1, 2, 2) and labels[0].tolist() == [[2, 3]]
    assert coords[1].shape == (1, 1, 2) and labels[1].tolist() == [[1]]
    unnamed = predictor._prepare(Request(scene(), 'What is this?', (a, )), None, False)
    assert unnamed.text == '[0] <|ref|> What is this?'

