"""Every shipped config loads; basenames are unique (mim finds configs by basename); stages follow upstream."""
import glob
import os
import os.path as osp

import pytest
from mmengine.config import Config

ROOT = osp.join(osp.dirname(__file__), '..', '..')
CONFIGS = osp.join(ROOT, 'configs')
LEAVES = sorted(p for p in glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True) if '_base_' not in p)


def test_leaf_basenames_are_unique_in_the_package():
    # mim walks the whole installed package (configs, tools, tasks ...) for the basename it is given
    package = osp.join(ROOT, 'unipixel_plugin')
    names = [f for _, _, files in os.walk(package, followlinks=True) for f in files
             if f.endswith('.py') and f.startswith('unipixel_')]
    leaves = [osp.basename(p) for p in LEAVES]
    assert len(leaves) == len(set(leaves))
    assert all(names.count(n) == 1 for n in leaves), [n for n in leaves if names.count(n) != 1]
    assert {'unipixel_tiny_cpu_seg.py', 'unipixel_3b_stage1_ref.py', 'unipixel_3b_stage2_seg.py',
            'unipixel_3b_stage3_sft.py', 'unipixel_7b_stage3_sft.py'} <= set(leaves)


@pytest.mark.parametrize('path', LEAVES, ids=osp.basename)
def test_config_loads(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'unipixel_plugin'
    assert cfg.model.type in ('UniPixelModel', 'ToyUniPixelModel')  # the toy: UniPixelModel + its prompt teacher
    assert 'unipixel_plugin.engine' in cfg.custom_imports.imports
    assert cfg.train_dataloader.collate_fn.type == 'unipixel_plugin.unipixel_collate'


def test_stage_configs_follow_upstream():
    stage1 = Config.fromfile(osp.join(CONFIGS, 'unipixel', 'unipixel_3b_stage1_ref.py'))
    stage2 = Config.fromfile(osp.join(CONFIGS, 'unipixel', 'unipixel_3b_stage2_seg.py'))
    stage3 = Config.fromfile(osp.join(CONFIGS, 'unipixel', 'unipixel_7b_stage3_sft.py'))
    for cfg in (stage1, stage2, stage3):
        assert cfg.runner_type == 'FlexibleRunner' and cfg.strategy.type == 'DeepSpeedStrategy'
        assert cfg.strategy.zero_optimization.stage == 2 and cfg.strategy.bf16.enabled
        assert cfg.train_cfg.max_epochs == 1 and cfg.train_dataloader.dataset.num_frames == 8
    assert stage1.model.mask_loss is None and stage1.model.trainable == ['ref_proj', 'tem_emb', 'tem_proj']
    assert stage2.model.trainable == ['seg_head'] and stage2.optim_wrapper.optimizer.lr == 1e-3
    # global batch: 8 GPUs x 1 x accumulation = 256 (stages 1-2) and 32 (stage 3)
    assert 8 * stage2.strategy.gradient_accumulation_steps == 256
    assert 8 * stage3.strategy.gradient_accumulation_steps == 32
    assert stage3.model.lora == dict(r=128, lora_alpha=256, lora_dropout=0.1)
    assert stage3.optim_wrapper.optimizer.lr * stage3.optim_wrapper.paramwise_cfg.custom_keys[
        'hf_model.sam2'].lr_mult == pytest.approx(5e-6)
    assert stage3.strategy.zero_optimization.offload_optimizer.device == 'cpu'  # 7B: zero2_offload
    assert stage3.model.base_model.path == 'unset-UNIPIXEL_QWEN_7B'
    fsdp = Config.fromfile(osp.join(CONFIGS, 'unipixel', 'unipixel_3b_stage2_seg_fsdp.py'))
    assert fsdp.strategy.type == 'FSDPStrategy' and fsdp.optim_wrapper.type == 'AmpOptimWrapper'


def test_paths_come_from_the_environment(monkeypatch):
    monkeypatch.setenv('UNIPIXEL_QWEN_3B', '/models/qwen3b')
    monkeypatch.setenv('UNIPIXEL_SAM2_CHECKPOINT', '/models/sam2.pt')
    cfg = Config.fromfile(osp.join(CONFIGS, 'unipixel', 'unipixel_3b_stage2_seg.py'))
    assert cfg.model.base_model.path == '/models/qwen3b'
    assert cfg.model.base_model.sam2_checkpoint == '/models/sam2.pt'
    assert cfg.train_dataloader.dataset.data_root is None  # readers use $UNIPIXEL_DATA_ROOT
