"""The unipixel_reasonseg* lmms-eval tasks: documents from native ReasonSeg files (LISA's json + jpg), gIoU / cIoU
under both "ignore" protocols on hand-computed answers, the YAMLs in lmms-eval, and an end-to-end run whose
aggregates equal `unipixel score` on the masks the run wrote."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unipixel_plugin.masks import encode_rle

H, W = 40, 60
TASKS = Path(__file__).resolve().parents[2] / 'tasks'


def rect(x0, y0, x1, y1):
    """A polygon whose filled pixels are columns x0..x1 and rows y0..y1 (both inclusive, as cv2.fillPoly draws)."""
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def box_mask(x0, y0, x1, y1):
    m = np.zeros((H, W), bool)
    m[y0:y1 + 1, x0:x1 + 1] = True
    return m


@pytest.fixture(scope='module')
def reason_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('reason_root')
    for split in ('val', 'test'):
        folder = root / 'lisa' / 'reason_seg' / 'ReasonSeg' / split
        folder.mkdir(parents=True)
        for name, (x0, y0, x1, y1) in (('a_cup', (0, 0, 19, 9)), ('b_hand', (10, 10, 40, 30)),
                                       ('c_broken', (0, 0, 5, 5))):
            image = np.full((H, W, 3), 70, np.uint8)
            image[y0:y1 + 1, x0:x1 + 1] = (210, 40, 40)  # something to see (the seeded tiny SAM 2 masks it)
            Image.fromarray(image).save(folder / f'{name}.jpg')
        (folder / 'a_cup.json').write_text(json.dumps({
            'text': ['The red cup.'], 'is_sentence': False,
            'shapes': [{'label': 'target', 'points': rect(0, 0, 19, 9), 'shape_type': 'polygon'},
                       {'label': 'flag', 'points': rect(50, 30, 55, 35), 'shape_type': 'polygon'}]}))
        # LISA draws the larger target first, then the ignore polygon over it: columns 30..40 become "ignore"
        (folder / 'b_hand.json').write_text(json.dumps({
            'text': ['What holds the cup?'], 'is_sentence': True,
            'shapes': [{'label': 'target', 'points': rect(10, 10, 40, 30), 'shape_type': 'polygon'},
                       {'label': 'ignore', 'points': rect(30, 10, 40, 30), 'shape_type': 'polygon'}]}))
        (folder / 'c_broken.json').write_text('{"text": ["cut short"')  # a bad sample: loses only itself
    return root


def answer(mask):
    return json.dumps({'answer': 'Sure, it is <|seg|>.', 'masks': [[encode_rle(mask)]], 'frame_indices': [0]})


# predictions: half of a's target; the whole of b's target polygon, ignore region included
PRED = {'a_cup': box_mask(0, 0, 9, 9), 'b_hand': box_mask(10, 10, 40, 30)}


def test_documents_come_from_the_native_files(reason_root):
    from unipixel_plugin.evaluation.lmms.refer_segmentation import build_docs
    from unipixel_plugin.masks import decode_rle
    docs = build_docs('reason_seg', 'val', str(reason_root))
    assert [d['image_name'] for d in docs] == ['a_cup', 'b_hand']  # c_broken lost only itself
    # upstream's infer_seg.py: 'query' (is_sentence false) and 'sentence' templates
    assert [d['prompt'] for d in docs] == ['Please segment the red cup in this image.',
                                           'What holds the cup? Please provide the segmentation mask.']
    gt_a, gt_b = (decode_rle(json.loads(d['gt'])) for d in docs)
    assert gt_a.sum() == 200 and (gt_a == box_mask(0, 0, 19, 9)).all()  # the flag shape is dropped
    assert gt_b.sum() == 20 * 21 and (gt_b == box_mask(10, 10, 29, 30)).all()
    assert docs[0]['ignore'] == '' and decode_rle(json.loads(docs[1]['ignore'])).sum() == 11 * 21
    assert {d['ignore_protocol'] for d in docs} == {'exclude'}
    assert build_docs('reason_seg', 'val', str(reason_root), ignore='background')[1]['ignore_protocol'] == \
        'background'


@pytest.mark.parametrize('protocol, giou, ciou', [
    # a: I 100 / U 200. b, LISA: the 231 ignore pixels leave both masks -> I 420 / U 420
    ('exclude', (100 / 200 + 1) / 2, (100 + 420) / (200 + 420)),
    # b, upstream UniPixel: the ignore pixels are background, so the 231 predicted there are false positives
    ('background', (100 / 200 + 420 / 651) / 2, (100 + 420) / (200 + 651)),
])
def test_scores_under_both_ignore_protocols(reason_root, protocol, giou, ciou):
    from unipixel_plugin.evaluation.lmms import refer_segmentation as task
    docs = task.build_docs('reason_seg', 'val', str(reason_root), ignore=protocol)
    items = [task.process_results(d, [answer(PRED[d['image_name']])])['gIoU'] for d in docs]
    assert task.aggregate_giou(items) == pytest.approx(giou, abs=1e-12)
    assert task.aggregate_ciou(items) == pytest.approx(ciou, abs=1e-12)
    assert items[1]['sample'] == 'b_hand/0'
    # any other model's text answer is an empty mask
    assert task.process_results(docs[0], ['the cup'])['cIoU']['intersection'] == 0


def test_a_missing_split_names_the_folder(tmp_path):
    from unipixel_plugin.data.base import DatasetNotFoundError
    from unipixel_plugin.evaluation.lmms.refer_segmentation import build_docs
    with pytest.raises(DatasetNotFoundError, match='lisa/reason_seg/ReasonSeg/val'):
        build_docs('reason_seg', 'val', str(tmp_path))


def test_yamls_load(reason_root, monkeypatch):
    monkeypatch.setenv('UNIPIXEL_DATA_ROOT', str(reason_root))
    from lmms_eval.tasks import TaskManager
    manager = TaskManager(include_path=str(TASKS))
    names = {'unipixel_reasonseg_val', 'unipixel_reasonseg_test', 'unipixel_reasonseg_val_ignore_background',
             'unipixel_reasonseg_test_ignore_background'}
    assert names <= set(manager.all_tasks)
    tasks = manager.load_task_or_group(sorted(names))
    assert len(list(tasks['unipixel_reasonseg_test'].test_docs())) == 2
    docs = list(tasks['unipixel_reasonseg_val_ignore_background'].test_docs())
    assert [d['ignore_protocol'] for d in docs] == ['background'] * 2
    assert tasks['unipixel_reasonseg_val'].config.metadata['unipixel'] == {
        'benchmark': 'reason_seg', 'split': 'val', 'protocol': 'ignore=exclude'}


@pytest.mark.slow
def test_lmms_eval_run_equals_unipixel_score_on_its_masks(reason_root, lmms_run, tmp_path):
    from unipixel_plugin.evaluation.lmms.refer_segmentation import answer_record, build_docs
    from unipixel_plugin.evaluation.scoring import score_predictions
    from unipixel_plugin.masks import decode_rle
    tasks = ['unipixel_reasonseg_val', 'unipixel_reasonseg_val_ignore_background']
    out = lmms_run(tasks, reason_root)
    docs = build_docs('reason_seg', 'val', str(reason_root))
    for task, protocol in zip(tasks, ('exclude', 'background')):
        samples = out['samples'][task]
        assert len(samples) == 2
        predictions = []
        for s in samples:
            record = answer_record(s['filtered_resps'][0])
            mask = record['masks'][0][0]  # <|seg|> is forced, so every answer holds a mask track
            assert decode_rle(mask).shape == (H, W)
            predictions.append({'image': docs[s['doc_id']]['image_name'], 'text_idx': 0, 'segmentation': mask})
        assert any(decode_rle(p['segmentation']).any() for p in predictions)  # seeded weights: not all empty
        (tmp_path / f'{protocol}.json').write_text(json.dumps(predictions))
        scored = score_predictions('reason_seg', str(tmp_path / f'{protocol}.json'), str(reason_root), 'val',
                                   ignore=protocol)
        assert scored['missing_predictions'] == []
        row = out['results'][task]
        assert row['gIoU,none'] == pytest.approx(scored['gIoU'], abs=1e-12)
        assert row['cIoU,none'] == pytest.approx(scored['cIoU'], abs=1e-12)
