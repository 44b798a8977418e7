# The tiny stage-2-style run through FlexibleRunner + FSDP (bf16 autocast, gradient checkpointing): the strategy of
# unipixel/unipixel_3b_stage2_seg_fsdp.py at a size one GPU runs in seconds. GPU only: MMEngine's FSDPStrategy moves
# the model's states to CUDA when it prepares it ("Found no NVIDIA driver" on a CPU machine).
#   torchrun --nproc_per_node 1 -m unipixel_plugin.engine.train unipixel_tiny_fsdp.py --launcher pytorch
_base_ = ['./unipixel_tiny_cpu_seg.py']
runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(
        auto_wrap_policy=dict(type='torch.distributed.fsdp.wrap.size_based_auto_wrap_policy', min_num_params=int(1e6)),
        use_orig_params=True,
    ),
)
optim_wrapper = dict(_delete_=True, type='AmpOptimWrapper', dtype='bfloat16',
                     constructor='UniPixelOptimWrapperConstructor',
                     optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.0), clip_grad=dict(max_norm=1.0))
model = dict(gradient_checkpointing=True)
train_dataloader = dict(batch_size=1, sampler=dict(batch_size=1))
env_cfg = dict(dist_cfg=dict(backend='nccl'))
