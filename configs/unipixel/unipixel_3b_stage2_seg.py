# UniPixel-3B stage 2: referring segmentation; trains seg_head with the LM + SAM 2 mask losses (decoder on).
# lr 1e-3, global batch 256 (8 GPUs x 1 x 32).
_base_ = [
    '../_base_/default_runtime.py', '../_base_/models/unipixel_from_qwen2_5_vl.py',
    '../_base_/datasets/upstream_stage2.py', '../_base_/strategies/deepspeed_zero2_bf16.py'
]
model = dict(trainable=['seg_head'])
optim_wrapper = dict(optimizer=dict(lr=1e-3))
strategy = dict(gradient_accumulation_steps=32)
