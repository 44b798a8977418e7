# Upstream's schedule: 1 epoch, AdamW (no weight decay), cosine decay after a 3% linear warm-up, per-device batch 1.
# A leaf config sets lr and the gradient accumulation that gives upstream's global batch (256 / 256 / 32).
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='UniPixelOptimWrapperConstructor',  # tied embeddings (3B) in one parameter group
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0),
    clip_grad=dict(max_norm=1.0),
    accumulative_counts=1,
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=0.03, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=0.03, end=1, convert_to_iter_based=True),
]
