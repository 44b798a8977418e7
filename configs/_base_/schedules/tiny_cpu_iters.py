# A few optimizer steps on CPU: enough to see the losses move and to exercise checkpoints, resume and export.
# UniPixelIterBasedTrainLoop: MMEngine's loop without its 2 s pause at every pass over the (tiny) dataset
train_cfg = dict(type='UniPixelIterBasedTrainLoop', max_iters=6, val_interval=1000)
optim_wrapper = dict(type='OptimWrapper', constructor='UniPixelOptimWrapperConstructor',
                     optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.0),
                     clip_grad=dict(max_norm=1.0))
# Iteration schedules follow the run's length: a float begin / end is a fraction of train_cfg.max_iters, resolved by
# the runner after --cfg-options (unipixel_plugin.engine.runner.resolve_iteration_schedule); integers are iterations.
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=1 / 3),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False, begin=1 / 3, end=1.0),
]
