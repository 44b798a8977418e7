"""The toy recipe (ToyUniPixelModel's prompt teacher) and the trained toy it produces (the package's default model).

The trained-toy tests load the model shipped in unipixel_plugin/assets/toy_model and check that it really segments
what it is asked for, from generation, on scenes it never saw, and on the bundled sample picture.
"""
import json

import numpy as np
import pytest
import torch


@pytest.fixture(scope='module')
def recipe_model(tmp_path_factory):
    from unipixel_plugin.engine.toy_recipe import ToyUniPixelModel
    from unipixel_plugin.toy.model import make_micro_checkpoint
    ckpt = make_micro_checkpoint(tmp_path_factory.mktemp('micro'), seed=0)
    return ToyUniPixelModel(pretrained=str(ckpt), teacher_iters=3, handover_iters=4,
                            mask_loss=dict(type='SAM2MaskLoss', focal_weight=20.0),
                            data_preprocessor=dict(type='UniPixelDataPreprocessor', min_pixels=112 * 112,
                                                   max_pixels=112 * 112))


def test_teacher_share_schedule(recipe_model):
    shares = [recipe_model.teacher_share(s) for s in range(9)]
    assert shares[:4] == [1.0, 1.0, 1.0, 1.0] and shares[-2:] == [0.0, 0.0]
    assert shares[4] == pytest.approx(0.75) and shares[5] == pytest.approx(0.5)


def test_teacher_prompts_follow_the_expression_words_and_are_not_exported(recipe_model, tmp_path):
    from unipixel_plugin.data import load_sample
    from unipixel_plugin.data.collate import unipixel_collate
    from unipixel_plugin.data.formats import RefCOCODataset
    from unipixel_plugin.toy.scenes import write_scenes
    root = write_scenes(tmp_path / 'scenes', num_images=2, num_videos=0, seed=3)
    loaded = load_sample(RefCOCODataset(data_root=str(root), split='train')[0], np.random.default_rng(0),
                         num_frames=1, max_turns=8, max_objects=8)
    queries = [t['content'].split('Please segment the ')[1].split(' in this image')[0]
               for t in loaded.conversation if t['role'] == 'user']
    assert len(queries) >= 3
    data = recipe_model.data_preprocessor(unipixel_collate([loaded]), training=True)['data']
    seg = recipe_model.hf_model.config.seg_token_id
    positions = (data['input_ids'][0, 1:] == seg).nonzero()[:, 0]
    assert positions.numel() == len(queries)
    words = [recipe_model.query_words(data['input_ids'][0], int(p)) for p in positions]
    vocab = {i: w for w, i in recipe_model.words.items()}
    assert [' '.join(vocab[i] for i in w) for w in words] == queries  # every toy word is in the vocabulary
    teacher = recipe_model.teacher_prompts(data['input_ids'][0], positions)
    expected = recipe_model.teacher.weight[words[0]].sum(0)
    assert torch.allclose(teacher[0].flatten(), expected)
    assert not torch.allclose(teacher[0], teacher[1])
    recipe_model.train()
    recipe_model.step.zero_()
    hidden = torch.randn(len(queries), recipe_model.prompt_tokens, recipe_model.prompt_dim)
    used, extra = recipe_model.seg_prompts(data, 0, positions, hidden)
    assert torch.equal(used, teacher)  # share 1: SAM 2 gets the teacher's prompts
    assert torch.allclose(extra['distill'], (hidden - teacher).pow(2).mean())
    recipe_model.step.fill_(100)
    used, _ = recipe_model.seg_prompts(data, 0, positions, hidden)
    assert torch.equal(used, hidden)  # after the hand-over: the LLM's own prompts
    losses = recipe_model(data, mode='loss')
    assert recipe_model.step.item() == 101 and float(losses['teacher_share']) == 0.0
    assert {'loss_lm', 'loss_seg', 'seg_distill'} <= set(losses)
    assert 'step' in recipe_model.state_dict()  # a resumed run continues the schedule
    out = recipe_model.export_hf(str(tmp_path / 'hf'))
    from safetensors import safe_open
    with safe_open(f'{out}/model.safetensors', 'pt') as f:
        assert not [k for k in f.keys() if 'teacher' in k or k == 'step']

def test_prompt_stage_trains_sam2_from_the_teacher_alone(recipe_model, tmp_path):
    """The prompt stage: no LLM forward (no language loss, no gradient in the LLM), SAM 2 and the teacher learn from
    the mask loss; the teacher phase and the hand-over count from the stage's end."""
    from unipixel_plugin.data import load_sample
    from unipixel_plugin.data.collate import unipixel_collate
    from unipixel_plugin.data.formats import RefCOCODataset
    from unipixel_plugin.toy.scenes import write_scenes
    root = write_scenes(tmp_path / 'scenes', num_images=2, num_videos=0, seed=4)
    loaded = load_sample(RefCOCODataset(data_root=str(root), split='train')[0], np.random.default_rng(0),
                         num_frames=1, max_turns=8, max_objects=8)
    data = recipe_model.data_preprocessor(unipixel_collate([loaded]), training=True)['data']
    recipe_model.train()
    recipe_model.prompt_stage_iters = 2
    try:
        recipe_model.step.zero_()
        assert recipe_model.teacher_share(5) == 1.0 and recipe_model.teacher_share(6) == pytest.approx(0.75)
        recipe_model.zero_grad(set_to_none=True)
        losses = recipe_model(data, mode='loss')
        assert recipe_model.step.item() == 1 and recipe_model.in_prompt_stage()
        assert 'loss_lm' not in losses and 'seg_distill' not in losses and float(losses['loss_seg']) > 0
        losses['loss_seg'].backward()
        grads = {n: p.grad for n, p in recipe_model.named_parameters()}
        assert grads['teacher.weight'] is not None and grads['teacher.weight'].abs().sum() > 0
        assert any(g is not None and g.abs().sum() > 0 for n, g in grads.items() if '.sam2.image_encoder.' in n)
        assert all(g is None for n, g in grads.items() if '.language_model.' in n or '.visual.' in n)
        recipe_model(data, mode='loss')
        assert not recipe_model.in_prompt_stage()
        losses = recipe_model(data, mode='loss')  # step 2: the teacher phase, with the LLM
        assert {'loss_lm', 'loss_seg', 'seg_distill'} <= set(losses) and float(losses['teacher_share']) == 1.0
    finally:
        recipe_model.prompt_stage_iters = 0
        recipe_model.zero_grad(set_to_none=True)


def test_sam2_frames_trains_sam2_on_the_first_frames_only(recipe_model, tmp_path):
    """``sam2_frames=1``: a video sample's mask loss is frame 0's alone (the LLM still sees every frame): equal to the
    loss of the same sample cut to its first frame by hand, and not to the whole clip's."""
    from unipixel_plugin.data import load_sample
    from unipixel_plugin.data.collate import unipixel_collate
    from unipixel_plugin.data.formats import MeViSDataset
    from unipixel_plugin.toy.scenes import write_scenes
    root = write_scenes(tmp_path / 'scenes', num_images=0, num_videos=1, num_frames=4, seed=5)
    loaded = load_sample(MeViSDataset(data_root=str(root), split='train')[0], np.random.default_rng(0),
                         num_frames=4, max_turns=2, max_objects=2)
    data = recipe_model.data_preprocessor(unipixel_collate([loaded]), training=True)['data']
    masks = data['label_mask']
    assert data['frames'][0].size(0) == 4 and masks[0].size(0) == 4 and masks[0][1:].any()
    recipe_model.train()
    try:
        with torch.no_grad():
            recipe_model.sam2_frames = 1
            first = recipe_model._mask_losses(data, masks, None)['loss_seg']  # None: the teacher's prompts
            recipe_model.sam2_frames = 0
            by_hand = recipe_model._mask_losses(dict(data, frames=[data['frames'][0][:1]]), [masks[0][:1]],
                                                None)['loss_seg']
            whole = recipe_model._mask_losses(data, masks, None)['loss_seg']
        assert torch.equal(first, by_hand) and not torch.allclose(first, whole)
    finally:
        recipe_model.sam2_frames = 0
    from unipixel_plugin.engine.toy_recipe import ToyUniPixelModel
    with pytest.raises(ValueError, match='sam2_frames'):
        ToyUniPixelModel(pretrained='unused', sam2_frames=-1)


# ------------------------------------------------------------------ the trained toy (package default)
@pytest.mark.slow
def test_trained_toy_beats_the_largest_object_baseline_on_held_out_scenes(toy_predictor, tmp_path):
    """From generation, on fresh scenes (a seed the training never used): cIoU well above "the largest object"."""
    from unipixel_plugin.toy.evaluate import evaluate_segmentation
    from unipixel_plugin.toy.scenes import write_scenes
    root = write_scenes(tmp_path / 'scenes', num_images=12, num_videos=0, seed=4242, split='valid_u')
    figures = evaluate_segmentation(toy_predictor, str(root), 'valid_u')['image']
    assert figures['samples'] >= 40
    assert figures['one_seg_answer_rate'] >= 0.95
    assert figures['cIoU'] >= 0.4 and figures['cIoU'] >= figures['largest_object_cIoU'] + 0.15, figures


@pytest.mark.slow
def test_retraining_reproduces_the_packaged_run(tmp_path):
    """The shipped weights come from `python -m unipixel_plugin.engine.toy_recipe --package`: the first iterations
    of a fresh run log the losses the packaged run logged (same code, config, seed; one thread)."""
    from unipixel_plugin.engine.toy_recipe import PACKAGED_TOY, train_toy
    recorded = json.loads((PACKAGED_TOY / 'recipe.json').read_text())['first_losses']
    assert recorded and recorded[0]['step'] == 20
    train_toy(tmp_path / 'work', root=str(tmp_path / 'toyroot'), threads=1,
              extra_args=['--cfg-options', 'train_cfg.max_iters=60', 'custom_hooks=[]',
                          'default_hooks.checkpoint.interval=1000'])  # 60: the decay starts at 50; up to 50 the
    # learning rate (warm-up) and the teacher share (1) do not depend on the run's length
    logged = [json.loads(line) for line in next((tmp_path / 'work').glob('*/vis_data/scalars.json')).read_text()
              .splitlines()]
    logged = {row['step']: row for row in logged if 'loss' in row}
    # the tolerance grows with the step: other thread counts and other machines (an AMD EPYC with a fresh install,
    # 2026-12-03, against the packaging machine) round differently, and training amplifies it (step 40's loss: 0.26%
    # off there, same code); a changed recipe (learning rate, loss weights, data order, teacher) moves them far more
    tolerance = {20: 2e-3, 40: 1e-2}
    for row in recorded:
        if row['step'] in tolerance:
            # (in the prompt stage, iterations 1-600, there is no LLM forward and so no loss_lm)
            for key in {'loss', 'loss_lm', 'loss_seg'} & set(row):
                expected = pytest.approx(row[key], rel=tolerance[row['step']], abs=2e-3)
                assert logged[row['step']][key] == expected, (row['step'], key)
    assert 20 in logged and 40 in logged
