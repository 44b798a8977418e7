"""`unipixel leaderboard`: lmms-eval results and score JSONs of two models side by side, with published deltas."""
import json

import pytest
from PIL import Image

from unipixel_plugin.evaluation.leaderboard import read_results, render, task_key, with_published


def lmms_results(path, pretrained, revos, refcoco):
    path.write_text(json.dumps({
        'results': {'unipixel_revos_valid': {'alias': 'revos', 'J&F,none': revos, 'J&F_stderr,none': 0.01},
                    'unipixel_refcoco_val': {'cIoU,none': refcoco, 'gIoU,none': refcoco + 0.02},
                    'mvbench': {'accuracy,none': 61.0}},
        'config': {'model': 'unipixel', 'model_args': f'pretrained={pretrained},sample_frames=16'}}))
    return path


def test_task_names_map_to_benchmark_and_split():
    assert task_key('unipixel_refcoco+_testA') == ('refcoco+', 'testA', 'default')
    assert task_key('pixelqa_mix') == ('pixelqa', 'mix', 'default')
    assert task_key('mvbench') == ('mvbench', '', 'default')


def test_two_models_side_by_side_with_published_deltas(tmp_path):
    a = lmms_results(tmp_path / 'a.json', '/ckpt/UniPixel-3B', 0.612, 0.80)
    b = tmp_path / 'b.json'
    b.write_text(json.dumps({'benchmark': 'revos', 'split': 'valid', 'model': 'Sa2VA-run',
                             'referring': {'J': 0.5, 'F': 0.6, 'J&F': 0.55},
                             'reasoning': {'J': 0.4, 'F': 0.5, 'J&F': 0.45},
                             'overall': {'J': 0.45, 'F': 0.55, 'J&F': 0.50}}))
    entries = read_results(a) + read_results(b)
    names = {e.model for e in entries}
    assert names == {'unipixel (UniPixel-3B)', 'Sa2VA-run'}
    revos = {(e.model, e.protocol): e.value for e in entries if e.benchmark == 'revos' and e.metric == 'J&F'}
    assert revos[('Sa2VA-run', 'overall')] == pytest.approx(50.0)
    assert revos[('unipixel (UniPixel-3B)', 'overall')] == pytest.approx(61.2)  # this package's ReVOS task: overall
    mv = [e for e in entries if e.benchmark == 'mvbench']
    assert mv[0].value == pytest.approx(61.0)  # already percent
    written = render(with_published(entries), tmp_path / 'board')
    table = open(written['markdown']).read()
    assert '| Sa2VA-run |' in table and 'UniPixel-7B (published)' in table
    # deltas only where benchmark, split, protocol and metric match: Sa2VA-run's ReVOS overall vs 62.1 / 63.7 / 50.9
    assert '| Sa2VA-run | revos valid J&F overall 50.0 | UniPixel-3B | -12.1 |' in table
    assert '| Sa2VA-run | revos valid J&F overall 50.0 | VISA-13B | -0.9 |' in table
    # refcoco val cIoU: 80.0 vs UniPixel-3B's 80.5, Sa2VA's 79.6, LISA's 74.1
    assert '| unipixel (UniPixel-3B) | refcoco val cIoU 80.0 | LISA-7B | +5.9 |' in table
    assert '| unipixel (UniPixel-3B) | revos valid J&F overall 61.2 | UniPixel-3B | -0.9 |' in table
    assert '| unipixel (UniPixel-3B) | refcoco val gIoU' not in table  # no published gIoU for RefCOCO: no delta
    charts = {p.rsplit('/', 1)[-1]: p for p in written['charts']}
    assert {'revos.png', 'refcoco.png', 'mvbench.png'} <= set(charts)
    with Image.open(charts['revos.png']) as image:
        assert image.size[0] > 300 and image.size[1] > 200
        colours = image.convert('RGB').getcolors(1 << 20)
        assert len(colours) > 10  # bars, labels and text, not a blank canvas
    assert '<table>' in open(written['html']).read()


def test_unknown_files_are_refused_by_name(tmp_path):
    bad = tmp_path / 'x.json'
    bad.write_text('[1, 2]')
    with pytest.raises(ValueError, match='x.json: neither'):
        read_results(bad)
    with pytest.raises(ValueError, match='no results'):
        render([], tmp_path / 'out')
