"""Our metrics against the numbers the reference scoring code produced on the same seeded inputs
(``reference/README.md`` says which code, which commit, and how it was run)."""
from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest

from unipixel_plugin.evaluation.metrics import (
    FolderScores,
    IoUAccumulator,
    boundary_f,
    boundary_map,
    boundary_tolerance,
    choice_accuracy,
    cumulative_iou,
    generalized_iou,
    intersection_and_union,
    j_and_f,
    jaccard,
    parse_choice,
    pixel_f1,
    pixelqa_volume_j,
    refvos_summary,
    running_anno_ids,
    sample_iou,
    score_prediction_folder,
)

TOL = 1e-9


def test_davis_j_and_f_per_frame(cases, reference):
    ref = reference('davis2017_metrics.json')['frames']
    got = cases.davis_cases()
    assert set(got) == set(ref)
    for name, (pred, gt) in got.items():
        j, f = j_and_f(pred, gt)
        j, f = np.atleast_1d(j), np.atleast_1d(f)
        np.testing.assert_allclose(j, ref[name]['J'], rtol=0, atol=TOL, err_msg=name)
        np.testing.assert_allclose(f, ref[name]['F'], rtol=0, atol=TOL, err_msg=name)
        # the separate entry points agree with the joint one
        np.testing.assert_array_equal(np.atleast_1d(jaccard(pred, gt)), j)
        np.testing.assert_array_equal(np.atleast_1d(boundary_f(pred, gt)), f)


def test_boundary_map_is_seg2bmap(cases, reference):
    ref = reference('davis2017_metrics.json')['frames']
    for name, (pred, gt) in cases.davis_cases().items():
        if ref[name]['ndim'] != 2:
            continue
        bp, bg = boundary_map(pred), boundary_map(gt)
        assert hashlib.sha256(np.packbits(bp).tobytes()).hexdigest() == ref[name]['pred_boundary_sha256'], name
        assert (int(bp.sum()), int(bg.sum())) == (ref[name]['pred_boundary_pixels'], ref[name]['gt_boundary_pixels'])
        assert boundary_tolerance(*np.shape(pred)) == ref[name]['radius']


def test_boundary_f_other_tolerances(cases, reference):
    ref = reference('davis2017_metrics.json')['boundary_f_bound_th']
    got = cases.davis_cases()
    for key, values in ref.items():
        name, bound_th = key.split('@')
        pred, gt = got[name]
        bound_th = float(bound_th) if '.' in bound_th else int(bound_th)
        np.testing.assert_allclose(np.atleast_1d(boundary_f(pred, gt, bound_th)), values, rtol=0, atol=TOL,
                                   err_msg=key)


def test_lisa_ciou_giou(cases, reference):
    ref = reference('refseg.json')['lisa_validate']
    acc = IoUAccumulator('lisa')
    for (pred, gt, ignore), want in zip(cases.refseg_samples(), ref['per_sample'], strict=True):
        inter, union = acc.add(pred, gt, ignore, ignore='exclude')
        assert (inter, union) == (want['inter'], want['union'])
        assert sample_iou(inter, union, 'lisa') == want['iou']  # float32 arithmetic, to the bit
    # LISA sums in float32; with these small totals that is exact, so the dataset scores agree closely
    assert acc.giou == pytest.approx(ref['giou'], abs=1e-6)
    assert acc.ciou == pytest.approx(ref['ciou'], abs=1e-6)
    assert f'giou: {acc.giou:.4f}, ciou: {acc.ciou:.4f}' == ref['printed']


def test_unipixel_eval_refcoco(cases, reference):
    log = reference('refseg.json')['unipixel_eval_refcoco_log']
    counts = [intersection_and_union(p, g, i, ignore='background') for p, g, i in cases.refseg_samples()]
    inters, unions = [c[0] for c in counts], [c[1] for c in counts]
    assert f'Cum Inter: {sum(inters)}' in log and f'Cum Union: {sum(unions)}' in log
    assert f'CIoU: {cumulative_iou(inters, unions) * 100:.5f}' in log
    assert f'GIoU: {generalized_iou(inters, unions) * 100:.5f}' in log


def test_pixelqa_volume_scores(cases, reference):
    ref = reference('pixelqa_and_choice.json')
    js, fs = [], []
    for (pred, gt), want in zip(cases.pixelqa_objects(), ref['unipixel_volume_j_f1'], strict=True):
        js.append(pixelqa_volume_j(pred, gt))
        fs.append(pixel_f1(pred, gt))
        assert js[-1] == want['j'] and fs[-1] == want['f']  # float32 arithmetic, to the bit
    j, f = sum(js) / len(js), sum(fs) / len(fs)
    log = ref['unipixel_eval_pixelqa_log']
    assert f'J: {j * 100:.5f}' in log and f'F: {f * 100:.5f}' in log and f'J&F: {(j + f) / 2 * 100:.5f}' in log


def test_choice_parsing_and_accuracy(cases, reference):
    ref = reference('pixelqa_and_choice.json')
    for (response, answer, n, _), want in zip(cases.CHOICE_CASES, ref['unipixel_check_ans'], strict=True):
        picked = parse_choice(response, n)
        if 'error' in want:  # upstream raises IndexError on an empty first token; here it is a failure
            assert picked is None
        elif want['result'] is None:
            assert picked is None, response
        else:
            assert (picked == answer) is want['result'], response
    records = [dict(response=r, answer=a, num_options=n, task=t) for r, a, n, t in cases.CHOICE_CASES
               if r.split(' ')[0]]
    result = choice_accuracy(records)
    table = {}
    for line in ref['unipixel_eval_general_log']:
        m = re.match(r'\| (\S+)\s+\| (\d+)\s+\| (\d+)\s+\| ([\d.]+)', line)
        if m:
            table[m.group(1)] = (int(m.group(2)), int(m.group(3)), m.group(4))
    tallies = dict(result.per_type, all=result.overall)
    assert set(table) == set(tallies)
    for name, (samples, failed, acc) in table.items():
        t = tallies[name]
        assert (t.samples, t.failed, f'{t.accuracy * 100:.2f}') == (samples, failed, acc), name


def _key(vid, exp):
    return f'{vid}_{exp}'


def test_mevis_script(refvos_paths, reference):
    ref = reference('refvos_scripts.json')['mevis_eval_mevis']
    paths = refvos_paths[255]
    meta = json.load(open(paths['meta_expressions']))['videos']
    scores = score_prediction_folder(paths['pred_root'], meta, json.load(open(paths['mask_dict'])))
    assert scores.missing_videos == ['vid_missing']
    assert scores.missing_frames == [('vid_c', '0', '00002')]
    # every expression the script scored, to the bit
    for name, (j, f) in ref['per_expression'].items():
        vid, exp = name.rsplit('_', 1)
        got = scores.expressions[(vid, exp)]
        assert abs(got.j - j) <= TOL and abs(got.f - f) <= TOL, name
    # the script's worker died on the missing frame and vid_c_0 dropped out of its mean; scoring the same set
    # gives its printed numbers
    assert ref['worker_crashed'] and 'vid_c_0' not in ref['per_expression']
    kept = [s for k, s in scores.expressions.items() if _key(*k) in ref['per_expression']]
    summary = refvos_summary(kept)
    printed = {line.split(': ')[0]: float(line.split(': ')[1]) for line in ref['stdout'] if ': ' in line}
    for key in ('J', 'F', 'J&F'):
        assert summary[key] == pytest.approx(printed[key], abs=1e-15)
    # and our own mean keeps vid_c_0 (an empty frame) in
    assert len(scores.expressions) == len(ref['per_expression']) + 1


def test_unipixel_eval_seg(refvos_paths, reference):
    ref = reference('refvos_scripts.json')
    paths = refvos_paths[255]
    meta = json.load(open(paths['meta_expressions']))['videos']
    scores = score_prediction_folder(paths['pred_root'], meta, json.load(open(paths['mask_dict'])))
    kept = [s for k, s in scores.expressions.items() if k != ('vid_c', '0')]  # dropped by the crashed worker
    assert refvos_summary(kept, percent=True, decimals=2) | {'expressions': 0} == \
        ref['unipixel_eval_seg_mevis'] | {'expressions': 0}
    assert ref['unipixel_eval_seg_ref_davis17'] == ref['unipixel_eval_seg_mevis']


def test_running_anno_ids():
    videos = {'b': {'expressions': {'10': {}, '2': {}}}, 'a': {'expressions': {'0': {}, '1': {}}}}
    ids = running_anno_ids(videos)
    assert [ids[v]['expressions'][e]['anno_id'] for v, e in (('a', '0'), ('a', '1'), ('b', '10'), ('b', '2'))] == \
        [[0], [1], [2], [3]]
    assert 'anno_id' not in videos['a']['expressions']['0']  # the input is not modified


@pytest.mark.parametrize('png_value, key, convention', [(255, 'visa_eval_revos_png255', 'raw'),
                                                        (1, 'visa_eval_revos_png01', 'raw'),
                                                        (255, 'unipixel_eval_revos_png255', 'raw')])
def test_revos_script(refvos_paths, reference, png_value, key, convention):
    ref = reference('refvos_scripts.json')[key]
    paths = refvos_paths[png_value]
    scores = score_prediction_folder(paths['pred_root'], json.load(open(paths['meta_expressions']))['videos'],
                                     json.load(open(paths['mask_dict'])),
                                     foreground=json.load(open(paths['foreground'])),
                                     ar_convention=convention)
    assert isinstance(scores, FolderScores)
    # VISA's script scores an expression with a missing frame 0 (an exception it catches); do the same to compare
    visa_view = FolderScores(dict(scores.expressions), scores.type_ids)
    visa_view.expressions[('vid_c', '0')] = type(scores.expressions[('vid_c', '0')])(0.0, 0.0, 0.0, 0.0)
    results = visa_view.revos_summary(round_percent=True)
    for subset, values in ref['results'].items():
        for metric, value in values.items():
            assert results[subset][metric] == pytest.approx(value, abs=1e-12), (subset, metric)
    if 'per_expression' in ref:
        from unipixel_plugin.evaluation.metrics import revos_expression_percent
        for name, row in ref['per_expression'].items():
            vid, exp = name.split('/')
            assert revos_expression_percent(visa_view.expressions[(vid, exp)]) == row, name


def test_revos_png_conventions_differ(refvos_paths):
    """0/255 PNGs and 0/1 PNGs of the same masks: same J/F, different raw A/R, same binary A/R."""
    out = {}
    for value in (255, 1):
        paths = refvos_paths[value]
        for convention in ('raw', 'binary'):
            out[value, convention] = score_prediction_folder(
                paths['pred_root'], json.load(open(paths['meta_expressions']))['videos'],
                json.load(open(paths['mask_dict'])), foreground=json.load(open(paths['foreground'])),
                ar_convention=convention).expressions
    key = ('vid_a', '0')
    assert out[255, 'raw'][key].j == out[1, 'raw'][key].j and out[255, 'raw'][key].f == out[1, 'raw'][key].f
    assert out[255, 'raw'][key].a != out[1, 'raw'][key].a
    other = ('vid_b', '0')
    assert out[255, 'raw'][other].r == 0.0 < out[1, 'raw'][other].r  # false positives weigh 255 each in 0/255 PNGs
    assert out[255, 'binary'][key] == out[1, 'binary'][key]
    # with 0/1 PNGs and no overlapping objects, 'binary' is the script's arithmetic; vid_a 0 has two overlapping
    # objects (the script's ground truth reaches 2 there), so only 'raw' is the script for it
    assert out[1, 'raw'][('vid_b', '0')] == out[1, 'binary'][('vid_b', '0')]
    assert out[1, 'raw'][key].a != out[1, 'binary'][key].a
