# UniPixel-3B stage 1 (upstream scripts/launch_3b.sh): <|ref|> point/box prompts -> region captions.
# Trains ref_proj*, tem_emb, tem_proj; the SAM 2 decoder is off (no mask loss). lr 1e-3, global batch 256
# (8 GPUs x 1 sample x 32 accumulation steps; change gradient_accumulation_steps with the GPU count).
_base_ = [
    '../_base_/default_runtime.py', '../_base_/models/unipixel_from_qwen2_5_vl.py',
    '../_base_/datasets/upstream_stage1.py', '../_base_/strategies/deepspeed_zero2_bf16.py'
]
model = dict(trainable=['ref_proj', 'tem_emb', 'tem_proj'], mask_loss=None)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
strategy = dict(gradient_accumulation_steps=32)
