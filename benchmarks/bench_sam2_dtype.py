"""SAM 2 in bfloat16 (upstream's evaluation numerics) vs float32 on the toy model: mask IoU between the two and the
seconds per request, on the bundled sample and fresh toy scenes (images and 6-frame videos), same process.

    python benchmarks/bench_sam2_dtype.py [--images 10] [--videos 2] [--threads 2]
"""
import argparse
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=10)
    parser.add_argument('--videos', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    from unipixel_plugin.engine.toy_recipe import ensure_trained_toy
    from unipixel_plugin.inference import UniPixelPredictor
    from unipixel_plugin.toy import sample_media
    from unipixel_plugin.toy.model import LLM_PIXELS
    from unipixel_plugin.toy.scenes import render, sample_scene
    kwargs = dict(device='cpu', min_pixels=LLM_PIXELS, max_pixels=LLM_PIXELS, progress=False, max_new_tokens=12)
    checkpoint = str(ensure_trained_toy())
    fp32 = UniPixelPredictor.from_pretrained(checkpoint, dtype='fp32', sam2_dtype='fp32', **kwargs)
    bf16 = UniPixelPredictor.from_pretrained(checkpoint, dtype='fp32', sam2_dtype='bf16', **kwargs)
    rng = np.random.default_rng(0)
    requests = [(str(sample_media('image')), 'the blue circle'), (str(sample_media('image')), 'the red square')]
    for n in range(args.images + args.videos):
        scene = sample_scene(rng, f's{n}', 112, 1 if n < args.images else 6)
        frames, _ = render(scene)
        requests.append((frames[0] if n < args.images else frames, scene.objects[0].expressions[0][0]))
    ious, times = [], {'fp32': 0.0, 'bf16': 0.0}
    for media, query in requests:
        results = {}
        for name, predictor in (('fp32', fp32), ('bf16', bf16)):
            start = time.perf_counter()
            results[name] = predictor.segment(media, query)
            times[name] += time.perf_counter() - start
        a, b = (np.asarray(results[k].masks[0], bool) if results[k].masks else None for k in ('fp32', 'bf16'))
        if a is None or b is None:
            print(f'{query!r}: no <|seg|> in one of the answers ({results["fp32"].text!r} / {results["bf16"].text!r})')
            continue
        ious.append((a & b).sum() / max((a | b).sum(), 1))
    print(f'{len(ious)} requests: mask IoU fp32 vs bf16 SAM 2 mean {np.mean(ious):.4f} min {np.min(ious):.4f}')
    print(f's/request fp32 {times["fp32"] / len(requests):.3f}, bf16 {times["bf16"] / len(requests):.3f}: '
          f'ratio bf16 / fp32 {times["bf16"] / times["fp32"]:.2f}')


if __name__ == '__main__':
    main()
