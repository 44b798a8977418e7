"""Research loop for the toy recipe (ToyUniPixelModel: prompt teacher, then hand-over to the LLM's prompts).

PYTHONPATH=. python scripts/toy/recipe_loop.py --data DATA_ROOT --ckpt MICRO_CKPT --out OUT --iters 600
Logs, every 10 iterations, the hard cIoU of the masks SAM 2 made in the last 10 (``ciou10``) and the teacher share.
"""
import argparse
import json
import os
import time

import torch

p = argparse.ArgumentParser()
p.add_argument('--data', default='/tmp/toy/d1'); p.add_argument('--ckpt', default='/tmp/toy/ckpt0')
p.add_argument('--out', default='/tmp/toy/run0'); p.add_argument('--iters', type=int, default=600)
p.add_argument('--lr', type=float, default=1e-3); p.add_argument('--bs', type=int, default=4)
p.add_argument('--warmup', type=int, default=50); p.add_argument('--focal', type=float, default=20)
p.add_argument('--teacher', type=int, default=200); p.add_argument('--handover', type=int, default=200)
p.add_argument('--distill', type=float, default=1.0); p.add_argument('--threads', type=int, default=1)
p.add_argument('--sets', default='refcoco'); p.add_argument('--seed', type=int, default=0)
p.add_argument('--frames', type=int, default=4); p.add_argument('--turns', type=int, default=3); p.add_argument('--minutes', type=float, default=100)
a = p.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(a.seed)
from torch.utils.data import DataLoader
from unipixel_plugin.engine.toy_recipe import ToyUniPixelModel
from unipixel_plugin.data import HybridDataset, DataTypeGroupedSampler
from unipixel_plugin.data.collate import unipixel_collate
from unipixel_plugin.toy.model import LLM_PIXELS
from unipixel_plugin.toy.scenes import COLOURS, SHAPES, DIRECTIONS
WORDS = tuple(COLOURS) + tuple(SHAPES) + ('biggest', 'smallest', 'moving') + tuple(DIRECTIONS)
model = ToyUniPixelModel(pretrained=a.ckpt, trainable='all', words=WORDS, teacher_iters=a.teacher,
                         handover_iters=a.handover, distill_weight=a.distill,
                         mask_loss=dict(type='SAM2MaskLoss', focal_weight=a.focal),
                         data_preprocessor=dict(type='UniPixelDataPreprocessor', min_pixels=LLM_PIXELS,
                                                max_pixels=LLM_PIXELS))
_iou = [0, 0]
_orig = type(model.mask_loss).forward
def _with_iou(self, outputs, targets):
    with torch.no_grad():
        pred = outputs[0].multimasks[:, 0] > 0
        gt = targets[0].to(pred.device)
        _iou[0] += (pred & gt).sum().item(); _iou[1] += (pred | gt).sum().item()
    return _orig(self, outputs, targets)
type(model.mask_loss).forward = _with_iou
model.train()
SETS = dict(refcoco=dict(type='RefCOCODataset', data_root=a.data, split='train'),
            mevis=dict(type='MeViSDataset', data_root=a.data, split='train'))
ds = HybridDataset(datasets=[SETS[k] for k in a.sets.split(',')], num_frames=a.frames, sample_type='random',
                   max_objects=8, max_turns=a.turns, seed=a.seed)
loader = DataLoader(ds, batch_size=a.bs, sampler=DataTypeGroupedSampler(ds, batch_size=a.bs, seed=a.seed),
                    collate_fn=unipixel_collate, num_workers=0)
opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=a.lr, weight_decay=0.0)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1.0, (i + 1) / a.warmup) * max(0.05, 1 - i / a.iters))
t0 = time.time(); it = 0; hist = []
while it < a.iters and time.time() - t0 < a.minutes * 60:
    for batch in loader:
        t1 = time.time()
        data = model.data_preprocessor(batch, training=True)
        losses = model(**data, mode='loss')
        share = float(losses.pop('teacher_share'))
        loss = sum(v for k, v in losses.items() if k.startswith('loss'))
        opt.zero_grad(); loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); sched.step()
        rec = {k: round(float(v), 4) for k, v in losses.items()}
        if it % 10 == 0:
            rec['ciou10'] = round(_iou[0] / max(_iou[1], 1), 3); _iou[:] = [0, 0]
        rec.update(it=it, share=round(share, 2), type=batch['data_types'][0], dt=round(time.time() - t1, 3),
                   t=round(time.time() - t0, 1))
        hist.append(rec)
        if it % 10 == 0:
            print(json.dumps(rec), flush=True)
        it += 1
        if it >= a.iters or time.time() - t0 > a.minutes * 60:
            break
print('train wall', round(time.time() - t0, 1), 'iters', it)
os.makedirs(a.out, exist_ok=True)
model.export_hf(a.out + '/hf')
json.dump(hist, open(a.out + '/hist.json', 'w'))
