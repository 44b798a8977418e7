"""Each stage config trains exactly what upstream's recipe trains (../shared/docs/UPSTREAM.md, "Training").

The 3B / 7B configs start from Qwen2.5-VL weights that cannot be loaded here; their ``model.trainable`` / ``lora``
settings are applied to the toy checkpoint, which has the same module structure.
"""
import os.path as osp
import re

import pytest
from mmengine.config import Config

CONFIGS = osp.join(osp.dirname(__file__), '..', '..', 'configs')

# upstream stage 3: fully trained modules (everything else frozen, LoRA on the LLM q/k/v/o and the ViT attn.qkv/proj)
STAGE3_FULL = re.compile(r'(model\.language_model\.embed_tokens|lm_head|ref_proj|ref_encoder|tem_emb|tem_proj'
                         r'|msk_proj|seg_head|sam2)[._]')
LORA_TARGET = re.compile(r'model\.language_model\.layers\.\d+\.self_attn\.(q|k|v|o)_proj\.lora_(A|B)\.'
                         r'|model\.visual\.blocks\.\d+\.attn\.(qkv|proj)\.lora_(A|B)\.')


def _model_settings(name):
    path = next(p for p in (osp.join(CONFIGS, name), osp.join(CONFIGS, 'unipixel', name)) if osp.exists(p))
    model = Config.fromfile(path).model
    return {k: model[k] for k in ('trainable', 'lora') if k in model}, Config.fromfile(path)


@pytest.mark.parametrize('name', ['unipixel_3b_stage3_sft.py', 'unipixel_7b_stage3_sft.py',
                                  'unipixel_tiny_cpu_lora.py'])
def test_stage3_lora_keeps_the_fully_trained_modules(build_model, name):
    settings, _ = _model_settings(name)
    settings['lora'] = dict(settings['lora'], r=4, lora_alpha=8)  # rank does not change which modules train
    model = build_model(**settings)
    hf_names = [n[len('hf_model.'):] for n, _ in model.named_parameters()]
    trained = {n[len('hf_model.'):] for n in model.trainable_parameter_names()}
    expected = {n for n in hf_names if LORA_TARGET.match(n) or (STAGE3_FULL.match(n) and 'lora_' not in n
                                                                  and '.base_layer.' not in n)}
    assert trained == expected, (sorted(trained - expected)[:5], sorted(expected - trained)[:5])
    groups = {g: any(n.startswith(g) for n in trained) for g in
              ('model.language_model.embed_tokens', 'lm_head', 'ref_encoder', 'msk_proj', 'seg_head', 'sam2.',
               'tem_proj', 'ref_proj') if any(n.startswith(g) for n in hf_names)}  # the toy ties lm_head
    assert all(groups.values()), groups
    assert not any('.base_layer.' in n for n in trained)
    assert not any(n.startswith('model.language_model.layers.') and 'lora_' not in n for n in trained)


@pytest.mark.parametrize('name,expected', [('unipixel_3b_stage1_ref.py', r'(ref_proj|tem_emb|tem_proj)[._]'),
                                           ('unipixel_3b_stage2_seg.py', r'seg_head\.')])
def test_stage1_and_2_train_only_their_modules(build_model, name, expected):
    settings, _ = _model_settings(name)
    model = build_model(**settings)
    trained = [n[len('hf_model.'):] for n in model.trainable_parameter_names()]
    assert trained and all(re.match(expected, n) for n in trained)
    every = [n[len('hf_model.'):] for n, _ in model.named_parameters()]
    assert set(trained) == {n for n in every if re.match(expected, n)}


def test_sam2_learning_rate_reaches_its_parameters(build_model):
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    init_default_scope('unipixel_plugin')  # as the configs' default_scope does in a runner
    settings, cfg = _model_settings('unipixel_3b_stage3_sft.py')
    settings['lora'] = dict(settings['lora'], r=4, lora_alpha=8)
    model = build_model(**settings)
    optim_cfg = dict(cfg.optim_wrapper)
    optim_cfg['type'] = 'OptimWrapper'  # the config's wrapper belongs to the DeepSpeed strategy
    optim_cfg.pop('accumulative_counts', None)
    wrapper = build_optim_wrapper(model, optim_cfg)
    sam2 = {id(p) for n, p in model.named_parameters() if n.startswith('hf_model.sam2.') and p.requires_grad}
    assert sam2
    lrs = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            lrs[id(p)] = group['lr']
    assert all(lrs[i] == pytest.approx(5e-6) for i in sam2)
    others = [lrs[id(p)] for n, p in model.named_parameters() if p.requires_grad and id(p) not in sam2]
    assert others and all(lr == pytest.approx(2e-5) for lr in others)
    assert all(id(p) in lrs for p in model.parameters() if p.requires_grad)
