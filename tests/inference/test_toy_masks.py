"""Mask comparisons on masks that mean something: the trained toy (the package's default model) segments toy
scenes from generation, and every compared mask is first checked to cover its object with real area."""
import numpy as np
import pytest

from unipixel_plugin.inference import Conversation
from unipixel_plugin.toy.scenes import render, sample_scene

MIN_AREA = 0.05  # of the frame


def toy_images(seed, count):
    """``count`` (image, expression, ground-truth mask) of fresh toy scenes: each scene's largest object by its
    colour + shape, kept when that object covers at least 6% of the frame."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        scene = sample_scene(rng, f's{len(out)}', 112, 1)
        frames, visible = render(scene)
        areas = visible[:, 0].mean((1, 2))
        k = int(areas.argmax())
        if areas[k] >= 0.06:
            out.append((frames[0], scene.objects[k].expressions[0][0], visible[k, 0]))
    return out


def iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def assert_real_mask(mask, target=None):
    mask = np.asarray(mask, bool)
    assert mask.mean() >= MIN_AREA, f'mask covers {mask.mean():.3f} of the frame'
    if target is not None:
        assert iou(mask, target) >= 0.5, f'IoU with the referred object {iou(mask, target):.2f}'


def test_batch_equals_single_on_masks_that_follow_the_query(toy_predictor):
    from tests.inference.test_predictor import assert_masks_match
    items = toy_images(7, 4)
    media, queries = [i[0] for i in items], [i[1] for i in items]
    batched = toy_predictor.segment_batch(media, queries, batch_size=4)
    for (image, query, target), b in zip(items, batched):
        s = toy_predictor.segment(image, query)
        assert b.text == s.text and b.text.count('<|seg|>') == 1  # generated, not teacher-forced
        assert_real_mask(s.masks[0][0], target)
        assert_real_mask(b.masks[0][0], target)
        assert_masks_match(b, s)


def test_two_queries_on_one_image_give_two_different_objects(toy_predictor):
    rng = np.random.default_rng(11)
    while True:
        scene = sample_scene(rng, 'pair', 112, 1)
        frames, visible = render(scene)
        areas = visible[:, 0].mean((1, 2))
        big = [k for k in np.argsort(-areas) if areas[k] >= 0.06][:2]
        if len(big) == 2:
            break
    for k in big:
        result = toy_predictor.segment(frames[0], scene.objects[k].expressions[0][0])
        assert_real_mask(result.masks[0][0], visible[k, 0])


def test_conversation_turn_masks_enter_the_memory_bank(toy_predictor):
    image, query, target = toy_images(5, 1)[0]
    conv = Conversation(toy_predictor, image[None])
    ids = conv.segment(query)
    assert ids == [0] and conv.bank[0].label == query
    assert_real_mask(conv.bank[0].masks[0], target)
    answer = conv.ask('What colour is [0]?', objects=[0])
    assert '[0]: <|mem|>' in answer.prompt and answer.prompt.count('<|mem|>') == 1


@pytest.mark.parametrize('query', ['the blue circle', 'the red square'])
def test_the_sample_picture_answers_the_query(toy_predictor, query):
    import cv2
    from unipixel_plugin.toy import sample_media
    target = np.zeros((120, 160), np.uint8)
    if 'circle' in query:
        cv2.circle(target, (115, 80), 18, 1, -1)  # scripts/make_sample_media.py, frame 0
    else:
        cv2.rectangle(target, (20, 30), (60, 70), 1, -1)
    result = toy_predictor.segment(str(sample_media('image')), query)
    assert result.text.count('<|seg|>') == 1
    mask = np.asarray(result.masks[0][0], bool)
    assert mask.mean() >= 0.02 and iou(mask, target.astype(bool)) >= 0.5


def test_sam2_in_bfloat16_gives_the_float32_masks(toy_checkpoint):
    """Upstream's evaluation numerics (SAM 2 in bf16) on masks with real area: nearly the float32 masks."""
    import torch
    from unipixel_plugin.inference import UniPixelPredictor
    from unipixel_plugin.toy.model import LLM_PIXELS
    kwargs = dict(device='cpu', dtype='fp32', min_pixels=LLM_PIXELS, max_pixels=LLM_PIXELS, max_new_tokens=12)
    bf16 = UniPixelPredictor.from_pretrained(str(toy_checkpoint), sam2_dtype='bf16', **kwargs)
    fp32 = UniPixelPredictor.from_pretrained(str(toy_checkpoint), **kwargs)
    assert next(bf16.model.sam2.parameters()).dtype == torch.bfloat16
    assert next(fp32.model.sam2.parameters()).dtype == torch.float32
    for image, query, target in toy_images(3, 2):
        a, b = fp32.segment(image, query), bf16.segment(image, query)
        assert_real_mask(a.masks[0][0], target)
        assert_real_mask(b.masks[0][0], target)
        assert iou(np.asarray(a.masks[0], bool), np.asarray(b.masks[0], bool)) >= 0.9


def test_lmms_eval_adapter_takes_sam2_dtype(toy_checkpoint):
    import torch
    from unipixel_plugin.evaluation.lmms.adapter import UniPixelLMM
    model = UniPixelLMM(pretrained=str(toy_checkpoint), device='cpu', dtype='fp32', sam2_dtype='bf16')
    assert next(model.predictor.model.sam2.parameters()).dtype == torch.bfloat16
    assert model.settings['sam2_dtype'] == 'bf16'
