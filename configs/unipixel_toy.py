# The micro UniPixel that really segments (issue 8): the real classes at micro sizes (SAM 2.1 Hiera-T shrunk to
# d_model 64 at 256 px, a 4-layer 128-wide Qwen2.5-VL, a tokenizer trained on the toy's phrases), trained from its
# seeded random initialisation on procedural scenes (unipixel_plugin/toy/), with the toy recipe's prompt teacher
# (unipixel_plugin/engine/toy_recipe.py). Everything is made on first use under $UNIPIXEL_TOY_ROOT (or the cache).
#   mim train unipixel_plugin unipixel_toy.py --work-dir work_dirs/toy      # ~N min on 2 CPU cores
# The exported model (work_dirs/toy/hf_model) is what `unipixel_plugin.engine.toy_recipe.ensure_trained_toy()`
# serves to the CLI default, the tests, the benchmarks and the demo.
_base_ = ['_base_/default_runtime.py']

custom_imports = dict(imports=['unipixel_plugin.engine', 'unipixel_plugin.engine.registration',
                               'unipixel_plugin.data', 'unipixel_plugin.toy.datasets'], allow_failed_imports=False)

LLM_PIXELS = 112 * 112  # the scenes are 112 x 112: 4 x 4 merged patches per frame pair
max_iters = 2100
model = dict(
    type='ToyUniPixelModel',
    pretrained='micro',
    trainable='all',
    # the prompt teacher: SAM 2 learns from it alone first (600 iterations with no LLM forward, a stand-in for SAM 2's
    # own pretraining), then beside the LLM, whose <|seg|> prompts take over in the hand-over
    prompt_stage_iters=600,
    teacher_iters=600,
    handover_iters=400,
    distill_weight=1.0,
    # a lighter focal term than upstream's 100: from scratch, 100 settles the decoder on "all background"
    mask_loss=dict(type='SAM2MaskLoss', focal_weight=20.0),
    generation=dict(max_new_tokens=16),
    data_preprocessor=dict(type='UniPixelDataPreprocessor', min_pixels=LLM_PIXELS, max_pixels=LLM_PIXELS),
)
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DataTypeGroupedSampler', batch_size=4),
    collate_fn=dict(type='unipixel_plugin.unipixel_collate'),
    # up to 8 expressions of one image per sample: the same pixels must answer differently to different prompts
    dataset=dict(type='HybridDataset', datasets=[dict(type='ToyRefCOCODataset', split='train')], num_frames=4,
                 sample_type='random', max_objects=8, max_turns=8, seed=0),
)
# held-out scenes (other seeds), every expression generated as at inference and scored with cIoU / gIoU
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='unipixel_plugin.unipixel_collate'),
    dataset=dict(type='ToyRefCOCODataset', split='val', indices=60,
                 pipeline=[dict(type='LoadSample', num_frames=1, sample_type='uniform', max_objects=0)]),
)
val_cfg = dict(type='ValLoop')
val_evaluator = [dict(type='RefSegMetric')]
test_dataloader = dict(val_dataloader, dataset=dict(val_dataloader['dataset'], indices=None))
test_cfg = dict(type='TestLoop')
test_evaluator = [dict(type='RefSegMetric')]

train_cfg = dict(type='UniPixelIterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(type='OptimWrapper', constructor='UniPixelOptimWrapperConstructor',
                     optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.0), clip_grad=dict(max_norm=1.0))
# a 50-iteration warm-up, then a linear decay to 5% (floats are fractions of train_cfg.max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.02, by_epoch=False, begin=0, end=50),
    dict(type='LinearLR', start_factor=1.0, end_factor=0.05, by_epoch=False, begin=50, end=1.0),
]
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=500, max_keep_ckpts=1))
custom_hooks = [dict(type='RandomStateHook'), dict(type='ThroughputHook'),
                dict(type='SegmentationSampleHook', interval=500), dict(type='HFExportHook', out_dir='hf_model')]
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
