"""A new UniPixel from a Qwen2.5-VL checkpoint and a SAM 2 checkpoint, the way upstream starts each training stage.

Upstream trains every stage from ``Qwen2.5-VL-{3B,7B}-Instruct`` plus ``sam2.1_hiera_base_plus.pt``:

* the tokenizer gets ``<|ref|>``, ``<|seg|>``, ``<|mem|>`` as special tokens; the embedding is NOT resized (the new
  ids fall into the vocabulary's spare rows: 151665-151667 for Qwen2.5-VL);
* the Qwen weights load as they are; SAM 2 loads its own checkpoint;
* ``ref_encoder`` (the visual-prompt encoder) starts as a copy of SAM 2's prompt encoder parameters, and
  ``msk_proj`` as a copy of the vision merger's MLP (same shapes); the other new layers (``ref_proj*``, ``tem_*``,
  ``seg_head``) get the model's standard initialisation; the random Fourier matrices of ``ref_encoder`` and
  ``tem_pe`` are drawn once here and saved with the model from then on.
"""
from __future__ import annotations

from typing import Optional

import torch

from unipixel_plugin.prompts import MEM_TOKEN, REF_TOKEN, SEG_TOKEN

UNIPIXEL_PREFIXES = ('sam2.', 'ref_encoder.', 'ref_proj', 'tem_pe.', 'tem_emb.', 'tem_proj.', 'msk_proj.', 'seg_head.')


def unipixel_from_base(path: str,
                       sam2_checkpoint: Optional[str] = None,
                       sam2_config: str = 'configs/sam2.1_hiera_b+',
                       sam2_image_size: int = 768,
                       sam2_hidden_tokens: int = 2,
                       seed: int = 0,
                       **load_kwargs):
    """Build a UniPixel model and its processor from a Qwen2.5-VL checkpoint folder.

    Args:
        path: Qwen2.5-VL checkpoint folder (``model_type = "qwen2_5_vl"``) with its processor.
        sam2_checkpoint: official SAM 2 weights (``{'model': state_dict}``); None leaves SAM 2 randomly
            initialised, which is only useful for tests.
        sam2_config / sam2_image_size / sam2_hidden_tokens: the SAM 2 variant, its input size, tokens per ``<|seg|>``.
        seed: seeds the random Fourier matrices that are not loaded from any checkpoint.
        **load_kwargs: ``from_pretrained`` arguments (``dtype``, ``attn_implementation``).
    Returns:
        ``(model, processor)``.
    """
    from transformers import AutoConfig, AutoProcessor

    from unipixel_plugin.models import PixelQwen2_5_VLConfig, PixelQwen2_5_VLForConditionalGeneration
    from unipixel_plugin.models.sam2_extension import load_sam2_checkpoint

    processor = AutoProcessor.from_pretrained(path)
    tokenizer = processor.tokenizer
    missing = (None, tokenizer.unk_token_id)
    new_tokens = [t for t in (REF_TOKEN, SEG_TOKEN, MEM_TOKEN) if tokenizer.convert_tokens_to_ids(t) in missing]
    if new_tokens:
        tokenizer.add_tokens(new_tokens, special_tokens=True)
    ids = dict(zip(('ref_token_id', 'seg_token_id', 'mem_token_id'),
                   tokenizer.convert_tokens_to_ids([REF_TOKEN, SEG_TOKEN, MEM_TOKEN])))

    base = AutoConfig.from_pretrained(path).to_dict()
    if base.get('model_type') not in ('qwen2_5_vl', PixelQwen2_5_VLConfig.model_type):
        raise ValueError(f'{path} is a {base.get("model_type")!r} checkpoint; base_model needs Qwen2.5-VL')
    for key in ('model_type', 'architectures', 'transformers_version'):
        base.pop(key, None)
    config = PixelQwen2_5_VLConfig(**base, **ids, sam2_config=sam2_config, sam2_image_size=sam2_image_size,
                                   sam2_hidden_tokens=sam2_hidden_tokens, sam2_checkpoint=sam2_checkpoint,
                                   sam2_inference_mode=False, base_model='qwen2_5_vl', base_model_path=str(path))
    config.architectures = ['PixelQwen2_5_VLForConditionalGeneration']
    vocab = config.text_config.vocab_size
    if max(ids.values()) >= vocab:
        raise ValueError(f'the UniPixel tokens got ids {ids} but the embedding has {vocab} rows; upstream does not '
                         'resize it (the ids must fall into spare rows): use a Qwen2.5-VL tokenizer with spare rows')

    model, info = PixelQwen2_5_VLForConditionalGeneration.from_pretrained(path, config=config, strict=False,
                                                                         output_loading_info=True, **load_kwargs)
    unexpected = info.get('unexpected_keys') or []
    missing = [k for k in (info.get('missing_keys') or []) if not k.startswith(UNIPIXEL_PREFIXES)]
    if unexpected or missing:
        raise ValueError(f'{path} does not fit Qwen2.5-VL as configured: missing {sorted(missing)[:10]}, '
                         f'unexpected {sorted(unexpected)[:10]}')

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in (model.ref_encoder.pe_layer, model.tem_pe, model.sam2.sam_prompt_encoder.pe_layer):
            matrix = module.positional_encoding_gaussian_matrix
            matrix.copy_(torch.randn(matrix.shape, generator=generator).to(matrix))
        if sam2_checkpoint is not None:
            load_sam2_checkpoint(model.sam2, sam2_checkpoint)
        sam_prompt = dict(model.sam2.sam_prompt_encoder.named_parameters())
        for name, target in model.ref_encoder.named_parameters():
            if name not in sam_prompt or sam_prompt[name].shape != target.shape:
                raise ValueError(f'ref_encoder.{name} has no counterpart in SAM 2\'s prompt encoder to start from')
            target.copy_(sam_prompt[name].to(target))
        merger = model.model.visual.merger.mlp
        for target, source in ((model.msk_proj[0], merger[0]), (model.msk_proj[2], merger[2])):
            target.weight.copy_(source.weight.to(target.weight))
            target.bias.copy_(source.bias.to(target.bias))
    model._after_load()
    return model, processor


__all__ = ['unipixel_from_base', 'UNIPIXEL_PREFIXES']
