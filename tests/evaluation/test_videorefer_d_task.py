"""The unipixel_videorefer_bench_d_{single,multi} lmms-eval tasks: documents from a native VideoRefer-Bench-D.json,
the mask prompts the adapter builds (upstream's infer_videorefer_d.py: frame sampling with frame_idx kept, the region
prefix, refer_mask, the inference pixel budget, no answer prefix), the predictions file upstream's GPT judge reads
(written under the run's output path, no score invented), and one lmms-eval run."""
import json
import re
from pathlib import Path

import pytest

from unipixel_plugin.masks import encode_rle

from tests.evaluation.videorefer_media import KEPT_12, H, W, box, frame, write_clips  # noqa: F401

TASKS = Path(__file__).resolve().parents[2] / 'tasks'
QUESTION = 'Please give a detailed description of the highlighted object [0] in the video.'


@pytest.fixture(scope='module')
def bench_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('videorefer_d_root')
    base = root / 'videorefer' / 'VideoRefer-Bench'
    videos = base / 'videos' / 'Panda-70M-part'
    write_clips(videos, 'clip_a', 'clip_b.mp4')
    items = [
        {'id': 7, 'video': 'clip_a', 'caption': 'A red square slides to the right and comes back.', 'frame_idx': '12',
         'annotation': [{str(t): {'segmentation': encode_rle(box(t, 0))} for t in range(20)}]},
        {'id': 8, 'video': 'clip_b.mp4', 'caption': 'A blue square drifts right.', 'frame_idx': '2',
         'annotation': [{str(t): {'segmentation': encode_rle(box(t, 14))} for t in (1, 2, 4)}]},
    ]
    (base / 'VideoRefer-Bench-D.json').write_text(json.dumps(items))
    return root


def test_documents(bench_root):
    from unipixel_plugin.evaluation.lmms.region_descriptions import build_docs
    multi = build_docs('videorefer_bench_d', 'multi', str(bench_root))
    assert [d['prompt'] for d in multi] == [QUESTION, QUESTION]
    assert [d['caption'] for d in multi] == ['A red square slides to the right and comes back.',
                                             'A blue square drifts right.']
    assert [d['vid'] for d in multi] == ['clip_a', 'clip_b'] and [d['frame_idx'] for d in multi] == [12, 2]
    spec = json.loads(multi[1]['region_request'])
    assert spec['media_type'] == 'video' and spec['frame_indices'] == [1, 2, 4] and spec['prompt_frame'] == 1
    assert [m is not None for m in spec['masks'][0]] == [True, True, True]
    assert spec['object_ids'] == [0] and spec['budget'] == 'inference' and spec['fill_empty'] is False
    assert spec['answer_prefix'] == ''
    single = build_docs('videorefer_bench_d', 'single', str(bench_root))
    assert [m is not None for m in json.loads(single[1]['region_request'])['masks'][0]] == [False, True, False]
    with pytest.raises(ValueError, match='mode must be one of'):
        build_docs('videorefer_bench_d', 'both', str(bench_root))


@pytest.fixture(scope='module')
def adapter(tiny_ckpt):
    from unipixel_plugin.evaluation.lmms.adapter import UniPixelLMM
    return UniPixelLMM(pretrained=str(tiny_ckpt), device='cpu')  # no fixed pixel bounds: the budgets apply


def test_adapter_builds_upstreams_inputs(bench_root, adapter):
    from unipixel_plugin.evaluation.lmms.region_descriptions import build_docs
    from unipixel_plugin.models.processing_unipixel import smart_resize
    multi, single = (build_docs('videorefer_bench_d', m, str(bench_root)) for m in ('multi', 'single'))
    request = adapter._region_request(json.loads(multi[0]['region_request']), multi[0]['video'], multi[0]['prompt'])
    assert request.media.indices == KEPT_12
    head = ('Here is a video with 16 frames denoted as <1> to <16>. The highlighted regions are as follows:\n[0]: ' +
            ' '.join(f'<{2 * g + 1}>-<{2 * g + 2}> <|mem|>' for g in range(8)) + '\n')
    assert request.text == head + QUESTION  # infer_videorefer_d.py's prompt
    assert request.answer_prefix == '' and request.budget == 'inference'
    h, w = smart_resize(H, W, min_pixels=128 * 28 * 28, max_pixels=256 * 28 * 28)  # int(16 / 16) = 1
    assert tuple(request.refer_mask.shape) == (8, 1, h // 28, w // 28)
    request = adapter._region_request(json.loads(single[0]['region_request']), single[0]['video'],
                                      single[0]['prompt'])
    assert request.text.splitlines()[1] == '[0]: <9>-<10> <|mem|>'  # only the pair holding frame 12
    # the mp4 item: 3 timeline frames -> max_pixels 256*28*28*int(16/3)
    request = adapter._region_request(json.loads(multi[1]['region_request']), multi[1]['video'], multi[1]['prompt'])
    h, w = smart_resize(H, W, min_pixels=128 * 28 * 28, max_pixels=256 * 28 * 28 * 5)
    assert request.media.frames.shape == (3, H, W, 3) and tuple(request.refer_mask.shape) == (2, 1, h // 28, w // 28)


def test_predictions_file_is_what_the_judge_reads(bench_root, tmp_path):
    from types import SimpleNamespace

    from unipixel_plugin.evaluation.lmms import region_descriptions as task
    docs = task.build_docs('videorefer_bench_d', 'multi', str(bench_root))
    answers = ['A red box moves.', json.dumps({'answer': 'A blue box. ', 'masks': [], 'frame_indices': []})]
    items = [task.process_results(d, [a])['descriptions'] for d, a in zip(docs, answers)]
    written = task.aggregate_descriptions(items + items[:1], SimpleNamespace(output_path=str(tmp_path)))
    assert written == 2  # the number of descriptions, not a score; a padded-in duplicate counts once
    path = tmp_path / 'videorefer_bench_d' / 'unipixel_videorefer_bench_d_multi' / 'output.json'
    data = json.loads(path.read_text())
    # upstream's 1.eval_gpt_4o_mini.py: every *.json of the folder whose path holds "output", flattened, and from
    # each entry only pred and caption
    files = [p for p in path.parent.iterdir() if p.suffix in ('.json', '.jsonl') and 'output' in str(p)]
    judged = [dict(pred=d['pred'], caption=d['caption']) for f in files for d in json.loads(f.read_text())]
    assert judged == [{'pred': 'A red box moves.', 'caption': 'A red square slides to the right and comes back.'},
                      {'pred': 'A blue box.', 'caption': 'A blue square drifts right.'}]
    assert [d['id'] for d in data] == ['7', '8'] and data[0]['question'] == QUESTION


def test_yamls_load_and_belong_to_the_all_group(bench_root, monkeypatch):
    monkeypatch.setenv('UNIPIXEL_DATA_ROOT', str(bench_root))
    from lmms_eval.tasks import TaskManager
    manager = TaskManager(include_path=str(TASKS))
    tasks = manager.load_task_or_group(['unipixel_videorefer_bench_d_single', 'unipixel_videorefer_bench_d_multi'])
    assert [len(list(t.test_docs())) for t in tasks.values()] == [2, 2]
    assert {'unipixel_videorefer_bench_d_single', 'unipixel_videorefer_bench_d_multi'} <= set(
        manager._get_config('unipixel_all')['task'])


@pytest.mark.slow
def test_lmms_eval_run_writes_the_descriptions(bench_root, lmms_run, tmp_path, caplog):
    answer = 'A red square moving right.'
    with caplog.at_level('WARNING'):
        out = lmms_run(['unipixel_videorefer_bench_d_single'], bench_root, output_path=tmp_path, answer=answer)
    row = out['results']['unipixel_videorefer_bench_d_single']
    assert row['descriptions,none'] == 2 and not any(k.startswith(('score', 'accuracy')) for k in row)
    path = tmp_path / 'videorefer_bench_d' / 'unipixel_videorefer_bench_d_single' / 'output.json'
    data = json.loads(path.read_text())
    assert sorted(d['vid'] for d in data) == ['clip_a', 'clip_b']
    assert all(d['pred'] == answer and d['mode'] == 'single' for d in data)
    assert re.search(r'computes no score\. 2 descriptions are in .*output\.json; score them with: bash '
                     r'unipixel/eval/eval_videorefer_d\.sh', caplog.text)
