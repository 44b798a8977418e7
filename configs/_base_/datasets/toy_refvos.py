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
# Validation / test: a few validation expressions (all frames, uniform), generated as in inference and scored with
# the evaluation package's registered metric (J, F, J&F per expression, then averaged: the Ref-VOS protocol).
# Training validates at the last iteration (IterBasedTrainLoop) and every val_interval; `mim test` prints the same.
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='unipixel_plugin.unipixel_collate'),
    dataset=dict(type='ToyRefVOSDataset', split='valid', indices=4,
                 pipeline=[dict(type='LoadSample', num_frames=4, sample_type='uniform', max_objects=0)]),
)
test_cfg = dict(type='TestLoop')
test_evaluator = [dict(type='RefVOSMetric')]
val_dataloader = dict(test_dataloader, dataset=dict(test_dataloader['dataset'], indices=2))
val_cfg = dict(type='ValLoop')
val_evaluator = [dict(type='RefVOSMetric')]
