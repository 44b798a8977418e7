"""The three prompt kinds, <|seg|> decoding for images and videos, generation, and the one-ViT-pass rule."""
import pytest
import torch

from unipixel_plugin.models.object_memory import mem_prompt_prefix, refer_mask_from_masks
from unipixel_plugin.models.processing_unipixel import PromptObject, prompt_tensors

UPSTREAM_RENDERED = ('<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n'
                     '<|vision_start|><|video_pad|><|vision_end|>Please segment the red square in this image.'
                     '<|im_end|>\n<|im_start|>assistant\nSure, it is <|seg|>.<|im_end|>\n')


def run(model, data, **extra):
    with torch.inference_mode():
        return model(**data, **extra)


def test_chat_template_renders_exactly_like_upstream(build_inputs):
    text = build_inputs.render('Please segment the red square in this image.', 'Sure, it is <|seg|>.')
    assert text == UPSTREAM_RENDERED
    prompt = build_inputs.render('Please segment the red square in this image.')
    assert prompt == UPSTREAM_RENDERED[:UPSTREAM_RENDERED.index('Sure')]


def test_image_is_a_two_frame_video_with_upstream_timing(build_inputs, image_frames):
    data = build_inputs(image_frames, 'Please segment the red square in this image.')
    assert data['video_grid_thw'].tolist() == [[1, 4, 6]]  # 60x90 -> 56x84 -> (2 frames / 2, 56/14, 84/14)
    assert data['second_per_grid_ts'].tolist() == [1.0]
    assert int((data['input_ids'] == 273).sum()) == 6  # <|video_pad|> tokens = 1*4*6/4
    assert data['frames'][0].shape == (1, 3, 256, 256) and tuple(data['frame_size'][0]) == (60, 90)


def test_seg_image_mask_shape_and_determinism(tiny_model, build_inputs, image_frames):
    data = build_inputs(image_frames, 'Please segment the red square in this image.', response='Sure, it is <|seg|>.')
    run(tiny_model, data)
    assert len(tiny_model.seg) == 1
    first = tiny_model.seg[0].clone()
    assert first.shape == (1, 1, 60, 90) and first.dtype == torch.bool
    run(tiny_model, data)
    assert torch.equal(first, tiny_model.seg[0])


def test_seg_video_tracks_every_frame_and_each_seg_token_is_decoded(tiny_model, build_inputs, video_frames):
    data = build_inputs(video_frames, 'Please segment the squares in this video.',
                        response='Sure, they are <|seg|> and <|seg|>.')
    run(tiny_model, data)
    assert [tuple(m.shape) for m in tiny_model.seg] == [(1, 4, 60, 90)] * 2


def test_seg_hidden_state_is_the_pre_norm_state_predicting_seg(tiny_model, build_inputs, image_frames):
    data = build_inputs(image_frames, 'Please segment the red square in this image.', response='Sure, it is <|seg|>.')
    out = run(tiny_model, data, output_hidden_states=True)
    ids = data['input_ids'][0]
    pos = int((ids == tiny_model.config.seg_token_id).nonzero()[0]) - 1
    pre_norm = tiny_model._captured['pre_norm'][0, pos]
    # the final norm of that state gives the last hidden state the LM head reads
    normed = tiny_model.model.language_model.norm(pre_norm[None])[0]
    assert torch.allclose(normed, out.hidden_states[-1][0, pos], atol=1e-5)
    prompt = tiny_model.seg_head(pre_norm)
    assert prompt.shape == (2, 256)


def test_vision_tower_runs_once_per_forward(tiny_model, build_inputs, image_frames):
    calls = []
    handle = tiny_model.model.visual.register_forward_hook(lambda *a: calls.append(1))
    try:
        data = build_inputs(image_frames, 'Here is an image with the following highlighted regions:\n[0]: <|mem|>\n'
                            'What is [0]?')
        mask = torch.zeros(1, 1, 60, 90)
        mask[0, 0, 10:30, 10:30] = 1
        data['refer_mask'] = [refer_mask_from_masks(mask, data['video_grid_thw'])]
        run(tiny_model, data)
    finally:
        handle.remove()
    assert len(calls) == 1


def test_mm_token_type_ids_are_derived_for_upstream_style_inputs(tiny_model, build_inputs, image_frames):
    data = build_inputs(image_frames, 'Please segment the red square in this image.')
    with_types = run(tiny_model, data).logits
    data.pop('mm_token_type_ids')
    without = run(tiny_model, data).logits
    assert torch.equal(with_types, without)
    # and M-RoPE matters: text-only positions give other logits
    from transformers import Qwen2_5_VLForConditionalGeneration
    plain = Qwen2_5_VLForConditionalGeneration.forward(tiny_model, **{k: v for k, v in data.items()
                                                                      if k not in ('frames', 'frame_size')})
    assert not torch.allclose(plain.logits, without)


def _ref_rows(model, data):
    rows = {}

    def grab(module, args, kwargs):
        rows['embeds'] = kwargs['inputs_embeds'][0]
    handle = model.model.language_model.register_forward_pre_hook(grab, with_kwargs=True)
    try:
        out = run(model, data)
    finally:
        handle.remove()
    return rows['embeds'], out


def test_point_and_box_prompts_fill_ref_tokens(tiny_model, build_inputs, video_frames):
    text = 'Here are [0] <|ref|> and [1] <|ref|>. What are they doing?'
    data = build_inputs(video_frames, text)
    regions = [PromptObject(point=(20, 20), frame=0), PromptObject(box=(10, 10, 40, 35), frame=2)]
    coords, labels, frames = prompt_tensors(regions, (60, 90), 256, 4)
    assert coords[0].shape == (1, 1, 2) and coords[0].dtype == torch.float32
    assert coords[1].shape == (1, 2, 2) and coords[1].dtype == torch.int32 and labels[1].tolist() == [[2, 3]]
    data.update(point_coords=[coords], point_labels=[labels], point_frames=[frames])
    embeds, out = _ref_rows(tiny_model, data)
    ref_rows = embeds[data['input_ids'][0] == tiny_model.config.ref_token_id]
    expected = tiny_model.visual_prompt_encoder(coords, labels, frames[0], num_frames=4)
    assert torch.allclose(ref_rows, expected, atol=1e-6)
    assert not torch.allclose(ref_rows[0], ref_rows[1])
    # moving the point changes the embedding
    moved, _, _ = prompt_tensors([PromptObject(point=(70, 50))], (60, 90), 256, 4)
    other = tiny_model.visual_prompt_encoder(moved, labels[:1], frames[0][:1], num_frames=4)
    assert not torch.allclose(other[0], expected[0])


def test_ref_token_count_must_match_prompts(tiny_model, build_inputs, image_frames):
    data = build_inputs(image_frames, 'What is [0] <|ref|> and [1] <|ref|>?')
    coords, labels, frames = prompt_tensors([PromptObject(point=(5, 5))], (60, 90), 256, 1)
    data.update(point_coords=[coords], point_labels=[labels], point_frames=[frames])
    with pytest.raises(ValueError, match='2 <\\|ref\\|> tokens but 1 embeddings'):
        run(tiny_model, data)


def test_prompt_outside_the_frame_is_rejected():
    with pytest.raises(ValueError, match='outside the 90x60 frame'):
        prompt_tensors([PromptObject(point=(95, 10))], (60, 90), 256, 1, source='photo.jpg')
    with pytest.raises(ValueError, match='frame 5 but the media has 4'):
        prompt_tensors([PromptObject(point=(5, 10), frame=5)], (60, 90), 256, 4)


@pytest.mark.parametrize('window_order', [True, False])
def test_mask_prompts_fill_mem_tokens_in_the_chosen_order(tiny_model, build_inputs, video_frames, window_order):
    masks = torch.zeros(4, 1, 60, 90)
    masks[:, 0, 5:55, 5:20] = 1  # the left column of merged patches: window order != raster order there
    probe = build_inputs(video_frames, 'x')
    refer = refer_mask_from_masks(masks, probe['video_grid_thw'])
    assert refer.shape == (2, 1, 2, 3) and refer.dtype == torch.bool
    prefix = mem_prompt_prefix(refer, num_frames=4)
    assert prefix.count('<|mem|>') == 2 and '<1>-<2> <|mem|>' in prefix and '<3>-<4> <|mem|>' in prefix
    data = build_inputs(video_frames, prefix + 'What is [0] doing?')
    data['refer_mask'] = [refer]
    old = tiny_model.config.mem_window_order
    tiny_model.config.mem_window_order = window_order
    try:
        embeds, _ = _ref_rows(tiny_model, data)
    finally:
        tiny_model.config.mem_window_order = old
    mem_rows = embeds[data['input_ids'][0] == tiny_model.config.mem_token_id]
    # recompute by hand: merger-MLP inputs, window order as captured or put back into raster order
    feats = tiny_model._captured['merger_input']
    if not window_order:
        from unipixel_plugin.models.object_memory import raster_to_window_order
        window = raster_to_window_order(data['video_grid_thw'][0], 2, tiny_model.model.visual.window_size, 14)
        feats = feats[torch.argsort(window)]
    step = 6
    flat = refer[:, 0].reshape(2, step)
    pooled = torch.stack([feats[t * step:(t + 1) * step][flat[t]].mean(0) for t in range(2)])
    assert torch.allclose(mem_rows, tiny_model.msk_proj(pooled), atol=1e-5)
    # the other order gives other embeddings (so the switch matters for the official weights)
    other = tiny_model._captured['merger_input']
    if window_order:
        from unipixel_plugin.models.object_memory import raster_to_window_order
        window = raster_to_window_order(data['video_grid_thw'][0], 2, tiny_model.model.visual.window_size, 14)
        other = other[torch.argsort(window)]
    pooled_other = torch.stack([other[t * step:(t + 1) * step][flat[t]].mean(0) for t in range(2)])
    assert not torch.allclose(mem_rows, tiny_model.msk_proj(pooled_other), atol=1e-4)


def test_window_and_raster_order_really_differ(tiny_model):
    from unipixel_plugin.models.object_memory import raster_to_window_order
    window = raster_to_window_order(torch.tensor([2, 4, 6]), 2, tiny_model.model.visual.window_size, 14)
    assert not torch.equal(window, torch.arange(12))  # 56-px windows split the 2x3 merged grid
    assert sorted(window.tolist()) == list(range(12))


def test_empty_refer_mask_needs_no_mem_tokens(tiny_model, build_inputs, image_frames):
    data = build_inputs(image_frames, 'What is [0] <|mem|>?')
    data['refer_mask'] = [torch.zeros(1, 1, 2, 3, dtype=torch.bool)]
    with pytest.raises(ValueError, match='1 <\\|mem\\|> tokens but 0 embeddings'):
        run(tiny_model, data)


def test_greedy_generation_decodes_a_mask_per_generated_seg(tiny_model, build_inputs, image_frames):
    data = build_inputs(image_frames, 'Please segment the red square in this image.')
    prompt_len = data['input_ids'].shape[1]
    with torch.inference_mode():
        ids = tiny_model.generate(**data, do_sample=False, max_new_tokens=6, temperature=None, top_p=None,
                                  top_k=None)
        again = tiny_model.generate(**data, do_sample=False, max_new_tokens=6, temperature=None, top_p=None,
                                    top_k=None)
    assert torch.equal(ids, again)
    new = ids[0, prompt_len:]
    assert len(tiny_model.seg) == int((new[:-1] == tiny_model.config.seg_token_id).sum()) + \
        int(new[-1] == tiny_model.config.seg_token_id)


def test_generated_seg_tokens_really_decode_masks(tiny_model, build_inputs, image_frames, force_seg):
    """The random tiny model never emits <|seg|> by itself: boost its logit from the third step on (a hook on
    lm_head, so the raw logits the model checks agree with what greedy decoding picks) and check that every
    generated <|seg|> gave one mask, decoded from the state of that decode step."""
    seg = tiny_model.config.seg_token_id
    data = build_inputs(image_frames, 'Please segment the red square in this image.')
    prompt_len = data['input_ids'].shape[1]
    with force_seg(tiny_model, from_call=3), torch.inference_mode():  # prefill and the first decode step unchanged
        ids = tiny_model.generate(**data, do_sample=False, max_new_tokens=4, temperature=None, top_p=None,
                                  top_k=None)
    new = ids[0, prompt_len:]
    assert int((new == seg).sum()) >= 2 and new[0] != seg  # the path under test was taken
    emitted = int((new[:-1] == seg).sum()) + int(new[-1] == seg)
    assert len(tiny_model.seg) == emitted and len(tiny_model.seg_prompts) == emitted
    assert all(m.shape == (1, 1, 60, 90) and m.dtype == torch.bool for m in tiny_model.seg)
    # different decode-step states give different SAM 2 prompts
    assert not torch.allclose(tiny_model.seg_prompts[0], tiny_model.seg_prompts[1])


def test_generate_teacher_forced_seg_in_prompt_is_decoded_once(tiny_model, build_inputs, image_frames):
    data = build_inputs(image_frames, 'Please segment the red square in this image.', response='Sure, it is <|seg|>.')
    with torch.inference_mode():
        ids = tiny_model.generate(**data, do_sample=False, max_new_tokens=2, temperature=None, top_p=None,
                                  top_k=None)
    generated = ids[0, data['input_ids'].shape[1]:]
    assert len(tiny_model.seg) == 1 + int((generated == tiny_model.config.seg_token_id).sum())


def test_bf16_language_model_forward_on_cpu(tiny_ckpt, build_inputs, image_frames):
    from unipixel_plugin.models import PixelQwen2_5_VLForConditionalGeneration
    model = PixelQwen2_5_VLForConditionalGeneration.from_pretrained(str(tiny_ckpt), dtype=torch.bfloat16).eval()
    data = build_inputs(image_frames, 'Where is [0] <|ref|>?', response='Here <|seg|>.')
    coords, labels, frames = prompt_tensors([PromptObject(box=(10, 10, 30, 30))], (60, 90), 256, 1)
    data.update(point_coords=[coords], point_labels=[labels], point_frames=[frames])
    out = run(model, data)
    assert out.logits.dtype == torch.bfloat16 and torch.isfinite(out.logits.float()).all()
    assert model.seg[0].shape == (1, 1, 60, 90)


def test_pixelqa_two_pass_flow_through_the_object_memory_bank(tiny_model, build_inputs, video_frames):
    from unipixel_plugin.models import ObjectMemoryBank
    # pass 1: <|ref|> prompts, teacher-forced "[id] <|seg|>" answers -> one mask track per object
    data = build_inputs(video_frames, 'What is [0] <|ref|> doing with [1] <|ref|>?\nPlease localize the relevant '
                        'objects with IDs.', response='[0] <|seg|> [1] <|seg|>')
    coords, labels, frames = prompt_tensors([PromptObject(point=(20, 20)), PromptObject(box=(40, 5, 80, 50))],
                                            (60, 90), 256, 4)
    data.update(point_coords=[coords], point_labels=[labels], point_frames=[frames])
    run(tiny_model, data)
    bank = ObjectMemoryBank()
    ids = bank.add_from_model(tiny_model, obj_ids=[0, 1])
    assert ids == [0, 1] and bank[1].masks.shape == (4, 60, 90) and bank[0].prompt.shape == (2, 256)
    # pass 2: the remembered objects become <|mem|> tokens
    probe = build_inputs(video_frames, 'x')
    prefix, refer = bank.inputs([0, 1], probe['video_grid_thw'], num_frames=4)
    assert refer.shape == (2, 2, 2, 3)
    assert prefix.startswith('Here is a video with 4 frames denoted as <1> to <4>.') and '[1]: ' in prefix
    data2 = build_inputs(video_frames, prefix + 'What is [0] doing?', suffix='The best option is (')
    data2['refer_mask'] = [refer]
    out = run(tiny_model, data2)
    assert int((data2['input_ids'] == tiny_model.config.mem_token_id).sum()) == int(refer.flatten(2).any(-1).sum())
    assert torch.isfinite(out.logits).all()
    with pytest.raises(KeyError, match='object 7 is not in the memory bank'):
        bank.inputs([7], probe['video_grid_thw'])


def test_generate_with_ref_and_mem_prompts_encodes_once_and_matches_forward(tiny_model, build_inputs, video_frames):
    data = build_inputs(video_frames, 'What is [0] <|ref|> and [1] <|mem|> <|mem|>?')
    coords, labels, frames = prompt_tensors([PromptObject(point=(5, 5), frame=2)], (60, 90), 256, 4)
    masks = torch.zeros(4, 1, 60, 90)
    masks[:, 0, 10:20, 10:20] = 1
    data.update(point_coords=[coords], point_labels=[labels], point_frames=[frames],
                refer_mask=[refer_mask_from_masks(masks, data['video_grid_thw'])])
    calls = []
    handle = tiny_model.model.visual.register_forward_hook(lambda *a: calls.append(1))
    try:
        with torch.inference_mode():
            ids = tiny_model.generate(**data, do_sample=False, max_new_tokens=3, temperature=None, top_p=None,
                                      top_k=None)
    finally:
        handle.remove()
    assert len(calls) == 1
    first = run(tiny_model, data).logits[0, -1].argmax()
    assert int(ids[0, data['input_ids'].shape[1]]) == int(first)


def test_generation_prompt_can_start_the_answer(build_inputs, tiny_processor, image_frames):
    data = build_inputs(image_frames, 'Which one?', suffix='The best option is (')
    text = tiny_processor.decode(data['input_ids'][0])
    assert text.endswith('<|im_start|>assistant\nThe best option is (')
