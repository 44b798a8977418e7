"""Batches of the other data types: <|ref|> point/box prompts, <|mem|> region prompts, text-only turns."""
import numpy as np
import torch


def _loaded(toy_dataset, data_type, conversation, prompt_type=None):
    from unipixel_plugin.data import load_sample
    sample = toy_dataset.datasets[0][0].replace(data_type=data_type, conversation=conversation,
                                                prompt_type=prompt_type)
    return load_sample(sample, np.random.default_rng(0), num_frames=2, prompt_space=None)


def test_ref_region_and_text_samples_train(build_model, toy_dataset, collate):
    from unipixel_plugin.data import Sample
    ref = _loaded(toy_dataset, 'ref_point', [{'role': 'user', 'content': 'What is <|ref|> doing?'},
                                              {'role': 'assistant', 'content': 'It is moving.'}], 'point')
    box = _loaded(toy_dataset, 'ref_box', [{'role': 'user', 'content': 'Describe <|ref|>.'},
                                            {'role': 'assistant', 'content': 'A square.'}], 'box')
    region = _loaded(toy_dataset, 'region_video', [
        {'role': 'user', 'content': 'Here is a video with 2 frames denoted as <1> to <2>. The highlighted regions are '
                                    'as follows:\n[0]: <1>-<2> <|mem|>\nWhat colour is [0]?'},
        {'role': 'assistant', 'content': 'Red.'}])
    text = Sample(id='t0', source='text', data_type='text', conversation=[
        {'role': 'user', 'content': 'Say yes.'}, {'role': 'assistant', 'content': 'yes'}], sampled=[])
    model = build_model(trainable=['ref_proj', 'tem_emb', 'tem_proj', 'msk_proj', 'model.language_model'])
    model.train()
    from mmengine.optim import OptimWrapper
    optim = OptimWrapper(torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3))

    batch = model.data_preprocessor(collate([ref, box]), training=True)['data']
    assert batch['point_coords'][0][0].shape == (1, 1, 2) and batch['point_labels'][1][0].tolist() == [[2, 3]]
    assert batch['point_coords'][1][0].dtype == torch.int32  # boxes are integer corners, as upstream
    before = model.hf_model.ref_proj[1].weight.detach().clone()
    logs = model.train_step(collate([ref, box]), optim)
    assert torch.isfinite(logs['loss']) and 'loss_seg' not in logs  # no <|seg|>: no mask loss
    assert not torch.equal(before, model.hf_model.ref_proj[1].weight)  # the prompt path got gradients

    batch = model.data_preprocessor(collate([region]), training=True)['data']
    assert batch['refer_mask'][0].shape[:2] == (1, 1) and batch['refer_mask'][0].any()
    before = model.hf_model.msk_proj[2].weight.detach().clone()
    assert torch.isfinite(model.train_step(collate([region]), optim)['loss'])
    assert not torch.equal(before, model.hf_model.msk_proj[2].weight)

    logs = model.train_step(collate([text]), optim)
    assert torch.isfinite(logs['loss_lm'])


def test_region_samples_get_the_memory_prefix(build_model, toy_dataset, collate):
    # readers leave the "<|mem|>" prefix out (it depends on the sampled frames); the preprocessor adds it
    region = _loaded(toy_dataset, 'region_video', [{'role': 'user', 'content': 'What colour is [0]?'},
                                                   {'role': 'assistant', 'content': 'Red.'}])
    model = build_model(trainable=['msk_proj'])
    pre = model.data_preprocessor
    sample = pre.forward(collate([region]), training=True)['data_samples'][0]
    conversation = pre.with_memory_prefix(sample, sample['conversation'])
    assert conversation[0]['content'].startswith('Here is a video with 2 frames denoted as <1> to <2>.')
    assert conversation[0]['content'].endswith('\nWhat colour is [0]?')
    batch = pre(collate([region]), training=True)['data']
    mem_tokens = int((batch['input_ids'] == pre.mem_token_id).sum())
    assert mem_tokens == int(batch['refer_mask'][0].flatten(2).any(-1).sum()) >= 1
