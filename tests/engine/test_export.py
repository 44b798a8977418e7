"""HF export: LoRA merged into plain weights, reloadable with from_pretrained, same outputs."""
import torch


def test_lora_training_and_merged_hf_export(build_model, seg_batch, tmp_path):
    from mmengine.optim import OptimWrapper

    from unipixel_plugin.models import PixelQwen2_5_VLForConditionalGeneration
    model = build_model(trainable=['seg_head'], lora=dict(r=4, lora_alpha=8, lora_dropout=0.0))
    names = model.trainable_parameter_names()
    assert any('lora_A' in n for n in names) and any('.visual.blocks.' in n and 'lora_' in n for n in names)
    assert not any('sam2' in n and 'lora' in n for n in names)  # SAM 2's attn.qkv / q_proj are not LoRA targets
    assert not any('base_layer' in n for n in names)
    model.train()
    optim = OptimWrapper(torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2))
    for _ in range(2):
        model.train_step(seg_batch, optim)
    lora_b = [p for n, p in model.named_parameters() if 'lora_B' in n]
    assert any(p.abs().sum() > 0 for p in lora_b)  # LoRA moved away from its zero init

    model.eval()
    data = model.data_preprocessor(seg_batch, training=False)
    expected = model(**data, mode='tensor')
    model.export_hf(str(tmp_path / 'hf'))
    reloaded = PixelQwen2_5_VLForConditionalGeneration.from_pretrained(str(tmp_path / 'hf')).eval()  # strict
    inputs = {k: v for k, v in data['data'].items() if k not in ('label_mask', 'frames', 'frame_size')}
    with torch.no_grad():
        got = reloaded(**inputs, use_cache=False).logits
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert (tmp_path / 'hf' / 'tokenizer.json').is_file() and (tmp_path / 'hf' / 'chat_template.jinja').is_file()
