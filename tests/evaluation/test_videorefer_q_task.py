"""The unipixel_videorefer_bench_q_{single,multi} lmms-eval tasks: documents from a native VideoRefer-Bench-Q.json,
the mask prompts the adapter builds (upstream's frame sampling with the question's frame kept, the region prefix,
refer_mask, the VideoRefer pixel budget, the answer prefix), accuracy overall and per type on hand-made answers,
and an end-to-end run."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unipixel_plugin.masks import encode_rle

from tests.evaluation.videorefer_media import KEPT_12, H, W, box, frame, write_clips  # noqa: F401

TASKS = Path(__file__).resolve().parents[2] / 'tasks'
# sample_frame_positions(20, 16): upstream's np.arange(0, 20, 19 / 15)[:16].round()
UNIFORM_20 = [0, 1, 3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 16, 18, 19]


@pytest.fixture(scope='module')
def videorefer_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('videorefer_root')
    base = root / 'videorefer' / 'VideoRefer-Bench'
    write_clips(base / 'videos', 'vid_a', 'vid_b.mp4')
    items = [
        {'id': 0, 'video': 'vid_a', 'Question': 'What is <object3><region> doing?', 'type': 'Basic Questions',
         'options': ['(A) running', '(B) sitting'], 'Answer': '(B) sitting', 'frame_idx': '12',
         'annotation': [{str(t): {'segmentation': encode_rle(box(t, 0))} for t in range(20)}]},
        {'id': 1, 'video': 'vid_b.mp4', 'Question': 'Is <object0><region> left of <object1><region>? Or is <object0> '
         'right?', 'type': 'Relationship Questions', 'options': ['(A) left', '(B) right'], 'Answer': '(A) left',
         'frame_idx': '2', 'annotation': [{str(t): {'segmentation': encode_rle(box(t, 0))} for t in (1, 2, 3)},
                                          {str(t): {'segmentation': encode_rle(box(t, 14))} for t in (2, 4)}]},
    ]
    (base / 'VideoRefer-Bench-Q.json').write_text(json.dumps(items))
    return root


def test_documents(videorefer_root):
    from unipixel_plugin.evaluation.lmms.region_questions import build_docs
    multi = build_docs('videorefer_bench_q', 'multi', str(videorefer_root))
    assert [d['prompt'] for d in multi] == [
        'What is [3] doing?\nOptions:\n(A) running\n(B) sitting\nPlease only give the best option.',
        'Is [0] left of [1]? Or is [0] right?\nOptions:\n(A) left\n(B) right\nPlease only give the best option.']
    assert [d['answer'] for d in multi] == ['B', 'A'] and multi[1]['type'] == 'Relationship Questions'
    spec = json.loads(multi[1]['region_request'])
    assert spec['media_type'] == 'video' and spec['frame_indices'] == [1, 2, 3, 4] and spec['prompt_frame'] == 1
    assert [[m is not None for m in track] for track in spec['masks']] == [[True, True, True, False],
                                                                            [False, True, False, True]]
    assert spec['object_ids'] == [0, 1] and spec['budget'] == 'videorefer_q' and spec['fill_empty'] is False
    assert spec['answer_prefix'] == 'The best option is ('
    single = build_docs('videorefer_bench_q', 'single', str(videorefer_root))
    spec = json.loads(single[1]['region_request'])  # only the masks on frame_idx 2 (timeline position 1)
    assert [[m is not None for m in track] for track in spec['masks']] == [[False, True, False, False],
                                                                            [False, True, False, False]]
    assert sum(m is not None for m in json.loads(single[0]['region_request'])['masks'][0]) == 1


@pytest.fixture(scope='module')
def adapter(tiny_ckpt):
    from unipixel_plugin.evaluation.lmms.adapter import UniPixelLMM
    return UniPixelLMM(pretrained=str(tiny_ckpt), device='cpu')  # no fixed pixel bounds: the budgets apply


def test_adapter_builds_upstreams_mask_prompts(videorefer_root, adapter):
    from unipixel_plugin.evaluation.lmms.region_questions import build_docs
    from unipixel_plugin.models.processing_unipixel import smart_resize
    multi, single = (build_docs('videorefer_bench_q', m, str(videorefer_root)) for m in ('multi', 'single'))
    request = adapter._region_request(json.loads(multi[0]['region_request']), multi[0]['video'], multi[0]['prompt'])
    assert request.media.indices == KEPT_12 and UNIFORM_20 != KEPT_12
    assert (request.media.frames[9] == np.asarray(Image.open(Path(multi[0]['video']) / '00012.jpg'))).all()
    head = ('Here is a video with 16 frames denoted as <1> to <16>. The highlighted regions are as follows:\n[3]: ' +
            ' '.join(f'<{2 * g + 1}>-<{2 * g + 2}> <|mem|>' for g in range(8)) + '\n')
    assert request.text == head + multi[0]['prompt']
    assert request.answer_prefix == 'The best option is (' and request.budget == 'videorefer_q'
    # VideoRefer-Bench-Q's budget: min 100*28*28, max 144*28*28*int(16/16)
    h, w = smart_resize(H, W, min_pixels=100 * 28 * 28, max_pixels=144 * 28 * 28)
    assert tuple(request.refer_mask.shape) == (8, 1, h // 28, w // 28)
    assert request.refer_mask.any(dim=(2, 3)).all()

    # single-frame mode: only the pair holding frame 12 (sampled position 9 -> frames <9>-<10>)
    request = adapter._region_request(json.loads(single[0]['region_request']), single[0]['video'],
                                      single[0]['prompt'])
    assert request.text.splitlines()[1] == '[3]: <9>-<10> <|mem|>'
    assert request.refer_mask.any(dim=(2, 3))[:, 0].tolist() == [False] * 4 + [True] + [False] * 3

    # the mp4 question: 4 timeline frames (1..4), both objects; object 1 has masks on timeline frames 2 and 4 only
    request = adapter._region_request(json.loads(multi[1]['region_request']), multi[1]['video'], multi[1]['prompt'])
    assert request.media.indices == [0, 1, 2, 3] and request.media.frames.shape == (4, H, W, 3)
    assert request.text.splitlines()[1:3] == ['[0]: <1>-<2> <|mem|> <3>-<4> <|mem|>',
                                              '[1]: <1>-<2> <|mem|> <3>-<4> <|mem|>']
    h, w = smart_resize(H, W, min_pixels=100 * 28 * 28, max_pixels=144 * 28 * 28 * 4)
    assert tuple(request.refer_mask.shape) == (2, 2, h // 28, w // 28)


def test_an_object_without_masks_on_the_sampled_frames_gets_no_mem_token(videorefer_root, adapter):
    from unipixel_plugin.evaluation.lmms.region_questions import build_docs
    doc = build_docs('videorefer_bench_q', 'multi', str(videorefer_root))[1]
    spec = json.loads(doc['region_request'])
    spec['masks'][1] = [None] * 4  # upstream's script warns and goes on; PixelQA would mark the whole frame
    request = adapter._region_request(spec, doc['video'], doc['prompt'])
    assert request.text.splitlines()[2] == '[1]: ' and request.text.count('<|mem|>') == 2
    assert not request.refer_mask[:, 1].any()


def test_accuracy_overall_and_per_type(videorefer_root):
    from unipixel_plugin.evaluation.lmms import region_questions as task
    docs = task.build_docs('videorefer_bench_q', 'multi', str(videorefer_root))
    correct = task.process_results(docs[0], ['B) sitting'])  # upstream reads the first word: "b"
    failed = task.process_results(docs[1], ['C) neither'])  # not an option: wrong, and counted as failed
    items = [correct['accuracy'], failed['accuracy']]
    assert failed['accuracy']['failed'] and not failed['accuracy']['correct']
    assert task.aggregate_accuracy(items) == 0.5
    assert task.accuracy_of('Basic Questions')(items) == 1.0
    assert task.accuracy_of('Relationship Questions')(items) == 0.0
    assert task.accuracy_of('Future Predictions')(items) == 0.0  # none of that type (upstream's 0)
    # an answer that carries masks is JSON: its text is what is scored
    record = json.dumps({'answer': 'A', 'masks': [], 'frame_indices': []})
    assert task.process_results(docs[1], [record])['accuracy']['correct']


def test_yamls_load(videorefer_root, monkeypatch):
    monkeypatch.setenv('UNIPIXEL_DATA_ROOT', str(videorefer_root))
    from lmms_eval.tasks import TaskManager
    tasks = TaskManager(include_path=str(TASKS)).load_task_or_group(['unipixel_videorefer_bench_q_single',
                                                                     'unipixel_videorefer_bench_q_multi'])
    assert [len(list(t.test_docs())) for t in tasks.values()] == [2, 2]


@pytest.mark.slow
def test_lmms_eval_run_sends_the_mask_prompts(videorefer_root, lmms_run):
    sent = []
    tasks = ['unipixel_videorefer_bench_q_multi']
    out_first = lmms_run(tasks, videorefer_root, answer='A')  # makes the adapter (or reuses the session's one)
    lm = next(a for k, a in lmms_run.adapters.items() if k != 'manager')
    original = lm.predictor.run

    def recording(requests, *args, **kwargs):
        sent.extend(requests)
        return original(requests, *args, **kwargs)

    lm.predictor.run = recording
    try:
        out = lmms_run(tasks, videorefer_root, answer='A')
    finally:
        lm.predictor.run = original
    for result in (out_first, out):
        row = result['results']['unipixel_videorefer_bench_q_multi']
        # both answers are "A": question 0 (B) wrong, question 1 (A) right
        assert row['accuracy,none'] == 0.5 and row['accuracy_basic,none'] == 0.0
        assert row['accuracy_relationship,none'] == 1.0
    assert len(sent) == 2
    by_count = sorted(sent, key=lambda r: r.text.count('<|mem|>'))
    assert [r.text.count('<|mem|>') for r in by_count] == [4, 8]  # 2 objects x 2 pairs; 1 object x 8 pairs
    assert all(r.refer_mask is not None and r.answer_prefix == 'The best option is (' and r.budget == 'videorefer_q'
               for r in sent)
