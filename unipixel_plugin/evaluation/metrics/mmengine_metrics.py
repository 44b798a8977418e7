"""MMEngine metrics over the per-sample dicts of ``UniPixelModel.predict`` (registered in ``METRICS``).

Each ``process()`` keeps a few numbers per sample (intersection / union counts, an expression's J and F, a parsed
answer); ``compute_metrics()`` reduces them. MMEngine gathers ``self.results`` from every rank before
``compute_metrics``, so the scores are those of the whole set whatever the number of ranks.

Keys read from each data sample (a dict; ``meta`` is searched too for everything but the masks):

* ``pred_masks``: ``(N, T, H, W)`` (torch or numpy, any dtype): one mask per ``<|seg|>``; the FIRST is scored, as
  upstream does (``model.seg[0]``); ``N = 0`` is an empty prediction (upstream's fallback after a failed
  generation).
* ``gt_masks``: ``(O, T, H, W)``: the expression's objects; the ground truth of a frame is their union (O may be 0).
* ``ignore_mask`` (``RefSegMetric``, optional): ``(T, H, W)`` or ``(H, W)``, pixels left out of scoring.
* ``type_id`` or ``task`` (``RefVOSMetric(revos=True)``): ReVOS subset, 0 / ``'referring'``, 1 / ``'reasoning'``.
* ``foreground_mask`` (``RefVOSMetric`` with ``ar_convention``): ``(T, H, W)``, ReVOS' ``mask_dict_foreground``
  (for ``'raw'``: the sum of the decoded RLE masks, as VISA's script holds it).
* ``text`` (or ``response``), ``answer``, ``options`` (or ``num_options``), ``task`` (``RegionQAMetric``).
* ``id``: kept with each result (duplicates across ranks are not dropped: the sampler must not repeat samples).

All scores are returned in percent.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from unipixel_plugin.registry import METRICS

from .multiple_choice import ChoiceTally, score_choice
from .pixelqa import pixel_f1, pixelqa_volume_j
from .referring_segmentation import (
    CONVENTIONS,
    IGNORE_MODES,
    IoUAccumulator,
    intersection_and_union,
    sample_iou,
)
from .refvos import (
    AR_CONVENTIONS,
    ExpressionScores,
    refvos_summary,
    revos_accuracy_robustness,
    revos_summary,
)
from .video_segmentation import BOUND_TH, j_and_f

REVOS_TASKS = {'referring': 0, 'reasoning': 1}


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _field(sample: dict, key: str, default: Any = None) -> Any:
    if key in sample:
        return sample[key]
    return (sample.get('meta') or {}).get(key, default)


def _masks(sample: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(pred, gt)`` as ``bool`` ``(T, H, W)``: the first predicted mask and the union of the objects."""
    for key in ('pred_masks', 'gt_masks'):
        if key not in sample or sample[key] is None:
            raise KeyError(f'data sample {sample.get("id")!r} has no {key!r}; keys: {sorted(sample)}')
    pred, gt = _numpy(sample['pred_masks']), _numpy(sample['gt_masks'])
    if pred.ndim != 4 or gt.ndim != 4:
        raise ValueError(f'data sample {sample.get("id")!r}: pred_masks must be (N, T, H, W) and gt_masks '
                         f'(O, T, H, W), got {pred.shape} and {gt.shape}')
    if pred.shape[1:] != gt.shape[1:]:
        raise ValueError(f'data sample {sample.get("id")!r}: pred_masks {pred.shape} and gt_masks {gt.shape} '
                         'differ in (T, H, W)')
    pred = pred[0] != 0 if len(pred) else np.zeros(pred.shape[1:], dtype=bool)
    return pred, (gt != 0).any(axis=0)


@METRICS.register_module()
class RefSegMetric(BaseMetric):
    """cIoU and gIoU of referring / reasoning image segmentation (RefCOCO family, ReasonSeg).

    Args:
        convention: ``'exact'`` (upstream UniPixel, default) or ``'lisa'`` (:mod:`.referring_segmentation`).
        ignore: ``'exclude'`` (LISA, default) or ``'background'`` (upstream UniPixel) for ``ignore_mask``.
    """
    default_prefix = 'refseg'

    def __init__(self, convention: str = 'exact', ignore: str = 'exclude', collect_device: str = 'cpu',
                 prefix: Optional[str] = None, **kwargs):
        super().__init__(collect_device=collect_device, prefix=prefix, **kwargs)
        if convention not in CONVENTIONS:
            raise ValueError(f'convention must be one of {CONVENTIONS}, got {convention!r}')
        if ignore not in IGNORE_MODES:
            raise ValueError(f'ignore must be one of {IGNORE_MODES}, got {ignore!r}')
        self.convention, self.ignore = convention, ignore

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred, gt = _masks(sample)
            ignore_mask = sample.get('ignore_mask')
            if ignore_mask is not None:
                ignore_mask = _numpy(ignore_mask).reshape(gt.shape)
            inter, union = intersection_and_union(pred, gt, ignore_mask, ignore=self.ignore)
            self.results.append(dict(id=sample.get('id'), inter=inter, union=union,
                                     iou=sample_iou(inter, union, self.convention)))

    def compute_metrics(self, results: list) -> dict:
        acc = IoUAccumulator(self.convention)
        for r in results:
            acc.add_counts(r['inter'], r['union'])
        return {'cIoU': 100 * acc.ciou, 'gIoU': 100 * acc.giou, 'samples': acc.count}


@METRICS.register_module()
class RefVOSMetric(BaseMetric):
    """J, F and J&F of referring video object segmentation; with ``revos=True`` also ReVOS' subsets.

    Args:
        bound_th: F's boundary tolerance (0.008 of the diagonal).
        revos: report ``referring/*``, ``reason/*`` and ``overall/*`` as VISA's script does (needs ``type_id`` or
            ``task`` per sample; ``type_id`` 2 / ``'other'`` is left out of those).
        ar_convention: ``None`` (no A / R), ``'raw'`` or ``'binary'`` (:func:`revos_accuracy_robustness`); needs
            ``foreground_mask`` per sample.
        pred_png_value: the PNG value of a predicted pixel for ``'raw'`` (255: what UniPixel writes; VISA: 1).
        round_percent: round each expression to 2 decimals (in percent) before the ReVOS means, as VISA does.
    """
    default_prefix = 'refvos'

    def __init__(self, bound_th: float = BOUND_TH, revos: bool = False, ar_convention: Optional[str] = None,
                 pred_png_value: int = 255, round_percent: bool = True, collect_device: str = 'cpu',
                 prefix: Optional[str] = None, **kwargs):
        super().__init__(collect_device=collect_device, prefix=prefix, **kwargs)
        if ar_convention is not None and ar_convention not in AR_CONVENTIONS:
            raise ValueError(f'ar_convention must be None or one of {AR_CONVENTIONS}, got {ar_convention!r}')
        if ar_convention is not None and not revos:
            raise ValueError('ar_convention (A and R) is a ReVOS score: set revos=True')
        if not 1 <= pred_png_value <= 255:
            raise ValueError(f'pred_png_value must be in 1..255, got {pred_png_value}')
        self.bound_th, self.revos, self.ar_convention = bound_th, revos, ar_convention
        self.pred_png_value, self.round_percent = pred_png_value, round_percent

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred, gt = _masks(sample)
            j, f = j_and_f(pred, gt, self.bound_th)
            result = dict(id=sample.get('id'), j=float(j.mean()), f=float(f.mean()), frames=len(j))
            if self.revos:
                result['type_id'] = self._type_id(sample)
            if self.ar_convention is not None:
                result['a'], result['r'] = self._accuracy_robustness(sample, pred)
            self.results.append(result)

    def _type_id(self, sample: dict) -> int:
        type_id = _field(sample, 'type_id')
        if type_id is None:
            task = _field(sample, 'task')
            if task is None:
                raise KeyError(f'data sample {sample.get("id")!r} has neither type_id nor task (revos=True)')
            type_id = REVOS_TASKS.get(task, 2)
        return int(type_id)

    def _accuracy_robustness(self, sample: dict, pred: np.ndarray) -> tuple[float, float]:
        foreground = sample.get('foreground_mask')
        if foreground is None:
            raise KeyError(f'data sample {sample.get("id")!r} has no foreground_mask (ar_convention is set)')
        foreground = _numpy(foreground)
        if self.ar_convention == 'raw':
            objects = _numpy(sample['gt_masks']) != 0
            gt = objects.sum(axis=0, dtype=np.uint8)  # the script adds the objects' 0/1 masks in uint8
            pred = pred.astype(np.uint8) * np.uint8(self.pred_png_value)
        else:
            gt = (_numpy(sample['gt_masks']) != 0).any(axis=0)
        a, r = revos_accuracy_robustness(pred, gt, foreground, convention=self.ar_convention)
        return float(a.mean()), float(r.mean())

    def compute_metrics(self, results: list) -> dict:
        scores = [ExpressionScores(r['j'], r['f'], r.get('a'), r.get('r')) for r in results]
        summary = refvos_summary(scores, percent=True)
        out = {'J': summary['J'], 'F': summary['F'], 'J&F': summary['J&F'], 'expressions': len(scores)}
        if self.revos:
            type_ids = [r['type_id'] for r in results]
            revos = revos_summary(zip(scores, type_ids, strict=True), round_percent=self.round_percent)
            for subset, values in revos.items():
                for key, value in values.items():
                    out[f'{subset}/{key}'] = value
        return out


@METRICS.register_module()
class RegionQAMetric(BaseMetric):
    """Multiple-choice accuracy (VideoRefer-Bench-Q, PixelQA), overall and per question type.

    Args:
        mask_scores: also PixelQA's volume J and pixel F1 per object (``pred_masks`` object k against
            ``gt_masks`` object k, over all sampled frames), averaged over all objects.
    """
    default_prefix = 'regionqa'

    def __init__(self, mask_scores: bool = False, collect_device: str = 'cpu', prefix: Optional[str] = None,
                 **kwargs):
        super().__init__(collect_device=collect_device, prefix=prefix, **kwargs)
        self.mask_scores = mask_scores

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            response = sample.get('text', _field(sample, 'response'))
            answer, options = _field(sample, 'answer'), _field(sample, 'options')
            num_options = _field(sample, 'num_options', len(options) if options is not None else None)
            if response is None or answer is None or num_options is None:
                raise KeyError(f'data sample {sample.get("id")!r} needs text, answer and options (or num_options)')
            verdict = score_choice(response, answer, num_options)
            task = _field(sample, 'task')
            result = dict(id=sample.get('id'), failed=verdict is None, correct=verdict is True,
                          task=[task] if isinstance(task, str) or task is None else list(task))
            if self.mask_scores:
                pred, gt = _numpy(sample['pred_masks']) != 0, _numpy(sample['gt_masks']) != 0
                if pred.shape != gt.shape:
                    raise ValueError(f'data sample {sample.get("id")!r}: pred_masks {pred.shape} and gt_masks '
                                     f'{gt.shape} must both be (objects, T, H, W)')
                result['j'] = [pixelqa_volume_j(p, g) for p, g in zip(pred, gt, strict=True)]
                result['f'] = [pixel_f1(p, g) for p, g in zip(pred, gt, strict=True)]
            self.results.append(result)

    def compute_metrics(self, results: list) -> dict:
        overall, per_type = ChoiceTally(), {}
        for r in results:
            tally = ChoiceTally(1, int(r['failed']), int(r['correct']))
            overall.add(tally)
            for name in r['task']:
                per_type.setdefault('unknown' if name is None else name, ChoiceTally()).add(tally)
        out = {'accuracy': 100 * overall.accuracy, 'samples': overall.samples, 'failed': overall.failed}
        for name in sorted(per_type):
            out[f'accuracy/{name}'] = 100 * per_type[name].accuracy
        if self.mask_scores:
            js = [v for r in results for v in r['j']]
            fs = [v for r in results for v in r['f']]
            if js:
                j, f = sum(js) / len(js), sum(fs) / len(fs)
                out.update({'J': 100 * j, 'F': 100 * f, 'J&F': 100 * (j + f) / 2, 'objects': len(js)})
        return out


__all__ = ['RefSegMetric', 'RefVOSMetric', 'RegionQAMetric']
