"""`unipixel score groundmore`: procedural prediction folders (perfect, empty, shifted, a missing video, a missing
frame) scored on GroundMoRe's 20 frames per video and the questions' action windows, checked against scores computed
here and against the unipixel_groundmore_test task's own scoring of the same masks."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from unipixel_plugin.masks import encode_rle

H, W = 24, 32
# video id -> (number of frames in its folder, frame file stem); the clip of A starts at 00:10, B at 01:00
VIDEOS = {'clipA_0010_0020': (30, '{:07d}'), 'clipB_0100_0102': (12, 'frame_{:06d}')}
QUESTIONS = {
    'clipA_0010_0020': {
        '0': {'question': 'Who opens the door', 'answer': 'the square', 'q_type': 'Causal', 'obj_id': '1',
              'action_start': '00:11', 'action_end': '00:13'},  # frames (11-10)*6 = 6 .. (13-10)*6-1 = 17
        '1': {'question': 'What lies below?', 'answer': 'the bar', 'q_type': 'Descriptive', 'obj_id': '2'}},
    'clipB_0100_0102': {
        '5': {'question': 'What moves first?', 'answer': 'the square', 'q_type': 'Sequential', 'obj_id': '1',
              'action_start': '01:00', 'action_end': '01:01'}},  # frames 0 .. 5
}


def label(t):
    """Label PNG of frame t: object 1 a square moving right, object 2 a fixed bar."""
    out = np.zeros((H, W), np.uint8)
    out[4:12, t % 20:(t % 20) + 8] = 1
    out[16:20, 2:30] = 2
    return out


def picked(vid):
    return np.linspace(0, VIDEOS[vid][0] - 1, 20, dtype=int).tolist()  # upstream's 20 frames


def window(vid, qid):
    return {('clipA_0010_0020', '0'): (6, 17), ('clipB_0100_0102', '5'): (0, 5)}.get((vid, qid), (0, 10 ** 6))


def gt(vid, qid, t):
    """The ground truth of question qid on frame t, as eval_groundmore.py builds it."""
    obj = int(QUESTIONS[vid][qid]['obj_id'])
    lo, hi = window(vid, qid)
    return (label(t) == obj) & (lo <= t <= hi)


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp('groundmore_root')
    for vid, (n, stem) in VIDEOS.items():
        folder = root / 'groundmore' / 'annotations' / vid
        (folder / 'images').mkdir(parents=True)
        (folder / 'masks').mkdir()
        for t in range(n):
            Image.fromarray(np.full((H, W, 3), 50, np.uint8)).save(folder / 'images' / f'{stem.format(t)}.jpg')
            Image.fromarray(label(t)).save(folder / 'masks' / f'{stem.format(t)}.png')
    meta = {'videos': {vid: {'questions': qs} for vid, qs in QUESTIONS.items()}}
    (root / 'groundmore' / 'test_v2.json').write_text(json.dumps(meta))
    return root


def prediction(mode, vid, qid, t):
    obj = int(QUESTIONS[vid][qid]['obj_id'])
    return {'perfect': gt(vid, qid, t), 'empty': np.zeros((H, W), bool),
            'shifted': np.roll(label(t) == obj, 3, axis=1)}[mode]  # the object on every frame, 3 px off


def write_pred(pred, mode, skip_video=None, skip_frame=None):
    for vid, qs in QUESTIONS.items():
        if vid == skip_video:
            continue
        for qid in qs:
            folder = pred / vid / qid
            folder.mkdir(parents=True, exist_ok=True)
            for t in picked(vid):
                name = VIDEOS[vid][1].format(t)
                if (vid, qid, name) != skip_frame:
                    Image.fromarray(prediction(mode, vid, qid, t).astype(np.uint8) * 255).save(folder / f'{name}.png')


def iou(a, b):
    union = (a | b).sum()
    return 1.0 if union == 0 else (a & b).sum() / union


def expected(mode):
    """(J, F) per question, computed here: J by hand, F with the package's boundary F (checked against the DAVIS
    code in tests/evaluation/test_reference_parity.py)."""
    from unipixel_plugin.evaluation.metrics import j_and_f
    out = {}
    for vid, qs in QUESTIONS.items():
        for qid in qs:
            pairs = [(prediction(mode, vid, qid, t), gt(vid, qid, t)) for t in picked(vid)]
            out[(vid, qid)] = (np.mean([iou(p, g) for p, g in pairs]), np.mean([j_and_f(p, g)[1] for p, g in pairs]))
    return out


def test_perfect_empty_shifted(root, tmp_path):
    from unipixel_plugin.evaluation.scoring import score
    for mode in ('perfect', 'empty', 'shifted'):
        write_pred(tmp_path / mode, mode)
        result = score('groundmore', str(tmp_path / mode), str(root))
        want = expected(mode)
        j = np.mean([v[0] for v in want.values()])
        f = np.mean([v[1] for v in want.values()])
        assert result['split'] == 'test' and result['expressions'] == 3
        assert result['J'] == pytest.approx(j, abs=1e-12) and result['F'] == pytest.approx(f, abs=1e-12)
        assert result['J&F'] == pytest.approx((j + f) / 2, abs=1e-12)
        assert result['per_type']['Causal']['J'] == pytest.approx(want[('clipA_0010_0020', '0')][0], abs=1e-12)
        assert not result['missing_videos'] and not result['missing_frames']
    # the figures that pin the protocol down: perfect is 1; empty scores the frames outside the action window
    # (empty ground truth, J = F = 1): A/0 8 of 20 frames inside -> 12/20, A/1 0, B/5 frames 0..5 of
    # linspace(0, 11, 20) -> 11 of 20 inside -> 9/20
    assert score('groundmore', str(tmp_path / 'perfect'), str(root))['J&F'] == 1
    empty = score('groundmore', str(tmp_path / 'empty'), str(root))
    assert empty['J'] == pytest.approx((12 / 20 + 0 + 9 / 20) / 3)
    assert 0 < score('groundmore', str(tmp_path / 'shifted'), str(root))['J'] < 0.5


def test_missing_video_and_frame(root, tmp_path):
    from unipixel_plugin.evaluation.scoring import score
    write_pred(tmp_path / 'holes', 'perfect', skip_video='clipB_0100_0102',
               skip_frame=('clipA_0010_0020', '1', '0000015'))
    result = score('groundmore', str(tmp_path / 'holes'), str(root))
    assert result['missing_videos'] == ['clipB_0100_0102']
    assert result['missing_frames'] == ['clipA_0010_0020/1/0000015.png']
    # A/0 = 1; A/1: one of 20 frames empty against the bar (J = F = 0 there) -> 19/20; B/5 scores 0 and counts
    assert result['J'] == pytest.approx((1 + 19 / 20 + 0) / 3) and result['F'] == pytest.approx((1 + 19 / 20) / 3)


def test_equals_the_lmms_eval_task_on_the_same_masks(root, tmp_path):
    """The task's process_results / aggregations on answers carrying the masks of the folder give the same J / F."""
    from unipixel_plugin.evaluation.lmms import refer_video_segmentation as task
    from unipixel_plugin.evaluation.scoring import score
    write_pred(tmp_path / 'shifted', 'shifted')
    docs = task.build_docs('groundmore', 'test', str(root))
    items = []
    for doc in docs:
        masks = [encode_rle(prediction('shifted', doc['video_id'], doc['exp_id'], t)) for t in picked(doc['video_id'])]
        answer = json.dumps({'answer': 'it is <|seg|>.', 'frame_indices': list(range(20)), 'masks': [masks]})
        items.append(task.process_results(doc, [answer])['J&F'])
    result = score('groundmore', str(tmp_path / 'shifted'), str(root))
    assert result['J'] == pytest.approx(task.aggregate_j(items), abs=1e-12)
    assert result['F'] == pytest.approx(task.aggregate_f(items), abs=1e-12)
    assert result['J&F'] == pytest.approx(task.aggregate_jf(items), abs=1e-12)


def test_command_line_and_bad_input(root, tmp_path):
    write_pred(tmp_path / 'pred', 'perfect')
    out = subprocess.run([sys.executable, '-m', 'unipixel_plugin.cli', 'score', 'groundmore', str(tmp_path / 'pred'),
                          '--data-root', str(root), '--json', str(tmp_path / 's.json')],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert 'groundmore (test)' in out.stdout and 'Causal' in out.stdout
    result = json.loads((tmp_path / 's.json').read_text())
    assert result['J&F'] == 1 and result['protocol'] == 'default'
    from unipixel_plugin.evaluation.scoring import score
    bad = tmp_path / 'bad' / 'clipA_0010_0020' / '0'
    bad.mkdir(parents=True)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(bad / '0000000.png')
    with pytest.raises(ValueError, match=r'0000000\.png is 10x10, the frame 32x24'):
        score('groundmore', str(tmp_path / 'bad'), str(root))
    (tmp_path / 'empty_root').mkdir()
    with pytest.raises(FileNotFoundError, match='test_v2.json'):
        score('groundmore', str(tmp_path / 'pred'), str(tmp_path / 'empty_root'))


def test_score_of_an_exported_run_equals_the_run(root, tmp_path):
    """`unipixel export` of a groundmore samples file writes the tree this scorer reads (the 20 frames' stems):
    scoring it gives the task's numbers on the same answers."""
    from unipixel_plugin.evaluation.export import export_samples
    from unipixel_plugin.evaluation.lmms import refer_video_segmentation as task
    from unipixel_plugin.evaluation.scoring import score
    docs = task.build_docs('groundmore', 'test', str(root))
    lines, items = [], []
    for doc in docs:
        masks = [encode_rle(prediction('shifted', doc['video_id'], doc['exp_id'], t)) for t in picked(doc['video_id'])]
        answer = json.dumps({'answer': 'it is <|seg|>.', 'frame_indices': list(range(20)), 'masks': [masks]})
        lines.append(json.dumps({'doc_id': doc['doc_id'], 'filtered_resps': [answer]}))
        items.append(task.process_results(doc, [answer])['J&F'])
    samples = tmp_path / '20261202_samples_unipixel_groundmore_test.jsonl'
    samples.write_text('\n'.join(lines) + '\n')
    export_samples(str(samples), str(tmp_path / 'pred'), str(root))
    result = score('groundmore', str(tmp_path / 'pred'), str(root))
    assert not result['missing_videos'] and not result['missing_frames'] and result['expressions'] == 3
    assert result['J'] == pytest.approx(task.aggregate_j(items), abs=1e-12)
    assert result['F'] == pytest.approx(task.aggregate_f(items), abs=1e-12)
