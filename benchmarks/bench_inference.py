"""Inference at scale, tiny model on CPU.

1. Memory of streaming a long video: peak RSS while segmenting a 600-frame video vs a 60-frame video of the same
   size (SAM 2 Hiera-T at 128 px), each in a fresh child process so their peaks are comparable. Target <= 1.5.
2. Batched throughput: 8 images through ``segment_batch`` vs a loop of 8 ``segment`` calls, in this process,
   alternating the two so machine noise hits both; outputs must be identical (text; masks up to pixels whose logit
   is within 1e-4 of 0). Target >= 1.5x.

    python benchmarks/bench_inference.py [--frames 60 600] [--repeat 3]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def rss_mb() -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    return float('nan')


def make_video(path, frames, h=120, w=160):
    import cv2
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 24, (w, h))
    for t in range(frames):
        img = np.full((h, w, 3), 30, np.uint8)
        x = 10 + (t % 100)
        img[30:70, x:x + 40] = (30, 30, 220)
        writer.write(img)
    writer.release()


def child_stream(ckpt, frames):
    """Runs in a fresh process: stream-segment a `frames`-frame video, report peak RSS and time."""
    import torch
    torch.set_num_threads(2)
    from unipixel_plugin.inference import UniPixelPredictor
    predictor = UniPixelPredictor.from_pretrained(ckpt, device='cpu', dtype='fp32', min_pixels=56 * 56,
                                                  max_pixels=112 * 112)
    with tempfile.TemporaryDirectory() as tmp:
        video = os.path.join(tmp, 'v.mp4')
        make_video(video, frames)
        base = rss_mb()
        start = time.perf_counter()
        count = 0
        for _, masks, _ in predictor.segment_stream(video, 'blue box', answer='Sure, it is <|seg|>.',
                                                    keep_memories=16):
            count += int(masks.any())
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({'frames': frames, 'base_mb': base, 'peak_mb': peak, 'seconds': seconds}))


def bench_memory(ckpt, lengths):
    rows = []
    for frames in lengths:
        out = subprocess.run([sys.executable, __file__, '--child', ckpt, str(frames)], capture_output=True,
                             text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print('\n1. streaming memory (fresh process per video; SAM 2 Hiera-T @ 128)')
    print(f'{"frames":>8s} {"RSS after load MB":>18s} {"peak RSS MB":>12s} {"growth MB":>10s} {"s/frame":>8s}')
    for r in rows:
        print(f'{r["frames"]:8d} {r["base_mb"]:18.0f} {r["peak_mb"]:12.0f} {r["peak_mb"] - r["base_mb"]:10.0f} '
              f'{r["seconds"] / r["frames"]:8.3f}')
    small, large = rows[0], rows[-1]
    print(f'peak ratio {large["frames"]}/{small["frames"]} frames: {large["peak_mb"] / small["peak_mb"]:.2f} '
          f'(target <= 1.5); growth ratio {(large["peak_mb"] - large["base_mb"]) / max(small["peak_mb"] - small["base_mb"], 1):.2f}')


def bench_batch(ckpt, repeat, device='cpu'):
    import torch
    from unipixel_plugin.inference import UniPixelPredictor
    predictor = UniPixelPredictor.from_pretrained(ckpt, device=device, dtype='fp32', min_pixels=56 * 56,
                                                  max_pixels=112 * 112, max_new_tokens=8)
    sync = torch.cuda.synchronize if predictor.device.type == 'cuda' else (lambda: None)
    rng = np.random.default_rng(0)
    images = []
    for i in range(8):
        img = np.full((120, 160, 3), 20 + 10 * i, np.uint8)
        y, x = rng.integers(0, 60), rng.integers(0, 100)
        img[y:y + 50, x:x + 50] = (220, 40, 40)
        images.append(img)
    queries = ['red square'] * 8

    for label, answer in (('greedy, 8 new tokens', None), ('teacher-forced "Sure, it is <|seg|>."', 'Sure, it is <|seg|>.')):
        def loop():
            return [predictor.segment(img, q, answer=answer) for img, q in zip(images, queries)]

        def batched():
            return predictor.segment_batch(images, queries, batch_size=8, answer=answer)

        loop(), batched()  # warm-up
        t_loop, t_batch = [], []
        for _ in range(repeat):
            start = time.perf_counter()
            single = loop()
            sync()
            t_loop.append(time.perf_counter() - start)
            start = time.perf_counter()
            batch = batched()
            sync()
            t_batch.append(time.perf_counter() - start)
        same_text = all(a.text == b.text for a, b in zip(single, batch))
        same_count = all(len(a.masks) == len(b.masks) for a, b in zip(single, batch))
        diff = max([float((ma != mb).mean()) for a, b in zip(single, batch) for ma, mb in zip(a.masks, b.masks)]
                   or [0])
        masks = sum(len(a.masks) for a in single)
        where = torch.cuda.get_device_name() if predictor.device.type == 'cuda' else \
            f'CPU, {torch.get_num_threads()} threads'
        print(f'\n2. batched throughput, 8 images ({label}; {masks} masks decoded), {where}')
        print(f'loop of 8 single calls: {statistics.median(t_loop):.3f} s   segment_batch(8): '
              f'{statistics.median(t_batch):.3f} s   speed-up '
              f'{statistics.median(t_loop) / statistics.median(t_batch):.2f}x (target >= 1.5x)')
        print(f'identical answers: {same_text}; same mask count: {same_count}; largest share of differing mask '
              f'pixels {diff:.2e}')


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--frames', type=int, nargs=2, default=[60, 600])
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--child', nargs=2, help=argparse.SUPPRESS)
    parser.add_argument('--skip-memory', action='store_true')
    parser.add_argument('--device', default='cpu', help='device for the batching benchmark (cpu, cuda)')
    args = parser.parse_args()
    if args.child:
        return child_stream(args.child[0], int(args.child[1]))
    from unipixel_plugin.toy.checkpoint import make_tiny_checkpoint
    tmp = tempfile.mkdtemp(prefix='unipixel_bench_')
    ckpt128 = str(make_tiny_checkpoint(os.path.join(tmp, 'tiny128'), config_overrides={'sam2_image_size': 128}))
    ckpt256 = str(make_tiny_checkpoint(os.path.join(tmp, 'tiny256')))
    bench_batch(ckpt256, args.repeat, args.device)
    if not args.skip_memory:
        bench_memory(ckpt128, args.frames)


if __name__ == '__main__':
    main()
