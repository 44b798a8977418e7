# Tiny stage-3-style run on CPU: LoRA on the LLM and ViT attention plus the UniPixel modules and SAM 2 (at a quarter of
# the learning rate, as upstream's 5e-6 vs 2e-5); the HF export merges the LoRA weights.
_base_ = ['./unipixel_tiny_cpu_seg.py']
model = dict(
    trainable=[r'(model\.language_model\.embed_tokens|lm_head)', 'ref_proj', 'tem_emb', 'tem_proj', 'ref_encoder',
               'msk_proj', 'seg_head', 'sam2'],
    lora=dict(r=8, lora_alpha=16, lora_dropout=0.1),
)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'hf_model.sam2': dict(lr_mult=0.25)}))
