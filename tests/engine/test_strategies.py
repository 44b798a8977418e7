"""Scale-out: every stage config builds its FlexibleRunner (tiny stand-in), DeepSpeed engines prepare on CPU, the tiny
model trains through ZeRO-2 bf16 with gradient checkpointing on CPU, and the GPU check's dry run works."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
STAGES = {'unipixel_3b_stage1_ref.py': 32, 'unipixel_3b_stage2_seg.py': 32, 'unipixel_3b_stage3_sft.py': 4,
          'unipixel_7b_stage1_ref.py': 32, 'unipixel_7b_stage2_seg.py': 32, 'unipixel_7b_stage3_sft.py': 4}

pytest.importorskip('deepspeed', reason="the deepspeed extra is not installed (pip install '.[deepspeed]')")


def _env(toy_root):
    return dict(os.environ, PYTHONPATH=ROOT, UNIPIXEL_TOY_ROOT=str(toy_root), OMP_NUM_THREADS='2')


def test_gpu_check_refuses_to_run_without_a_gpu(capsys):
    import torch

    from unipixel_plugin.engine.strategy_check import main
    if torch.cuda.is_available():
        pytest.skip('this machine has a GPU: the check would run')
    assert main([]) == 2
    assert '--dry-run' in capsys.readouterr().err


@pytest.mark.slow
def test_dry_run_builds_every_stage_runner_and_prepares_deepspeed(tmp_path, toy_root):
    out = subprocess.run([sys.executable, '-m', 'unipixel_plugin.engine.strategy_check', '--dry-run', '--work-dir',
                          str(tmp_path)], env=_env(toy_root), capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    rows = {r['config']: r for r in (json.loads(line) for line in out.stdout.splitlines() if line.startswith('{'))}
    for name, accumulation in STAGES.items():
        row = rows[name]
        assert row['runner'] == 'FlexibleRunner' and row['strategy'] == 'DeepSpeedStrategy' and row['prepared'], row
        assert row['zero_stage'] == 2 and row['dtype'] == 'torch.bfloat16' and row['accumulation'] == accumulation
        assert row['engine'] == 'MMDeepSpeedEngineWrapper' and row['optim_wrapper'] == 'DeepSpeedOptimWrapper'
    fsdp = rows['unipixel_3b_stage2_seg_fsdp.py']
    assert fsdp['strategy'] == 'FSDPStrategy' and not fsdp['prepared'] and 'CUDA' in fsdp['why']
    # the stage's trainable set survives the strategy: stage 2 trains seg_head only, stage 3 far more
    assert rows['unipixel_3b_stage2_seg.py']['trainable'] == rows['unipixel_3b_stage2_seg_fsdp.py']['trainable']
    assert rows['unipixel_3b_stage3_sft.py']['trainable'] > 100 * rows['unipixel_3b_stage2_seg.py']['trainable']
    assert {'unipixel_tiny_cpu_zero2.py', 'unipixel_tiny_fsdp.py'} <= set(rows)  # listed, not run


@pytest.mark.slow
def test_tiny_model_trains_through_zero2_bf16_on_cpu(tmp_path, toy_root):
    work = tmp_path / 'work'
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '1', '--master_port', '29663', '-m',
           'unipixel_plugin.engine.train', 'unipixel_tiny_cpu_zero2.py', '--launcher', 'pytorch', '--work-dir',
           str(work), '--cfg-options', 'train_cfg.max_iters=2', 'default_hooks.checkpoint.interval=2']
    out = subprocess.run(cmd, env=_env(toy_root), capture_output=True, text=True, timeout=900)
    logs = out.stdout + out.stderr
    assert out.returncode == 0, logs[-3000:]
    assert 'Iter(train) [2/2]' in logs and 'loss_seg' in logs
    assert (work / 'iter_2.pth').exists() and (work / 'hf_model' / 'model.safetensors').is_file()
