"""The unipixel Ref-VOS lmms-eval tasks (MeViS valid_u, Ref-DAVIS17, ReVOS, Ref-SAV): documents from native files,
per-expression J / F on synthetic answers, ReVOS subsets, the YAMLs in lmms-eval and an end-to-end run."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unipixel_plugin.masks import encode_rle

H, W, T = 36, 48, 3
TASKS = Path(__file__).resolve().parents[2] / 'tasks'


def gt_mask(v, t):
    m = np.zeros((H, W), bool)
    m[6 + v:20 + v, 5 + 4 * t:20 + 4 * t] = True
    return m


def write_refvos(root: Path, folder: str, meta_name: str, frames_dir: str, with_types=False):
    videos, mask_dict = {}, {}
    for v, vid in enumerate(['v0', 'v1']):
        frames = [f'{t:05d}' for t in range(T)]
        fdir = root / frames_dir / vid
        fdir.mkdir(parents=True, exist_ok=True)
        for t, name in enumerate(frames):
            image = np.full((H, W, 3), 40, np.uint8)
            image[gt_mask(v, t)] = (200, 40, 40)
            Image.fromarray(image).save(fdir / f'{name}.jpg')
        exp = {'exp': 'the red box', 'obj_id': [0], 'anno_id': [v]}
        if with_types:
            exp['type_id'] = v
        videos[vid] = {'expressions': {'0': exp}, 'frames': frames}
        mask_dict[str(v)] = [encode_rle(gt_mask(v, t)) for t in range(T)]
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / meta_name).write_text(json.dumps({'videos': videos}))
    (root / folder / 'mask_dict.json').write_text(json.dumps(mask_dict))


@pytest.fixture(scope='module')
def refvos_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('refvos_root')
    write_refvos(root, 'mevis/valid_u', 'meta_expressions.json', 'mevis/valid_u/JPEGImages')
    write_refvos(root, 'revos', 'meta_expressions_valid_.json', 'revos', with_types=True)
    return root


def answer_for(doc, frames):
    """A unipixel-style answer whose mask track is the ground truth on ``frames`` and empty elsewhere."""
    gts = json.loads(doc['gt'])
    empty = encode_rle(np.zeros((H, W), bool))
    return json.dumps({'answer': 'Sure, it is <|seg|>.', 'frame_indices': list(range(T)),
                       'masks': [[gts[t] if t in frames else empty for t in range(T)]]})


def test_documents_and_scores(refvos_root):
    from unipixel_plugin.evaluation.lmms import refer_video_segmentation as task
    docs = task.build_docs('mevis', 'valid_u', str(refvos_root))
    assert [d['prompt'] for d in docs] == ['Please segment the red box in this video.'] * 2
    assert os.path.isdir(docs[0]['video']) and len(json.loads(docs[0]['gt'])) == T
    perfect = task.process_results(docs[0], [answer_for(docs[0], {0, 1, 2})])['J&F']
    assert perfect['J'] == 1 and perfect['F'] == 1
    two = task.process_results(docs[1], [answer_for(docs[1], {0, 1})])['J&F']
    assert two['J'] == pytest.approx(2 / 3) and two['F'] == pytest.approx(2 / 3)  # one empty frame of three
    text = task.process_results(docs[1], ['the red box'])['J&F']
    assert text['J'] == 0 and text['F'] == 0
    assert task.aggregate_jf([perfect, two]) == pytest.approx((1 + 2 / 3) / 2)


def test_revos_overall_is_the_mean_of_the_subsets(refvos_root):
    from unipixel_plugin.evaluation.lmms import refer_video_segmentation as task
    docs = task.build_docs('revos', 'valid', str(refvos_root))
    assert [d['type_id'] for d in docs] == [0, 1]
    items = [task.process_results(docs[0], [answer_for(docs[0], {0, 1, 2})])['J&F'],
             task.process_results(docs[1], [answer_for(docs[1], {0})])['J&F']]
    # referring 100, reasoning 33.33 (each expression rounded to 0.01 % first), overall their mean
    assert task.aggregate_revos_overall(items) == pytest.approx((100 + 33.33) / 2 / 100)
    # J and F alike: the reasoning expression has J = F = 1/3 (one perfect frame of three)
    assert task.aggregate_revos_overall_j(items) == pytest.approx((100 + 33.33) / 2 / 100)
    assert task.aggregate_revos_overall_f(items) == pytest.approx((100 + 33.33) / 2 / 100)


def test_yamls_load(refvos_root, monkeypatch):
    monkeypatch.setenv('UNIPIXEL_DATA_ROOT', str(refvos_root))
    from lmms_eval.tasks import TaskManager
    manager = TaskManager(include_path=str(TASKS))
    assert {'unipixel_mevis_valid_u', 'unipixel_ref_davis17_valid', 'unipixel_revos_valid',
            'unipixel_ref_sav_valid'} <= set(manager.all_tasks)
    task = manager.load_task_or_group(['unipixel_revos_valid'])['unipixel_revos_valid']
    assert len(list(task.test_docs())) == 2


@pytest.mark.slow
def test_lmms_eval_runs_unipixel_on_mevis(refvos_root, tiny_ckpt, tmp_path):
    env = dict(os.environ, UNIPIXEL_DATA_ROOT=str(refvos_root), HF_HUB_OFFLINE='1', HF_DATASETS_OFFLINE='1')
    args = ['--model', 'unipixel', '--model_args', f'pretrained={tiny_ckpt},device=cpu,min_pixels=3136,'
            'max_pixels=12544,max_new_tokens=4', '--tasks', 'unipixel_mevis_valid_u', '--include_path', str(TASKS),
            '--output_path', str(tmp_path / 'out'), '--log_samples']
    out = subprocess.run([sys.executable, '-m', 'lmms_eval', *args], capture_output=True, text=True, env=env,
                         timeout=900, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    row = json.loads(next((tmp_path / 'out').rglob('*_results.json')).read_text())['results'][
        'unipixel_mevis_valid_u']
    samples = [json.loads(line) for line in next((tmp_path / 'out').rglob('*_samples_*.jsonl')).open()]
    from unipixel_plugin.evaluation.lmms import refer_video_segmentation as task
    docs = task.build_docs('mevis', 'valid_u', str(refvos_root))
    items = [task.process_results(docs[s['doc_id']], [s['filtered_resps'][0]])['J&F'] for s in samples]
    assert len(items) == 2 and row['J&F,none'] == pytest.approx(task.aggregate_jf(items))
