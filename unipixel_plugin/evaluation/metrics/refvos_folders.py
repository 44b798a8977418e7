"""Scoring a folder of predicted PNGs against ``meta_expressions.json`` + ``mask_dict.json`` (MeViS / ReVOS layout).

Layout: ``<pred_root>/<video>/<expression id>/<frame>.png`` (0 background, non-zero object; UniPixel writes
0/255), the same layout the MeViS, Ref-DAVIS17, Ref-SAV and ReVOS scripts read. For each expression, in the order
of ``videos`` and of its expressions, the ground truth of a frame is the union of the masks of its ``anno_id``
list (``mask_dict[str(anno_id)][frame index]``, a COCO RLE or null).

Differences from the scripts, each reported instead of silent:

* a missing video folder scores 0 for every expression of the video and counts (as in the scripts); its name is
  in ``missing_videos``;
* a missing frame PNG (or expression folder) is an empty prediction for that frame, listed in ``missing_frames``
  (the MeViS script's worker crashes there and the expression silently drops out of the mean; VISA's ReVOS script
  scores the expression 0);
* anything else that goes wrong (a PNG of the wrong size, a malformed RLE) raises by default, or with
  ``on_error='zero'`` scores the expression 0 and counts, listed in ``errors`` (VISA's ReVOS behaviour).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import cv2
import numpy as np

from unipixel_plugin.masks import decode_rle

from .refvos import (
    ExpressionScores,
    refvos_summary,
    revos_accuracy_robustness,
    revos_summary,
)
from .video_segmentation import BOUND_TH, j_and_f

ON_ERROR = ('raise', 'zero')


def running_anno_ids(videos: Mapping[str, Any]) -> dict:
    """A copy of ``videos`` whose expressions get ``anno_id = [k]``, k running over ``sorted(videos)`` x
    ``sorted(expression ids)`` (string order: "10" before "2"): how Ref-DAVIS17's ``mask_dict.pkl`` is keyed."""
    out, k = {}, 0
    for vid in videos:
        out[vid] = dict(videos[vid])
        out[vid]['expressions'] = {e: dict(x) for e, x in videos[vid]['expressions'].items()}
    for vid in sorted(out):
        for exp_id in sorted(out[vid]['expressions']):
            out[vid]['expressions'][exp_id]['anno_id'] = [k]
            k += 1
    return out


@dataclass
class FolderScores:
    """Result of :func:`score_prediction_folder`.

    ``expressions`` maps ``(video, expression id)`` to :class:`ExpressionScores` (A and R only when a foreground
    was given); ``type_ids`` holds each expression's ``type_id`` where the annotation has one (ReVOS).
    """
    expressions: dict = field(default_factory=dict)
    type_ids: dict = field(default_factory=dict)
    missing_videos: list = field(default_factory=list)
    missing_frames: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def summary(self, **kwargs) -> dict:
        """Dataset J, F, J&F (:func:`refvos_summary`; ``percent`` / ``decimals`` pass through)."""
        return refvos_summary(self.expressions.values(), **kwargs)

    def revos_summary(self, round_percent: bool = True) -> dict:
        """ReVOS referring / reason / overall (:func:`revos_summary`)."""
        missing = [key for key in self.expressions if key not in self.type_ids]
        if missing:
            raise ValueError(f'{len(missing)} expressions have no type_id, e.g. {missing[0]}')
        return revos_summary(((s, self.type_ids[k]) for k, s in self.expressions.items()),
                             round_percent=round_percent)


def _decode_union(entries, shape, raw: bool) -> np.ndarray:
    """Sum (``raw``: ``uint8`` with wrap-around, as the scripts' ``+=``) or union of a frame's RLE masks."""
    out = np.zeros(shape, dtype=np.uint8)
    for rle in entries:
        if not rle:
            continue
        mask = decode_rle(rle).astype(np.uint8)
        if mask.shape != tuple(shape):
            raise ValueError(f'an RLE mask of size {mask.shape} in a video of frame size {tuple(shape)}')
        if raw:
            out += mask
        else:
            out |= mask
    return out


def _frame_size(anno_ids, mask_dict, n_frames, pngs) -> tuple:
    for anno_id in anno_ids:
        for rle in mask_dict[str(anno_id)][:n_frames]:
            if rle:
                return tuple(int(v) for v in rle['size'])
    for path in pngs:
        if os.path.exists(path):
            image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
            if image is not None:
                return image.shape
    raise ValueError('cannot tell the frame size: no ground-truth mask and no predicted PNG')


def score_prediction_folder(pred_root: str, videos: Mapping[str, Any], mask_dict: Mapping[str, Any], *,
                            foreground: Optional[Mapping[str, Any]] = None, ar_convention: Optional[str] = None,
                            on_error: str = 'raise', bound_th: float = BOUND_TH) -> FolderScores:
    """Scores every expression of ``videos`` against the PNGs under ``pred_root``.

    Args:
        pred_root: folder with ``<video>/<expression id>/<frame>.png``.
        videos: ``meta_expressions.json``'s ``"videos"``: ``{video: {"frames": [...], "expressions": {id:
            {"anno_id": [...], "type_id"?: int}}}}`` (Ref-DAVIS17: pass it through :func:`running_anno_ids`).
        mask_dict: ``{str(anno_id): [RLE or None per frame]}``.
        foreground: ReVOS ``mask_dict_foreground.json`` (``{video: {"masks_rle": [RLE or [RLE, ...] per frame]}}``);
            when given, A and R are computed too and ``ar_convention`` (``'raw'`` / ``'binary'``) is required.
        on_error: ``'raise'`` or ``'zero'`` (see the module docstring).
        bound_th: boundary tolerance of F.
    """
    if on_error not in ON_ERROR:
        raise ValueError(f'on_error must be one of {ON_ERROR}, got {on_error!r}')
    if foreground is not None and ar_convention is None:
        raise ValueError("a foreground was given: pass ar_convention='raw' (VISA's arithmetic on the PNG values) or "
                         "'binary' (masks read as != 0); see revos_accuracy_robustness")
    result = FolderScores()
    for vid, video in videos.items():
        frames = list(video['frames'])
        video_missing = not os.path.isdir(os.path.join(pred_root, vid))
        if video_missing:
            result.missing_videos.append(vid)
        for exp_id, expression in video['expressions'].items():
            key = (vid, exp_id)
            if 'type_id' in expression:
                result.type_ids[key] = expression['type_id']
            zero = ExpressionScores(0.0, 0.0, *((0.0, 0.0) if foreground is not None else ()))
            if video_missing:
                result.expressions[key] = zero
                continue
            try:
                result.expressions[key] = _score_expression_folder(
                    pred_root, vid, exp_id, frames, expression, mask_dict, foreground, ar_convention, bound_th,
                    result.missing_frames)
            except Exception as e:  # reported, or re-raised with the expression named
                if on_error == 'raise':
                    raise ValueError(f'video {vid!r}, expression {exp_id!r}: {e}') from e
                result.expressions[key] = zero
                result.errors.append((vid, exp_id, f'{type(e).__name__}: {e}'))
    return result


def _score_expression_folder(pred_root, vid, exp_id, frames, expression, mask_dict, foreground, ar_convention,
                             bound_th, missing_frames) -> ExpressionScores:
    anno_ids = list(expression['anno_id'])
    pngs = [os.path.join(pred_root, vid, str(exp_id), f'{frame}.png') for frame in frames]
    height, width = _frame_size(anno_ids, mask_dict, len(frames), pngs)
    raw = ar_convention == 'raw'
    pred = np.zeros((len(frames), height, width), dtype=np.uint8)
    gt = np.zeros((len(frames), height, width), dtype=np.uint8)
    for t, path in enumerate(pngs):
        gt[t] = _decode_union([mask_dict[str(a)][t] for a in anno_ids], (height, width), raw)
        image = cv2.imread(path, cv2.IMREAD_GRAYSCALE) if os.path.exists(path) else None
        if image is None:
            missing_frames.append((vid, exp_id, frames[t]))
            continue
        if image.shape != (height, width):
            raise ValueError(f'{path} is {image.shape[1]}x{image.shape[0]}, the ground truth {width}x{height}')
        pred[t] = image
    j, f = j_and_f(pred, gt, bound_th)
    if foreground is None:
        return ExpressionScores(float(j.mean()), float(f.mean()))
    fg = np.zeros_like(gt)
    fg_entries = foreground[vid]['masks_rle']
    if len(fg_entries) < len(frames):
        raise ValueError(f'the foreground of {vid!r} has {len(fg_entries)} frames, the video {len(frames)}')
    for t, entry in enumerate(fg_entries[:len(frames)]):
        entries = entry if isinstance(entry, (list, tuple)) else [entry]
        fg[t] = _decode_union(entries, (height, width), raw=True)
    a, r = revos_accuracy_robustness(pred, gt, fg, convention=ar_convention)
    return ExpressionScores(float(j.mean()), float(f.mean()), float(a.mean()), float(r.mean()))


__all__ = ['ON_ERROR', 'running_anno_ids', 'FolderScores', 'score_prediction_folder']
