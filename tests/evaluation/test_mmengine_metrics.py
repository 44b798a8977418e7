"""The MMEngine metrics: process() on data-sample dicts, compute_metrics() over results gathered from ranks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from unipixel_plugin.evaluation.metrics import (
    IoUAccumulator,
    pixel_f1,
    pixelqa_volume_j,
    refvos_summary,
    revos_accuracy_robustness,
    revos_summary,
    score_expression,
)
from unipixel_plugin.evaluation.metrics.mmengine_metrics import (
    RefSegMetric,
    RefVOSMetric,
    RegionQAMetric,
)
from unipixel_plugin.evaluation.metrics.refvos import ExpressionScores
from unipixel_plugin.registry import METRICS


def _blob(rng, t, h, w):
    yy, xx = np.mgrid[:h, :w]
    return np.stack([((yy - rng.uniform(0, h)) / rng.uniform(2, h)) ** 2 + ((xx - rng.uniform(0, w)) /
                                                                          rng.uniform(2, w)) ** 2 <= 1
                     for _ in range(t)])


def _samples(kind, n=9, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        t = 1 if kind == 'image' else int(rng.integers(2, 5))
        h, w = int(rng.integers(12, 40)), int(rng.integers(12, 40))
        objects = np.stack([_blob(rng, t, h, w) for _ in range(1 + i % 2)])
        pred = torch.from_numpy(np.stack([objects.any(0) ^ (rng.random((t, h, w)) < 0.1)]))
        if i == 3:
            pred = torch.zeros((0, t, h, w), dtype=torch.bool)  # no <|seg|>: an empty prediction
        sample = dict(id=f's{i}', pred_masks=pred, gt_masks=objects, meta={'type_id': i % 3})
        if kind == 'image' and i % 2:
            sample['ignore_mask'] = rng.random((t, h, w)) < 0.1
        if kind == 'video':
            sample['foreground_mask'] = (objects.any(0) | (rng.random((t, h, w)) < 0.2)).astype(np.uint8)
        out.append(sample)
    return out


def _two_ranks(make, samples):
    """Each rank processes its share; MMEngine then hands the concatenated results to compute_metrics."""
    ranks = [make(), make()]
    ranks[0].process(None, samples[0::2])
    ranks[1].process(None, samples[1::2])
    gathered = ranks[0].results + ranks[1].results
    single = make()
    single.process(None, samples)
    return make().compute_metrics(gathered), single.compute_metrics(single.results)


def _as_numpy(sample):
    pred = sample['pred_masks'].numpy()
    pred = pred[0] if len(pred) else np.zeros(pred.shape[1:], bool)
    return pred, sample['gt_masks'].any(0)


@pytest.mark.parametrize('convention, ignore', [('exact', 'exclude'), ('lisa', 'exclude'), ('exact', 'background')])
def test_refseg_metric(convention, ignore):
    samples = _samples('image')
    split, whole = _two_ranks(lambda: RefSegMetric(convention=convention, ignore=ignore), samples)
    acc = IoUAccumulator(convention)
    for s in samples:
        pred, gt = _as_numpy(s)
        acc.add(pred, gt, s.get('ignore_mask'), ignore=ignore)
    assert split['cIoU'] == pytest.approx(100 * acc.ciou, abs=1e-12)
    assert split['gIoU'] == pytest.approx(100 * acc.giou, abs=1e-12)
    assert split['samples'] == whole['samples'] == len(samples)
    assert split['cIoU'] == pytest.approx(whole['cIoU'], abs=1e-12)


def test_refvos_metric_with_revos_subsets():
    samples = _samples('video')
    split, whole = _two_ranks(lambda: RefVOSMetric(revos=True, ar_convention='raw'), samples)
    scores = []
    for s in samples:
        pred, gt = _as_numpy(s)
        e = score_expression(pred, gt)
        a, r = revos_accuracy_robustness(pred.astype(np.uint8) * 255, s['gt_masks'].sum(0, dtype=np.uint8),
                                         s['foreground_mask'], convention='raw')
        scores.append((ExpressionScores(e.j, e.f, float(a.mean()), float(r.mean())), s['meta']['type_id']))
    want = refvos_summary([s for s, _ in scores], percent=True)
    assert split['J'] == pytest.approx(want['J'], abs=1e-12) and split['J&F'] == pytest.approx(want['J&F'], abs=1e-12)
    revos = revos_summary(scores)
    for key in ('J', 'F', 'A', 'R', 'JF'):
        assert split[f'overall/{key}'] == pytest.approx(revos['overall'][key], abs=1e-12)
        assert split[f'reason/{key}'] == pytest.approx(whole[f'reason/{key}'], abs=1e-12)
    assert split['expressions'] == len(samples)


def test_refvos_metric_plain():
    samples = _samples('video', seed=3)
    split, whole = _two_ranks(RefVOSMetric, samples)
    assert set(split) == {'J', 'F', 'J&F', 'expressions'}
    assert split['J&F'] == pytest.approx(whole['J&F'], abs=1e-12)


def test_region_qa_metric():
    rng = np.random.default_rng(1)
    samples = []
    for i, (text, answer) in enumerate([('A', 'A'), ('(B) x', 'C'), ('nope', 'A'), ('C.', 'C'), ('D', 'D')]):
        pred = rng.random((2, 3, 8, 8)) < 0.5
        samples.append(dict(id=str(i), text=text, pred_masks=torch.from_numpy(pred), gt_masks=pred ^ (i == 1),
                            meta={'answer': answer, 'options': ['a', 'b', 'c', 'd'],
                                  'task': 'odd' if i % 2 else 'even'}))
    split, whole = _two_ranks(lambda: RegionQAMetric(mask_scores=True), samples)
    assert split['accuracy'] == pytest.approx(60.0) and split['failed'] == 1 and split['samples'] == 5
    assert split['accuracy/odd'] == 50.0 and split['accuracy/even'] == pytest.approx(200 / 3)
    js = [pixelqa_volume_j(p, g) for s in samples for p, g in zip(s['pred_masks'].numpy(), s['gt_masks'], strict=True)]
    fs = [pixel_f1(p, g) for s in samples for p, g in zip(s['pred_masks'].numpy(), s['gt_masks'], strict=True)]
    assert split['J'] == pytest.approx(100 * np.mean(js)) and split['F'] == pytest.approx(100 * np.mean(fs))
    assert split == pytest.approx(whole)


def test_registered_and_evaluate_single_process():
    metric = METRICS.build(dict(type='RefSegMetric'))
    assert isinstance(metric, RefSegMetric)
    assert METRICS.get('RefVOSMetric') is RefVOSMetric and METRICS.get('RegionQAMetric') is RegionQAMetric
    samples = _samples('image', n=4)
    metric.process(None, samples)
    out = metric.evaluate(len(samples))  # not distributed: collects its own results
    assert set(out) == {'refseg/cIoU', 'refseg/gIoU', 'refseg/samples'}


def test_metric_errors():
    with pytest.raises(KeyError, match='gt_masks'):
        RefSegMetric().process(None, [dict(id='x', pred_masks=np.zeros((1, 1, 4, 4)))])
    with pytest.raises(ValueError, match=r'\(N, T, H, W\)'):
        RefSegMetric().process(None, [dict(id='x', pred_masks=np.zeros((1, 4, 4)), gt_masks=np.zeros((1, 1, 4, 4)))])
    with pytest.raises(ValueError, match='revos=True'):
        RefVOSMetric(ar_convention='raw')
    with pytest.raises(KeyError, match='foreground_mask'):
        RefVOSMetric(revos=True, ar_convention='binary').process(
            None, [dict(id='x', pred_masks=np.zeros((1, 2, 4, 4)), gt_masks=np.zeros((1, 2, 4, 4)), type_id=0)])
    with pytest.raises(KeyError, match='answer'):
        RegionQAMetric().process(None, [dict(id='x', text='A', options=['a'])])
