"""Throughput of the data pipeline (decode + sample + collate) on 8-frame video samples.

Compares, in one process and on the same synthetic data:

* ``naive``: decode EVERY frame of the video with OpenCV, keep the 8 sampled ones, decode their masks, collate;
* ``pipeline``: :class:`unipixel_plugin.data.HybridDataset` (only the sampled frames are decoded: PyAV with
  keyframe seeking; decord's ``get_batch`` shown for reference) through a ``torch.utils.data.DataLoader`` with
  :func:`unipixel_collate`, with 0 workers (the main process) and with 2.

Two kinds of media, both generated here: mp4 files (mp4v, like the VideoRefer / instruction videos) and JPEG
frame folders in the MeViS layout (like the Ref-VOS sets, read by the real reader). Each sample has one object
with a COCO-RLE mask on every frame. Run: ``python benchmarks/bench_data.py [--videos 16 --frames 240 ...]``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import cv2
import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from unipixel_plugin import data  # noqa: E402
from unipixel_plugin.data.mask_parts import decode_object  # noqa: E402
from unipixel_plugin.data.pipeline import sample_rng  # noqa: E402

HybridDataset, MaskPart, ObjectMasks, Sample = data.HybridDataset, data.MaskPart, data.ObjectMasks, data.Sample
sample_frame_positions, unipixel_collate = data.sample_frame_positions, data.unipixel_collate


class Scene:
    """A smooth moving scene (colour gradients + a red box moving right + mild noise) and the box's mask."""

    def __init__(self, height: int, width: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        y, x = np.mgrid[0:height, 0:width]
        self.base = np.stack([x % 256, y % 256, ((x + y) // 2) % 256], axis=-1).astype(np.int16)
        self.noise = [rng.integers(-6, 7, self.base.shape, dtype=np.int16) for _ in range(5)]
        self.height, self.width = height, width

    def frame(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        frame = np.clip(np.roll(self.base, 2 * t, axis=1) + self.noise[t % 5], 0, 255).astype(np.uint8)
        mask = np.zeros((self.height, self.width), dtype=bool)
        x0 = (20 + 3 * t) % max(1, self.width - 80)
        mask[self.height // 3:self.height // 3 + 60, x0:x0 + 80] = True
        frame[mask] = (220, 40, 40)
        return frame, mask


def rle(mask: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {'size': [int(s) for s in r['size']], 'counts': r['counts'].decode('ascii')}


def make_videos(folder: str, num: int, frames: int, height: int, width: int) -> list[Sample]:
    """``num`` mp4 files and their samples (one object, a mask on every frame)."""
    samples, scene = [], Scene(height, width)
    for v in range(num):
        path = os.path.join(folder, f'video_{v}.mp4')
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 30, (width, height))
        masks = []
        for t in range(frames):
            frame, mask = scene.frame(t + 7 * v)
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            masks.append([MaskPart('rle', rle(mask))])
        writer.release()
        samples.append(Sample(id=f'video_{v}', source='bench_video', data_type='seg_video', media_type='video',
                              media=[path], conversation=[{'role': 'user', 'content': 'Please segment the box.'}],
                              objects=[ObjectMasks(masks, object_id=0)]))
    return samples


def make_mevis(root: str, num: int, frames: int, height: int, width: int):
    """A MeViS-layout train split of ``num`` JPEG videos, one expression each."""
    base = os.path.join(root, 'mevis', 'train')
    meta, mask_dict, scene = {'videos': {}}, {}, Scene(height, width)
    for v in range(num):
        names = [f'{t:05d}' for t in range(frames)]
        folder = os.path.join(base, 'JPEGImages', f'vid{v}')
        os.makedirs(folder, exist_ok=True)
        rles = []
        for t, name in enumerate(names):
            frame, mask = scene.frame(t + 7 * v)
            Image.fromarray(frame).save(os.path.join(folder, f'{name}.jpg'), quality=90)
            rles.append(rle(mask))
        mask_dict[str(v)] = rles
        meta['videos'][f'vid{v}'] = {'frames': names, 'expressions': {
            '0': {'exp': 'the red box', 'obj_id': [0], 'anno_id': [v]}}}
    with open(os.path.join(base, 'meta_expressions.json'), 'w') as f:
        json.dump(meta, f)
    with open(os.path.join(base, 'mask_dict.json'), 'w') as f:
        json.dump(mask_dict, f)


class ListSource(Dataset):
    SOURCE = 'bench_video'

    def __init__(self, samples):
        self.samples = samples

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


def naive_load(sample: Sample, num_frames: int, rng: np.random.Generator) -> Sample:
    """Decode every frame with OpenCV (video file or frame files), keep the sampled ones, decode their masks."""
    if sample.media_type == 'video':
        cap = cv2.VideoCapture(sample.media[0])
        frames = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        cap.release()
    else:
        frames = [cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB) for p in sample.media]
    positions = sample_frame_positions(len(frames), num_frames, 'random', rng)
    picked = np.stack([frames[p] for p in positions])
    masks = np.stack([decode_object(o, positions, picked.shape[1:3]) for o in sample.objects])
    return sample.replace(sampled=positions, frames=picked, masks=masks, kept_objects=list(range(len(masks))))


def time_naive(samples: list[Sample], num_frames: int, batch_size: int, passes: int) -> float:
    start, n = time.perf_counter(), 0
    for p in range(passes):
        loaded = [naive_load(s, num_frames, sample_rng(p, i)) for i, s in enumerate(samples)]
        for b in range(0, len(loaded), batch_size):
            n += len(unipixel_collate(loaded[b:b + batch_size])['ids'])
    return n / (time.perf_counter() - start)


def time_pipeline(dataset: HybridDataset, batch_size: int, workers: int, passes: int) -> float:
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=unipixel_collate,
                        shuffle=False, persistent_workers=workers > 0)
    next(iter(loader))  # start workers / warm caches outside the timing
    start, n = time.perf_counter(), 0
    for _ in range(passes):
        for batch in loader:
            n += len(batch['ids'])
    return n / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--videos', type=int, default=16, help='videos per media kind')
    parser.add_argument('--frames', type=int, default=240, help='frames per mp4 video (8 s at 30 fps)')
    parser.add_argument('--jpeg-frames', type=int, default=80, help='frames per JPEG folder (MeViS-like)')
    parser.add_argument('--height', type=int, default=360)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--num-frames', type=int, default=8, help='frames sampled per sample')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--passes', type=int, default=2, help='passes over the data per measurement')
    parser.add_argument('--workdir', help='where to write the synthetic data (default: a temporary folder)')
    args = parser.parse_args()

    workdir = args.workdir or tempfile.mkdtemp(prefix='unipixel_bench_')
    os.makedirs(workdir, exist_ok=True)
    print(f'data in {workdir}; {os.cpu_count()} CPU(s); {args.num_frames} sampled frames per sample, '
          f'batch {args.batch_size}, {args.passes} passes')
    t0 = time.perf_counter()
    video_samples = make_videos(workdir, args.videos, args.frames, args.height, args.width)
    make_mevis(workdir, args.videos, args.jpeg_frames, args.height, args.width)
    print(f'generated in {time.perf_counter() - t0:.1f} s')

    kinds = {
        f'mp4 ({args.frames} frames {args.width}x{args.height})':
            HybridDataset([ListSource(video_samples)], num_frames=args.num_frames, sample_type='random'),
        f'jpeg folder ({args.jpeg_frames} frames {args.width}x{args.height}, MeViS reader)':
            HybridDataset(['mevis'], data_root=workdir, num_frames=args.num_frames, sample_type='random'),
    }
    results = {}
    for name, dataset in kinds.items():
        samples = [dataset.datasets[0][i] for i in range(len(dataset.datasets[0]))]
        time_naive(samples[:2], args.num_frames, 2, 1)  # warm the page cache
        naive = time_naive(samples, args.num_frames, args.batch_size, args.passes)
        single = time_pipeline(dataset, args.batch_size, 0, args.passes)
        double = time_pipeline(dataset, args.batch_size, 2, args.passes)
        results[name] = {'naive': naive, 'pipeline_0_workers': single, 'pipeline_2_workers': double}
        print(f'\n{name}')
        print(f'  naive OpenCV, every frame decoded : {naive:7.2f} samples/s')
        print(f'  pipeline, 0 workers               : {single:7.2f} samples/s  ({single / naive:.1f}x)')
        print(f'  pipeline, 2 workers               : {double:7.2f} samples/s  ({double / naive:.1f}x)')
        if name.startswith('mp4'):  # upstream's reader, for reference
            os.environ['UNIPIXEL_VIDEO_BACKEND'] = 'decord'
            try:
                dec = time_pipeline(dataset, args.batch_size, 0, args.passes)
            finally:
                del os.environ['UNIPIXEL_VIDEO_BACKEND']
            results[name]['pipeline_decord_0_workers'] = dec
            print(f'  pipeline (decord), 0 workers      : {dec:7.2f} samples/s  ({dec / naive:.1f}x)')
    return results


if __name__ == '__main__':
    main()
