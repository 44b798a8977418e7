# Tiny stage-2-style run on CPU: the procedural toy checkpoint and data (made on first use, see
# unipixel_plugin/toy/), only seg_head trains, LM + SAM 2 mask losses, 6 iterations, HF export at the end.
#   mim train unipixel_plugin unipixel_tiny_cpu_seg.py --work-dir work_dirs/tiny
_base_ = [
    '_base_/default_runtime.py', '_base_/schedules/tiny_cpu_iters.py', '_base_/models/unipixel_tiny.py',
    '_base_/datasets/toy_refvos.py'
]
model = dict(trainable=['seg_head'])
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=3))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
