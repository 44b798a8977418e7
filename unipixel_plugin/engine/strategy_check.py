"""Check the scale-out strategies: every stage config builds its runner, and a tiny model trains through them.

``python -m unipixel_plugin.engine.strategy_check`` (one GPU): a few iterations of the tiny model through
DeepSpeed ZeRO-2 (``unipixel_tiny_cpu_zero2.py``) and FSDP (``unipixel_tiny_fsdp.py``), both bf16 with gradient
checkpointing, each in its own ``torchrun --nproc_per_node 1`` process; exit status 0 when both log their last
iteration and write a checkpoint.

``--dry-run`` (any machine): everything up to the first CUDA call. Each stage config (``configs/unipixel/*.py``) gets
the toy checkpoint as a stand-in for Qwen2.5-VL + SAM 2 (same module structure, so the same trainable set), its
``FlexibleRunner`` is built in a 1-process gloo group, and the DeepSpeed configs prepare their engine (model,
ZeRO-2 optimizer, bf16) with DeepSpeed's CPU accelerator. FSDP stops before ``prepare``, which moves the states to
CUDA. The GPU runs are listed, not started. Prints one JSON line per config.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile

CONFIG_ROOT = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), '.mim', 'configs')
GPU_RUNS = ('unipixel_tiny_cpu_zero2.py', 'unipixel_tiny_fsdp.py')


def stage_configs(root: str = CONFIG_ROOT) -> list[str]:
    return sorted(glob.glob(osp.join(root, 'unipixel', '*.py')))


def with_stand_in(cfg, checkpoint: str):
    """The config with the model built from ``checkpoint`` instead of Qwen2.5-VL + SAM 2 (and no earlier stages)."""
    cfg.model.pop('base_model', None)
    cfg.model.pop('partial_checkpoints', None)
    cfg.model.pretrained = checkpoint
    return cfg


def _register_deepspeed_optimizers_once() -> None:
    """MMEngine 0.10.7's ``DeepSpeedStrategy()`` registers DeepSpeed's optimizers every time it is built, and the
    second build in one process fails ("DeepSpeedCPUAdam is already registered"); the dry run builds several."""
    try:
        import mmengine._strategy.deepspeed as module
    except ImportError:
        return
    original = module.register_deepspeed_optimizers
    if getattr(original, 'once', False):
        return
    state = {'done': False}

    def once():
        if not state['done']:
            original()
            state['done'] = True

    once.once = True
    module.register_deepspeed_optimizers = once


def _init_single_process_group() -> None:
    import torch.distributed as dist
    if dist.is_initialized():
        return
    os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
    os.environ.setdefault('MASTER_PORT', str(29500 + os.getpid() % 1000))
    os.environ.setdefault('RANK', '0')
    os.environ.setdefault('LOCAL_RANK', '0')
    os.environ.setdefault('WORLD_SIZE', '1')
    dist.init_process_group('gloo')


def dry_run_config(path: str, checkpoint: str, work_dir: str) -> dict:
    """Build ``path``'s runner with the stand-in; prepare the DeepSpeed engine on CPU. Returns a summary."""
    from mmengine.config import Config

    import unipixel_plugin.engine.registration  # noqa: F401
    from unipixel_plugin.engine.runner import build_runner, resolve_iteration_schedule
    from unipixel_plugin.registry import MODELS

    cfg = with_stand_in(Config.fromfile(path), checkpoint)
    cfg.work_dir = work_dir
    cfg.launcher = 'pytorch'
    resolve_iteration_schedule(cfg)
    _init_single_process_group()
    _register_deepspeed_optimizers_once()
    runner = build_runner(cfg)
    strategy = type(runner.strategy).__name__
    model = MODELS.build(cfg.model)
    info = dict(config=osp.basename(path), runner=type(runner).__name__, strategy=strategy,
                trainable=sum(p.numel() for p in model.parameters() if p.requires_grad),
                trainable_names=len(model.trainable_parameter_names()))
    if strategy == 'DeepSpeedStrategy':
        engine, optim_wrapper = _prepare_deepspeed(runner, model, cfg)
        info.update(prepared=True, engine=type(engine).__name__, optim_wrapper=type(optim_wrapper).__name__,
                    dtype=str(next(engine.parameters()).dtype),
                    zero_stage=int(engine.zero_optimization_stage()),
                    accumulation=int(engine.gradient_accumulation_steps()))
    else:
        info.update(prepared=False, why='FSDPStrategy.prepare moves the model states to CUDA (needs a GPU)')
    return info


def _prepare_deepspeed(runner, model, cfg) -> tuple:
    """``(engine, optim_wrapper)`` of the strategy, as ``FlexibleRunner.train`` prepares them."""
    prepared = runner.strategy.prepare(model, optim_wrapper=cfg.optim_wrapper,
                                       dispatch_kwargs=dict(epoch_length=10, max_epochs=1, max_iters=10,
                                                            train_micro_batch_size_per_gpu=1))
    return prepared[0], prepared[1]


def gpu_run(config: str, work_dir: str, iters: int = 3, timeout: int = 900) -> dict:
    """``torchrun --nproc_per_node 1`` the train tool on ``config`` for ``iters`` iterations; a summary."""
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '1', '--master_port', '29671',
           '-m', 'unipixel_plugin.engine.train', config, '--launcher', 'pytorch', '--work-dir', work_dir,
           '--cfg-options', f'train_cfg.max_iters={iters}', f'default_hooks.checkpoint.interval={iters}',
           'default_hooks.logger.interval=1']
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    logs = out.stdout + out.stderr
    done = f'Iter(train) [{iters}/{iters}]' in logs
    saved = osp.exists(osp.join(work_dir, f'iter_{iters}.pth'))
    return dict(config=config, returncode=out.returncode, last_iteration_logged=done, checkpoint=saved,
                ok=out.returncode == 0 and done and saved, log_tail=logs[-1500:] if out.returncode else '')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--dry-run', action='store_true', help='no GPU: build every stage runner on CPU, prepare the '
                        'DeepSpeed engines, list the GPU runs without starting them')
    parser.add_argument('--configs', nargs='*', help='stage configs to dry-run (default: configs/unipixel/*.py)')
    parser.add_argument('--work-dir', default=None, help='where the runs write (default: a temporary folder)')
    parser.add_argument('--iters', type=int, default=3)
    args = parser.parse_args(argv)
    work = args.work_dir or tempfile.mkdtemp(prefix='unipixel_strategy_check_')
    ok = True
    if args.dry_run:
        from unipixel_plugin.toy.cache import ensure_toy_checkpoint
        checkpoint = str(ensure_toy_checkpoint())
        for path in args.configs or stage_configs():
            info = dry_run_config(path, checkpoint, osp.join(work, osp.splitext(osp.basename(path))[0]))
            print(json.dumps(info), flush=True)
        for config in GPU_RUNS:
            print(json.dumps(dict(config=config, gpu_run='skipped (dry run)', iters=args.iters)), flush=True)
        return 0
    import torch
    if not torch.cuda.is_available():
        print('no CUDA device: run with --dry-run on this machine', file=sys.stderr)
        return 2
    for config in GPU_RUNS:
        info = gpu_run(config, osp.join(work, osp.splitext(config)[0]), args.iters)
        ok = ok and info['ok']
        print(json.dumps(info), flush=True)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
