"""End to end: ``mim train`` / ``mim test`` on the installed package, and CPU multi-process training (torchrun)."""
import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import pytest

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


PROBE = """
import json, os
from importlib import metadata
try:
    dist = metadata.distribution('unipixel_plugin')
except metadata.PackageNotFoundError:
    print(json.dumps(None)); raise SystemExit
import unipixel_plugin
direct = json.loads(dist.read_text('direct_url.json') or '{}')
print(json.dumps(dict(path=os.path.dirname(unipixel_plugin.__file__),
                      editable=bool(direct.get('dir_info', {}).get('editable')))))
"""


def installed_env(tmp_path) -> dict:
    env = dict(os.environ, UNIPIXEL_TOY_ROOT=str(tmp_path / 'toy'))
    env.pop('PYTHONPATH', None)  # the installed package, not the source tree
    return env


def regular_install(env, cwd) -> str:
    """The installed package folder, or skip (mim needs a regular, non-editable install)."""
    out = subprocess.run([sys.executable, '-c', PROBE], env=env, cwd=cwd, capture_output=True, text=True,
                         timeout=120)
    info = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else None
    if info is None:
        pytest.skip('unipixel_plugin is not installed in this environment: `pip install .` first (mim train needs '
                    'an installed package)')
    if info['editable']:
        pytest.skip('unipixel_plugin is installed editable (pip install -e): mim cannot find its package root then; '
                    'test with a regular `pip install .`')
    if not osp.isfile(osp.join(info['path'], '.mim', 'tools', 'train.py')):
        pytest.skip(f"{info['path']} has no .mim/tools/train.py: reinstall the package (pip install .)")
    return info['path']


def mim(*args, env, cwd, timeout=600):
    exe = osp.join(osp.dirname(sys.executable), 'mim')
    if not osp.isfile(exe):
        pytest.skip(f'no mim executable next to {sys.executable}: pip install openmim')
    return subprocess.run([exe, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_mim_train_and_test_tiny_cpu_config(tmp_path):
    env = installed_env(tmp_path)
    package = regular_install(env, tmp_path)
    work = tmp_path / 'work'
    out = mim('train', 'unipixel_plugin', 'unipixel_tiny_cpu_seg.py', '--work-dir', str(work), env=env, cwd=tmp_path)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    assert osp.join(package, '.mim', 'configs', 'unipixel_tiny_cpu_seg.py') in out.stdout  # found by basename
    assert (work / 'iter_3.pth').is_file() and (work / 'iter_6.pth').is_file()
    assert (work / 'hf_model' / 'config.json').is_file() and (work / 'hf_model' / 'model.safetensors').is_file()
    logs = out.stdout + out.stderr
    assert 'Iter(train) [6/6]' in logs and 'loss_seg' in logs
    assert 'Iter(val)' in logs and 'refvos/J&F' in logs  # validated with the registered metric at the last iteration
    # hooks: throughput next to the losses, an overlay of a validation sample, TensorBoard events
    assert 'samples_per_s' in logs and 'tokens_per_s' in logs
    import glob
    assert glob.glob(str(work / '*' / 'vis_data' / 'vis_image' / 'segmentation_0_*.png'))
    assert glob.glob(str(work / '*' / 'vis_data' / 'events.out.tfevents.*'))
    hf = work / 'hf_model'
    assert all(os.stat(p).st_mode & 0o044 == 0o044 for p in hf.iterdir())  # the export is world-readable

    out = mim('test', 'unipixel_plugin', 'unipixel_tiny_cpu_seg.py', '-C', str(work / 'iter_6.pth'), '--work-dir',
              str(work), '--out', str(work / 'predictions.pkl'), env=env, cwd=tmp_path)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    logs = out.stdout + out.stderr
    assert 'Iter(test) [4/4]' in logs and 'refvos/J&F' in logs and 'refvos/expressions: 4' in logs
    with open(work / 'predictions.pkl', 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 4 and all(p['gt_masks'].shape[1] == 4 for p in predictions)


@pytest.mark.slow
def test_cpu_ddp_with_torchrun(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, UNIPIXEL_TOY_ROOT=str(tmp_path / 'toy'), OMP_NUM_THREADS='1')
    work = tmp_path / 'work'
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', '29641',
           osp.join(ROOT, 'unipixel_plugin', '.mim', 'tools', 'train.py'), 'unipixel_tiny_cpu_seg.py', '--launcher',
           'pytorch', '--work-dir', str(work), '--cfg-options', 'train_cfg.max_iters=2',
           'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=1',
           'train_dataloader.sampler.batch_size=1']
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    logs = out.stdout + out.stderr
    assert out.returncode == 0, logs[-4000:]
    assert 'Distributed training: True' in logs and 'Iter(train) [2/2]' in logs
    assert (work / 'iter_2.pth').is_file() and (work / 'hf_model' / 'config.json').is_file()
