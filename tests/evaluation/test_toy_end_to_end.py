"""`lmms-eval --model unipixel` end to end with the trained toy (masks that follow the query, nothing forced), on
fresh toy scenes written in the native RefCOCO and MeViS layouts:

* each task's aggregate equals `unipixel score` on the masks the run wrote (`unipixel export` of its logged samples),
  and those masks are not empty;
* a run killed with `kill -9` halfway and started again takes the finished answers from its journal and ends with
  the uninterrupted run's numbers.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TASKS = Path(__file__).resolve().parents[2] / 'tasks'
IMAGE_TASK, VIDEO_TASK = 'unipixel_refcoco_val', 'unipixel_mevis_valid_u'

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    """6 image scenes (RefCOCO val layout) and 2 six-frame videos (MeViS valid_u), one expression per object."""
    from unipixel_plugin.toy.scenes import write_scenes
    root = tmp_path_factory.mktemp('toy_eval')
    return write_scenes(root, num_images=6, num_videos=2, num_frames=6, seed=4001, split='valid_u',
                        expressions_per_object=1)


def lmms_eval(checkpoint, root, out, tasks, journal, cwd, wait=True):
    from unipixel_plugin.toy.model import LLM_PIXELS
    env = dict(os.environ, UNIPIXEL_DATA_ROOT=str(root), HF_HUB_OFFLINE='1', HF_DATASETS_OFFLINE='1',
               OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'))
    args = [sys.executable, '-m', 'lmms_eval', '--model', 'unipixel', '--model_args',
            f'pretrained={checkpoint},device=cpu,dtype=float32,min_pixels={LLM_PIXELS},max_pixels={LLM_PIXELS},'
            f'max_new_tokens=12,journal={journal}', '--tasks', ','.join(tasks), '--include_path', str(TASKS),
            '--output_path', str(out), '--log_samples', '--batch_size', '1']
    if not wait:
        return subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done.stdout + done.stderr


def results_of(out) -> dict:
    return json.loads(next(Path(out).rglob('*_results.json')).read_text())['results']


def unipixel(*args):
    done = subprocess.run([sys.executable, '-m', 'unipixel_plugin.cli', *map(str, args)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope='module')
def full_run(toy_checkpoint, scenes, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('full_run')
    logs = lmms_eval(toy_checkpoint, scenes, tmp / 'out', [IMAGE_TASK, VIDEO_TASK], tmp / 'journal.jsonl', tmp)
    return {'out': tmp / 'out', 'logs': logs, 'results': results_of(tmp / 'out'), 'tmp': tmp}


def test_each_aggregate_equals_unipixel_score_on_the_exported_masks(full_run, scenes):
    out, tmp = full_run['out'], full_run['tmp']
    image = full_run['results'][IMAGE_TASK]
    samples = next(out.rglob(f'*_samples_{IMAGE_TASK}.jsonl'))
    assert 'without any mask pixel' in unipixel('export', samples, tmp / 'pred_refcoco', '--data-root', scenes)
    unipixel('score', 'refcoco', tmp / 'pred_refcoco', '--data-root', scenes, '--json', tmp / 'refcoco.json')
    scored = json.loads((tmp / 'refcoco.json').read_text())
    assert scored['samples'] >= 18 and not scored['missing_predictions']
    assert scored['cIoU'] == pytest.approx(image['cIoU,none'], abs=1e-12)
    assert scored['gIoU'] == pytest.approx(image['gIoU,none'], abs=1e-12)
    assert image['cIoU,none'] > 0.3  # the toy segments what it is asked (held-out image cIoU ~0.51), not by chance

    video = full_run['results'][VIDEO_TASK]
    samples = next(out.rglob(f'*_samples_{VIDEO_TASK}.jsonl'))
    unipixel('export', samples, tmp / 'pred_mevis', '--data-root', scenes)
    pngs = sorted((tmp / 'pred_mevis').rglob('*.png'))
    assert len(pngs) >= 6 * 6  # every frame of every expression
    import numpy as np
    from PIL import Image
    assert sum(int((np.asarray(Image.open(p)) > 0).any()) for p in pngs) > 0  # some tracked frames have masks
    unipixel('score', 'mevis_valid_u', tmp / 'pred_mevis', '--data-root', scenes, '--json', tmp / 'mevis.json')
    scored = json.loads((tmp / 'mevis.json').read_text())
    assert not scored['missing_videos'] and not scored['missing_frames']
    for metric in ('J', 'F', 'J&F'):
        assert scored[metric] == pytest.approx(video[f'{metric},none'], abs=1e-9)
    assert video['J&F,none'] > 0.0


def test_a_run_killed_with_sigkill_resumes_from_its_journal(full_run, toy_checkpoint, scenes, tmp_path):
    journal = tmp_path / 'journal.jsonl'
    process = lmms_eval(toy_checkpoint, scenes, tmp_path / 'killed', [IMAGE_TASK], journal, tmp_path, wait=False)
    deadline = time.time() + 600
    try:
        while time.time() < deadline and process.poll() is None:
            if journal.is_file() and len(journal.read_text().splitlines()) >= 5:
                break
            time.sleep(0.2)
        assert process.poll() is None, 'the run ended before it could be killed'
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    done_before = len([line for line in journal.read_text().splitlines() if line.strip()])
    assert done_before >= 5 and not list((tmp_path / 'killed').rglob('*_results.json'))

    logs = lmms_eval(toy_checkpoint, scenes, tmp_path / 'again', [IMAGE_TASK], journal, tmp_path)
    total = full_run['results'][IMAGE_TASK]
    reused = [line for line in logs.splitlines() if 'taken from the journal' in line]
    assert reused, logs[-2000:]
    taken = int(reused[-1].split('answer(s) taken')[0].split()[-1])
    assert taken >= done_before - 1  # a line cut by the kill may be redone; nothing else is
    again = results_of(tmp_path / 'again')[IMAGE_TASK]
    assert again['cIoU,none'] == pytest.approx(total['cIoU,none'], abs=1e-12)
    assert again['gIoU,none'] == pytest.approx(total['gIoU,none'], abs=1e-12)
