"""J&F scoring speed: ``unipixel_plugin.evaluation.metrics.j_and_f`` vs the reference formulation, same process.

The baseline is written here the way davis2017's ``db_eval_iou`` / ``f_measure`` compute it, frame by frame: the
seg2bmap boundary map of each whole frame (shifted copies, xor, or) and ``cv2.dilate`` of both maps with the disk
of radius ``ceil(0.008 * diagonal)``. Both must give identical values (asserted), then the speed ratio is printed.

    python benchmarks/bench_metrics.py [--frames 100] [--videos 200] [--sample-videos 4] [--repeats 3] [--specks 0]

Part 2 times a synthetic set of ``--videos`` videos x ``--frames`` frames at 480x854 with ``j_and_f`` only; with
``--sample-videos`` below ``--videos`` it scores that many videos and extrapolates (printed as such).
"""
from __future__ import annotations

import argparse
import math
import time

import cv2
import numpy as np

from unipixel_plugin.evaluation.metrics import j_and_f

H, W = 480, 854


def reference_j_and_f(pred: np.ndarray, gt: np.ndarray):
    """Per-frame J and F as the DAVIS code computes them (whole frames, disk dilation)."""
    radius = math.ceil(0.008 * math.sqrt(pred.shape[1] ** 2 + pred.shape[2] ** 2))
    offsets = np.arange(-radius, radius + 1)
    disk = (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius * radius).astype(np.uint8)
    js, fs = np.zeros(len(pred)), np.zeros(len(pred))
    for t in range(len(pred)):
        p, g = pred[t].astype(bool), gt[t].astype(bool)
        inter, union = np.sum(p & g), np.sum(p | g)
        js[t] = 1 if union == 0 else inter / union
        bp, bg = _seg2bmap(p), _seg2bmap(g)
        p_dil = cv2.dilate(bp.astype(np.uint8), disk)
        g_dil = cv2.dilate(bg.astype(np.uint8), disk)
        n_p, n_g = np.sum(bp), np.sum(bg)
        if n_p == 0 and n_g > 0:
            precision, recall = 1, 0
        elif n_p > 0 and n_g == 0:
            precision, recall = 0, 1
        elif n_p == 0 and n_g == 0:
            precision, recall = 1, 1
        else:
            precision, recall = np.sum(bp * g_dil) / float(n_p), np.sum(bg * p_dil) / float(n_g)
        fs[t] = 0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return js, fs


def _seg2bmap(seg: np.ndarray) -> np.ndarray:
    e, s, se = np.zeros_like(seg), np.zeros_like(seg), np.zeros_like(seg)
    e[:, :-1], s[:-1, :], se[:-1, :-1] = seg[:, 1:], seg[1:, :], seg[1:, 1:]
    b = seg ^ e | seg ^ s | seg ^ se
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b


def synthetic_video(seed: int, frames: int, specks: float = 0.0):
    """A moving object with a wobbly outline (~7 % of the frame) and a prediction like a segmenter's: the same
    shape a few pixels off and a little larger, a small false-positive blob elsewhere in every fifth frame, one
    frame missed entirely. ``specks``: the share of pixels flipped at random all over the prediction (a worst
    case for cropping; real masks from SAM 2 logits are smooth)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:H, :W].astype(np.float32)
    cy, cx = rng.uniform(150, 330), rng.uniform(200, 650)
    vy, vx = rng.uniform(-1, 1), rng.uniform(-3, 3)
    ry, rx = rng.uniform(60, 100), rng.uniform(80, 150)
    gt = np.zeros((frames, H, W), bool)
    pred = np.zeros((frames, H, W), bool)
    for t in range(frames):
        y, x = cy + vy * t, cx + vx * t
        angle = np.arctan2(yy - y, xx - x)
        wobble = 1 + 0.08 * np.sin(5 * angle + 0.2 * t)
        gt[t] = (((yy - y) / ry) ** 2 + ((xx - x) / rx) ** 2) <= wobble
        dy, dx = rng.normal(0, 2, 2)
        pred[t] = (((yy - y - dy) / (ry * 1.03)) ** 2 + ((xx - x - dx) / rx) ** 2) <= wobble
        if t % 5 == 2:
            by, bx = rng.uniform(20, H - 20), rng.uniform(20, W - 20)
            pred[t] |= ((yy - by) ** 2 + (xx - bx) ** 2) <= rng.uniform(5, 15) ** 2
    if specks:
        pred ^= rng.random(pred.shape) < specks
    pred[frames // 3] = False  # a frame the model missed
    return pred, gt


def _cpu_seconds(fn):
    """CPU time of this process for one call (the machines are shared: wall time measures the neighbours too)."""
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--frames', type=int, default=100)
    parser.add_argument('--videos', type=int, default=200)
    parser.add_argument('--sample-videos', type=int, default=4)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--specks', type=float, default=0.0,
                        help='share of prediction pixels flipped at random (worst case: 0.0005)')
    args = parser.parse_args()

    pred, gt = synthetic_video(0, args.frames, args.specks)
    t_ours = t_ref = math.inf
    for _ in range(args.repeats):  # interleaved, best of each
        seconds, (j, f) = _cpu_seconds(lambda: j_and_f(pred, gt))
        t_ours = min(t_ours, seconds)
        seconds, (j_ref, f_ref) = _cpu_seconds(lambda: reference_j_and_f(pred, gt))
        t_ref = min(t_ref, seconds)
    assert np.array_equal(j, j_ref) and np.array_equal(f, f_ref), 'values differ from the reference formulation'
    print(f'{args.frames} frames at {H}x{W}: J&F = {(j.mean() + f.mean()) / 2:.6f} (identical to the reference)')
    print(f'  reference formulation: {t_ref * 1e3:8.1f} ms ({t_ref / args.frames * 1e3:.2f} ms/frame)')
    print(f'  j_and_f:               {t_ours * 1e3:8.1f} ms ({t_ours / args.frames * 1e3:.3f} ms/frame)')
    print(f'  speed ratio: {t_ref / t_ours:.1f}x (CPU time, best of {args.repeats} interleaved runs)')

    sample = min(args.sample_videos, args.videos)
    elapsed = 0.0
    for v in range(sample):
        pred, gt = synthetic_video(1 + v, args.frames, args.specks)
        elapsed += _cpu_seconds(lambda p=pred, g=gt: j_and_f(p, g))[0]
    total = elapsed / sample * args.videos
    how = 'measured' if sample == args.videos else f'extrapolated from {sample} videos'
    print(f'{args.videos} videos x {args.frames} frames at {H}x{W}: {total:.1f} s CPU with j_and_f ({how}; '
          f'mask generation not counted); the reference formulation would take ~{total * t_ref / t_ours:.0f} s')


if __name__ == '__main__':
    main()
