"""A full-size, UniPixel-3B-shaped model with random weights: seconds per 16-frame video and peak GPU memory.

The 3B shape is Qwen2.5-VL-3B's (LLM 36 x 2048, ViT 32 x 1280) with SAM 2.1 Hiera-B+ at 768 px, the LLM in bf16 and
SAM 2 in fp32, as the official checkpoint runs. One request = a 16-frame 480x640 video, upstream's frame budget
(``max_pixels = 256*28*28``), teacher-forced "Sure, it is <|seg|>." so one mask track is decoded over all 16 frames.
Reported: median seconds per video over --repeat runs after a warm-up, the share of ViT / LLM / SAM 2, and peak
GPU memory. ``--size tiny`` runs the same code path on a tiny shape (for checking the script on a CPU).

    python benchmarks/bench_full_size.py --device cuda [--repeat 3]
"""
import argparse
import statistics
import time

import numpy as np
import torch


def config_for(size: str):
    from unipixel_plugin.models import PixelQwen2_5_VLConfig
    if size == '3b':
        text = dict(vocab_size=151936, hidden_size=2048, intermediate_size=11008, num_hidden_layers=36,
                    num_attention_heads=16, num_key_value_heads=2, max_position_embeddings=128000,
                    rms_norm_eps=1e-6, tie_word_embeddings=True,
                    rope_parameters={'rope_type': 'default', 'rope_theta': 1e6, 'mrope_section': [16, 24, 24]})
        vision = dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=2048,
                      fullatt_block_indexes=[7, 15, 23, 31], window_size=112, tokens_per_second=2)
        sam2 = dict(sam2_config='configs/sam2.1_hiera_b+', sam2_image_size=768)
    else:
        text = dict(vocab_size=151936, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
                    rope_parameters={'rope_type': 'default', 'rope_theta': 1e4, 'mrope_section': [2, 3, 3]})
        vision = dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                      fullatt_block_indexes=[1], window_size=112, tokens_per_second=2)
        sam2 = dict(sam2_config='configs/sam2.1_hiera_t', sam2_image_size=256)
    return PixelQwen2_5_VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=True, **sam2)


def build_inputs(config, num_frames, device, height=480, width=640):
    """Token ids by hand (no tokenizer needed) around the video placeholders; pixels via Qwen's video processor."""
    from PIL import Image
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    from unipixel_plugin.models.processing_unipixel import llm_frames, sam2_frames
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (num_frames, height, width, 3), dtype=np.uint8)
    frames[:, 100:300, 200:400] = (220, 30, 30)
    frames_t = torch.from_numpy(frames)
    images = llm_frames(frames_t)
    processor = Qwen2VLVideoProcessor(do_resize=False)
    video = processor(videos=[images], return_tensors='pt', do_resize=False, cap_pixels_per_frame=False,
                      video_metadata=[{'fps': 2.0, 'total_num_frames': len(images)}])
    grid = video['video_grid_thw']
    n_video = int(grid.prod()) // 4
    text = lambda n: rng.integers(1000, 30000, n).tolist()  # noqa: E731
    ids = [151644] + text(5) + [151645, 151644] + text(2) + [config.vision_start_token_id] + \
        [config.video_token_id] * n_video + [config.vision_end_token_id] + text(12) + [151645, 151644] + text(2) + \
        text(4) + [config.seg_token_id] + text(1) + [151645]
    input_ids = torch.tensor([ids])
    del Image
    return dict(input_ids=input_ids.to(device), attention_mask=torch.ones_like(input_ids).to(device),
                pixel_values_videos=video['pixel_values_videos'].to(device), video_grid_thw=grid.to(device),
                second_per_grid_ts=torch.ones(1, device=device),
                frames=[sam2_frames(frames_t, config.sam2_image_size).to(device)],
                frame_size=[torch.Size((height, width))]), n_video


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', choices=('3b', 'tiny'), default='3b')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--frames', type=int, default=16)
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    cuda = device.type == 'cuda'
    torch.manual_seed(0)

    from unipixel_plugin.models import PixelQwen2_5_VLForConditionalGeneration
    config = config_for(args.size)
    start = time.perf_counter()
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = PixelQwen2_5_VLForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(previous)
    model = model.to(device).eval()
    model._after_load()  # SAM 2 and its prompt encoders in fp32, RoPE tables on the device
    build_s = time.perf_counter() - start
    params = sum(p.numel() for p in model.parameters())
    data, n_video = build_inputs(config, args.frames, device)

    sync = torch.cuda.synchronize if cuda else (lambda: None)
    parts = {'ViT': 0.0, 'LLM': 0.0, 'SAM 2': 0.0}
    marks = {}

    def pre(name):
        def hook(*_):
            sync()
            marks[name] = time.perf_counter()
        return hook

    def post(name):
        def hook(*_):
            sync()
            parts[name] += time.perf_counter() - marks[name]
        return hook
    for name, module in (('ViT', model.model.visual), ('LLM', model.model.language_model)):
        module.register_forward_pre_hook(pre(name))
        module.register_forward_hook(post(name))
    decode = model.decode_masks

    def timed_decode(*a, **k):
        sync()
        t0 = time.perf_counter()
        out = decode(*a, **k)
        sync()
        parts['SAM 2'] += time.perf_counter() - t0
        return out
    model.decode_masks = timed_decode

    def request():
        with torch.inference_mode():
            model(**data)
        sync()
        return model.seg

    request()  # warm-up
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    runs = []
    for _ in range(args.repeat):
        for k in parts:
            parts[k] = 0.0
        t0 = time.perf_counter()
        masks = request()
        runs.append((time.perf_counter() - t0, dict(parts)))
    median = statistics.median(r[0] for r in runs)
    share = {k: statistics.median(r[1][k] for r in runs) / median for k in parts}
    name = torch.cuda.get_device_name(device) if cuda else 'CPU'
    print(f'device: {name}; torch {torch.__version__}; model {args.size}: {params / 1e9:.2f} B parameters '
          f'(built in {build_s:.1f} s); LLM {model.model.language_model.embed_tokens.weight.dtype}, '
          f'SAM 2 {model.sam2.dtype}')
    print(f'request: {args.frames}-frame 480x640 video, {n_video} video tokens, '
          f'{data["input_ids"].shape[1]} tokens in all, SAM 2 at {config.sam2_image_size} px over all frames')
    print(f'seconds per video: {median:.3f} (runs: {", ".join(f"{r[0]:.3f}" for r in runs)})')
    print('share: ' + ', '.join(f'{k} {100 * v:.1f}%' for k, v in share.items()))
    if cuda:
        print(f'peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB allocated, '
              f'{torch.cuda.max_memory_reserved(device) / 2**30:.2f} GiB reserved')
    print(f'masks: {[tuple(m.shape) for m in masks]}')


if __name__ == '__main__':
    main()
