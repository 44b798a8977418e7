"""Loading official-layout UniPixel checkpoints: key layouts, tied/untied embeddings, buffers, bad checkpoints."""
import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from unipixel_plugin.models import CheckpointMismatchError, PixelQwen2_5_VLForConditionalGeneration
from unipixel_plugin.toy.checkpoint import legacy_key, make_tiny_checkpoint

M = PixelQwen2_5_VLForConditionalGeneration


def _assert_equals_file(model, ckpt):
    stored = load_file(str(ckpt / 'model.safetensors'))
    state = model.state_dict()
    for key, value in state.items():
        name = legacy_key(key)
        if name not in stored:
            name = key
        if name == 'lm_head.weight' and name not in stored:
            name = 'model.embed_tokens.weight'  # tied
        assert torch.equal(stored[name].to(value.dtype), value), key


def test_legacy_layout_loads_every_tensor(tiny_ckpt):
    model, info = M.from_pretrained(str(tiny_ckpt), output_loading_info=True)
    assert not info['missing_keys'] and not info['unexpected_keys'] and not info['mismatched_keys']
    _assert_equals_file(model, tiny_ckpt)
    # the persistent random buffers are loaded, never re-drawn
    stored = load_file(str(tiny_ckpt / 'model.safetensors'))
    for key in ('tem_pe.positional_encoding_gaussian_matrix', 'ref_encoder.pe_layer.positional_encoding_gaussian_matrix',
                'sam2.sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix'):
        assert torch.equal(model.state_dict()[key], stored[key]), key
    # SAM 2's fuser layer scale is called `weight` in checkpoints and `gamma` in the sam2 package
    assert torch.equal(model.sam2.memory_encoder.fuser.layers[1].gamma, stored['sam2.memory_encoder.fuser.layers.1.weight'])
    # 3B-style tied embeddings
    assert model.lm_head.weight.data_ptr() == model.model.language_model.embed_tokens.weight.data_ptr()


def test_new_layout_and_untied_embeddings(tmp_path):
    ckpt = make_tiny_checkpoint(tmp_path / 'new', layout='new', with_tokenizer=False,
                                config_overrides={'tie_word_embeddings': False})
    with safe_open(str(ckpt / 'model.safetensors'), 'pt') as f:
        keys = set(f.keys())
    assert 'model.language_model.layers.0.self_attn.q_proj.weight' in keys and 'lm_head.weight' in keys
    model = M.from_pretrained(str(ckpt))
    _assert_equals_file(model, ckpt)
    assert model.lm_head.weight.data_ptr() != model.model.language_model.embed_tokens.weight.data_ptr()
    assert not torch.equal(model.lm_head.weight, model.model.language_model.embed_tokens.weight)


def test_save_pretrained_round_trip_writes_official_layout(tiny_model, tmp_path):
    tiny_model.save_pretrained(str(tmp_path))
    with safe_open(str(tmp_path / 'model.safetensors'), 'pt') as f:
        keys = set(f.keys())
    assert 'visual.patch_embed.proj.weight' in keys and 'model.layers.0.mlp.up_proj.weight' in keys
    assert 'sam2.memory_encoder.fuser.layers.0.weight' in keys
    assert not any(k.endswith('$') or 'gamma' in k for k in keys)
    again = M.from_pretrained(str(tmp_path))
    a, b = tiny_model.state_dict(), again.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_token_ids_and_sam2_variant_come_from_the_config(tiny_model):
    cfg = tiny_model.config
    assert (cfg.ref_token_id, cfg.seg_token_id, cfg.mem_token_id) == (282, 283, 284)
    assert cfg.sam2_image_size == 256 and tiny_model.sam2.image_size == 256
    assert tiny_model.sam2.sam_image_embedding_size == 16
    assert tiny_model.ref_encoder.input_image_size == (256, 256)


def test_missing_tensor_fails_naming_it(tmp_path):
    ckpt = make_tiny_checkpoint(tmp_path / 'missing', with_tokenizer=False, drop_keys=['seg_head.1.weight'])
    with pytest.raises(CheckpointMismatchError, match=r'missing keys \(1\): seg_head\.1\.weight'):
        M.from_pretrained(str(ckpt))


def test_wrong_shape_fails_naming_it(tmp_path):
    ckpt = make_tiny_checkpoint(tmp_path / 'shape', with_tokenizer=False, corrupt_shapes={'msk_proj.2.weight': (3, 3)})
    with pytest.raises(CheckpointMismatchError, match='msk_proj.2.weight'):
        M.from_pretrained(str(ckpt))


def test_unexpected_tensor_fails_naming_it(tmp_path):
    ckpt = make_tiny_checkpoint(tmp_path / 'extra', with_tokenizer=False, corrupt_shapes={'not_a_module.weight': (2, )})
    with pytest.raises(CheckpointMismatchError, match='not_a_module.weight'):
        M.from_pretrained(str(ckpt))
    model = M.from_pretrained(str(ckpt), strict=False)  # the library's lenient behaviour stays available
    assert model.config.model_type == 'pixel_qwen2_5_vl'


def test_unknown_model_type_is_a_clear_error(tmp_path):
    ckpt = make_tiny_checkpoint(tmp_path / 'type', with_tokenizer=False)
    config = json.loads((ckpt / 'config.json').read_text())
    config['model_type'] = 'pixel_qwen9'
    (ckpt / 'config.json').write_text(json.dumps(config))
    from transformers import AutoConfig
    with pytest.raises(ValueError, match='pixel_qwen9'):
        AutoConfig.from_pretrained(str(ckpt))


def test_auto_classes_resolve(tiny_ckpt):
    from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText
    import unipixel_plugin.models  # noqa: F401  (registers the Auto* classes)
    config = AutoConfig.from_pretrained(str(tiny_ckpt))
    assert type(config).__name__ == 'PixelQwen2_5_VLConfig'
    assert AutoModel._model_mapping[type(config)] is M
    assert AutoModelForImageTextToText._model_mapping[type(config)] is M


def test_bf16_llm_keeps_sam2_in_float32(tiny_ckpt):
    model = M.from_pretrained(str(tiny_ckpt), dtype=torch.bfloat16)
    assert model.model.language_model.layers[0].mlp.up_proj.weight.dtype == torch.bfloat16
    assert model.sam2.dtype == torch.float32
    assert model.ref_encoder.pe_layer.positional_encoding_gaussian_matrix.dtype == torch.float32
    assert model.tem_pe.positional_encoding_gaussian_matrix.dtype == torch.float32
    assert not any(t.is_meta for m in model.sam2.modules() for t in [getattr(m, 'freqs_cis', None)]
                   if torch.is_tensor(t))


def test_config_json_is_the_flat_official_layout(tiny_ckpt):
    config = json.loads((tiny_ckpt / 'config.json').read_text())
    assert config['model_type'] == 'pixel_qwen2_5_vl' and 'text_config' not in config
    assert config['rope_scaling']['type'] == 'mrope' and config['sam2_config'] == 'configs/sam2.1_hiera_t'
