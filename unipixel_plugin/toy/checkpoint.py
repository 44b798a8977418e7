"""The tiny-checkpoint factory: UniPixel folders for tests, benchmarks and offline demos (no hub access needed).

:func:`make_tiny_checkpoint` writes a directory laid out like the official UniPixel-3B/7B checkpoints: a flat
transformers-4.x ``config.json`` (``model_type = "pixel_qwen2_5_vl"``), ``model.safetensors`` with the legacy key
layout (``visual.*``, ``model.layers.*``, ``lm_head``, ``sam2.*`` with the fuser's ``weight`` name), a byte-level BPE
tokenizer trained here with the Qwen2.5-VL special tokens at the same *relative* places (so ``<|ref|>``, ``<|seg|>``,
``<|mem|>`` follow ``<|file_sep|>`` as 151665-151667 do in the real vocabulary), the Qwen chat template, and the
image/video processor configs. Weights are drawn per tensor name from a seeded generator, so the same seed gives the
same tensors whatever the model code's construction order.
"""
from __future__ import annotations

import json
import math
import zlib
from pathlib import Path

import torch

from unipixel_plugin.prompts import (BEST_OPTION_PREFIX, MEM_REQUEST, MEM_TOKEN, REF_TOKEN, SEG_ANSWER, SEG_TOKEN,
                                     region_prefix, seg_request)
from unipixel_plugin.prompts import UNIPIXEL_TOKENS as _UNIPIXEL_TOKENS

# Qwen2.5-VL's special tokens in id order (151643 ... 151664), then UniPixel's three (151665 ... 151667).
QWEN_SPECIAL_TOKENS = [
    '<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|object_ref_start|>', '<|object_ref_end|>', '<|box_start|>',
    '<|box_end|>', '<|quad_start|>', '<|quad_end|>', '<|vision_start|>', '<|vision_end|>', '<|vision_pad|>',
    '<|image_pad|>', '<|video_pad|>', '<tool_call>', '</tool_call>', '<|fim_prefix|>', '<|fim_middle|>',
    '<|fim_suffix|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>'
]
UNIPIXEL_TOKENS = list(_UNIPIXEL_TOKENS)

# Renders exactly what upstream's processor renders: a default system turn, every visual as
# <|vision_start|><|video_pad|><|vision_end|> (images too: UniPixel feeds images as 2-frame videos).
CHAT_TEMPLATE = (
    "{% set ns = namespace(video_count=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or content['type'] == 'video' or 'video' in content %}"
    "{% set ns.video_count = ns.video_count + 1 %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

# What the tiny tokenizer is trained on: the prompt wordings the model meets, plus a few words.
_CORPUS = [
    seg_request('red square', 'query', 'image'), seg_request('blue circle', 'query', 'video'), SEG_ANSWER,
    region_prefix([], [], 1).strip(), f'What is the object doing? {BEST_OPTION_PREFIX}A) moving left.',
    seg_request('', 'sentence', 'image').strip(),
    'the person the dog the car the ball moving running left right top bottom green yellow white black',
    MEM_REQUEST.format('Options: (A) (B) (C) (D)'),
]


def tiny_config(sam2_image_size: int = 256, sam2_config: str = 'configs/sam2.1_hiera_t', tie_word_embeddings=True,
                base_vocab: int = 260, vocab_size: int = 300, dtype: str = 'float32', **overrides) -> dict:
    """A flat, transformers-4.53-style config.json dict for a ~0.3 M-parameter LLM + ViT and a real SAM 2."""
    ids = {tok: base_vocab + i for i, tok in enumerate(QWEN_SPECIAL_TOKENS + UNIPIXEL_TOKENS)}
    config = {
        'architectures': ['PixelQwen2_5_VLForConditionalGeneration'],
        'model_type': 'pixel_qwen2_5_vl',
        'attention_dropout': 0.0,
        'bos_token_id': ids['<|endoftext|>'],
        'eos_token_id': ids['<|im_end|>'],
        'hidden_act': 'silu',
        'hidden_size': 64,
        'initializer_range': 0.02,
        'intermediate_size': 128,
        'max_position_embeddings': 2048,
        'max_window_layers': 2,
        'num_attention_heads': 4,
        'num_hidden_layers': 2,
        'num_key_value_heads': 2,
        'rms_norm_eps': 1e-6,
        'rope_scaling': {'type': 'mrope', 'mrope_section': [2, 3, 3]},
        'rope_theta': 10000.0,
        'sliding_window': 2048,
        'use_sliding_window': False,
        'tie_word_embeddings': tie_word_embeddings,
        'torch_dtype': dtype,
        'transformers_version': '4.53.3',
        'use_cache': True,
        'vocab_size': vocab_size,
        'vision_start_token_id': ids['<|vision_start|>'],
        'vision_end_token_id': ids['<|vision_end|>'],
        'vision_token_id': ids['<|vision_pad|>'],
        'image_token_id': ids['<|image_pad|>'],
        'video_token_id': ids['<|video_pad|>'],
        'vision_config': {
            'depth': 2,
            'hidden_act': 'silu',
            'hidden_size': 32,
            'intermediate_size': 64,
            'num_heads': 2,
            'in_chans': 3,
            'out_hidden_size': 64,
            'patch_size': 14,
            'spatial_merge_size': 2,
            'spatial_patch_size': 14,
            'temporal_patch_size': 2,
            'window_size': 56,
            'fullatt_block_indexes': [1],
            'tokens_per_second': 2,
            'model_type': 'qwen2_5_vl',
        },
        'ref_token_id': ids[REF_TOKEN],
        'seg_token_id': ids[SEG_TOKEN],
        'mem_token_id': ids[MEM_TOKEN],
        'sam2_config': sam2_config,
        'sam2_checkpoint': None,
        'sam2_image_size': sam2_image_size,
        'sam2_hidden_tokens': 2,
        'sam2_enable_decoder': True,
        'sam2_batch_mode': False,
        'sam2_apply_postprocessing': False,
        'sam2_inference_mode': True,
        'sample_objects': 5,
        'conv_type': 'chatml',
        'base_model': 'qwen2_5_vl',
        'base_model_path': None,
        'partial_checkpoint': None,
    }
    config.update(overrides)
    return config


def seeded_tensor(name: str, shape, seed: int) -> torch.Tensor:
    """A deterministic tensor for parameter ``name``: scaled like a sane init so activations stay finite."""
    gen = torch.Generator().manual_seed((zlib.crc32(name.encode()) ^ (seed * 2654435761)) & 0x7FFFFFFF)
    x = torch.randn(tuple(shape), generator=gen)
    leaf = name.rsplit('.', 1)[-1]
    if 'positional_encoding_gaussian_matrix' in name:
        return x  # SAM's random Fourier features: unit Gaussian
    if len(shape) <= 1:
        if leaf == 'bias':
            return 0.02 * x
        if leaf in ('gamma', ) or name.endswith('fuser.layers.0.weight') or name.endswith('fuser.layers.1.weight'):
            return 0.1 * x
        return 1.0 + 0.1 * x  # norm weights
    fan_in = math.prod(shape[1:])
    return x / math.sqrt(max(fan_in, 1))


def legacy_key(key: str) -> str:
    """transformers-5 module key -> the key written in official (transformers 4.53) UniPixel checkpoints."""
    if key.startswith('model.visual.'):
        return key[len('model.'):]
    if key.startswith('model.language_model.'):
        return 'model.' + key[len('model.language_model.'):]
    if key.startswith('sam2.memory_encoder.fuser.layers.') and key.endswith('.gamma'):
        return key[:-len('gamma')] + 'weight'
    return key


def _train_tokenizer(base_vocab: int, corpus=None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=base_vocab, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(list(corpus or _CORPUS) * 4, trainer=trainer)
    real = tok.get_vocab_size()
    if real < base_vocab:  # pad with unused tokens so the specials land at base_vocab + k
        tok.add_tokens([f'<|unused_{i}|>' for i in range(base_vocab - real)])
    return tok


def write_tokenizer_and_processor(path: Path, base_vocab: int = 260, image_size_px: int = 112, corpus=None) -> None:
    """Tokenizer (byte-level BPE + Qwen specials at fixed offsets), chat template and Qwen2-VL processors.

    ``corpus``: the texts the BPE merges are learnt from (default: a few UniPixel phrases)."""
    from tokenizers import AddedToken
    from transformers import PreTrainedTokenizerFast, Qwen2_5_VLProcessor
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    tok = _train_tokenizer(base_vocab, corpus)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t in QWEN_SPECIAL_TOKENS + UNIPIXEL_TOKENS])
    for i, t in enumerate(QWEN_SPECIAL_TOKENS + UNIPIXEL_TOKENS):
        assert tok.token_to_id(t) == base_vocab + i, (t, tok.token_to_id(t))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token='<|im_end|>', pad_token='<|endoftext|>',
                                   additional_special_tokens=UNIPIXEL_TOKENS, model_max_length=32768)
    fast.chat_template = CHAT_TEMPLATE
    size = {'shortest_edge': 56 * 56, 'longest_edge': image_size_px * image_size_px * 4}
    image_processor = Qwen2VLImageProcessor(size=size, do_resize=False)
    video_processor = Qwen2VLVideoProcessor(size=size, do_resize=False)
    processor = Qwen2_5_VLProcessor(image_processor=image_processor, tokenizer=fast, video_processor=video_processor,
                                    chat_template=CHAT_TEMPLATE)
    processor.save_pretrained(str(path))
    _rewrite_as_transformers4_layout(path)


def _rewrite_as_transformers4_layout(path: Path) -> None:
    """Write the processor files the way transformers 4.5x (and so the official checkpoints) lay them out:
    flat ``preprocessor_config.json`` / ``video_preprocessor_config.json``, a bare ``processor_config.json`` and a
    ``PreTrainedTokenizerFast`` tokenizer config. Both transformers 4.53 and 5.x load this layout."""
    nested = json.loads((path / 'processor_config.json').read_text())
    for key, name in (('image_processor', 'preprocessor_config.json'),
                      ('video_processor', 'video_preprocessor_config.json')):
        if key in nested:
            (path / name).write_text(json.dumps(dict(nested[key], processor_class='Qwen2_5_VLProcessor'), indent=2))
    (path / 'processor_config.json').write_text(json.dumps({'processor_class': 'Qwen2_5_VLProcessor'}))
    tok_path = path / 'tokenizer_config.json'
    tok = json.loads(tok_path.read_text())
    tok['tokenizer_class'] = 'PreTrainedTokenizerFast'
    if 'extra_special_tokens' in tok:
        tok['additional_special_tokens'] = tok.pop('extra_special_tokens')
    tok_path.write_text(json.dumps(tok, indent=2))


def make_tiny_checkpoint(path, seed: int = 0, layout: str = 'legacy', config_overrides: dict | None = None,
                         with_tokenizer: bool = True, drop_keys=(), corrupt_shapes: dict | None = None,
                         corpus=None) -> Path:
    """Write a tiny UniPixel checkpoint directory and return its path.

    Args:
        layout: ``"legacy"`` (official 4.x key names) or ``"new"`` (transformers-5 names, ``gamma`` fuser).
        config_overrides: keys to change in ``config.json`` (e.g. ``tie_word_embeddings=False``).
        drop_keys / corrupt_shapes: make a *broken* checkpoint for error tests.
    """
    from safetensors.torch import save_file

    from unipixel_plugin.models import PixelQwen2_5_VLConfig, PixelQwen2_5_VLForConditionalGeneration

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    config = tiny_config(**(config_overrides or {}))
    (path / 'config.json').write_text(json.dumps(config, indent=2))
    hf_config = PixelQwen2_5_VLConfig.from_pretrained(str(path))
    with torch.device('meta'):
        skeleton = PixelQwen2_5_VLForConditionalGeneration(hf_config)
    shapes = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    tied = bool(config.get('tie_word_embeddings'))
    tensors = {}
    for key in sorted(shapes):
        if tied and key == 'lm_head.weight':
            continue  # tied checkpoints store only the input embeddings, as transformers 4.x saved them
        out_key = legacy_key(key) if layout == 'legacy' else key
        tensors[out_key] = seeded_tensor(legacy_key(key), shapes[key], seed).contiguous()
    for key in drop_keys:
        tensors.pop(key)
    for key, shape in (corrupt_shapes or {}).items():
        tensors[key] = torch.zeros(shape)
    dtype = getattr(torch, config.get('torch_dtype', 'float32'))
    tensors = {k: (v.to(dtype) if not k.startswith('sam2.') else v) for k, v in tensors.items()}
    save_file(tensors, str(path / 'model.safetensors'), metadata={'format': 'pt'})
    if with_tokenizer:
        write_tokenizer_and_processor(path, base_vocab=config['bos_token_id'], corpus=corpus)
        # processor.save_pretrained may rewrite nothing of config.json, but keep ours authoritative
        (path / 'config.json').write_text(json.dumps(config, indent=2))
    return path


__all__ = ['make_tiny_checkpoint', 'tiny_config', 'seeded_tensor', 'legacy_key', 'write_tokenizer_and_processor',
           'CHAT_TEMPLATE', 'QWEN_SPECIAL_TOKENS', 'UNIPIXEL_TOKENS']
