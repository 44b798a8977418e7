"""`mim test` and `lmms-eval` give the same cIoU / gIoU for the same checkpoint and data (issue 11).

The trained toy (unipixel_plugin/assets/toy_model) is scored on the first N held-out image expressions (seed 1001)
twice, each through its real command line:

* ``mim test unipixel_plugin unipixel_toy.py -C <toy folder> --cfg-options test_dataloader.dataset.indices=N``:
  the toy config's test loop (``ToyRefCOCODataset`` split ``val``, ``RefSegMetric``);
* ``lmms-eval --model unipixel --model_args pretrained=<toy folder> --tasks unipixel_refcoco_val --limit N`` with
  ``UNIPIXEL_DATA_ROOT`` at the same scenes (they are written in the RefCOCO layout, so the task reads them with the
  same reader).

The protocol both follow (docs/toy.md, "mim test and lmms-eval"): generation (greedy) from upstream's prompt, the toy's
pixel budget (112 x 112 = 12,544 pixels per frame: the config's data preprocessor for ``mim test``, the toy's
``config.json`` ``llm_pixels`` for the adapter, given no ``min_pixels`` / ``max_pixels``), the first ``<|seg|>``'s mask scored.
"""
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
N = 24  # held-out expressions (the first 24 of 349)


def _exe(name: str) -> str:
    exe = Path(sys.executable).parent / name
    if not exe.is_file():
        pytest.skip(f'no {name} executable next to {sys.executable}')
    return str(exe)


@pytest.fixture(scope='module')
def heldout(tmp_path_factory):
    """A private toy root holding the held-out scenes, and the environment both commands run in."""
    from unipixel_plugin.toy.cache import ensure_toy_scenes
    toy_root = tmp_path_factory.mktemp('toy_root')
    data_root = ensure_toy_scenes(str(toy_root), split='valid_u')
    # the subprocesses import the same unipixel_plugin as this test (PYTHONPATH, if any, is passed on)
    env = dict(os.environ, UNIPIXEL_TOY_ROOT=str(toy_root), UNIPIXEL_DATA_ROOT=str(data_root), OMP_NUM_THREADS='1',
               MKL_NUM_THREADS='1', HF_HUB_OFFLINE='1', HF_DATASETS_OFFLINE='1', TOKENIZERS_PARALLELISM='false')
    return env


@pytest.mark.slow
def test_mim_test_prints_the_numbers_of_the_lmms_eval_task(heldout, toy_checkpoint, tmp_path):
    from unipixel_plugin.evaluation.metrics import intersection_and_union

    # --- mim test: the MMEngine test loop of the toy config, the HF folder as the checkpoint
    work = tmp_path / 'mim'
    out = subprocess.run([_exe('mim'), 'test', 'unipixel_plugin', 'unipixel_toy.py', '-C', str(toy_checkpoint),
                          '--work-dir', str(work), '--out', str(work / 'predictions.pkl'),
                          '--cfg-options', f'test_dataloader.dataset.indices={N}'],
                         env=heldout, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    logs = out.stdout + out.stderr
    assert out.returncode == 0, logs[-4000:]
    assert f'Iter(test) [{N}/{N}]' in logs and 'refseg/cIoU' in logs
    (scalars,) = work.glob('*/*.json')  # MMEngine's record of the logged test metrics, at full precision
    mim_scores = json.loads(scalars.read_text())
    with open(work / 'predictions.pkl', 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == N

    # --- lmms-eval: the unipixel_refcoco_val task on the same scenes (UNIPIXEL_DATA_ROOT), same checkpoint
    lmms_out = tmp_path / 'lmms'
    out = subprocess.run([_exe('lmms-eval'), '--model', 'unipixel', '--model_args',
                          f'pretrained={toy_checkpoint},device=cpu',
                          '--tasks', 'unipixel_refcoco_val', '--include_path', str(ROOT / 'tasks'), '--limit', str(N),
                          '--output_path', str(lmms_out), '--log_samples', '--batch_size', '1'],
                         env=heldout, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    row = json.loads(next(lmms_out.rglob('*_results.json')).read_text())['results']['unipixel_refcoco_val']
    samples = [json.loads(line) for line in next(lmms_out.rglob('*_samples_*.jsonl')).open()]
    assert len(samples) == N

    # the same expressions, and per expression the same intersection and union
    lmms_stats = {s['cIoU']['sent_id']: (s['cIoU']['intersection'], s['cIoU']['union']) for s in samples}
    mim_stats = {}
    for p in predictions:
        pred = np.asarray(p['pred_masks'][0] if len(p['pred_masks']) else np.zeros(p['gt_masks'].shape[1:]))
        inter, union = intersection_and_union(pred != 0, np.asarray(p['gt_masks']).any(axis=0))
        mim_stats[int(p['meta']['sent_ids'][0])] = (float(inter), float(union))
    assert mim_stats == lmms_stats
    # the masks are real: nearly every answer has a mask that overlaps its object
    assert sum(i > 0 for i, _ in lmms_stats.values()) >= 0.75 * N
    # the printed numbers: MMEngine reports percent, lmms-eval fractions
    assert mim_scores['refseg/cIoU'] == pytest.approx(100 * row['cIoU,none'], abs=1e-9)
    assert mim_scores['refseg/gIoU'] == pytest.approx(100 * row['gIoU,none'], abs=1e-9)
    assert row['cIoU,none'] > 0.3 and row['gIoU,none'] > 0.3


def test_a_folder_checkpoint_needs_config_json(tmp_path):
    from unipixel_plugin.engine.runner import test
    with pytest.raises(SystemExit, match='folder without config.json'):
        test([str(ROOT / 'configs' / 'unipixel_toy.py'), str(tmp_path), '--work-dir', str(tmp_path / 'work')])
