# UniPixel-3B stage 3: the 27-source mixture. Starts from Qwen2.5-VL + SAM 2 plus the trainable weights of stages 1
# and 2 (their MMEngine checkpoints, e.g. work_dirs/stage1/iter_xxx.pth, from the environment). LoRA r128/a256/0.1 on
# the LLM q/k/v/o and ViT attn.qkv/proj; fully trained: embeddings/lm_head, ref*, ref_encoder, msk_proj, seg_head
# and SAM 2 (lr 5e-6 = 0.25 x 2e-5). Global batch 32 (8 GPUs x 1 x 4).
_base_ = [
    '../_base_/default_runtime.py', '../_base_/models/unipixel_from_qwen2_5_vl.py',
    '../_base_/datasets/upstream_stage3.py', '../_base_/strategies/deepspeed_zero2_bf16.py'
]
model = dict(
    partial_checkpoints=[
        '{{$UNIPIXEL_STAGE1_CHECKPOINT:unset-UNIPIXEL_STAGE1_CHECKPOINT}}',
        '{{$UNIPIXEL_STAGE2_CHECKPOINT:unset-UNIPIXEL_STAGE2_CHECKPOINT}}',
    ],
    trainable=[r'(model\.language_model\.embed_tokens|lm_head)', 'ref_proj', 'tem_emb', 'tem_proj', 'ref_encoder',
               'msk_proj', 'seg_head', 'sam2'],
    lora=dict(r=128, lora_alpha=256, lora_dropout=0.1),
)
optim_wrapper = dict(optimizer=dict(lr=2e-5), paramwise_cfg=dict(custom_keys={'hf_model.sam2': dict(lr_mult=0.25)}))
strategy = dict(gradient_accumulation_steps=4)
default_hooks = dict(checkpoint=dict(interval=1000))
