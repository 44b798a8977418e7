# Stage 2 with PyTorch FSDP instead of DeepSpeed (bf16 autocast; MMEngine FSDPStrategy).
_base_ = ['./unipixel_3b_stage2_seg.py']
strategy = dict(
    _delete_=True,
    type='FSDPStrategy',
    model_wrapper=dict(
        auto_wrap_policy=dict(type='torch.distributed.fsdp.wrap.size_based_auto_wrap_policy', min_num_params=int(1e7)),
        use_orig_params=True,  # frozen and trainable parameters share FSDP units
    ),
)
optim_wrapper = dict(_delete_=True, type='AmpOptimWrapper', dtype='bfloat16',
                     constructor='UniPixelOptimWrapperConstructor',
                     optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0),
                     clip_grad=dict(max_norm=1.0), accumulative_counts=32)
