"""The mim tools: cheap -h, the options mim passes, CPU distributed set-up, --amp on CPU."""
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
TOOLS = osp.join(ROOT, 'unipixel_plugin', '.mim', 'tools')
ENV = dict(os.environ, PYTHONPATH=ROOT)


@pytest.mark.parametrize('tool', ['train.py', 'test.py'])
def test_help_is_cheap_and_mim_compatible(tool):
    out = subprocess.run([sys.executable, '-X', 'importtime', osp.join(TOOLS, tool), '-h'], env=ENV,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert '--launcher' in out.stdout and '--cfg-options' in out.stdout and '--work-dir' in out.stdout
    assert '--gpus' not in out.stdout  # mim would append --gpus N
    imported = {line.split('|')[-1].strip() for line in out.stderr.splitlines() if '|' in line}
    assert 'torch' not in imported and 'transformers' not in imported


def test_train_options_parse():
    from unipixel_plugin.engine.runner import build_train_parser
    args = build_train_parser().parse_args(['c.py', '--launcher', 'pytorch', '--local-rank=1', '--resume',
                                            '--cfg-options', 'model.pretrained=/x', 'train_cfg.max_iters=3'])
    assert args.resume == 'auto' and args.local_rank == 1 and args.launcher == 'pytorch'
    assert args.cfg_options == {'model.pretrained': '/x', 'train_cfg.max_iters': 3}
    assert build_train_parser().parse_args(['c.py', '--resume', 'w/iter_3.pth']).resume == 'w/iter_3.pth'


def test_config_basename_resolves_to_the_shipped_config():
    from unipixel_plugin.engine.runner import resolve_config
    expected = osp.join(ROOT, 'configs', 'unipixel_tiny_cpu_seg.py')
    found = resolve_config('unipixel_tiny_cpu_seg.py')
    # the shipped copy (installed package or source tree), with the repository's content
    assert osp.basename(osp.dirname(found)) == 'configs' and open(found).read() == open(expected).read()
    with pytest.raises(SystemExit, match='not found'):
        resolve_config('no_such_config.py')


def test_cpu_distributed_setup_uses_gloo_without_device_ids(monkeypatch):
    import torch
    import torch.distributed as dist
    from mmengine.config import Config

    from unipixel_plugin.engine.runner import setup_distributed
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    for key, value in dict(RANK='0', WORLD_SIZE='1', LOCAL_RANK='0', MASTER_ADDR='127.0.0.1',
                           MASTER_PORT='29517').items():
        monkeypatch.setenv(key, value)
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    try:
        setup_distributed(cfg, 'pytorch')
        assert dist.is_initialized() and dist.get_backend() == 'gloo'
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.device_ids is None and cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
    with pytest.raises(SystemExit, match='slurm'):
        setup_distributed(cfg, 'slurm')


def test_amp_on_cpu_is_refused_with_a_reason(monkeypatch):
    import torch
    from mmengine.config import Config

    from unipixel_plugin.engine.runner import set_amp
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(SystemExit, match='needs a GPU'):
        set_amp(Config(dict(optim_wrapper=dict(type='OptimWrapper'))))
