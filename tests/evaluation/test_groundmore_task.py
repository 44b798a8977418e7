"""The unipixel_groundmore_test lmms-eval task: upstream's 20 evaluation frames, the action window of each question,
J / F / J&F on hand-computed answers, and an end-to-end run in which SAM 2 tracks exactly those 20 frames."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unipixel_plugin.masks import encode_rle

H, W, N = 24, 32, 30  # 30 frames in the video folder; the benchmark uses 20 of them
TASKS = Path(__file__).resolve().parents[2] / 'tasks'
VIDEO = 'clipA_0010_0020'  # the clip starts at 00:10
PICKED = np.linspace(0, N - 1, 20, dtype=int).tolist()  # upstream's 20 frames


def label(t):
    """Label PNG of frame t: object 1 a square moving right, object 2 a fixed bar."""
    out = np.zeros((H, W), np.uint8)
    out[4:12, t % 20:(t % 20) + 8] = 1
    out[16:20, 2:30] = 2
    return out


@pytest.fixture(scope='module')
def groundmore_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('groundmore_root')
    folder = root / 'groundmore' / 'annotations' / VIDEO
    (folder / 'images').mkdir(parents=True)
    (folder / 'masks').mkdir()
    for t in range(N):
        image = np.full((H, W, 3), 50, np.uint8)
        image[label(t) == 1] = (220, 30, 30)
        Image.fromarray(image).save(folder / 'images' / f'{t:07d}.jpg')
        Image.fromarray(label(t)).save(folder / 'masks' / f'{t:07d}.png')
    questions = {'0': {'question': 'Who opens the door', 'answer': 'the square', 'q_type': 'Causal', 'obj_id': '1',
                       'action_start': '00:11', 'action_end': '00:13'},  # frames (11-10)*6 = 6 .. (13-10)*6-1 = 17
                 '1': {'question': 'What lies below?', 'answer': 'the bar', 'q_type': 'Descriptive', 'obj_id': '2'}}
    (root / 'groundmore' / 'test_v2.json').write_text(json.dumps({'videos': {VIDEO: {'questions': questions}}}))
    return root


def test_action_window_is_upstreams():
    from unipixel_plugin.data.formats.groundmore import action_window
    assert action_window(VIDEO, '00:11', '00:13') == (6, 17)
    assert action_window('x_0059_0110', '1:00', '01:01') == (6, 11)


def test_documents(groundmore_root):
    from unipixel_plugin.evaluation.lmms.refer_video_segmentation import build_docs
    from unipixel_plugin.masks import decode_rle
    docs = build_docs('groundmore', 'test', str(groundmore_root))
    assert [d['prompt'] for d in docs] == [
        'Who opens the door? Please answer the question and provide the segmentation mask.',
        'What lies below? Please answer the question and provide the segmentation mask.']
    assert [Path(f).name for f in json.loads(docs[0]['frame_files'])] == [f'{t:07d}.jpg' for t in PICKED]
    gt0 = np.stack([decode_rle(r) for r in json.loads(docs[0]['gt'])])
    gt1 = np.stack([decode_rle(r) for r in json.loads(docs[1]['gt'])])
    inside = [6 <= t <= 17 for t in PICKED]  # 8 of the 20 frames
    assert sum(inside) == 8
    for k, t in enumerate(PICKED):
        assert (gt0[k] == ((label(t) == 1) if inside[k] else False)).all()
        assert (gt1[k] == (label(t) == 2)).all()  # no action times: every frame keeps its mask


def test_scores_on_hand_made_answers(groundmore_root):
    from unipixel_plugin.evaluation.lmms import refer_video_segmentation as task
    docs = task.build_docs('groundmore', 'test', str(groundmore_root))

    def answer(obj):
        return json.dumps({'answer': 'it <|seg|>.', 'frame_indices': list(range(20)),
                           'masks': [[encode_rle(label(t) == obj) for t in PICKED]]})
    # question 0 answered with the square on all 20 frames: right inside the window (8 frames: J = F = 1), wrong
    # outside it (12 frames of empty ground truth: J = 0, and F = 0 since the prediction has a boundary)
    first = task.process_results(docs[0], [answer(1)])['J&F']
    assert first['J'] == pytest.approx(8 / 20) and first['F'] == pytest.approx(8 / 20)
    second = task.process_results(docs[1], [answer(2)])['J&F']
    assert second['J'] == 1 and second['F'] == 1
    assert task.aggregate_j([first, second]) == pytest.approx(0.7)
    assert task.aggregate_jf([first, second]) == pytest.approx(0.7)


def test_yaml_loads(groundmore_root, monkeypatch):
    monkeypatch.setenv('UNIPIXEL_DATA_ROOT', str(groundmore_root))
    from lmms_eval.tasks import TaskManager
    task = TaskManager(include_path=str(TASKS)).load_task_or_group(['unipixel_groundmore_test'])[
        'unipixel_groundmore_test']
    assert len(list(task.test_docs())) == 2 and task.config.generation_kwargs['max_new_tokens'] == 512


@pytest.mark.slow
def test_lmms_eval_run_tracks_the_20_frames(groundmore_root, lmms_run):
    from unipixel_plugin.evaluation.lmms import refer_video_segmentation as task
    from unipixel_plugin.evaluation.lmms.documents import answer_record
    out = lmms_run(['unipixel_groundmore_test'], groundmore_root)
    samples = out['samples']['unipixel_groundmore_test']
    docs = task.build_docs('groundmore', 'test', str(groundmore_root))
    items = []
    for s in samples:
        record = answer_record(s['filtered_resps'][0])
        assert record['frame_indices'] == list(range(20))  # the 20 listed frames, not the folder's 30
        items.append(task.process_results(docs[s['doc_id']], [s['filtered_resps'][0]])['J&F'])
    row = out['results']['unipixel_groundmore_test']
    assert len(items) == 2 and row['J&F,none'] == pytest.approx(task.aggregate_jf(items))
