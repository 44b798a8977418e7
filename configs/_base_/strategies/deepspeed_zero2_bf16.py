_base_ = ['../schedules/upstream_1epoch.py']

# Upstream's multi-GPU setup: DeepSpeed ZeRO-2, bf16, per-GPU batch 1, gradient clipping 1.0 (HF Trainer's default).
# FlexibleRunner builds the model, optimizer and DeepSpeed engine through the strategy; launch with torchrun
# (--launcher pytorch) or slurm. gradient_accumulation_steps = global batch / number of GPUs: set it per stage.
runner_type = 'FlexibleRunner'
strategy = dict(
    type='DeepSpeedStrategy',
    bf16=dict(enabled=True),
    zero_optimization=dict(stage=2, overlap_comm=True, contiguous_gradients=True, sub_group_size=1e9,
                           reduce_bucket_size=5e8),
    gradient_clipping=1.0,
    train_micro_batch_size_per_gpu=1,
    gradient_accumulation_steps=32,
)
optim_wrapper = dict(_delete_=True, type='DeepSpeedOptimWrapper',
                     constructor='UniPixelOptimWrapperConstructor',  # tied embeddings (3B) in one parameter group
                     optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0))
