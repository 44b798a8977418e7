"""The unipixel_refcoco* lmms-eval tasks: documents from native RefCOCO files, scoring on synthetic answers, the
task YAMLs loading in lmms-eval, and one end-to-end `lmms-eval --model unipixel` run."""
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unipixel_plugin.masks import encode_rle

H, W = 40, 60
TASKS = Path(__file__).resolve().parents[2] / 'tasks'


def square(x0, y0, x1, y1):
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


@pytest.fixture(scope='module')
def refcoco_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('refcoco_root')
    base = root / 'lisa' / 'refer_seg'
    img_dir = base / 'images' / 'mscoco' / 'images' / 'train2014'
    img_dir.mkdir(parents=True)
    images = []
    for i in range(2):
        name = f'COCO_train2014_00000000000{i + 1}.jpg'
        Image.fromarray(np.full((H, W, 3), 90 + 40 * i, np.uint8)).save(img_dir / name)
        images.append({'id': i + 1, 'file_name': name, 'height': H, 'width': W})
    anns = [{'id': 11, 'image_id': 1, 'category_id': 1, 'bbox': [4, 8, 20, 12], 'segmentation': square(4, 8, 24, 20)},
            {'id': 21, 'image_id': 2, 'category_id': 1, 'bbox': [30, 10, 20, 20],
             'segmentation': square(30, 10, 50, 30)}]
    refs = [{'ref_id': r, 'ann_id': a, 'image_id': i, 'category_id': 1, 'split': 'val', 'file_name': 'x.jpg',
             'sent_ids': [10 * r], 'sentences': [{'sent_id': 10 * r, 'sent': s, 'raw': s, 'tokens': s.split()}]}
            for r, a, i, s in ((1, 11, 1, 'The left box'), (2, 21, 2, 'a square'))]
    (base / 'refcoco').mkdir(parents=True)
    with open(base / 'refcoco' / 'refs(unc).p', 'wb') as f:
        pickle.dump(refs, f)
    (base / 'refcoco' / 'instances.json').write_text(json.dumps({'images': images, 'annotations': anns,
                                                                   'categories': [{'id': 1, 'name': 'box'}]}))
    return root


def test_documents_come_from_the_native_files(refcoco_root):
    from unipixel_plugin.evaluation.lmms.refer_segmentation import build_docs
    docs = build_docs('refcoco', 'val', str(refcoco_root))
    assert [d['prompt'] for d in docs] == ['Please segment the left box in this image.',
                                           'Please segment the square in this image.']
    assert all(Path(d['image']).is_file() for d in docs) and docs[0]['sent_id'] == 10


def test_scores_on_synthetic_answers(refcoco_root):
    from unipixel_plugin.evaluation.lmms import refer_segmentation as task
    from unipixel_plugin.masks import decode_rle
    docs = task.build_docs('refcoco', 'val', str(refcoco_root))
    gts = [decode_rle(json.loads(d['gt'])) for d in docs]
    half = gts[1].copy()
    half[:, :40] = False  # keeps the right part of the second square
    answers = [json.dumps({'answer': 'Sure, it is <|seg|>.', 'masks': [[encode_rle(gts[0])]]}),
               json.dumps({'answer': 'Sure, it is <|seg|>.', 'masks': [[encode_rle(half)]]})]
    items = [task.process_results(d, [a])['cIoU'] for d, a in zip(docs, answers)]
    i1, u1 = gts[0].sum(), gts[0].sum()
    i2, u2 = half.sum(), gts[1].sum()
    assert task.aggregate_ciou(items) == pytest.approx((i1 + i2) / (u1 + u2))
    assert task.aggregate_giou(items) == pytest.approx((1 + i2 / u2) / 2) and 0 < i2 < u2
    # any other model's text answer is an empty mask
    assert task.process_results(docs[0], ['the box on the left'])['gIoU']['intersection'] == 0


def test_task_yamls_load_in_lmms_eval(refcoco_root, monkeypatch):
    monkeypatch.setenv('UNIPIXEL_DATA_ROOT', str(refcoco_root))
    from lmms_eval.tasks import TaskManager
    manager = TaskManager(include_path=str(TASKS))
    names = set(manager.all_tasks)
    assert {'unipixel_refcoco_val', 'unipixel_refcoco+_testA', 'unipixel_refcocog_test',
            'unipixel_refcoco_family'} <= names
    task = manager.load_task_or_group(['unipixel_refcoco_val'])['unipixel_refcoco_val']
    docs = list(task.test_docs())
    assert len(docs) == 2 and docs[1]['prompt'] == 'Please segment the square in this image.'


@pytest.mark.slow
def test_lmms_eval_runs_unipixel_on_the_task(refcoco_root, tiny_ckpt, tmp_path):
    env = dict(os.environ, UNIPIXEL_DATA_ROOT=str(refcoco_root), HF_HUB_OFFLINE='1', HF_DATASETS_OFFLINE='1')
    args = ['--model', 'unipixel', '--model_args', f'pretrained={tiny_ckpt},device=cpu,min_pixels=3136,'
            'max_pixels=12544,max_new_tokens=4', '--tasks', 'unipixel_refcoco_val', '--include_path', str(TASKS),
            '--output_path', str(tmp_path / 'out'), '--log_samples', '--batch_size', '1']
    out = subprocess.run([sys.executable, '-m', 'lmms_eval', *args], capture_output=True, text=True, env=env,
                         timeout=900, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(next((tmp_path / 'out').rglob('*_results.json')).read_text())
    row = results['results']['unipixel_refcoco_val']
    samples = [json.loads(line) for line in next((tmp_path / 'out').rglob('*_samples_*.jsonl')).open()]
    assert len(samples) == 2
    # the aggregate equals scoring the logged answers again with the package's metrics
    from unipixel_plugin.evaluation.lmms import refer_segmentation as task
    docs = task.build_docs('refcoco', 'val', str(refcoco_root))
    items = [task.process_results(docs[s['doc_id']], [s['filtered_resps'][0]])['cIoU'] for s in samples]
    assert row['cIoU,none'] == pytest.approx(task.aggregate_ciou(items))
    assert row['gIoU,none'] == pytest.approx(task.aggregate_giou(items))


def test_score_refcoco_predictions_json(refcoco_root, tmp_path):
    from unipixel_plugin.evaluation.lmms.refer_segmentation import build_docs
    from unipixel_plugin.masks import decode_rle
    docs = build_docs('refcoco', 'val', str(refcoco_root))
    gt0 = decode_rle(json.loads(docs[0]['gt']))
    gt1 = decode_rle(json.loads(docs[1]['gt']))
    (tmp_path / 'pred').mkdir()
    (tmp_path / 'pred' / 'predictions.json').write_text(json.dumps([
        {'image_id': 1, 'ref_id': 1, 'sent_id': 10, 'segmentation': encode_rle(gt0)}]))  # sent 20 missing
    out = subprocess.run([sys.executable, '-m', 'unipixel_plugin.cli', 'score', 'refcoco', str(tmp_path / 'pred'),
                          '--data-root', str(refcoco_root), '--json', str(tmp_path / 's.json')],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / 's.json').read_text())
    assert result['cIoU'] == pytest.approx(gt0.sum() / (gt0.sum() + gt1.sum()))
    assert result['gIoU'] == pytest.approx(0.5) and result['missing_predictions'] == ['20']
    assert 'missing predictions (empty masks): 1' in out.stdout


def test_score_reason_seg_ignore_protocols(tmp_path):
    from unipixel_plugin.evaluation.scoring import score_predictions
    folder = tmp_path / 'data' / 'lisa' / 'reason_seg' / 'ReasonSeg' / 'val'
    folder.mkdir(parents=True)
    Image.fromarray(np.full((H, W, 3), 80, np.uint8)).save(folder / 'img.jpg')
    shapes = [{'label': 'target', 'points': [[10, 10], [30, 10], [30, 30], [10, 30]], 'shape_type': 'polygon'},
              {'label': 'ignore', 'points': [[30, 10], [40, 10], [40, 30], [30, 30]], 'shape_type': 'polygon'}]
    (folder / 'img.json').write_text(json.dumps({'text': ['What holds the cup?'], 'is_sentence': True,
                                                 'shapes': shapes}))
    import cv2
    target = np.zeros((H, W), np.uint8)
    cv2.fillPoly(target, np.array([[[10, 10], [30, 10], [30, 30], [10, 30]]], np.int32), 1)
    whole = np.zeros((H, W), np.uint8)
    cv2.fillPoly(whole, np.array([[[10, 10], [40, 10], [40, 30], [10, 30]]], np.int32), 1)
    (tmp_path / 'pred.json').write_text(json.dumps([{'image': 'img', 'text_idx': 0,
                                                     'segmentation': encode_rle(whole.astype(bool))}]))
    excluded = score_predictions('reason_seg', str(tmp_path / 'pred.json'), str(tmp_path / 'data'))
    background = score_predictions('reason_seg', str(tmp_path / 'pred.json'), str(tmp_path / 'data'),
                                   ignore='background')
    assert excluded['gIoU'] == pytest.approx(1.0)  # the extra pixels lie in the ignore region (LISA: not scored)
    # upstream UniPixel's clamping: the ignore region counts as background, so the extra pixels are false positives
    # (LISA's drawing: the larger target first, then the ignore polygon over it, so the shared edge is "ignore")
    ignore = np.zeros((H, W), np.uint8)
    cv2.fillPoly(ignore, np.array([[[30, 10], [40, 10], [40, 30], [30, 30]]], np.int32), 1)
    gt = target.astype(bool) & ~ignore.astype(bool)
    assert 0 < background['gIoU'] < 1
    assert background['gIoU'] == pytest.approx(gt.sum() / whole.astype(bool).sum())


@pytest.mark.slow
def test_runs_resume_from_the_journal_and_a_corrupt_image_loses_only_itself(refcoco_root, tiny_ckpt, tmp_path):
    import shutil
    root = tmp_path / 'root'
    shutil.copytree(refcoco_root, root)
    second = next(root.rglob('COCO_train2014_000000000002.jpg'))
    second.write_bytes(second.read_bytes()[:40])  # a truncated JPEG
    journal = tmp_path / 'answers.jsonl'
    env = dict(os.environ, UNIPIXEL_DATA_ROOT=str(root), HF_HUB_OFFLINE='1', HF_DATASETS_OFFLINE='1')

    def run(out, *extra):
        args = ['--model', 'unipixel', '--model_args', f'pretrained={tiny_ckpt},device=cpu,min_pixels=3136,'
                f'max_pixels=12544,max_new_tokens=4,journal={journal}', '--tasks', 'unipixel_refcoco_val',
                '--include_path', str(TASKS), '--output_path', str(tmp_path / out), '--batch_size', '1', *extra]
        return subprocess.run([sys.executable, '-m', 'lmms_eval', *args], capture_output=True, text=True, env=env,
                              timeout=900, cwd=tmp_path)

    first = run('first', '--limit', '1')  # stands for a run stopped after its first answer
    assert first.returncode == 0, first.stderr[-3000:]
    lines = journal.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])['doc_id'] == 0  # written as soon as it was produced

    full = run('full')
    logs = full.stdout + full.stderr
    assert full.returncode == 0, logs[-3000:]
    assert '1 answer(s) taken from the journal, 1 generated' in logs
    assert 'unipixel_refcoco_val doc 1' in logs  # the corrupt image is named, answered empty, and the run went on
    assert len(journal.read_text().splitlines()) == 1  # a failed request is not journaled: the next run retries it
    results = json.loads(next((tmp_path / 'full').rglob('*_results.json')).read_text())
    assert 'cIoU,none' in results['results']['unipixel_refcoco_val']
