"""``unipixel info | segment | ask``: describe a checkpoint, segment media from a sentence, ask about regions."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from unipixel_plugin.prompts import PROMPT_TYPES, SEG_ANSWER, guess_prompt_type, seg_request
from unipixel_plugin.toy import sample_media

logger = logging.getLogger('unipixel')

DEMO_NOTE = 'TOY model (2.5 M parameters, trained on coloured shapes only)'
# what the overlay pictures say (they are small: the sample is 160x120)
PICTURE_NOTE = 'TOY model (shapes only)'


def demo_checkpoint() -> Path:
    """The toy UniPixel: the micro model trained on procedural coloured shapes (configs/unipixel_toy.py), shipped
    with the package (or trained once into the toy cache if the package has none for the current recipe): the
    default when no checkpoint is given. It knows red / green / blue / yellow / purple circles, squares and
    triangles, and nothing else."""
    from unipixel_plugin.engine.toy_recipe import ensure_trained_toy
    return ensure_trained_toy()


def check_media(path: str) -> None:
    """Fail before any model is loaded when the media path cannot be what the command needs."""
    if path is None:
        return
    if not Path(path).exists():
        raise FileNotFoundError(f'{path}: no such image, video or frame folder')
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        raise ValueError(f'{path}: the file is empty')


def _load_predictor(args):
    from unipixel_plugin.inference import UniPixelPredictor
    if args.quiet:  # also the weight-loading bars of transformers and the hub
        import os

        import transformers
        os.environ.setdefault('HF_HUB_DISABLE_PROGRESS_BARS', '1')
        transformers.utils.logging.disable_progress_bar()
        logging.getLogger('huggingface_hub').setLevel(logging.ERROR)  # retries of an unreachable hub
    # the toy's config.json holds the frame size it was trained at (llm_pixels), which the predictor uses
    checkpoint = args.checkpoint or str(demo_checkpoint())
    return UniPixelPredictor.from_pretrained(checkpoint, device=args.device, dtype=args.dtype,
                                             sam2_dtype=getattr(args, 'sam2_dtype', 'fp32'),
                                             sample_frames=args.sample_frames, max_new_tokens=args.max_new_tokens,
                                             progress=not args.quiet,
                                             sam2_frames=args.sam2_frames), args.checkpoint is None


def add_inference_commands(sub) -> None:
    """Register ``info``, ``segment`` and ``ask`` on an argparse ``subparsers`` object."""
    p = sub.add_parser('info', help='load a checkpoint and describe it')
    p.add_argument('checkpoint')
    p.add_argument('--dtype', default='auto')
    p.add_argument('--json', action='store_true')
    p.set_defaults(func=cmd_info)

    def common(p):
        p.add_argument('--checkpoint', default=None,
                       help='checkpoint dir or hub id (default: the toy model, trained on coloured shapes)')
        p.add_argument('--output', default='outputs', help='folder for overlays, mask PNGs and JSON records')
        p.add_argument('--device', default='auto')
        p.add_argument('--dtype', default='auto', help='auto (fp32 on CPU, checkpoint dtype on GPU), bf16, fp32')
        p.add_argument('--sam2-dtype', default='fp32', choices=('fp32', 'bf16'),
                       help="SAM 2's dtype (fp32; bf16 = upstream's evaluation numerics, see docs/inference.md)")
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
    p.add_argument('--prompt-type', choices=PROMPT_TYPES, default=None,
                   help='how QUERY is phrased (upstream\'s templates; raw: sent as typed). Default: guessed, raw if '
                   'QUERY ends with . ? or !, else query (red square -> "' + seg_request('red square', 'query', 'image') + '")')
    p.add_argument('--answer', default=None, help='teacher-force this answer (e.g. "' + SEG_ANSWER + '") '
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
    media = args.media or str(sample_media(args.sample))
    query = args.query or ('red square' if args.media is None else None)
    if query is None or not query.strip():
        raise ValueError('give a QUERY after MEDIA, e.g. unipixel segment photo.jpg "the dog"')
    check_media(media)
    predictor, demo = _load_predictor(args)
    answer = args.answer
    prompt_type = args.prompt_type or guess_prompt_type(query)
    if args.prompt_type is None:
        print(f'prompt : {prompt_type} (guessed from the punctuation; --prompt-type to choose)')
    if args.sam2_frames == 'all' and Path(media).exists() and _is_video(media):
        return _segment_streaming(predictor, media, query, answer, prompt_type, args, demo)
    result = predictor.segment(media, query, answer=answer, prompt_type=prompt_type)
    caption = f'{PICTURE_NOTE}: ' + result.text if demo else result.text
    from unipixel_plugin.inference.outputs import write_outputs
    record = write_outputs(result, Path(args.output), caption, video_format=args.video_format)
    print(f'answer : {result.text!r}')
    print(f'objects: {len(result.masks)} mask track(s) over {len(result.frame_indices)} frame(s)')
    print(f'overlay: {record["overlay"]}')
    if demo:
        print(f'note   : {DEMO_NOTE}; pass --checkpoint PolyU-ChenLab/UniPixel-3B for the real model')
    return 0


def _is_video(path: str) -> bool:
    from unipixel_plugin.inference.media import IMAGE_EXTENSIONS
    return Path(path).is_dir() or not str(path).lower().endswith(IMAGE_EXTENSIONS)


def _segment_streaming(predictor, media: str, query: str, answer, prompt_type: str, args, demo: bool) -> int:
    """``--sam2-frames all`` on a video: SAM 2 tracks every frame with bounded state (``segment_stream``) and each
    frame's PNGs and overlay frame are written as it comes, so memory does not grow with the video's length."""
    from unipixel_plugin.inference.media import frame_reader, load_media
    from unipixel_plugin.inference.outputs import StreamingOutputs
    from unipixel_plugin.prompts import segmentation_prompt
    read, total = frame_reader(media)
    kind = load_media(media, args.sample_frames).kind
    writer, text = None, None
    for frame_idx, masks, text in predictor.segment_stream(media, query, answer=answer, prompt_type=prompt_type,
                                                           progress=not args.quiet):
        if writer is None:
            caption = f'{PICTURE_NOTE}: ' + text if demo else text
            writer = StreamingOutputs(args.output, Path(media).stem, caption, total,
                                      video_format=args.video_format)
            if writer.note:
                print(f'note   : {writer.note}')
        writer.add(frame_idx, read(frame_idx), masks)
    if writer is None:
        print('answer : the answer has no <|seg|>: nothing was tracked')
        return 0
    h, w = read(0).shape[:2]
    record = writer.close({'source': media, 'kind': kind, 'prompt': segmentation_prompt(query, prompt_type, kind),
                           'answer': text, 'size': [h, w]})
    print(f'answer : {text!r}')
    print(f'objects: {len(record["objects"])} mask track(s) over {len(record["frame_indices"])} frame(s), streamed')
    print(f'overlay: {record["overlay"]}')
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
    from unipixel_plugin.inference import PromptObject
    check_media(args.media)
    if not args.question.strip():
        raise ValueError('the question is empty: say what to ask about the regions')
    for path in args.mask or []:
        check_media(path)
    predictor, demo = _load_predictor(args)
    regions = [PromptObject(point=_numbers(p, 2, '--point x,y'), frame=args.frame) for p in args.point or []]
    regions += [PromptObject(box=_numbers(b, 4, '--box x1,y1,x2,y2'), frame=args.frame) for b in args.box or []]
    masks = []
    if args.mask:
        from unipixel_plugin.inference import load_media
        from unipixel_plugin.masks import load_mask_png
        size = load_media(args.media, args.sample_frames).size
        masks = [load_mask_png(m, size) for m in args.mask]
    result = predictor.ask(args.media, args.question, regions, masks=masks, mask_frame=args.frame,
                           answer=args.answer)
    caption = f'{PICTURE_NOTE}: ' + result.text if demo else result.text
    from unipixel_plugin.inference.outputs import write_outputs
    write_outputs(result, Path(args.output), caption, video_format=args.video_format)
    print(f'answer : {result.text!r}')
    return 0


__all__ = ['add_inference_commands', 'demo_checkpoint', 'check_media', 'DEMO_NOTE', 'PICTURE_NOTE']
