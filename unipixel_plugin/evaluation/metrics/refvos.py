"""Dataset scores of referring video object segmentation: Ref-YouTube-VOS, Ref-DAVIS17, MeViS, Ref-SAV, ReVOS.

Per expression, J and F are averaged over ALL frames of the video (the ground truth of a frame is the union of
the expression's objects); the dataset J and F are the means over expressions and ``J&F = (J + F) / 2``
(:func:`refvos_summary`; the MeViS, Ref-DAVIS17 and upstream UniPixel ``eval_seg.py`` scripts).

ReVOS (VISA's ``eval_revos.py``) reports, besides J and F, **A** (pixel accuracy) and **R** (robustness:
``1 - false-positive pixels / foreground pixels``, clipped at 0, with the foreground of ``mask_dict_foreground``),
each expression's scores as percentages rounded to 2 decimals, the referring (``type_id`` 0) and reasoning
(``type_id`` 1) subsets, and overall = the mean of the two subsets (``type_id`` 2 is left out)
(:func:`revos_summary`).

A and R are computed by the script on the raw arrays: the predicted PNG values, the ground truth as the SUM of
the objects' 0/1 masks, and ``uint8`` arithmetic. A 0/255 PNG (what UniPixel writes) therefore never equals a
ground-truth 1, and its false positives weigh 255 each; 0/1 PNGs (VISA's) give the textbook scores. The
convention is an explicit argument of :func:`revos_accuracy_robustness`: ``'raw'`` reproduces the script on the
arrays it would hold, ``'binary'`` reads every mask as ``!= 0`` first (= the script on 0/1 PNGs and
non-overlapping objects).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence, Tuple, Union

import numpy as np

from .video_segmentation import BOUND_TH, j_and_f

AR_CONVENTIONS = ('raw', 'binary')
REVOS_SUBSETS = {0: 'referring', 1: 'reason'}
"""``type_id`` -> the key VISA's script reports the subset under (``type_id`` 2 is in neither)."""


@dataclass(frozen=True)
class ExpressionScores:
    """Scores of one expression, each the mean over the video's frames (fractions in [0, 1])."""
    j: float
    f: float
    a: Optional[float] = None
    r: Optional[float] = None

    @property
    def jf(self) -> float:
        return (self.j + self.f) / 2


def score_expression(pred: Any, gt: Any, bound_th: float = BOUND_TH) -> ExpressionScores:
    """J and F of one expression: ``pred`` and ``gt`` ``(T, H, W)`` (any dtype, read as ``!= 0``), means over T."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.ndim != 3:
        raise ValueError(f'score_expression needs the frames of a video (T, H, W), got pred shape {pred.shape}')
    j, f = j_and_f(pred, gt, bound_th)
    return ExpressionScores(float(j.mean()), float(f.mean()))


def revos_accuracy_robustness(pred: Any, gt: Any, foreground: Any, *, convention: str):
    """ReVOS' A (pixel accuracy) and R (robustness) per frame.

    Args:
        pred: the prediction, ``(H, W)`` or ``(T, H, W)``; for ``'raw'`` the PNG values as read (``uint8``).
        gt: the ground truth, same shape; for ``'raw'`` the sum of the expression's 0/1 object masks.
        foreground: the frame's foreground (``mask_dict_foreground``), same shape; for ``'raw'`` the sum of its
            decoded RLE masks.
        convention: ``'raw'`` (VISA's arithmetic on those ``uint8`` arrays, wrap-around included) or
            ``'binary'`` (every mask read as ``!= 0`` first). No default: see the module docstring.

    Returns:
        ``(A, R)``: floats for one frame, ``float64`` arrays ``(T,)`` for a stack.
        ``A = mean(gt == pred)``; ``R = max(1 - sum((1 - gt) * pred) / (sum(foreground) + 1e-6), 0)``.
    """
    if convention not in AR_CONVENTIONS:
        raise ValueError(f'convention must be one of {AR_CONVENTIONS}, got {convention!r}')
    arrays = {'pred': np.asarray(pred), 'gt': np.asarray(gt), 'foreground': np.asarray(foreground)}
    shapes = {name: a.shape for name, a in arrays.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f'pred, gt and foreground must have the same shape: {shapes}')
    if arrays['pred'].ndim not in (2, 3):
        raise ValueError(f'masks must be (H, W) or (T, H, W), got shape {arrays["pred"].shape}')
    single = arrays['pred'].ndim == 2
    if convention == 'binary':
        pred_b, gt_b, fg_b = (arrays[k] != 0 for k in ('pred', 'gt', 'foreground'))
        same = pred_b == gt_b
        negative = pred_b & ~gt_b
        foreground_sum = fg_b
    else:
        pred_u, gt_u, fg_u = (_as_uint8(arrays[k], k) for k in ('pred', 'gt', 'foreground'))
        same = gt_u == pred_u
        negative = (1 - gt_u) * pred_u  # uint8: wraps where gt > 1 or pred > 1, as in the script
        foreground_sum = fg_u
    if single:
        same, negative, foreground_sum = same[None], negative[None], foreground_sum[None]
    frames = same.shape[0]
    accuracy = np.count_nonzero(same.reshape(frames, -1), axis=1) / same[0].size
    neg = negative.reshape(frames, -1).sum(axis=1, dtype=np.uint64)
    pos = foreground_sum.reshape(frames, -1).sum(axis=1, dtype=np.uint64)
    robustness = np.maximum(1 - neg / (pos + 1e-6), 0.0)
    if single:
        return float(accuracy[0]), float(robustness[0])
    return accuracy.astype(np.float64), robustness


def _as_uint8(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"convention='raw' needs integer {name} values (as read from PNGs / summed RLE masks), "
                         f'got dtype {array.dtype}')
    if array.size and (array.min() < 0 or array.max() > 255):
        raise ValueError(f"convention='raw' needs {name} values in 0..255 (the script's uint8 arrays), got "
                         f'{array.min()}..{array.max()}')
    return array.astype(np.uint8)


def _scores_of(item: Union[ExpressionScores, Sequence[float]]) -> ExpressionScores:
    if isinstance(item, ExpressionScores):
        return item
    return ExpressionScores(*[float(v) for v in item])


def refvos_summary(expressions: Iterable[Union[ExpressionScores, Sequence[float]]], *, percent: bool = False,
                   decimals: Optional[int] = None) -> dict:
    """Dataset J, F and J&F from per-expression scores (:class:`ExpressionScores` or ``(j, f)`` pairs).

    ``J`` and ``F`` are means over expressions, ``J&F = (J + F) / 2`` of the unrounded means. ``percent=True``
    multiplies by 100 and ``decimals`` rounds (upstream ``eval_seg.py`` / VISA's MeViS and Ref-DAVIS17 scripts:
    ``percent=True, decimals=2``; the original MeViS script prints the unrounded fractions).
    """
    scores = [_scores_of(e) for e in expressions]
    if not scores:
        raise ValueError('refvos_summary of no expressions')
    j = float(np.mean([s.j for s in scores]))
    f = float(np.mean([s.f for s in scores]))
    out = {'J': j, 'F': f, 'J&F': (j + f) / 2}
    if percent:
        out = {k: 100 * v for k, v in out.items()}
    if decimals is not None:
        out = {k: round(v, decimals) for k, v in out.items()}
    out['expressions'] = len(scores)
    return out


def revos_expression_percent(scores: ExpressionScores, round_percent: bool = True) -> dict:
    """One expression's ReVOS row: J, F, JF, A, R in percent, rounded to 2 decimals as the script does
    (numpy's rounding of ``100 * value``) unless ``round_percent=False``."""
    values = {'J': scores.j, 'F': scores.f, 'JF': None, 'A': scores.a, 'R': scores.r}
    out = {}
    for key, value in values.items():
        if key == 'JF':
            percent = np.float64(100) * (np.float64(scores.j) + np.float64(scores.f)) / 2
        elif value is None:
            out[key] = None
            continue
        else:
            percent = np.float64(100) * np.float64(value)
        out[key] = float(np.round(percent, 2)) if round_percent else float(percent)
    return out


def revos_summary(expressions: Iterable[Tuple[Union[ExpressionScores, Sequence[float]], int]], *,
                  round_percent: bool = True) -> dict:
    """ReVOS scores in percent from ``(scores, type_id)`` pairs.

    Returns ``{'referring': {...}, 'reason': {...}, 'overall': {...}}``, each with ``J``, ``F``, ``JF`` and, when
    every expression has them, ``A`` and ``R`` (VISA's keys): subset values are means of the per-expression
    percentages (rounded to 2 decimals first when ``round_percent``), subset ``JF = (J + F) / 2``, overall = mean
    of the two subsets. A subset with no expression is NaN (the script's ``np.mean([])``). ``type_id`` 2
    expressions count in neither subset.
    """
    items = [(_scores_of(item), int(type_id)) for item, type_id in expressions]
    keys = ('J', 'F', 'A', 'R') if all(s.a is not None and s.r is not None for s, _ in items) else ('J', 'F')
    rows = {name: [] for name in REVOS_SUBSETS.values()}
    for scores, type_id in items:
        subset = REVOS_SUBSETS.get(type_id)
        if subset is not None:
            rows[subset].append(revos_expression_percent(scores, round_percent))
    out = {}
    for subset, subset_rows in rows.items():
        values = {}
        for key in keys:
            column = np.array([row[key] for row in subset_rows], dtype=np.float64)
            values[key] = float(column.mean()) if column.size else float('nan')
        values['JF'] = (values['J'] + values['F']) / 2
        out[subset] = values
    out['overall'] = {key: (out['referring'][key] + out['reason'][key]) / 2 for key in out['referring']}
    for subset in REVOS_SUBSETS.values():
        out[subset]['expressions'] = len(rows[subset])
    out['overall']['expressions'] = out['referring']['expressions'] + out['reason']['expressions']
    return out


__all__ = ['AR_CONVENTIONS', 'REVOS_SUBSETS', 'ExpressionScores', 'score_expression', 'revos_accuracy_robustness',
           'refvos_summary', 'revos_expression_percent', 'revos_summary']
