"""Command lines that start MMEngine runners: training and testing UniPixel from a config.

Used by the OpenMIM tools (``unipixel_plugin/.mim/tools/{train,test}.py``, what ``mim train unipixel_plugin CONFIG``
runs) and by ``python -m unipixel_plugin.engine.train CONFIG`` / ``python -m unipixel_plugin.engine.test``. This
module is imported before the heavy parts of the package; it imports none of them until the config is loaded.
Parsing imports nothing heavy (``mim`` runs ``train.py -h`` before every job); torch and the model load after it.

Distributed training on machines without GPUs: MMEngine's ``init_dist('pytorch')`` calls
``torch.cuda.set_device`` unconditionally, so with ``--launcher pytorch`` and no CUDA the gloo process group is
started here (from torchrun's environment) and the DDP wrapper is built without ``device_ids``.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
from typing import Optional, Sequence

LAUNCHERS = ('none', 'pytorch', 'slurm')


def _common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from mmengine.config import DictAction  # light: no torch

    parser.add_argument('--work-dir', help='folder for logs, checkpoints and the HF export (default: '
                        './work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config entries, e.g. model.pretrained=/path/UniPixel-3B '
                        'train_dataloader.dataset.data_root=/data')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2) or --local_rank
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0, help=argparse.SUPPRESS)
    return parser


def build_train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='train.py', description='Train UniPixel with an MMEngine config.')
    parser.add_argument('config', help='config file (path, or a basename such as unipixel_tiny_cpu_seg.py)')
    parser.add_argument('--resume', nargs='?', const='auto', metavar='CHECKPOINT',
                        help='resume from CHECKPOINT, or from the latest checkpoint in the work dir if none is given')
    parser.add_argument('--amp', action='store_true', help='mixed precision (AmpOptimWrapper); needs a GPU')
    return _common(parser)


def build_test_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='test.py', description='Run UniPixel predictions / metrics with an '
                                     'MMEngine config.')
    parser.add_argument('config', help='config file (path or basename)')
    parser.add_argument('checkpoint', nargs='?', help='MMEngine checkpoint (.pth) to load, or a UniPixel folder in HF layout to build the model from '
                        '(default: the model as built)')
    parser.add_argument('--out', help='also dump every prediction to this pickle file')
    return _common(parser)


def resolve_config(path: str) -> str:
    """``path`` if it exists, else the config of that basename shipped with the package."""
    if osp.isfile(path):
        return path
    root = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), '.mim', 'configs')
    found = [osp.join(d, f) for d, _, files in os.walk(root, followlinks=True) for f in files
             if f == osp.basename(path)]
    if len(found) != 1:
        raise SystemExit(f'config {path} not found' + (f'; several match: {found}' if found else
                                                       f' (shipped configs are under {root})'))
    return found[0]


def load_config(args):
    from mmengine.config import Config

    import unipixel_plugin.engine.registration  # noqa: F401  (registries; torch.load allow-list for checkpoints)

    cfg = Config.fromfile(resolve_config(args.config))
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.launcher != 'none':
        setup_distributed(cfg, args.launcher)
    resolve_iteration_schedule(cfg)
    return cfg


def resolve_iteration_schedule(cfg) -> None:
    """Iteration-based schedulers whose ``begin`` / ``end`` are floats: fractions of ``train_cfg.max_iters``.

    MMEngine takes ``begin`` / ``end`` in iterations, fixed when the config is written, so raising
    ``train_cfg.max_iters`` with ``--cfg-options`` would leave the learning rate flat after the old end. Resolved here,
    after the overrides are merged. Integers stay iterations; epoch-based schedulers are left to MMEngine.
    """
    schedulers = cfg.get('param_scheduler')
    train_cfg = cfg.get('train_cfg') or {}
    if not schedulers or 'max_iters' not in train_cfg:
        return
    schedulers = schedulers if isinstance(schedulers, (list, tuple)) else [schedulers]
    max_iters = int(train_cfg['max_iters'])
    for scheduler in schedulers:
        if scheduler.get('by_epoch', True):
            continue
        for key in ('begin', 'end'):
            value = scheduler.get(key)
            if isinstance(value, float):
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f'param_scheduler {scheduler.get("type")}: {key}={value} is a float, i.e. a '
                                     'fraction of train_cfg.max_iters, and must lie in [0, 1] (use an int for '
                                     'iterations)')
                scheduler[key] = int(round(value * max_iters))


def accelerator_available() -> bool:
    import torch
    npu = getattr(torch, 'npu', None)
    return torch.cuda.is_available() or bool(npu is not None and npu.is_available())


def setup_distributed(cfg, launcher: str) -> None:
    """Make ``--launcher pytorch`` work on CPU-only machines (gloo); GPU machines are left to MMEngine."""
    if accelerator_available():
        return
    import torch.distributed as dist
    if launcher == 'slurm':
        raise SystemExit('--launcher slurm needs GPUs (MMEngine maps ranks to GPUs); on CPU machines use torchrun '
                         'with --launcher pytorch')
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')  # RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT from torchrun
    if cfg.get('runner_type') is None:
        wrapper = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
        wrapper.update(cfg.get('model_wrapper_cfg') or {})
        wrapper['device_ids'] = None  # a CPU module takes no device ids
        cfg.model_wrapper_cfg = wrapper


def set_amp(cfg) -> None:
    if not accelerator_available():
        raise SystemExit('--amp needs a GPU or NPU (MMEngine\'s AmpOptimWrapper asserts one); on CPU train without '
                         '--amp (float32) or set model.dtype')
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper == 'AmpOptimWrapper':
        return
    if wrapper != 'OptimWrapper':
        raise SystemExit(f'--amp applies to OptimWrapper, but the config uses {wrapper} (its strategy sets the '
                         'precision; e.g. DeepSpeed bf16)')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.setdefault('dtype', 'bfloat16')


def build_runner(cfg):
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)


def train(argv: Optional[Sequence[str]] = None) -> None:
    args = build_train_parser().parse_args(argv)
    cfg = load_config(args)
    if args.amp:
        set_amp(cfg)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    build_runner(cfg).train()


def test(argv: Optional[Sequence[str]] = None) -> None:
    args = build_test_parser().parse_args(argv)
    cfg = load_config(args)
    if args.checkpoint is not None and osp.isdir(args.checkpoint):
        # a UniPixel folder (HF layout: an official checkpoint, an `HFExportHook` export, the packaged toy): the
        # model is built from it, as `lmms-eval --model unipixel --model_args pretrained=FOLDER` loads it
        if not osp.isfile(osp.join(args.checkpoint, 'config.json')):
            raise SystemExit(f'checkpoint {args.checkpoint} is a folder without config.json: give an MMEngine '
                             '.pth file or a UniPixel folder in HF layout')
        cfg.model.pretrained = args.checkpoint
        cfg.model.pop('base_model', None)
        cfg.model.pop('partial_checkpoints', None)
    elif args.checkpoint is not None:
        cfg.load_from = args.checkpoint
    if cfg.get('test_dataloader') is None:
        raise SystemExit(f'{args.config} has no test_dataloader / test_cfg / test_evaluator; add them (see '
                         'configs/unipixel_tiny_cpu_seg.py) or use a config that has them')
    if args.out is not None:
        metrics = cfg.get('test_evaluator') or []
        metrics = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
        metrics.append(dict(type='DumpResults', out_file_path=args.out))
        cfg.test_evaluator = metrics
    build_runner(cfg).test()


if __name__ == '__main__':
    sys.exit(train())

__all__ = ['train', 'test', 'resolve_iteration_schedule', 'build_train_parser', 'build_test_parser', 'setup_distributed', 'LAUNCHERS']
