"""Build the deterministic inputs of the upstream-parity reference cases (tests/reference/data/<case>_inputs.*).

Runs in this project's environment only (transformers 5.x). It needs the tiny checkpoint made by
``unipixel_plugin.toy.checkpoint.make_tiny_checkpoint(path, seed=0)`` for its tokenizer, processor and config::

    python tests/reference/make_inputs.py --checkpoint /tmp/ref_ckpt

Every tensor that goes into the model is saved, with the upstream keyword names (``input_ids``, ``attention_mask``,
``video_grid_thw``, ``second_per_grid_ts``, ``point_coords``, ...), except the two big ones, the SAM 2 frames and
``pixel_values_videos``: a ``(T, 3, 256, 256)`` float tensor per case would not fit the size budget, so the raw uint8
media are saved instead
and :func:`sam2_frames` rebuilds the frames (``/255`` -> antialiased bilinear resize to ``S x S`` -> ImageNet
mean/std, what upstream's ``get_sam2_transform`` does). A strided probe and the sum of the frames are saved too, so
a test can check that the rebuilt frames are the ones the reference numbers were computed from. Likewise
``pixel_values_videos`` is rebuilt from the media by :func:`qwen_pixel_values` (checked here to equal the Qwen2-VL
video processor's output bit for bit; its sum is in the sidecar).

Layout of ``<case>_inputs.safetensors`` (nested upstream lists are flattened, the JSON sidecar says how to rebuild):
  input_ids, attention_mask (1, L) int64; video_grid_thw (1, 3) int64;
  second_per_grid_ts (1,) float32; media (T, H, W, 3) uint8 (the frames SAM 2 sees); frames_probe
  (T, 3, S/16, S/16) float32 = frames[:, :, ::16, ::16]; point_coords.<i>, point_labels.<i> per object; point_frames
  (num_objects,) int64; refer_mask (grid_t, num_objects, grid_h/2, grid_w/2) uint8 (bool on load).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F

DATA_DIR = Path(__file__).resolve().parent / 'data'
SEED = 0
HEIGHT, WIDTH = 56, 84  # multiples of 28: the Qwen2.5-VL grid is (2 * 2) x (2 * 3) patches, merged 2 x 3
SAM2_SIZE = 256  # sam2_image_size of the tiny checkpoint
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

SYSTEM = '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n'
VISION = '<|vision_start|><|video_pad|><|vision_end|>'

GREEDY = dict(do_sample=False, temperature=None, top_k=None, top_p=None, repetition_penalty=None, max_new_tokens=8)

# case -> media ("image" = one frame, fed to the LLM as a 2-frame video; "video" = 4 frames), user text, assistant
# text (None: generation prompt), and the visual prompts.
CASES = {
    'seg_image': dict(media='image', user='Please segment the red square in this image.',
                      answer='Sure, it is <|seg|>.'),
    'seg_video': dict(media='video', user='Please segment the red square in this video.',
                      answer='Sure, it is <|seg|>.'),
    'ref_point': dict(media='image',
                      user='Here is an image with the following highlighted regions:\n[0]: <|ref|>\n'
                      'Please segment [0] in this image.',
                      answer='Sure, it is <|seg|>.', prompts='point'),
    'ref_box': dict(media='video',
                    user='Here is a video with 4 frames denoted as <1> to <4>. The highlighted regions are as '
                    'follows:\n[0]: <|ref|>\n[1]: <|ref|>\nPlease segment [0] and [1] in this video.',
                    answer='[0] <|seg|> [1] <|seg|>', prompts='point_box'),
    'mem_mask': dict(media='image',
                     user='Here is an image with the following highlighted regions:\n[0]: <|mem|>\nWhat is [0]?',
                     answer='It is a red square.', prompts='mask_image'),
    'mem_video': dict(media='video',
                      user='Here is a video with 4 frames denoted as <1> to <4>. The highlighted regions are as '
                      'follows:\n[0]: <1>-<2> <|mem|> <3>-<4> <|mem|>\n[1]: <3>-<4> <|mem|>\nWhat are [0] and [1]?',
                      answer='They are a red square and a blue bar.', prompts='mask_video'),
    'generate_seg': dict(media='image', user='Please segment the red square in this image.', answer=None,
                         generate=GREEDY),
    # the answer is started in the prompt: <|seg|> is a prompt token, decoded at the first (prefill) step only
    'generate_prefilled': dict(media='image', user='Please segment the red square in this image.', answer=None,
                               prefill='Sure, it is <|seg|>', generate=GREEDY),
    # The tiny random model never predicts <|seg|> by itself. Here the <|seg|> row of the (tied) embedding/lm_head is
    # multiplied by 4 in memory before the run, so greedy decoding emits <|seg|> as its 8th token: the mask is then
    # decoded from the state of a decode step (upstream's "output contains <seg>" path).
    'generate_seg_biased': dict(media='image', user='Please segment the red square in this image.', answer=None,
                                generate=GREEDY, seg_embedding_scale=4.0),
}

# Where the objects are (pixels of the 56 x 84 media).
SQUARE = 16  # red square side
SQUARE_Y, SQUARE_X0, SQUARE_DX = 12, 8, 12  # top row, left column in frame 0, shift per frame
BAR = (36, 50, 52, 78)  # blue bar: y0, y1, x0, x1 (static)


def _background(generator: torch.Generator) -> torch.Tensor:
    """A smooth gradient plus seeded noise, so no two patches are identical. (H, W, 3) float in [0, 255]."""
    ys = torch.linspace(0, 1, HEIGHT)[:, None, None]
    xs = torch.linspace(0, 1, WIDTH)[None, :, None]
    base = 60 + 80 * ys * torch.tensor([0.3, 0.8, 0.5]) + 60 * xs * torch.tensor([0.6, 0.2, 0.9])
    return base + 20 * torch.rand(HEIGHT, WIDTH, 3, generator=generator)


def make_media(kind: str) -> torch.Tensor:
    """``(T, 56, 84, 3)`` uint8: a red square (moving right by 12 px per frame in the video) and a static blue bar."""
    generator = torch.Generator().manual_seed(SEED)
    num_frames = 1 if kind == 'image' else 4
    frames = []
    for t in range(num_frames):
        frame = _background(generator)
        x0 = SQUARE_X0 + (SQUARE_DX * t if kind == 'video' else 0)
        frame[SQUARE_Y:SQUARE_Y + SQUARE, x0:x0 + SQUARE] = torch.tensor([220., 30., 30.])
        y0, y1, bx0, bx1 = BAR
        frame[y0:y1, bx0:bx1] = torch.tensor([30., 40., 210.])
        frames.append(frame)
    return torch.stack(frames).round().clamp(0, 255).to(torch.uint8)


def sam2_frames(media: torch.Tensor, size: int = SAM2_SIZE) -> torch.Tensor:
    """``(T, H, W, 3)`` uint8 -> ``(T, 3, size, size)`` float32: /255, antialiased bilinear resize, ImageNet norm."""
    x = media.permute(0, 3, 1, 2).float() / 255
    x = F.interpolate(x, size=(size, size), mode='bilinear', align_corners=False, antialias=True)
    mean = x.new_tensor(IMAGENET_MEAN)[None, :, None, None]
    std = x.new_tensor(IMAGENET_STD)[None, :, None, None]
    return (x - mean) / std


CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # the Qwen2-VL video processor's normalisation
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def llm_video(media: torch.Tensor) -> torch.Tensor:
    """``(T, H, W, 3)`` uint8 -> the frames the LLM sees: an odd count is padded with the last frame (image -> 2)."""
    if media.size(0) % 2:
        media = torch.cat([media, media[-1:]])
    return media


def qwen_pixel_values(media: torch.Tensor, patch: int = 14, merge: int = 2, temporal: int = 2) -> torch.Tensor:
    """``pixel_values_videos`` of Qwen2.5-VL for already-sized frames (``do_resize=False``): rescale + CLIP
    normalisation (fused as the processor does it: ``(x - 255 * mean) / (255 * std)``), then patches in the
    processor's order (temporal groups, merge windows, channel-major ``C x 2 x 14 x 14`` rows)."""
    video = llm_video(media).permute(0, 3, 1, 2).float()
    mean = torch.tensor(CLIP_MEAN) * (1.0 / (1 / 255))
    std = torch.tensor(CLIP_STD) * (1.0 / (1 / 255))
    video = (video - mean[:, None, None]) / std[:, None, None]
    t, c, h, w = video.shape
    gt, gh, gw = t // temporal, h // patch, w // patch
    patches = video.view(gt, temporal, c, gh // merge, merge, patch, gw // merge, merge, patch)
    patches = patches.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return patches.reshape(gt * gh * gw, c * temporal * patch * patch), torch.tensor([[gt, gh, gw]])


def render_text(user: str, answer: str | None) -> str:
    """The Qwen chat template as upstream renders it (one visual, always ``<|video_pad|>``)."""
    text = SYSTEM + '<|im_start|>user\n' + VISION + user + '<|im_end|>\n<|im_start|>assistant\n'
    return text if answer is None else text + answer + '<|im_end|>\n'


def _to_sam(y: float, x: float) -> list[float]:
    """Pixel (y, x) of the 56 x 84 media -> (x, y) in the SAM 2 input square."""
    return [x * SAM2_SIZE / WIDTH, y * SAM2_SIZE / HEIGHT]


def visual_prompts(kind: str | None, grid_thw: torch.Tensor) -> tuple[dict, dict]:
    """Tensors and JSON structure of the point / box / mask prompts of a case."""
    tensors, meta = {}, {}
    centre = SQUARE_Y + SQUARE / 2, SQUARE_X0 + SQUARE / 2
    if kind == 'point':
        tensors['point_coords.0'] = torch.tensor([[_to_sam(*centre)]], dtype=torch.float32)  # (1, 1, 2)
        tensors['point_labels.0'] = torch.tensor([[1]], dtype=torch.int64)
        tensors['point_frames'] = torch.tensor([0], dtype=torch.int64)
        meta['num_objects'] = 1
    elif kind == 'point_box':
        tensors['point_coords.0'] = torch.tensor([[_to_sam(*centre)]], dtype=torch.float32)
        tensors['point_labels.0'] = torch.tensor([[1]], dtype=torch.int64)
        y0, y1, x0, x1 = BAR
        box = [[round(v) for v in _to_sam(y0, x0)], [round(v) for v in _to_sam(y1, x1)]]
        tensors['point_coords.1'] = torch.tensor([box], dtype=torch.int32)  # (1, 2, 2) corners, as upstream
        tensors['point_labels.1'] = torch.tensor([[2, 3]], dtype=torch.int64)
        tensors['point_frames'] = torch.tensor([0, 2], dtype=torch.int64)
        meta['num_objects'] = 2
    elif kind in ('mask_image', 'mask_video'):
        grid_t, grid_h, grid_w = (int(v) for v in grid_thw[0])
        h, w = grid_h // 2, grid_w // 2
        assert (h, w) == (2, 3), (h, w)
        if kind == 'mask_image':
            # merged cells 1, 2, 5 (raster): window order reads cells 1, 3, 5 instead, so the two orders differ
            mask = torch.zeros(grid_t, 1, h, w, dtype=torch.bool)
            mask[0, 0] = torch.tensor([[0, 1, 1], [0, 0, 1]], dtype=torch.bool)
        else:
            mask = torch.zeros(grid_t, 2, h, w, dtype=torch.bool)
            mask[0, 0] = torch.tensor([[1, 1, 0], [0, 0, 0]], dtype=torch.bool)
            mask[1, 0] = torch.tensor([[0, 1, 1], [0, 0, 0]], dtype=torch.bool)
            mask[1, 1] = torch.tensor([[0, 0, 0], [0, 1, 1]], dtype=torch.bool)  # object 1 absent from group 0
        tensors['refer_mask'] = mask.to(torch.uint8)
        meta['num_objects'] = mask.size(1)
        meta['num_mem_tokens'] = int(mask.flatten(2).any(-1).sum())
    return tensors, meta


def build_case(name: str, processor, config: dict) -> tuple[dict, dict]:
    spec = CASES[name]
    media = make_media(spec['media'])
    llm_frames = [f.numpy() for f in llm_video(media)]  # an image is a 2-frame video of the same frame
    text = render_text(spec['user'], spec['answer']) + spec.get('prefill', '')
    batch = processor(text=[text], videos=[llm_frames], video_metadata=[{'fps': 2.0,
                                                                          'total_num_frames': len(llm_frames)}],
                      return_tensors='pt')
    grid = batch['video_grid_thw']
    pads = int((batch['input_ids'] == config['video_token_id']).sum())
    assert pads == int(grid.prod()) // 4, (pads, grid)
    assert torch.allclose(batch['second_per_grid_ts'].float(), torch.ones(1)), batch['second_per_grid_ts']
    # The pixel values are not stored (size budget): check that the plain-torch rebuild is the processor's, bit for bit.
    pixel_values, grid_thw = qwen_pixel_values(media)
    assert torch.equal(pixel_values, batch['pixel_values_videos']) and torch.equal(grid_thw, grid), name
    frames = sam2_frames(media, config['sam2_image_size'])
    tensors = {
        'input_ids': batch['input_ids'].to(torch.int64),
        'attention_mask': batch['attention_mask'].to(torch.int64),
        'video_grid_thw': grid.to(torch.int64),
        'second_per_grid_ts': batch['second_per_grid_ts'].float().reshape(1),
        'media': media,
        'frames_probe': frames[:, :, ::16, ::16].contiguous(),
    }
    prompt_tensors, meta = visual_prompts(spec.get('prompts'), grid)
    tensors.update(prompt_tensors)
    meta.update({
        'case': name,
        'text': text,
        'media': spec['media'],
        'frame_size': [HEIGHT, WIDTH],
        'num_sam2_frames': int(media.size(0)),
        'sam2_image_size': config['sam2_image_size'],
        'pixel_values_sum': float(pixel_values.double().sum()),
        'frames_sum': float(frames.double().sum()),
        'frames_abs_sum': float(frames.double().abs().sum()),
        'num_seg_tokens': int((batch['input_ids'] == config['seg_token_id']).sum()),
        'num_ref_tokens': int((batch['input_ids'] == config['ref_token_id']).sum()),
        'generate': spec.get('generate'),
        'seg_embedding_scale': spec.get('seg_embedding_scale', 1.0),
        'seed': SEED,
    })
    if 'num_mem_tokens' in meta:
        assert meta['num_mem_tokens'] == int((batch['input_ids'] == config['mem_token_id']).sum()), name
    if 'num_objects' in meta and spec.get('prompts', '').startswith('point'):
        assert meta['num_objects'] == meta['num_ref_tokens'], name
    return tensors, meta


def scale_seg_embedding(model, seg_token_id: int, scale: float) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Multiply the ``<|seg|>`` row of the input embedding and of ``lm_head`` (once if tied) by ``scale`` in place.

    Returns what :func:`restore_rows` needs to undo it exactly.
    """
    saved = []
    weights = {id(w): w for w in (model.get_input_embeddings().weight, model.get_output_embeddings().weight)}
    with torch.no_grad():
        for weight in weights.values():
            saved.append((weight, weight[seg_token_id].clone()))
            weight[seg_token_id] *= scale
    return saved


def restore_rows(saved, seg_token_id: int) -> None:
    with torch.no_grad():
        for weight, row in saved:
            weight[seg_token_id] = row


def load_case(name: str, data_dir: Path = DATA_DIR) -> tuple[dict, dict]:
    """Read ``<case>_inputs`` back as upstream ``forward`` keyword arguments (frames rebuilt) plus the JSON meta."""
    from safetensors.torch import load_file

    tensors = load_file(str(data_dir / f'{name}_inputs.safetensors'))
    meta = json.loads((data_dir / f'{name}_inputs.json').read_text())
    kwargs = {k: tensors[k] for k in ('input_ids', 'attention_mask')}
    kwargs['pixel_values_videos'] = qwen_pixel_values(tensors['media'])[0]
    kwargs.update({k: tensors[k] for k in ('video_grid_thw', 'second_per_grid_ts')})
    kwargs['frames'] = [sam2_frames(tensors['media'], meta['sam2_image_size'])]
    kwargs['frame_size'] = [torch.Size(meta['frame_size'])]
    if 'point_frames' in tensors:
        n = meta['num_objects']
        kwargs['point_coords'] = [[tensors[f'point_coords.{i}'] for i in range(n)]]
        kwargs['point_labels'] = [[tensors[f'point_labels.{i}'] for i in range(n)]]
        kwargs['point_frames'] = [[tensors['point_frames']]]
    if 'refer_mask' in tensors:
        kwargs['refer_mask'] = [tensors['refer_mask'].bool()]
    return kwargs, dict(meta, frames_probe=tensors['frames_probe'])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--checkpoint', default='/tmp/ref_ckpt',
                        help='directory written by make_tiny_checkpoint(path, seed=0)')
    parser.add_argument('--out', default=str(DATA_DIR))
    args = parser.parse_args()

    from safetensors.torch import save_file
    from transformers import AutoProcessor

    config = json.loads((Path(args.checkpoint) / 'config.json').read_text())
    processor = AutoProcessor.from_pretrained(args.checkpoint)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        tensors, meta = build_case(name, processor, config)
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(out / f'{name}_inputs.safetensors'))
        (out / f'{name}_inputs.json').write_text(json.dumps(meta, indent=2) + '\n')
        print(f'{name}: {tensors["input_ids"].size(1)} tokens, grid {tensors["video_grid_thw"].tolist()}')


if __name__ == '__main__':
    main()
