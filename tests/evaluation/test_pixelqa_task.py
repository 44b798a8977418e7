"""The PixelQA lmms-eval tasks (unipixel_pixelqa_{point,box,mix}, group pixelqa): documents from a native
VideoRefer-Bench-Q.json, upstream's exact pass-1 text, point / box prompts that reach SAM 2 as the sam2 package's
get_next_point / sample_box_points give them, the seeded mix draw, pass 2's <|mem|> prompt built from pass 1's
masks (an empty object marked on every frame), the scores against a recomputation, and an end-to-end lmms-eval run
of the group."""
import json
import logging
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from unipixel_plugin.masks import decode_rle, encode_rle

from tests.evaluation.videorefer_media import KEPT_12, H, W, box, frame, write_clips  # noqa: F401

TASKS = Path(__file__).resolve().parents[2] / 'tasks'


def upstream_mem_question(raw):
    """VideoReferBenchQDataset.load_annos's mem_question / mem_response and infer_pixelqa.py's pass-1 text, step by
    step as upstream writes them (the reference the package's prompt builder is compared with)."""
    import re
    question = raw['Question'].strip() + '\nOptions:'
    for opt in raw['options']:
        question += f'\n{opt}'
    mem_question, mem_response = question, ''
    if '<object' in mem_question:
        for match in re.findall(r'<object\d+><region>', mem_question):
            oid, obj = match[7:-9], match[:-8]
            mem_question = mem_question.replace(match, f'[{oid}] <|ref|>').replace(obj, f'[{oid}]')
            mem_response += f' [{oid}] <|seg|>'
        mem_response = mem_response.strip()
    else:
        mem_question = mem_question.replace('<region>', '[0] <|ref|>')
        mem_response = '[0] <|seg|>'
    return '{} Please localize the relevant objects with IDs.'.format(mem_question + '.'), mem_response


ITEMS = [
    {'id': 0, 'video': 'vid_a', 'Question': 'What is <object3><region> doing?', 'type': 'Basic Questions',
     'options': ['(A) running', '(B) sitting'], 'Answer': '(B) sitting', 'frame_idx': '12',
     'annotation': [{str(t): {'segmentation': encode_rle(box(t, 0))} for t in range(20)}]},
    {'id': 1, 'video': 'vid_b.mp4', 'Question': 'Is <object0><region> left of <object1><region>? Or is <object0> '
     'right?', 'type': 'Relationship Questions', 'options': ['(A) <object0> is left', '(B) right'],
     'Answer': '(A) <object0> is left', 'frame_idx': '2',
     'annotation': [{str(t): {'segmentation': encode_rle(box(t, 0))} for t in (1, 2, 3)},
                    {str(t): {'segmentation': encode_rle(box(t, 14))} for t in (2, 4)}]},
    {'id': 2, 'video': 'vid_b.mp4', 'Question': 'Where does <region> go?', 'type': 'Future Predictions',
     'options': ['(A) left', '(B) right', '(C) nowhere'], 'Answer': '(C) nowhere', 'frame_idx': '3',
     'annotation': [{str(t): {'segmentation': encode_rle(box(t, 14))} for t in (1, 3, 5)}]},
    # object 1 has no mask on the question's frame: no point or box can be drawn, the question is left out
    {'id': 3, 'video': 'vid_b.mp4', 'Question': 'Do <object0><region> and <object1><region> meet?', 'type': 'x',
     'options': ['(A) yes', '(B) no'], 'Answer': '(A) yes', 'frame_idx': '1',
     'annotation': [{str(t): {'segmentation': encode_rle(box(t, 0))} for t in (1, 2)},
                    {str(t): {'segmentation': encode_rle(box(t, 14))} for t in (2, )}]},
]


@pytest.fixture(scope='module')
def pixelqa_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('pixelqa_root')
    base = root / 'videorefer' / 'VideoRefer-Bench'
    write_clips(base / 'videos', 'vid_a', 'vid_b.mp4')
    (base / 'VideoRefer-Bench-Q.json').write_text(json.dumps(ITEMS))
    return root


def docs_of(root, mode):
    from unipixel_plugin.evaluation.lmms.pixelqa import build_docs
    return build_docs('pixelqa', mode, str(root))


def test_documents(pixelqa_root, caplog):
    with caplog.at_level(logging.WARNING):
        docs = docs_of(pixelqa_root, 'point')
    assert [d['id'] for d in docs] == ['0', '1', '2']
    assert 'question 3 left out' in caplog.text and 'object 1 has no mask' in caplog.text
    assert [d['answer'] for d in docs] == ['B', 'A', 'C']
    assert docs[1]['prompt'] == ('Is [0] left of [1]? Or is [0] right?\nOptions:\n(A) [0] is left\n(B) right\n'
                                 'Please only give the best option.')
    spec = json.loads(docs[1]['pixelqa_request'])
    assert spec['media_type'] == 'video' and spec['frame_indices'] == [1, 2, 3, 4] and spec['prompt_frame'] == 1
    assert [[m is not None for m in track] for track in spec['masks']] == [[True, True, True, False],
                                                                            [False, True, False, True]]
    assert (decode_rle(spec['masks'][1][3]) == box(4, 14)).all()
    assert spec['object_ids'] == [0, 1] and spec['mode'] == 'point' and spec['kinds'] == ['point', 'point']
    assert spec['question'] == docs[1]['prompt'] and spec['answer_prefix'] == 'The best option is ('
    assert json.loads(docs_of(pixelqa_root, 'box')[1]['pixelqa_request'])['kinds'] == ['box', 'box']


def test_pass_one_text_is_upstreams(pixelqa_root):
    docs = docs_of(pixelqa_root, 'mix')
    for doc, raw in zip(docs, ITEMS):
        spec = json.loads(doc['pixelqa_request'])
        assert (spec['localize'], spec['localize_answer']) == upstream_mem_question(raw)
    spec = json.loads(docs[1]['pixelqa_request'])
    assert spec['localize'] == ('Is [0] <|ref|> left of [1] <|ref|>? Or is [0] right?\nOptions:\n(A) [0] is left\n'
                                '(B) right. Please localize the relevant objects with IDs.')
    assert spec['localize_answer'] == '[0] <|seg|> [1] <|seg|>'
    bare = json.loads(docs[2]['pixelqa_request'])  # a bare <region> is object [0]
    assert bare['localize'].startswith('Where does [0] <|ref|> go?') and bare['localize_answer'] == '[0] <|seg|>'


@pytest.mark.parametrize('size', [256, 768, 1024])
@pytest.mark.parametrize('frame_size', [(24, 32), (480, 640), (333, 500)])
def test_prompts_reach_sam2_as_the_sam2_package_draws_them(size, frame_size):
    """The prompt each object gets, after the predictor's conversion to SAM 2 coordinates (prompt_tensors), equals
    sam2's get_next_point(mask, None, 'center') / sample_box_points(mask, noise=-1) on the mask resized as upstream
    resizes it (torchvision's resize of the float mask, > 0)."""
    import torchvision.transforms.functional as T
    from sam2.modeling.sam2_utils import get_next_point, sample_box_points

    from unipixel_plugin.evaluation.lmms.pixelqa import region_prompts
    from unipixel_plugin.models.processing_unipixel import prompt_tensors
    rng = np.random.default_rng(size + frame_size[1])
    height, width = frame_size
    masks = []
    for _ in range(4):
        m = np.zeros(frame_size, bool)
        y0, x0 = rng.integers(0, height // 2), rng.integers(0, width // 2)
        m[y0:y0 + rng.integers(2, height // 2), x0:x0 + rng.integers(2, width // 2)] = True
        m[rng.integers(0, height, 3), rng.integers(0, width, 3)] = True  # stray pixels widen the box
        masks.append(m)
    kinds = ['point', 'box', 'point', 'box']
    prompts, sam = region_prompts(masks, kinds, frame=2, size=size)
    coords, labels, frames = prompt_tensors(prompts, frame_size, size, num_frames=4)
    assert frames[0].tolist() == [2] * 4
    for m, kind, c, lab, drawn in zip(masks, kinds, coords, labels, sam):
        area = T.resize(torch.from_numpy(m).float()[None, None], (size, size)) > 0
        if kind == 'point':
            # upstream's fork adds positive_only=True; with no prediction the package's point is positive anyway
            expected, expected_labels = get_next_point(area, None, 'center')
        else:
            expected, expected_labels = sample_box_points(area, noise=-1)
        assert c.dtype == expected.dtype and torch.equal(c, expected), (kind, c, expected)
        assert torch.equal(lab, expected_labels.to(lab.dtype))
        assert drawn == expected[0].tolist()


def test_mix_is_seeded():
    from unipixel_plugin.evaluation.lmms.pixelqa import prompt_kinds, question_seed
    seed = question_seed('17')
    assert seed == question_seed('17') != question_seed('18')
    assert prompt_kinds('mix', 1, seed) == prompt_kinds('mix', 1, seed)
    singles = {prompt_kinds('mix', 1, question_seed(str(n)))[0] for n in range(20)}
    assert singles == {'point', 'box'}
    for n in range(10):  # several objects: round(count / 2) points (Python's round: 3 -> 2, 5 -> 2), the rest boxes
        for count, points in ((2, 1), (3, 2), (4, 2), (5, 2)):
            kinds = prompt_kinds('mix', count, question_seed(str(n)))
            assert kinds.count('point') == points and kinds.count('box') == count - points
            assert kinds == prompt_kinds('mix', count, question_seed(str(n)))
    # the draw is upstream's: random.choice / random.sample, here from random.Random(seed)
    rng = random.Random(seed)
    assert prompt_kinds('mix', 1, seed) == [rng.choice(['point', 'box'])]
    rng = random.Random(seed)
    chosen = rng.sample(list(range(3)), 2)
    assert prompt_kinds('mix', 3, seed) == ['point' if k in chosen else 'box' for k in range(3)]


def test_mix_documents_are_the_same_every_build(pixelqa_root):
    first, second = docs_of(pixelqa_root, 'mix'), docs_of(pixelqa_root, 'mix')
    kinds = [json.loads(d['pixelqa_request'])['kinds'] for d in first]
    assert kinds == [json.loads(d['pixelqa_request'])['kinds'] for d in second]
    assert sorted(kinds[1]) == ['box', 'point']  # two objects: one point, one box
    assert [json.loads(d['pixelqa_request'])['seed'] for d in first] == [
        json.loads(d['pixelqa_request'])['seed'] for d in second]


@pytest.fixture(scope='module')
def predictor(tiny_ckpt):
    """The tiny model with no fixed pixel bounds: the default inference budget applies."""
    from unipixel_plugin.inference import UniPixelPredictor
    return UniPixelPredictor.from_pretrained(str(tiny_ckpt), device='cpu', max_new_tokens=4)


@pytest.fixture(scope='module')
def small_predictor(tiny_ckpt):
    """The tiny model on small LLM frames (16 frames at the default budget are slow on a CPU)."""
    from unipixel_plugin.inference import UniPixelPredictor
    return UniPixelPredictor.from_pretrained(str(tiny_ckpt), device='cpu', max_new_tokens=4, min_pixels=3136,
                                             max_pixels=12544)


class Recorder:
    """Wraps ``predictor.run``: records the requests; ``empty`` objects of pass 1 get empty masks."""

    def __init__(self, predictor, empty=()):
        self.predictor, self.empty, self.sent, self.results = predictor, set(empty), [], []

    def __enter__(self):
        self.original = self.predictor.run

        def run(requests, *args, **kwargs):
            self.sent.extend(requests)
            results = self.original(requests, *args, **kwargs)
            for request, result in zip(requests, results):
                if request.answer is not None:  # pass 1 (teacher-forced)
                    result.masks = [np.zeros_like(np.asarray(m)) if k in self.empty else np.asarray(m)
                                    for k, m in enumerate(result.masks)]
            self.results.extend(results)
            return results

        self.predictor.run = run
        return self

    def __exit__(self, *exc):
        self.predictor.run = self.original


def test_two_passes(pixelqa_root, small_predictor):
    from unipixel_plugin.evaluation.lmms.pixelqa import run_pixelqa
    from unipixel_plugin.models.processing_unipixel import smart_resize
    predictor = small_predictor
    doc = docs_of(pixelqa_root, 'box')[0]
    spec = json.loads(doc['pixelqa_request'])
    with Recorder(predictor) as rec:
        out = run_pixelqa(predictor, spec, doc['video'], max_new_tokens=3)
    first, second = rec.sent
    # pass 1: the 16 kept frames, upstream's text and teacher-forced answer, one box on the question's frame
    assert first.media.indices == KEPT_12 == out.positions
    assert (first.media.frames[9] == np.asarray(Image.open(Path(doc['video']) / '00012.jpg'))).all()
    assert first.text == spec['localize'] and first.answer == '[3] <|seg|>' and first.budget is None
    assert len(first.regions) == 1 and first.regions[0].box is not None and first.regions[0].frame == 9
    assert out.localize == spec['localize'] and len(out.masks) == 1 and out.masks[0].shape == (16, H, W)
    # pass 2: the region prefix of pass 1's masks, then the question; prefilled; the default (inference) budget
    assert second.text == out.question and second.text.endswith(doc['prompt'])
    assert second.text.startswith('Here is a video with 16 frames denoted as <1> to <16>. The highlighted regions '
                                  'are as follows:\n[3]: ')
    assert second.answer is None and second.answer_prefix == 'The best option is (' and second.budget is None
    groups = second.refer_mask[:, 0].flatten(1).any(1).nonzero()[:, 0].tolist()
    assert second.text.count('<|mem|>') == len(groups)
    h, w = smart_resize(H, W, min_pixels=3136, max_pixels=12544)
    assert tuple(second.refer_mask.shape) == (8, 1, h // 28, w // 28)
    pass1 = np.stack([np.asarray(m) for m in rec.results[0].masks], axis=1)  # (T, O, H, W)
    from unipixel_plugin.models.object_memory import refer_mask_from_masks
    expected = refer_mask_from_masks(torch.from_numpy(pass1).float(), predictor.inputs.grid_for(
        torch.from_numpy(first.media.frames)), fill_empty=True)
    assert torch.equal(second.refer_mask, expected)
    record = json.loads(out.to_answer())
    assert record['answer'] == rec.results[1].text and record['frame_indices'] == KEPT_12
    assert (np.stack([decode_rle(r) for r in record['masks'][0]]) == out.masks[0]).all()


def test_an_object_with_empty_pass_one_masks_is_marked_on_every_frame(pixelqa_root, predictor):
    from unipixel_plugin.evaluation.lmms.pixelqa import run_pixelqa
    from unipixel_plugin.models.processing_unipixel import smart_resize
    doc = docs_of(pixelqa_root, 'point')[1]
    with Recorder(predictor, empty={1}) as rec:
        out = run_pixelqa(predictor, json.loads(doc['pixelqa_request']), doc['video'])
    second = rec.sent[1]
    assert not out.masks[1].any()
    # 4 frames at the default inference budget: 128*28*28 .. 256*28*28*int(16 / 4)
    h, w = smart_resize(H, W, min_pixels=128 * 28 * 28, max_pixels=256 * 28 * 28 * 4)
    assert second.budget is None and tuple(second.refer_mask.shape) == (2, 2, h // 28, w // 28)
    assert second.refer_mask[:, 1].all()  # every merged patch of both frame pairs
    assert second.text.splitlines()[2] == '[1]: <1>-<2> <|mem|> <3>-<4> <|mem|>'


def upstream_j_and_f(pred, gt):
    """infer_pixelqa.py's compute_j_and_f_volume (torch, float32, 1e-6 epsilons)."""
    pred, gt = torch.from_numpy(pred).view(-1), torch.from_numpy(gt).view(-1)
    inter, union = (pred & gt).sum().float(), (pred | gt).sum().float()
    tp, fp, fn = (pred & gt).sum().float(), (pred & ~gt).sum().float(), (~pred & gt).sum().float()
    precision, recall = tp / (tp + fp + 1e-6), tp / (tp + fn + 1e-6)
    return (inter / (union + 1e-6)).item(), (2 * precision * recall / (precision + recall + 1e-6)).item()


def test_scores_equal_a_recomputation(pixelqa_root):
    from unipixel_plugin.evaluation.lmms import pixelqa as task
    docs = docs_of(pixelqa_root, 'point')
    positions = [0, 1, 2, 3]  # doc 1's timeline (frames 1..4)
    shifted = [np.roll(box(t, 0), 2, axis=1) for t in (1, 2, 3, 4)]  # object 0, shifted by 2 px
    empty = [np.zeros((H, W), bool)] * 4  # object 1: nothing
    answer = json.dumps({'answer': 'A) left', 'masks': [[encode_rle(m) for m in shifted],
                                                        [encode_rle(m) for m in empty]],
                         'frame_indices': positions})
    item = task.process_results(docs[1], [answer])['J']
    gt0 = np.stack([box(t, 0) for t in (1, 2, 3)] + [np.zeros((H, W), bool)])  # no annotation on frame 4
    gt1 = np.stack([np.zeros((H, W), bool), box(2, 14), np.zeros((H, W), bool), box(4, 14)])
    (j0, f0), (j1, f1) = upstream_j_and_f(np.stack(shifted), gt0), upstream_j_and_f(np.stack(empty), gt1)
    assert item['j'] == pytest.approx([j0, j1], abs=1e-7) and item['f'] == pytest.approx([f0, f1], abs=1e-7)
    assert 0.3 < j0 < 0.9 and j1 == 0.0 and item['correct']
    # a plain-text answer (no masks) is right or wrong on its own and scores 0 for each object
    plain = task.process_results(docs[0], ['C'])['J']
    assert plain['j'] == [0.0] and plain['f'] == [0.0] and not plain['correct'] and plain['failed']
    items = [item, plain]
    assert task.aggregate_accuracy(items) == 0.5
    assert task.aggregate_j(items) == pytest.approx((j0 + j1 + 0) / 3)  # a mean over objects, not questions
    assert task.aggregate_f(items) == pytest.approx((f0 + f1 + 0) / 3)
    assert task.aggregate_jf(items) == pytest.approx(((j0 + j1) / 3 + (f0 + f1) / 3) / 2)


def test_yamls_load(pixelqa_root, monkeypatch):
    monkeypatch.setenv('UNIPIXEL_DATA_ROOT', str(pixelqa_root))
    from lmms_eval.tasks import TaskManager
    loaded = TaskManager(include_path=str(TASKS)).load_task_or_group(['pixelqa'])
    tasks = {name: task for group in loaded.values() for name, task in group.items()}
    assert sorted(tasks) == ['unipixel_pixelqa_box', 'unipixel_pixelqa_mix', 'unipixel_pixelqa_point']
    assert [len(list(t.test_docs())) for t in tasks.values()] == [3, 3, 3]


@pytest.mark.slow
def test_lmms_eval_run_of_the_group(pixelqa_root, lmms_run):
    from unipixel_plugin.evaluation.lmms import pixelqa as task
    lmms_run(['pixelqa'], pixelqa_root, answer='A')  # makes the adapter (or reuses the session's one)
    lm = next(a for k, a in lmms_run.adapters.items() if k != 'manager')
    with Recorder(lm.predictor) as rec:
        out = lmms_run(['pixelqa'], pixelqa_root, answer='A')
    names = ['unipixel_pixelqa_point', 'unipixel_pixelqa_box', 'unipixel_pixelqa_mix']
    for name in names:
        row, samples = out['results'][name], out['samples'][name]
        assert len(samples) == 3
        answers = [s['resps'][0][0] if isinstance(s['resps'][0], list) else s['resps'][0] for s in samples]
        records = [json.loads(a) for a in answers]  # every answer carries pass 1's masks
        assert [len(r['masks']) for r in records] == [len(json.loads(s['doc']['pixelqa_request'])['masks'])
                                                      for s in samples]
        assert all(r['answer'].startswith('A') for r in records)
        items = [task.process_results(s['doc'], [a])['J'] for s, a in zip(samples, answers)]
        assert row['accuracy,none'] == pytest.approx(task.aggregate_accuracy(items)) == pytest.approx(1 / 3)
        assert row['J,none'] == pytest.approx(task.aggregate_j(items))
        assert row['F,none'] == pytest.approx(task.aggregate_f(items))
        assert row['J&F,none'] == pytest.approx(task.aggregate_jf(items))
    # both passes ran for each of the 9 documents: teacher-forced <|ref|> prompts, then <|mem|> prompts prefilled
    assert len(rec.sent) == 18
    firsts, seconds = rec.sent[0::2], rec.sent[1::2]
    assert all(r.answer is not None and '<|ref|>' in r.text and r.regions for r in firsts)
    assert all(r.answer is None and '<|mem|>' in r.text and r.refer_mask is not None and
               r.answer_prefix == 'The best option is (' for r in seconds)
    kinds = [['point' if p.point is not None else 'box' for p in r.regions] for r in firsts]
    assert ['point'] in kinds and ['box'] in kinds and ['box', 'box'] in kinds
