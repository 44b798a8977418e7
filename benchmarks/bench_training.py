"""Training overhead of the MMEngine runner: the tiny config's samples/s against a bare PyTorch loop.

Both run in this process on the same model (built from the same config, same seed), the same dataloader (the
config's dataset, sampler and collate) and the same optimizer settings (AdamW, clipping 1.0); the bare loop does what
a training step needs (preprocess, forward, losses, backward, clip, step). The runner also runs its hooks (timer,
logger every iteration, random states, throughput, parameter schedulers); checkpoints, validation and the export are
pushed past the measured window. The first ``--warmup`` iterations of each are not timed. Also timed: MMEngine's own
``IterBasedTrainLoop``, which pauses 2 s at every pass over the dataset (every 4 iterations here).

    PYTHONPATH=. [BENCH_THREADS=2] python benchmarks/bench_training.py [--iters 40] [--warmup 4] [--repeats 2]

Prints samples/s of each and the ratios (runner / bare: 1.0 = no overhead).
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import tempfile
import time

import torch

THREADS = int(os.environ.get('BENCH_THREADS', 2))
CONFIG = osp.join(osp.dirname(__file__), '..', 'configs', 'unipixel_tiny_cpu_seg.py')


def config(work_dir: str, iters: int, loop: str):
    from mmengine.config import Config

    from unipixel_plugin.engine.runner import resolve_iteration_schedule
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = work_dir
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.type = loop
    cfg.default_hooks.checkpoint.interval = 10 ** 6
    cfg.default_hooks.checkpoint.save_last = False
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] in ('RandomStateHook', 'ThroughputHook')]
    cfg.train_cfg.val_interval = 10 ** 6
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.log_level = 'WARNING'
    cfg.vis_backends = [dict(type='LocalVisBackend')]
    cfg.visualizer = dict(type='Visualizer', vis_backends=cfg.vis_backends)
    resolve_iteration_schedule(cfg)
    return cfg


def runner_rate(iters: int, warmup: int, loop: str) -> float:
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    class Clock(Hook):
        priority = 'LOWEST'

        def __init__(self):
            self.times, self.samples = [], []

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            self.threads = torch.get_num_threads()
            self.times.append(time.perf_counter())
            self.samples.append(len(data_batch['ids']))

    with tempfile.TemporaryDirectory() as work:
        runner = Runner.from_cfg(config(work, iters, loop))
        torch.set_num_threads(THREADS)
        clock = Clock()
        runner.register_hook(clock)
        runner.train()
    assert clock.threads == THREADS, f'the runner changed the thread count to {clock.threads}'
    return sum(clock.samples[warmup + 1:]) / (clock.times[-1] - clock.times[warmup])


def bare_rate(iters: int, warmup: int) -> float:
    from mmengine.runner import Runner

    from unipixel_plugin.registry import MODELS
    with tempfile.TemporaryDirectory() as work:
        cfg = config(work, iters, 'UniPixelIterBasedTrainLoop')
        torch.manual_seed(cfg.randomness.seed)
        model = MODELS.build(cfg.model)
        model.train()
        loader = Runner.build_dataloader(cfg.train_dataloader, seed=cfg.randomness.seed)
        params = [p for p in model.parameters() if p.requires_grad]
        torch.set_num_threads(THREADS)
        import cv2
        cv2.setNumThreads(0)  # what the runner's env_cfg (mp_cfg.opencv_num_threads=0) does
        optim = torch.optim.AdamW(params, lr=cfg.optim_wrapper.optimizer.lr, weight_decay=0.0)
        times, samples, done = [], [], 0
        while done < iters:
            for batch in loader:
                data = model.data_preprocessor(batch, training=True)
                losses = model(**data, mode='loss')
                loss, _ = model.parse_losses(losses)
                optim.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optim.step()
                times.append(time.perf_counter())
                samples.append(len(batch['ids']))
                done += 1
                if done >= iters:
                    break
    return sum(samples[warmup + 1:]) / (times[-1] - times[warmup])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--iters', type=int, default=40)
    parser.add_argument('--warmup', type=int, default=4)
    parser.add_argument('--repeats', type=int, default=2, help='alternate the runs this many times (noise)')
    args = parser.parse_args(argv)
    import unipixel_plugin.engine.registration  # noqa: F401
    from mmengine.registry import init_default_scope
    init_default_scope('unipixel_plugin')  # what a config's default_scope does inside a runner
    from unipixel_plugin.toy.cache import ensure_toy_checkpoint
    from unipixel_plugin.toy.refvos import ensure_toy_data
    ensure_toy_checkpoint(), ensure_toy_data()
    rates = {'bare': [], 'runner': [], 'runner_mmengine_loop': []}
    for _ in range(args.repeats):
        rates['bare'].append(bare_rate(args.iters, args.warmup))
        rates['runner'].append(runner_rate(args.iters, args.warmup, 'UniPixelIterBasedTrainLoop'))
        rates['runner_mmengine_loop'].append(runner_rate(args.iters, args.warmup, 'IterBasedTrainLoop'))
    best = {k: max(v) for k, v in rates.items()}
    for name, values in rates.items():
        print(f'{name:>22}: {best[name]:.2f} samples/s (runs: {", ".join(f"{v:.2f}" for v in values)})')
    print(f'runner / bare: {best["runner"] / best["bare"]:.3f}  (overhead {100 * (1 - best["runner"] / best["bare"]):.1f}%)')
    print(f'MMEngine IterBasedTrainLoop / bare: {best["runner_mmengine_loop"] / best["bare"]:.3f}')


if __name__ == '__main__':
    main()
