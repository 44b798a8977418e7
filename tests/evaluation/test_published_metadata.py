"""Every task of this package declares what it measures (``metadata.unipixel``: benchmark, split, protocol), the
``unipixel_all`` group runs all of them, and published numbers line up with a task only where split and protocol
match (leaderboard deltas)."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unipixel_plugin.evaluation.leaderboard import read_results, render, task_key, with_published
from unipixel_plugin.evaluation.published import published_for

TASKS = Path(__file__).resolve().parents[2] / 'tasks'

# the tasks that published rows exist for, and one of the rows each (model, metric, percent)
PUBLISHED = {
    'unipixel_refcoco_val': ('UniPixel-3B', 'cIoU', 80.5), 'unipixel_refcoco_testA': ('UniPixel-7B', 'cIoU', 83.0),
    'unipixel_refcoco_testB': ('UniPixel-3B', 'cIoU', 76.9), 'unipixel_refcoco+_val': ('UniPixel-3B', 'cIoU', 74.3),
    'unipixel_refcoco+_testA': ('UniPixel-7B', 'cIoU', 80.1), 'unipixel_refcoco+_testB': ('UniPixel-3B', 'cIoU', 68.4),
    'unipixel_refcocog_val': ('UniPixel-3B', 'cIoU', 76.3), 'unipixel_refcocog_test': ('UniPixel-7B', 'cIoU', 77.1),
    'unipixel_reasonseg_val_ignore_background': ('UniPixel-3B', 'gIoU', 64.0),
    'unipixel_revos_valid': ('VISA-13B', 'J&F', 50.9), 'unipixel_mevis_valid_u': ('Sa2VA-Qwen2.5-VL-7B', 'J&F', 56.4),
    'unipixel_mevis_valid': ('UniPixel-3B', 'J&F', 53.1), 'unipixel_ref_youtube_vos_valid': ('UniPixel-7B', 'J&F', 71.0),
    'unipixel_ref_davis17_valid': ('UniPixel-3B', 'J&F', 74.2), 'unipixel_ref_sav_valid': ('UniPixel-7B', 'J&F', 69.0),
    'unipixel_groundmore_test': ('UniPixel-3B', 'J&F', 37.4),
    'unipixel_videorefer_bench_q_single': ('GPT-4o', 'accuracy', 71.3),
    'unipixel_videorefer_bench_q_multi': ('UniPixel-7B', 'accuracy', 74.1),
}
# ... and those without: ReasonSeg under LISA's protocol and ReasonSeg test were not published by UniPixel; PixelQA has
# no published numbers; VideoRefer-Bench-D is scored by upstream's GPT judge, not here
UNPUBLISHED = {'unipixel_reasonseg_val', 'unipixel_reasonseg_test', 'unipixel_reasonseg_test_ignore_background',
               'unipixel_pixelqa_point', 'unipixel_pixelqa_box', 'unipixel_pixelqa_mix',
               'unipixel_videorefer_bench_d_single', 'unipixel_videorefer_bench_d_multi'}  # scored by a GPT judge


@pytest.fixture(scope='module')
def ours():
    """Task name -> config of every task YAML in this package's folder, and the task manager."""
    from lmms_eval.tasks import TaskManager
    manager = TaskManager(include_path=str(TASKS))
    names = {name for name, entry in manager.task_index.items()
             if str(entry.get('yaml_path', '')).startswith(str(TASKS)) and entry.get('type') == 'task'}
    return {name: manager._get_config(name) for name in names}, manager


def test_every_task_declares_what_it_measures(ours):
    configs, _ = ours
    assert set(configs) == set(PUBLISHED) | UNPUBLISHED  # a new task must be listed here (and in unipixel_all)
    for name, config in configs.items():
        assert name.startswith('unipixel_')
        declared = config['metadata']['unipixel']
        assert set(declared) == {'benchmark', 'split', 'protocol'}, name
        # the declaration agrees with what the name says (older results files are read by name)
        benchmark, split, protocol = task_key(name)
        assert (benchmark, split) == (declared['benchmark'], declared['split']), name
        if declared['protocol'] not in ('overall', 'server'):  # names do not spell these two
            assert protocol == declared['protocol'], name


def test_published_rows_match_only_where_split_and_protocol_do(ours):
    configs, _ = ours
    for name, config in configs.items():
        declared = config['metadata']['unipixel']
        metrics = [m['metric'] for m in config['metric_list']]
        rows = [p for metric in set(metrics) | {'J&F'}
                for p in published_for(declared['benchmark'], declared['split'], metric, declared['protocol'])]
        if name in UNPUBLISHED:
            assert rows == [], name
            continue
        model, metric, value = PUBLISHED[name]
        assert any((p.model, p.metric, p.value) == (model, metric, value) for p in rows), (name, rows)
        if declared['protocol'] != 'server':  # server splits report no metric here, the archive is scored there
            assert metric in metrics, name


def test_the_all_group_runs_every_task(ours):
    configs, manager = ours
    group = manager._get_config('unipixel_all')
    assert sorted(group['task']) == sorted(configs)


def test_leaderboard_reads_the_declared_protocol_from_results(tmp_path):
    # an lmms-eval results file: the task config (with its metadata) is copied under "configs"
    path = tmp_path / 'r.json'
    path.write_text(json.dumps({
        'results': {'unipixel_reasonseg_val_ignore_background': {'gIoU,none': 0.62, 'cIoU,none': 0.55},
                    'unipixel_reasonseg_val': {'gIoU,none': 0.66}},
        'configs': {'unipixel_reasonseg_val_ignore_background': {'metadata': {'unipixel': {
            'benchmark': 'reason_seg', 'split': 'val', 'protocol': 'ignore=background'}}}},
        'config': {'model': 'unipixel', 'model_args': 'pretrained=/m/UniPixel-3B'}}))
    entries = read_results(path)
    keys = {(e.benchmark, e.split, e.protocol, e.metric) for e in entries}
    # the second task has no configs entry: its name is read (older files); LISA's protocol is the default
    assert keys == {('reason_seg', 'val', 'ignore=background', 'gIoU'), ('reason_seg', 'val', 'ignore=background',
                                                                        'cIoU'), ('reason_seg', 'val', 'ignore=exclude',
                                                                                  'gIoU')}
    table = Path(render(with_published(entries), tmp_path / 'board')['markdown']).read_text()
    assert '| unipixel (UniPixel-3B) | reason_seg val gIoU ignore=background 62.0 | UniPixel-3B | -2.0 |' in table
    assert 'ignore=exclude 66.0 | UniPixel' not in table  # LISA's protocol: nothing published to compare with


@pytest.mark.slow
def test_a_real_results_file_carries_the_declaration(lmms_run, tmp_path):
    root = tmp_path / 'data'
    folder = root / 'lisa' / 'reason_seg' / 'ReasonSeg' / 'val'
    folder.mkdir(parents=True)
    Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).save(folder / 'a.jpg')
    (folder / 'a.json').write_text(json.dumps({'text': ['the cup'], 'is_sentence': False, 'shapes': [
        {'label': 'target', 'points': [[2, 2], [12, 2], [12, 12], [2, 12]], 'shape_type': 'polygon'}]}))
    out = lmms_run(['unipixel_reasonseg_val_ignore_background'], root)
    path = tmp_path / 'results.json'
    path.write_text(json.dumps({k: out[k] for k in ('results', 'configs', 'config')}, default=str))
    entries = read_results(path)
    assert {(e.benchmark, e.split, e.protocol) for e in entries} == {('reason_seg', 'val', 'ignore=background')}
