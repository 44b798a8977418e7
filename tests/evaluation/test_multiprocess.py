"""lmms-eval's multi-process route, `accelerate launch --num_processes 2 -m lmms_eval --model unipixel`, on CPU
processes (gloo): the requests are sharded between the two ranks and the scores equal those of one process.

On a machine without GPUs the launch takes ``--multi_gpu`` (accelerate's torchrun launcher; the process group is
gloo), not ``--cpu``: accelerate's ``--cpu`` uses its simple launcher, which starts ONE process whatever
``--num_processes`` says (docs/evaluation.md, "Several processes")."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TASKS = Path(__file__).resolve().parents[2] / 'tasks'
TASK = 'unipixel_refcoco_val'

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    """3 toy image scenes in the RefCOCO layout: 11 referring expressions (val)."""
    from unipixel_plugin.toy.scenes import write_scenes
    return write_scenes(tmp_path_factory.mktemp('mp_scenes'), num_images=3, num_videos=0, seed=4001,
                        split='valid_u', expressions_per_object=1)


def evaluate(launcher, checkpoint, root, out, journal):
    from unipixel_plugin.toy.model import LLM_PIXELS
    env = dict(os.environ, UNIPIXEL_DATA_ROOT=str(root), HF_HUB_OFFLINE='1', HF_DATASETS_OFFLINE='1',
               OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    args = [*launcher, '-m', 'lmms_eval', '--model', 'unipixel', '--model_args',
            f'pretrained={checkpoint},device=cpu,dtype=float32,min_pixels={LLM_PIXELS},max_pixels={LLM_PIXELS},'
            f'max_new_tokens=12,journal={journal}', '--tasks', TASK, '--include_path', str(TASKS),
            '--output_path', str(out), '--log_samples', '--batch_size', '2']
    done = subprocess.run(args, env=env, cwd=out.parent, capture_output=True, text=True, timeout=600)
    logs = done.stdout + done.stderr
    assert done.returncode == 0, logs[-4000:]
    results = json.loads(next(out.rglob('*_results.json')).read_text())['results'][TASK]
    samples = {s['doc_id']: s for s in map(json.loads, next(out.rglob('*_samples_*.jsonl')).open())}
    entries = [json.loads(line) for line in open(journal)]
    return results, samples, entries, logs


def test_two_cpu_processes_shard_the_requests_and_score_as_one(toy_checkpoint, scenes, tmp_path):
    accelerate = Path(sys.executable).with_name('accelerate')
    one = evaluate([sys.executable], toy_checkpoint, scenes, tmp_path / 'one', tmp_path / 'one.jsonl')
    two = evaluate([str(accelerate), 'launch', '--multi_gpu', '--num_processes', '2', '--num_machines', '1',
                    '--mixed_precision', 'no', '--dynamo_backend', 'no'],
                   toy_checkpoint, scenes, tmp_path / 'two', tmp_path / 'two.jsonl')
    (r1, s1, e1, _), (r2, s2, e2, logs) = one, two
    docs = set(range(11))
    assert set(s1) == set(s2) == docs and {e['rank'] for e in e1} == {0}
    # both ranks ran and each answered its own share (lmms-eval gives rank r the documents r, r + 2, ...; rank 1's
    # last request is repeated once as padding, so the shares are even)
    assert 'Running on rank 0' in logs and 'Running on rank 1' in logs
    shares = {rank: {e['doc_id'] for e in e2 if e['rank'] == rank} for rank in (0, 1)}
    assert shares == {0: {d for d in docs if d % 2 == 0}, 1: {d for d in docs if d % 2 == 1}}
    assert len(e2) == 12 and [e['doc_id'] for e in e2 if e['rank'] == 1].count(9) == 2  # the padding repeat
    # the answers have real masks and the same texts, and the gathered scores are the single process's
    from unipixel_plugin.evaluation.lmms.documents import answer_record

    def record(sample):  # lmms-eval 0.7 logs a single response as the string itself
        resp = sample['filtered_resps']
        return answer_record(resp if isinstance(resp, str) else resp[0])
    records = {d: (record(s1[d]), record(s2[d])) for d in docs}
    assert all(a.get('answer') == b.get('answer') for a, b in records.values())
    assert sum(bool(b.get('masks')) for _, b in records.values()) >= 9 and r1['cIoU,none'] > 0.2
    assert r2['cIoU,none'] == pytest.approx(r1['cIoU,none'], abs=1e-12)
    assert r2['gIoU,none'] == pytest.approx(r1['gIoU,none'], abs=1e-12)
