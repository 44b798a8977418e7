"""A new UniPixel from a (tiny) Qwen2.5-VL checkpoint, as upstream starts its training stages."""
import json

import pytest
import torch


@pytest.fixture(scope='module')
def tiny_qwen(tmp_path_factory):
    """A tiny plain Qwen2.5-VL checkpoint (no UniPixel modules) with the test tokenizer and processor."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    from unipixel_plugin.toy.checkpoint import tiny_config, write_tokenizer_and_processor
    path = tmp_path_factory.mktemp('tiny_qwen')
    unipixel_keys = {'ref_token_id', 'seg_token_id', 'mem_token_id', 'base_model', 'base_model_path',
                     'partial_checkpoint', 'conv_type', 'sample_objects'}
    config = {k: v for k, v in tiny_config().items() if k not in unipixel_keys and not k.startswith('sam2_')}
    config.update(model_type='qwen2_5_vl', architectures=['Qwen2_5_VLForConditionalGeneration'])
    (path / 'config.json').write_text(json.dumps(config))
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig.from_pretrained(str(path)))
    model.save_pretrained(str(path))
    write_tokenizer_and_processor(path, base_vocab=config['bos_token_id'])
    return path


def test_unipixel_from_base(tiny_qwen):
    from unipixel_plugin.engine.initialisation import unipixel_from_base
    model, processor = unipixel_from_base(str(tiny_qwen), sam2_config='configs/sam2.1_hiera_t', sam2_image_size=128)
    tokenizer = processor.tokenizer
    assert model.config.seg_token_id == tokenizer.convert_tokens_to_ids('<|seg|>') < model.config.text_config.vocab_size
    assert model.config.sam2_inference_mode is False and model.config.base_model_path == str(tiny_qwen)
    for name, param in model.ref_encoder.named_parameters():  # the visual-prompt encoder starts as SAM 2's
        assert torch.equal(param, dict(model.sam2.sam_prompt_encoder.named_parameters())[name])
    assert torch.equal(model.msk_proj[0].weight, model.model.visual.merger.mlp[0].weight)
    assert torch.equal(model.msk_proj[2].bias, model.model.visual.merger.mlp[2].bias)
    for matrix in (model.ref_encoder.pe_layer.positional_encoding_gaussian_matrix,
                   model.tem_pe.positional_encoding_gaussian_matrix):
        assert torch.isfinite(matrix).all() and 0.5 < float(matrix.std()) < 1.5  # drawn N(0, 1), not left empty
    # Qwen weights are the base checkpoint's
    from transformers import Qwen2_5_VLForConditionalGeneration
    base = Qwen2_5_VLForConditionalGeneration.from_pretrained(str(tiny_qwen))
    assert torch.equal(model.model.language_model.layers[0].mlp.up_proj.weight,
                       base.model.language_model.layers[0].mlp.up_proj.weight)


def test_unipixel_model_from_base_config(tiny_qwen):
    from unipixel_plugin.registry import MODELS
    model = MODELS.build(dict(type='UniPixelModel', trainable=['ref_proj', 'tem_emb', 'tem_proj'], mask_loss=None,
                              base_model=dict(path=str(tiny_qwen), sam2_config='configs/sam2.1_hiera_t',
                                              sam2_image_size=128, sam2_checkpoint=None)))
    names = model.trainable_parameter_names()
    assert names and all(n.split('.')[1].startswith(('ref_proj', 'tem_emb', 'tem_proj')) for n in names)
    assert model.data_preprocessor.sam2_image_size == 128
