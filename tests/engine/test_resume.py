"""Training with the MMEngine Runner on the tiny CPU config, then resuming from a checkpoint (torch >= 2.6)."""
import os.path as osp

import pytest
import torch
from mmengine.hooks import Hook

from unipixel_plugin.engine.runner import resolve_iteration_schedule

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
CONFIG = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'unipixel_tiny_cpu_seg.py')


def tiny_cfg(work_dir, max_iters, **extra):
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_iters = max_iters
    cfg.default_hooks.checkpoint.interval = 1
    cfg.train_dataloader.batch_size = 1
    cfg.train_dataloader.sampler.batch_size = 1
    cfg.custom_hooks = [dict(type='RandomStateHook')]  # export is tested elsewhere
    cfg.log_level = 'WARNING'
    cfg.merge_from_dict(extra)
    resolve_iteration_schedule(cfg)  # what the train command does after --cfg-options
    return cfg


class Snapshot(Hook):
    """Records the runner's state when training (re)starts, i.e. after resume."""

    def before_train(self, runner):
        model = runner.model
        self.iter = runner.iter
        self.seg_head = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.sam2_weight = model.hf_model.sam2.sam_mask_decoder.iou_prediction_head.layers[0].weight.detach().clone()
        state = runner.optim_wrapper.optimizer.state
        self.steps = sorted({int(s['step']) for s in state.values()})
        self.loss_history = len(runner.message_hub.get_scalar('train/loss').data[0])


def test_resume_continues_where_training_stopped(tmp_path, toy_root):
    from mmengine.runner import Runner
    from unipixel_plugin.engine.checkpoint_loading import load_from_local_safe
    from unipixel_plugin.models import PixelQwen2_5_VLForConditionalGeneration

    first = Runner.from_cfg(tiny_cfg(tmp_path, max_iters=2))
    first.train()
    ckpt = tmp_path / 'iter_2.pth'
    assert ckpt.is_file() and (tmp_path / 'iter_1.pth').is_file()
    # torch >= 2.6 loads it weights-only, message hub included
    saved = load_from_local_safe(str(ckpt), map_location='cpu')
    assert saved['meta']['iter'] == 2 and 'message_hub' in saved and 'optimizer' in saved
    assert saved['state_dict'] and all(k.startswith('hf_model.seg_head.') for k in saved['state_dict'])

    second = Runner.from_cfg(tiny_cfg(tmp_path, max_iters=3, resume=True, load_from=str(ckpt)))
    snapshot = Snapshot()
    second.register_hook(snapshot)
    second.train()

    assert snapshot.iter == 2 and second.iter == 3 and (tmp_path / 'iter_3.pth').is_file()
    assert snapshot.steps == [2]  # AdamW moments continue, they did not restart
    assert snapshot.loss_history == 2  # the message hub's logs came back too
    for key, value in saved['state_dict'].items():
        assert torch.equal(snapshot.seg_head[key], value), key
    # frozen weights are the pretrained ones (they are not in the checkpoint, and not lost)
    pretrained = PixelQwen2_5_VLForConditionalGeneration.from_pretrained(second.model.pretrained)
    expected = pretrained.sam2.sam_mask_decoder.iou_prediction_head.layers[0].weight
    assert torch.equal(snapshot.sam2_weight, expected)
    # and training moved the trainable ones on after the resume
    last = load_from_local_safe(str(tmp_path / 'iter_3.pth'), map_location='cpu')['state_dict']
    assert any(not torch.equal(last[k], saved['state_dict'][k]) for k in last)


def test_plain_torch_load_still_refuses_arbitrary_globals(tmp_path):
    """The allow-list is narrow: getattr is only allowed inside MMEngine's checkpoint loader."""
    import pickle

    import pytest

    import unipixel_plugin.engine  # noqa: F401
    path = tmp_path / 'x.pth'
    torch.save({'f': getattr(torch.nn.Linear, 'forward')}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)


def _train_command(work, *extra):
    import sys
    return [sys.executable, '-m', 'unipixel_plugin.engine.train', 'unipixel_tiny_cpu_seg.py', '--work-dir', str(work),
            *extra, '--cfg-options', 'train_cfg.max_iters=8', 'default_hooks.checkpoint.interval=3',
            'default_hooks.checkpoint.max_keep_ckpts=5', 'default_hooks.logger.interval=1',
            'log_processor.window_size=1', 'train_dataloader.batch_size=1', 'train_dataloader.sampler.batch_size=1']


def _losses(work) -> dict:
    import glob
    import json
    found = {}
    for path in sorted(glob.glob(str(work / '*' / 'vis_data' / 'scalars.json'))):
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if 'loss' in rec:
                    found[rec['iter']] = {k: v for k, v in rec.items() if k.startswith('loss') or k.startswith('seg_')}
    return found


@pytest.mark.slow
def test_kill_9_then_resume_matches_the_uninterrupted_run_bit_for_bit(tmp_path, toy_root):
    """A real ``kill -9`` after iter_6.pth, then ``--resume``: iterations 7-8 log exactly the uninterrupted losses.

    The tiny config keeps SAM 2's memory-attention dropout on and samples objects at random, so the test fails
    without the random states in the checkpoint (the losses differed in the 3rd decimal before RandomStateHook).
    """
    import os
    import signal
    import subprocess
    import time
    env = dict(os.environ, PYTHONPATH=ROOT, UNIPIXEL_TOY_ROOT=str(toy_root), OMP_NUM_THREADS='1')
    straight = tmp_path / 'straight'
    out = subprocess.run(_train_command(straight), env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    expected = _losses(straight)
    assert sorted(expected) == list(range(1, 9))

    killed = tmp_path / 'killed'
    proc = subprocess.Popen(_train_command(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = killed / 'last_checkpoint'
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if marker.is_file() and marker.read_text().strip().endswith('iter_6.pth'):
            break
        time.sleep(0.05)
    assert proc.poll() is None, 'training ended before it could be killed'
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / 'iter_8.pth').exists()

    out = subprocess.run(_train_command(killed, '--resume'), env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    assert 'resumed' in (out.stdout + out.stderr).lower()
    got = _losses(killed)
    for it in (7, 8):
        assert got[it] == expected[it], (it, got[it], expected[it])
    # the random states are what makes this exact: the checkpoint carries one entry per rank
    from unipixel_plugin.engine.checkpoint_loading import load_from_local_safe
    saved = load_from_local_safe(str(killed / 'iter_6.pth'), map_location='cpu')
    assert len(saved['random_states']) == 1 and set(saved['random_states'][0]) >= {'python', 'numpy', 'torch'}
