"""Iteration schedules follow train_cfg.max_iters (fractions resolved after --cfg-options)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from unipixel_plugin.engine.runner import build_train_parser, load_config, resolve_iteration_schedule

CONFIG = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'unipixel_tiny_cpu_seg.py')


def _lrs(cfg, iters):
    from mmengine.optim.scheduler import CosineAnnealingLR, LinearLR
    classes = dict(LinearLR=LinearLR, CosineAnnealingLR=CosineAnnealingLR)
    optim = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedulers = []
    for s in cfg.param_scheduler:
        s = dict(s)
        schedulers.append(classes[s.pop('type')](optim, **s))
    lrs = []
    for _ in range(iters):
        lrs.append(optim.param_groups[0]['lr'])
        optim.step()
        for s in schedulers:
            s.step()
    return lrs


@pytest.mark.parametrize('max_iters', [6, 30])
def test_schedule_spans_the_run(max_iters):
    args = build_train_parser().parse_args([CONFIG, '--cfg-options', f'train_cfg.max_iters={max_iters}'])
    cfg = load_config(args)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.begin, warmup.end) == (0, round(max_iters / 3))
    assert (cosine.begin, cosine.end) == (round(max_iters / 3), max_iters)
    lrs = _lrs(cfg, max_iters)
    start = round(max_iters / 3)
    assert lrs.index(max(lrs)) <= start and lrs[0] < max(lrs)  # warm-up
    # the learning rate keeps falling until the last iteration instead of going flat after the old end (6)
    assert all(b < a for a, b in zip(lrs[start:], lrs[start + 1:]))
    assert lrs[-1] < 0.2 * max(lrs)


def test_fractions_outside_the_unit_interval_are_refused():
    cfg = Config(dict(train_cfg=dict(max_iters=10),
                      param_scheduler=[dict(type='LinearLR', by_epoch=False, begin=0, end=1.5)]))
    with pytest.raises(ValueError, match='fraction of train_cfg.max_iters'):
        resolve_iteration_schedule(cfg)
    cfg = Config(dict(train_cfg=dict(max_iters=10),
                      param_scheduler=[dict(type='LinearLR', by_epoch=False, begin=0, end=4)]))
    resolve_iteration_schedule(cfg)
    assert cfg.param_scheduler[0].end == 4  # integers are iterations
