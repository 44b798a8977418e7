"""The micro UniPixel: the real classes at sizes that learn the toy scenes from scratch on a CPU.

* SAM 2: the package's Hiera-T config with Hydra overrides (:func:`micro_sam2_overrides`): 5 Hiera blocks from 16
  channels, ``d_model`` 64 everywhere (FPN neck, mask decoder, memory attention: 1 layer), 32-channel memories, at a
  256 px input (the 112 px scenes upsampled: a finer feature map for the decoder to outline shapes on).
* Qwen2.5-VL: a 4-layer, 128-wide LLM and a 2-block, 64-wide ViT. ``rope_theta`` is small (10) so that M-RoPE's
  height / width frequencies turn by a useful angle from one merged patch to the next on a 4x4 grid (at 10000
  they do not, and a ``<|ref|>`` prompt cannot find the patches it points at).
* A byte-level BPE tokenizer trained here on the toy's own phrases (so a colour or shape is one token).
* ``mem_window_order`` off: ``<|mem|>`` pools the merger inputs in raster order, the order of ``refer_mask``.
* ``llm_pixels`` ``[12544, 12544]``: the predictor's default LLM frame size for it (112 x 112, as trained).

:func:`make_micro_checkpoint` writes it (seeded random weights, HF layout) like
:func:`unipixel_plugin.testing.make_tiny_checkpoint`.
"""
from __future__ import annotations

from pathlib import Path

from unipixel_plugin.prompts import SEG_ANSWER, region_prefix, seg_request
from unipixel_plugin.toy.scenes import COLOURS, DIRECTIONS, QUESTIONS, SHAPES

# the LLM sees frames at exactly this many pixels (the scenes are 112 x 112: 4 x 4 merged patches per frame pair)
LLM_PIXELS = 112 * 112
SAM2_IMAGE_SIZE = 256  # 128 px gave 0.47-0.48 image cIoU, 256 px 0.49-0.50 (docs/toy_research.md, sessions 7-9)


def micro_sam2_overrides(d_model: int = 64, embed_dim: int = 16, mem_dim: int = 32, stages=(1, 1, 2, 1),
                         memory_layers: int = 1, image_size: int = SAM2_IMAGE_SIZE) -> dict:
    """Hydra overrides (keys below ``model.``) that shrink SAM 2.1 Hiera-T; ``config.sam2_overrides``.

    Every width that follows ``d_model`` in the package's config is set with it (neck, position encodings, memory
    attention and encoder). The first block of a Hiera stage pools and cannot be global, so global attention comes
    from window sizes that cover the whole feature map instead of ``global_att_blocks``.
    """
    channels = [embed_dim * 8, embed_dim * 4, embed_dim * 2, embed_dim]
    windows = [8, 4, min(8, image_size // 16), min(4, image_size // 32)]
    return {
        'image_encoder.trunk.embed_dim': embed_dim,
        'image_encoder.trunk.num_heads': 1,
        'image_encoder.trunk.stages': list(stages),
        'image_encoder.trunk.global_att_blocks': [],
        'image_encoder.trunk.window_spec': windows,
        'image_encoder.neck.d_model': d_model,
        'image_encoder.neck.backbone_channel_list': channels,
        'image_encoder.neck.position_encoding.num_pos_feats': d_model,
        'memory_attention.d_model': d_model,
        'memory_attention.num_layers': memory_layers,
        'memory_attention.layer.d_model': d_model,
        'memory_attention.layer.dim_feedforward': 4 * d_model,
        'memory_attention.layer.dropout': 0.0,
        'memory_attention.layer.self_attention.embedding_dim': d_model,
        'memory_attention.layer.self_attention.dropout': 0.0,
        'memory_attention.layer.cross_attention.embedding_dim': d_model,
        'memory_attention.layer.cross_attention.dropout': 0.0,
        'memory_attention.layer.cross_attention.kv_in_dim': mem_dim,
        'memory_encoder.out_dim': mem_dim,
        'memory_encoder.in_dim': d_model,
        'memory_encoder.position_encoding.num_pos_feats': mem_dim,
        'memory_encoder.mask_downsampler.embed_dim': d_model,
        'memory_encoder.fuser.layer.dim': d_model,
        'memory_encoder.fuser.num_layers': 1,
        # one mask per prompt: from scratch, three candidates let the decoder cover several objects whatever the
        # prompt says (the best-of-3 loss is then low while the mask picked by predicted IoU is at chance)
        'multimask_output_in_sam': False,
        'multimask_output_for_tracking': False,
    }


def toy_corpus() -> list[str]:
    """The phrases of the toy data and prompts, to train the tokenizer's merges on."""
    lines = [seg_request('x', 'query', 'image'), seg_request('x', 'query', 'video'), SEG_ANSWER,
             region_prefix([], [], 1).strip(), region_prefix([], [], 6).strip(),
             '<1>-<2> <3>-<4> <5>-<6> <7>-<8>', '[0]: [1]: [2]: [3]:', 'biggest smallest moving']
    lines += list(QUESTIONS.values()) + list(COLOURS) + list(SHAPES) + list(DIRECTIONS)
    for colour in COLOURS:
        for shape in SHAPES:
            lines.append(f'the {colour} {shape} {colour} {shape}')
            lines += [f'the {shape} moving {d}' for d in DIRECTIONS]
    return lines


def micro_config(sam2_image_size: int = SAM2_IMAGE_SIZE, base_vocab: int = 512, hidden_size: int = 128,
                 num_layers: int = 4, rope_theta: float = 10.0, **overrides) -> dict:
    """``config.json`` of the micro UniPixel (see the module docstring)."""
    from unipixel_plugin.toy.checkpoint import tiny_config
    heads = 4
    head_dim = hidden_size // heads
    unit = head_dim // 16  # M-RoPE sections (t, h, w) split head_dim / 2 frequencies 2:3:3, as Qwen's 16/24/24
    config = tiny_config(
        sam2_image_size=sam2_image_size, base_vocab=base_vocab, vocab_size=base_vocab + 32,
        hidden_size=hidden_size, intermediate_size=2 * hidden_size, num_hidden_layers=num_layers,
        num_attention_heads=heads, num_key_value_heads=2, max_window_layers=num_layers, rope_theta=rope_theta,
        rope_scaling={'type': 'mrope', 'mrope_section': [2 * unit, 3 * unit, 3 * unit]},
        sam2_overrides=micro_sam2_overrides(image_size=sam2_image_size))
    config['vision_config'] = dict(config['vision_config'], depth=2, hidden_size=64, intermediate_size=128,
                                   num_heads=2, out_hidden_size=hidden_size, fullatt_block_indexes=[1])
    # <|mem|> features in raster order, the order refer_mask is in. Upstream reads them in window order (its
    # checkpoints were trained that way, and UniPixelConfig keeps that default); with the toy's 56 px ViT windows on
    # a 4 x 4 grid the two orders differ, and window order pools other cells' features (docs/toy_research.md)
    config['mem_window_order'] = False
    # the LLM frame size it is trained at, which the predictor (CLI, lmms-eval adapter) then uses by default
    config['llm_pixels'] = [LLM_PIXELS, LLM_PIXELS]
    config.update(overrides)
    return config


def make_micro_checkpoint(path, seed: int = 0, **config_overrides) -> Path:
    """Write the micro UniPixel (seeded random weights, HF layout, trained tokenizer) to ``path``."""
    from unipixel_plugin.toy.checkpoint import make_tiny_checkpoint
    config = micro_config(**config_overrides)
    overrides = {k: v for k, v in config.items()}
    return make_tiny_checkpoint(path, seed=seed, config_overrides=overrides, corpus=toy_corpus())


__all__ = ['micro_sam2_overrides', 'micro_config', 'make_micro_checkpoint', 'toy_corpus', 'LLM_PIXELS',
           'SAM2_IMAGE_SIZE']
