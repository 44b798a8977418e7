"""Seconds per request of the tiny UniPixel on CPU, and where they go (ViT, LLM, SAM 2).

Requests: segmentation of an image and of a 16-frame video (teacher-forced "Sure, it is <|seg|>." so a mask is
always decoded), and region QA (one point + one box as <|ref|>, greedy generation of 8 tokens). Each is run
--repeat times after a warm-up; the table gives the median seconds and the share of time in each part, plus the
ratio video/image (same process, so machine noise mostly cancels).

    python benchmarks/bench_model.py [--repeat 3] [--checkpoint DIR]
"""
import argparse
import statistics
import tempfile
import time
from contextlib import contextmanager

import numpy as np
import torch


class PartTimer:
    """Wall time inside the ViT, the LLM decoder stack and SAM 2, via forward hooks."""

    def __init__(self, model):
        self.totals = {'ViT': 0.0, 'LLM': 0.0, 'SAM 2': 0.0}
        self._start = {}
        parts = {'ViT': model.model.visual, 'LLM': model.model.language_model}
        for name, module in parts.items():
            module.register_forward_pre_hook(self._pre(name))
            module.register_forward_hook(self._post(name))
        original = model.decode_masks

        def timed_decode(*args, **kwargs):
            start = time.perf_counter()
            out = original(*args, **kwargs)
            self.totals['SAM 2'] += time.perf_counter() - start
            return out
        model.decode_masks = timed_decode

    def _pre(self, name):
        def hook(*_):
            self._start[name] = time.perf_counter()
        return hook

    def _post(self, name):
        def hook(*_):
            self.totals[name] += time.perf_counter() - self._start[name]
        return hook

    @contextmanager
    def measure(self):
        for k in self.totals:
            self.totals[k] = 0.0
        start = time.perf_counter()
        yield self
        self.elapsed = time.perf_counter() - start


def frames(num, h=120, w=160):
    out = np.full((num, h, w, 3), 40, dtype=np.uint8)
    for t in range(num):
        out[t, 30:70, 20 + 4 * t:60 + 4 * t] = (220, 30, 30)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--checkpoint', default=None, help='default: a tiny checkpoint built in a temp dir')
    args = parser.parse_args()
    torch.manual_seed(0)

    from unipixel_plugin.inference import UniPixelPredictor
    from unipixel_plugin.inference import PromptObject
    from unipixel_plugin.toy.checkpoint import make_tiny_checkpoint
    ckpt = args.checkpoint or make_tiny_checkpoint(tempfile.mkdtemp(prefix='unipixel_bench_'))
    predictor = UniPixelPredictor.from_pretrained(str(ckpt), device='cpu', dtype='fp32', min_pixels=56 * 56,
                                                  max_pixels=112 * 112, max_new_tokens=8)
    timer = PartTimer(predictor.model)
    regions = [PromptObject(point=(40, 50)), PromptObject(box=(10, 10, 90, 80))]
    cases = {
        'segment image': lambda: predictor.segment(frames(1), 'red square', answer='Sure, it is <|seg|>.'),
        'segment 16-frame video': lambda: predictor.segment(frames(16), 'red square', answer='Sure, it is <|seg|>.'),
        'region QA image (generate 8)': lambda: predictor.ask(frames(1), 'What are [0] <|ref|> and [1] <|ref|>?',
                                                             regions),
        'region QA 16-frame video (generate 8)': lambda: predictor.ask(frames(16), 'What are [0] <|ref|> and '
                                                                      '[1] <|ref|>?', regions),
    }
    rows = {}
    for name, fn in cases.items():
        fn()  # warm-up
        runs = []
        for _ in range(args.repeat):
            with timer.measure() as t:
                fn()
            runs.append((t.elapsed, dict(t.totals)))
        median = statistics.median(r[0] for r in runs)
        parts = {k: statistics.median(r[1][k] for r in runs) for k in timer.totals}
        rows[name] = (median, parts)

    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, tiny model '
          f'(LLM 2x64, ViT 2x32, SAM 2 Hiera-T @ {predictor.model.config.sam2_image_size})')
    print(f'{"request":40s} {"s/request":>10s} {"ViT":>7s} {"LLM":>7s} {"SAM 2":>7s} {"other":>7s}'
          '   (other: media decoding, resizing, tokenising, sampling)')
    for name, (median, parts) in rows.items():
        other = max(median - sum(parts.values()), 0.0)
        shares = [parts['ViT'], parts['LLM'], parts['SAM 2'], other]
        print(f'{name:40s} {median:10.3f} ' + ' '.join(f'{100 * s / median:6.1f}%' for s in shares))
    image, video = rows['segment image'][0], rows['segment 16-frame video'][0]
    print(f'ratio video/image segmentation: {video / image:.2f}x '
          f'(SAM 2 tracks 16 frames; the LLM sees 8 temporal groups)')


if __name__ == '__main__':
    main()
