# Runtime shared by every UniPixel config: scope, hooks, logging, checkpoints, HF export at the end.
default_scope = 'unipixel_plugin'
# registers UniPixelModel, its data preprocessor, hooks and the toy dataset before anything is built
custom_imports = dict(imports=['unipixel_plugin.engine', 'unipixel_plugin.engine.registration',
                               'unipixel_plugin.data', 'unipixel_plugin.toy.refvos'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # upstream saves every 500 (stages 1-2) / 1000 (stage 3) optimizer steps; checkpoints hold trainable weights only
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
# RandomStateHook: checkpoints carry every rank's random generators, so --resume continues exactly;
# HFExportHook writes <work_dir>/hf_model (from_pretrained-able, LoRA merged) when training ends
# ThroughputHook logs samples/s and tokens/s; SegmentationSampleHook adds an overlay of a validation sample to the
# visualizer every 500 iterations and at the end (configs without a val_dataloader skip it)
custom_hooks = [dict(type='RandomStateHook'), dict(type='ThroughputHook'),
                dict(type='SegmentationSampleHook', interval=500), dict(type='HFExportHook', out_dir='hf_model')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
log_processor = dict(by_epoch=False, window_size=10)
log_level = 'INFO'
# local files (scalars.json, vis_image/*.png) and TensorBoard event files; add dict(type='WandbVisBackend') for W&B
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
randomness = dict(seed=42)
load_from = None
resume = False
