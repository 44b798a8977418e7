# UniPixel-7B stage 3: the 3B recipe on Qwen2.5-VL-7B-Instruct with ZeRO-2 CPU offload (upstream zero2_offload.json).
_base_ = ['./unipixel_3b_stage3_sft.py']
model = dict(base_model=dict(path='{{$UNIPIXEL_QWEN_7B:unset-UNIPIXEL_QWEN_7B}}'))
strategy = dict(zero_optimization=dict(offload_optimizer=dict(device='cpu', pin_memory=True),
                                       offload_param=dict(device='cpu', pin_memory=True)))
# The optimizer stays torch AdamW (the recipe's); DeepSpeed refuses a client optimizer with ZeRO-Offload unless told
# to allow it (seen in `python -m unipixel_plugin.engine.strategy_check --dry-run`). For speed, switch to
# optim_wrapper.optimizer.type='DeepSpeedCPUAdam' (builds DeepSpeed's cpu_adam op on first use).
strategy.update(config=dict(zero_force_ds_cpu_optimizer=False))
