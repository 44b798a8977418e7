"""The ``unipixel`` command: ``info``, ``segment``, ``ask``, ``tasks-path``, ``data check``."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

logger = logging.getLogger('unipixel')

DEMO_NOTE = 'UNTRAINED tiny demo weights'


def default_cache() -> Path:
    return Path(os.environ.get('UNIPIXEL_CACHE', Path.home() / '.cache' / 'unipixel_plugin'))


def demo_checkpoint() -> Path:
    """A tiny UniPixel built offline (random weights, real SAM 2 Hiera-T at 256): the default when none is given."""
    from unipixel_plugin.testing import make_tiny_checkpoint
    path = default_cache() / 'tiny-untrained-seed0'
    if not (path / 'model.safetensors').exists() or not (path / 'tokenizer.json').exists():
        logger.warning('no --checkpoint given: building a tiny model with random weights in %s (%s)', path, DEMO_NOTE)
        make_tiny_checkpoint(path, seed=0)
    return path


def sample_media(kind: str = 'image') -> Path:
    here = Path(__file__).parent / 'assets'
    return here / ('sample.png' if kind == 'image' else 'sample.mp4')


def _load_predictor(args):
    from unipixel_plugin.inference import UniPixelPredictor
    checkpoint = args.checkpoint or str(demo_checkpoint())
    extra = {}
    if args.checkpoint is None:  # tiny demo model: keep its frames tiny too
        extra = dict(min_pixels=56 * 56, max_pixels=112 * 112)
    return UniPixelPredictor.from_pretrained(checkpoint, device=args.device, dtype=args.dtype,
                                             sample_frames=args.sample_frames, max_new_tokens=args.max_new_tokens,
                                             progress=not args.quiet, sam2_frames=args.sam2_frames,
                                             **extra), args.checkpoint is None


def write_outputs(result, out_dir: Path, caption: str, fps: float = 5.0, video_format: str = 'gif') -> dict:
    """Overlay picture/video, per-object PNG masks and a JSON record (masks as COCO RLE)."""
    from unipixel_plugin.masks_io import save_mask_png
    from unipixel_plugin.visualization import overlay, save_frames
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(result.media.source).stem if result.media.source != '<array>' else 'media'
    frames = result.media.frames
    if len(result.frame_indices) != len(frames):  # masks on every frame of the video: read them for the overlay
        from unipixel_plugin.inference.media import frame_reader
        read, _ = frame_reader(result.media.source)
        frames = [read(i) for i in result.frame_indices]
    pictures = [overlay(frame, [m[t] for m in result.masks], caption=caption,
                        labels=[f'[{i}]' for i in range(len(result.masks))])
                for t, frame in enumerate(frames)]
    ext = '.png' if len(pictures) == 1 else f'.{video_format}'
    picture = save_frames(str(out_dir / f'{stem}_overlay{ext}'), pictures, fps=fps)
    for i, obj in enumerate(result.masks):
        for t, frame_idx in enumerate(result.frame_indices):
            save_mask_png(str(out_dir / f'{stem}_obj{i}_frame{frame_idx:05d}.png'), obj[t])
    record = result.to_record()
    record['overlay'] = picture
    (out_dir / f'{stem}.json').write_text(json.dumps(record, indent=1))
    return record


def cmd_info(args) -> int:
    import torch
    from transformers import AutoConfig

    from unipixel_plugin.models import PixelQwen2_5_VLForConditionalGeneration
    config = AutoConfig.from_pretrained(args.checkpoint)
    model = PixelQwen2_5_VLForConditionalGeneration.from_pretrained(args.checkpoint, dtype=args.dtype
                                                                     if args.dtype != 'auto' else 'auto')

    def count(module):
        return sum(p.numel() for p in module.parameters()) if module is not None else 0

    text = config.text_config
    parts = {
        'vision tower': count(model.model.visual),
        'language model': count(model.model.language_model) + (0 if config.tie_word_embeddings else
                                                               count(model.lm_head)),
        'SAM 2': count(getattr(model, 'sam2', None)),
        'prompt encoder (ref_*, tem_*)': sum(count(getattr(model, n, None)) for n in
                                             ('ref_encoder', 'ref_proj_single', 'ref_proj_double', 'ref_proj',
                                              'tem_emb', 'tem_proj')),
        'memory projector (msk_proj)': count(getattr(model, 'msk_proj', None)),
        'seg head': count(getattr(model, 'seg_head', None)),
    }
    total = count(model)
    size = f'{text.num_hidden_layers} layers, hidden {text.hidden_size}, vocab {text.vocab_size}'
    info = {
        'checkpoint': str(args.checkpoint),
        'model_type': config.model_type,
        'variant': f'LLM {size}; ViT depth {config.vision_config.depth} hidden {config.vision_config.hidden_size}',
        'sam2_config': config.sam2_config,
        'sam2_image_size': config.sam2_image_size,
        'sam2_parameters': parts['SAM 2'],
        'token_ids': {'ref': config.ref_token_id, 'seg': config.seg_token_id, 'mem': config.mem_token_id,
                      'video_pad': config.video_token_id, 'image_pad': config.image_token_id},
        'tie_word_embeddings': bool(config.tie_word_embeddings),
        'dtype': {'language model': str(model.model.language_model.embed_tokens.weight.dtype).replace('torch.', ''),
                  'SAM 2': str(model.sam2.dtype).replace('torch.', '') if getattr(model, 'sam2', None) else None},
        'parameters': {'total': total, **parts},
        'mem_window_order': config.mem_window_order,
    }
    if args.json:
        print(json.dumps(info, indent=1))
    else:
        for key, value in info.items():
            if isinstance(value, dict):
                print(f'{key}:')
                for k, v in value.items():
                    print(f'  {k:32s} {v:,}' if isinstance(v, int) and not isinstance(v, bool) else f'  {k:32s} {v}')
            else:
                print(f'{key:20s} {value}')
    del torch
    return 0


def cmd_segment(args) -> int:
    predictor, demo = _load_predictor(args)
    media = args.media or str(sample_media(args.sample))
    query = args.query or ('red square' if args.media is None else None)
    if query is None:
        raise SystemExit('unipixel segment: give a QUERY after MEDIA, e.g. unipixel segment photo.jpg "the dog"')
    answer = args.answer
    if demo and answer is None:
        # random weights rarely emit <|seg|>: teacher-force upstream's answer so the demo shows the mask path
        answer = 'Sure, it is <|seg|>.'
    result = predictor.segment(media, query, answer=answer)
    caption = f'{DEMO_NOTE}: ' + result.text if demo else result.text
    record = write_outputs(result, Path(args.output), caption, video_format=args.video_format)
    print(f'answer : {result.text!r}')
    print(f'objects: {len(result.masks)} mask track(s) over {len(result.frame_indices)} frame(s)')
    print(f'overlay: {record["overlay"]}')
    if demo:
        print(f'note   : {DEMO_NOTE} (pass --checkpoint PolyU-ChenLab/UniPixel-3B for the real model)')
    return 0


def _numbers(text: str, count: int, what: str) -> tuple:
    try:
        values = tuple(float(v) for v in text.split(','))
    except ValueError:
        values = ()
    if len(values) != count:
        raise ValueError(f'{what}: expected {count} comma-separated numbers, got {text!r}')
    return values


def cmd_ask(args) -> int:
    from unipixel_plugin.processing import PromptObject
    predictor, demo = _load_predictor(args)
    regions = [PromptObject(point=_numbers(p, 2, '--point x,y'), frame=args.frame) for p in args.point or []]
    regions += [PromptObject(box=_numbers(b, 4, '--box x1,y1,x2,y2'), frame=args.frame) for b in args.box or []]
    masks = []
    if args.mask:
        from unipixel_plugin.inference import load_media
        from unipixel_plugin.masks_io import load_mask_png
        size = load_media(args.media, args.sample_frames).size
        masks = [load_mask_png(m, size) for m in args.mask]
    result = predictor.ask(args.media, args.question, regions, masks=masks, mask_frame=args.frame,
                           answer=args.answer)
    caption = f'{DEMO_NOTE}: ' + result.text if demo else result.text
    write_outputs(result, Path(args.output), caption, video_format=args.video_format)
    print(f'answer : {result.text!r}')
    return 0


def cmd_tasks_path(args) -> int:
    print(Path(__file__).parent / 'tasks')
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='unipixel', description='UniPixel: pixel-level vision-language model')
    parser.add_argument('-v', '--verbose', action='store_true', help='debug logging')
    sub = parser.add_subparsers(dest='command', required=True)

    p = sub.add_parser('info', help='load a checkpoint and describe it')
    p.add_argument('checkpoint')
    p.add_argument('--dtype', default='auto')
    p.add_argument('--json', action='store_true')
    p.set_defaults(func=cmd_info)

    def common(p):
        p.add_argument('--checkpoint', default=None,
                       help='checkpoint dir or hub id (default: a tiny untrained model built offline)')
        p.add_argument('--output', default='outputs', help='folder for overlays, mask PNGs and JSON records')
        p.add_argument('--device', default='auto')
        p.add_argument('--dtype', default='auto', help='auto (fp32 on CPU, checkpoint dtype on GPU), bf16, fp32')
        p.add_argument('--sample-frames', type=int, default=16, help='video frames the model sees (upstream: 16)')
        p.add_argument('--sam2-frames', choices=('sampled', 'all'), default='sampled',
                       help='masks on the sampled frames, or SAM 2 tracks every frame of the video')
        p.add_argument('--max-new-tokens', type=int, default=64)
        p.add_argument('--video-format', choices=('gif', 'mp4'), default='gif', help='overlay format for videos')
        p.add_argument('--quiet', action='store_true', help='no progress bars')

    p = sub.add_parser('segment', help='segment an image or video from a sentence')
    p.add_argument('media', nargs='?', help='image, video or frame folder (default: bundled sample)')
    p.add_argument('query', nargs='?', help='what to segment, e.g. "the dog on the left"')
    p.add_argument('--sample', choices=('image', 'video'), default='image', help='bundled sample to use')
    p.add_argument('--answer', default=None, help='teacher-force this answer (e.g. "Sure, it is <|seg|>.") '
                   'instead of generating one')
    common(p)
    p.set_defaults(func=cmd_segment)

    p = sub.add_parser('ask', help='answer a question about regions given as points or boxes')
    p.add_argument('media')
    p.add_argument('question')
    p.add_argument('--point', action='append', help='x,y in pixels (repeatable)')
    p.add_argument('--box', action='append', help='x1,y1,x2,y2 in pixels (repeatable)')
    p.add_argument('--mask', action='append', help='mask PNG of the media size (repeatable): a <|mem|> object')
    p.add_argument('--answer', default=None, help='teacher-force this answer instead of generating one')
    p.add_argument('--frame', type=int, default=0, help='which (sampled) video frame the prompts are on')
    common(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser('tasks-path', help='print the folder of the lmms-eval tasks (for --include_path)')
    p.set_defaults(func=cmd_tasks_path)

    try:
        from unipixel_plugin.data.check import add_data_cli
    except ImportError:  # data tooling not installed in this build
        add_data_cli = None
    if add_data_cli is not None:
        add_data_cli(sub)  # `unipixel data check ROOT ...`
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format='%(levelname)s %(message)s')
    try:
        return args.func(args) or 0
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        if args.verbose:
            raise
        print(f'unipixel {args.command}: error: {err}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
