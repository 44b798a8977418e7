# The procedural referring-VOS fixture (unipixel_plugin.toy.refvos), through the real training mixture and sampler.
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DataTypeGroupedSampler', batch_size=2),
    collate_fn=dict(type='unipixel_plugin.unipixel_collate'),
    dataset=dict(type='HybridDataset', datasets=[dict(type='ToyRefVOSDataset', split='train')], num_frames=2,
                 sample_type='random', max_objects=5, seed=0),
)
# Predictions on a few validation expressions (all frames, uniform) for tools/test.py; no metric is configured here:
# add one, or pass --out predictions.pkl to dump them.
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='unipixel_plugin.unipixel_collate'),
    dataset=dict(type='ToyRefVOSDataset', split='valid', indices=4,
                 pipeline=[dict(type='LoadSample', num_frames=4, sample_type='uniform', max_objects=0)]),
)
test_cfg = dict(type='TestLoop')
test_evaluator = []
