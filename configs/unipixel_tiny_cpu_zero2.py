# The tiny stage-2-style run through FlexibleRunner + DeepSpeed ZeRO-2 (bf16, gradient checkpointing): the strategy of
# the stage configs at a size a CPU runs. Needs the deepspeed extra (pip install '.[deepspeed]') and a launcher:
#   torchrun --nproc_per_node 1 -m unipixel_plugin.engine.train unipixel_tiny_cpu_zero2.py --launcher pytorch
# (on a CPU machine the train tool starts the gloo process group; DeepSpeed then uses its CPU accelerator).
_base_ = ['./unipixel_tiny_cpu_seg.py']
runner_type = 'FlexibleRunner'
strategy = dict(
    type='DeepSpeedStrategy',
    bf16=dict(enabled=True),
    zero_optimization=dict(stage=2, overlap_comm=False, contiguous_gradients=True, reduce_bucket_size=5e8),
    gradient_clipping=1.0,
    train_micro_batch_size_per_gpu=1,
    gradient_accumulation_steps=1,
)
optim_wrapper = dict(_delete_=True, type='DeepSpeedOptimWrapper', constructor='UniPixelOptimWrapperConstructor',
                     optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.0))
model = dict(gradient_checkpointing=True)
train_dataloader = dict(batch_size=1, sampler=dict(batch_size=1))
