"""The toy model's figures (issue 8 targets) on held-out scenes, from generation, against a largest-object baseline.

    python benchmarks/bench_toy.py [--checkpoint DIR] [--qa-scenes 20] [--threads 2]

Default checkpoint: the packaged toy (unipixel_plugin/assets/toy_model). Held-out scenes: the toy cache's `valid_u`
split (60 images + 30 six-frame videos, seed 1001; the training scenes use seed 0). Prints image cIoU / mIoU and
their ratio to "the largest visible object" baseline on the same expressions, video J / F / J&F with the share of
frames that got a mask, region-QA accuracy by prompt (point / box / mask), the size of the model and the wall time
of the run that trained it (recipe.json).
"""
import argparse
import json
import time
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--checkpoint')
    parser.add_argument('--qa-scenes', type=int, default=20, help='region QA on this many held-out scenes (0: skip)')
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    from unipixel_plugin.engine.toy_recipe import ensure_trained_toy
    from unipixel_plugin.toy.cache import ensure_toy_scenes
    from unipixel_plugin.toy.evaluate import evaluate_region_qa, evaluate_segmentation, load_predictor

    checkpoint = Path(args.checkpoint) if args.checkpoint else ensure_trained_toy()
    heldout = ensure_toy_scenes(split='valid_u')
    predictor = load_predictor(str(checkpoint))
    params = sum(p.numel() for p in predictor.model.parameters())
    size = sum(f.stat().st_size for f in checkpoint.glob('*.safetensors'))
    start = time.time()
    seg = evaluate_segmentation(predictor, str(heldout), 'valid_u')
    image, video = seg['image'], seg['video']
    print(f'checkpoint {checkpoint} ({params / 1e6:.2f} M parameters, {size / 2**20:.1f} MiB)')
    recipe = checkpoint / 'recipe.json'
    if recipe.is_file():
        info = json.loads(recipe.read_text())
        print(f'trained by `{info["command"]}` in {info["train_seconds"]:.0f} s')
    print(f'image referring segmentation ({image["samples"]} expressions): cIoU {image["cIoU"]:.3f} '
          f'mIoU {image["mIoU"]:.3f}; largest object cIoU {image["largest_object_cIoU"]:.3f} '
          f'mIoU {image["largest_object_mIoU"]:.3f}; ratio cIoU {image["cIoU"] / image["largest_object_cIoU"]:.2f}; '
          f'one <|seg|> in {100 * image["one_seg_answer_rate"]:.0f}% of the answers')
    print(f'video referring segmentation ({video["samples"]} expressions): J&F {video["J&F"]:.3f} (J {video["J"]:.3f} '
          f'F {video["F"]:.3f}); frames with a mask {100 * video["frames_with_mask"]:.0f}%, tracked on every frame '
          f'{100 * video["expressions_tracked_on_every_frame"]:.0f}%; one <|seg|> in '
          f'{100 * video["one_seg_answer_rate"]:.0f}%')
    if args.qa_scenes:
        qa = evaluate_region_qa(predictor, str(heldout), max_scenes=args.qa_scenes)
        for key in ('all/point', 'all/box', 'all/mask'):
            if key in qa:
                print(f'region QA {key}: accuracy {qa[key]["accuracy"]:.3f} ({qa[key]["questions"]} questions; '
                      'chance 0.2 colour / 0.33 shape)')
    print(f'evaluation took {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
