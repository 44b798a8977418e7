"""Research loop: the micro UniPixel trained by UniPixelModel (loss mode) on HybridDataset batches of the toy scenes.

PYTHONPATH=. python scripts/toy/train_loop.py --data DATA_ROOT --ckpt MICRO_CKPT --out OUT --iters 1200 --minutes 10
"""
import time, json, argparse, os
import torch
p = argparse.ArgumentParser()
p.add_argument('--data', default='/tmp/toy/d1'); p.add_argument('--ckpt', default='/tmp/toy/ckpt0')
p.add_argument('--out', default='/tmp/toy/run0'); p.add_argument('--iters', type=int, default=20)
p.add_argument('--lr', type=float, default=2e-3); p.add_argument('--bs', type=int, default=4)
p.add_argument('--frames', type=int, default=4); p.add_argument('--minutes', type=float, default=100)
p.add_argument('--batch_mode', type=int, default=0); p.add_argument('--seed', type=int, default=0)
p.add_argument('--warmup', type=int, default=50); p.add_argument('--sets', default='refcoco'); p.add_argument('--focal', type=float, default=20); p.add_argument('--threads', type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(a.seed)
from torch.utils.data import DataLoader
from unipixel_plugin.engine.model import UniPixelModel
from unipixel_plugin.data import HybridDataset, DataTypeGroupedSampler
from unipixel_plugin.data.collate import unipixel_collate
from unipixel_plugin.toy.model import LLM_PIXELS
TR = os.environ.get('TRAINABLE'); model = UniPixelModel(pretrained=a.ckpt, trainable=TR.split(',') if TR else 'all', mask_loss=dict(type='SAM2MaskLoss', focal_weight=a.focal),
                      data_preprocessor=dict(type='UniPixelDataPreprocessor', min_pixels=int(os.environ.get('PIX', LLM_PIXELS)), max_pixels=int(os.environ.get('PIX', LLM_PIXELS))))
model.hf_model.config.sam2_batch_mode = bool(a.batch_mode)
_iou = [0, 0]
_orig_loss = type(model.mask_loss).forward
def _loss_with_iou(self, outputs, targets):
    with torch.no_grad():
        pred = outputs[0].multimasks[:, 0] > 0
        gt = targets[0].to(pred.device)
        _iou[0] += (pred & gt).sum().item(); _iou[1] += (pred | gt).sum().item()
    return _orig_loss(self, outputs, targets)
type(model.mask_loss).forward = _loss_with_iou
model.train()
SETS = dict(refcoco=dict(type='RefCOCODataset', data_root=a.data, split='train'),
            mevis=dict(type='MeViSDataset', data_root=a.data, split='train'),
            ref=dict(type='VideoReferShortCaptionRefDataset', data_root=a.data),
            qa=dict(type='VideoReferQADataset', data_root=a.data))
ds = HybridDataset(datasets=[SETS[k] for k in a.sets.split(',')],
                   num_frames=a.frames, sample_type='random', max_objects=5, seed=a.seed)
print(ds)
QFORM = float(os.environ.get('QFORM', 0))
import random as _random
from unipixel_plugin.prompts import seg_request, seg_answer
_r = _random.Random(0)
def qform(sample):
    conv = sample.conversation
    if QFORM <= 0 or _r.random() >= QFORM:
        return sample
    out = []
    for turn in conv:
        c = turn['content']
        if turn['role'] == 'user' and c.startswith('Please segment the '):
            q = c[len('Please segment the '):].rsplit(' in this ', 1)[0]
            media = c.rsplit(' in this ', 1)[1].rstrip('.')
            out.append(dict(turn, content=seg_request(f'Where is the {q}?', 'question', media)))
        elif turn['role'] == 'assistant' and '<|seg|>' in c:
            out.append(dict(turn, content=seg_answer('question', f'The {q}')))
        else:
            out.append(turn)
    return sample.replace(conversation=out)
sampler = DataTypeGroupedSampler(ds, batch_size=a.bs, seed=a.seed)
ORACLE = int(os.environ.get('ORACLE', 0))
_queue = []
if ORACLE:  # diagnostic: seg_head replaced by a learnt embedding per query text (the LLM bypassed)
    class Oracle(torch.nn.Module):
        def __init__(self, k, d):
            super().__init__(); self.table = torch.nn.Embedding(512, k * d); self.k = k
        def forward(self, states):
            idx = torch.tensor([_queue.pop(0) for _ in range(states.size(0))])
            return self.table(idx).reshape(len(idx), self.k, -1)
    real_head = head = model.hf_model.seg_head
    model.hf_model.seg_head = Oracle(head.hidden_tokens, head[-1].out_features // head.hidden_tokens)
STAGE_A = int(os.environ.get('STAGE_A', 0))  # with ORACLE: oracle prompts (SAM 2 pretraining) for this many steps
import zlib
def collate(b):
    _queue.clear()
    b = [qform(x) for x in b]
    for x in b:
        for t in x.conversation:
            if t['role'] == 'user':
                _queue.append(zlib.crc32(t['content'].encode()) % 512)
    return unipixel_collate(b)
loader = DataLoader(ds, batch_size=a.bs, sampler=sampler, collate_fn=collate, num_workers=0)
LLM_MULT = float(os.environ.get('LLM_MULT', 1))
llm = [p for n, p in model.named_parameters() if p.requires_grad and ('language_model' in n or 'seg_head' in n)]
rest = [p for n, p in model.named_parameters() if p.requires_grad and not ('language_model' in n or 'seg_head' in n)]
opt = torch.optim.AdamW([dict(params=llm, lr=a.lr * LLM_MULT), dict(params=rest, lr=a.lr)], lr=a.lr, weight_decay=0.0)

sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1.0, (i + 1) / a.warmup) * max(0.05, 1 - i / a.iters))
t0 = time.time(); it = 0; hist = []
while it < a.iters:
    for batch in loader:
        t1 = time.time()
        if ORACLE and STAGE_A and it == STAGE_A:  # stage B: the real seg_head, everything trains, SAM 2 slower
            model.hf_model.seg_head = real_head
            for p_ in model.parameters(): p_.requires_grad_(True)
            sam = [p_ for n, p_ in model.named_parameters() if '.sam2.' in n or n.startswith('hf_model.sam2')]
            ids = {id(p_) for p_ in sam}
            other = [p_ for p_ in model.parameters() if id(p_) not in ids]
            opt = torch.optim.AdamW([dict(params=other, lr=a.lr), dict(params=sam, lr=a.lr * float(os.environ.get('SAM_MULT', 0.25)))], lr=a.lr, weight_decay=0.0)
            B0 = it
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1.0, (i + 1) / a.warmup) * max(0.05, 1 - i / max(a.iters - B0, 1)))
            os.environ['LM_W'] = '1'
            print('STAGE B', len(sam), len(other), flush=True)
        data = model.data_preprocessor(batch, training=True)
        losses = model(**data, mode='loss')
        loss = float(os.environ.get('LM_W', 1)) * losses['loss_lm'] + losses.get('loss_seg', 0)
        opt.zero_grad(); loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); sched.step()
        dt = time.time() - t1
        rec = {k: round(float(v), 4) for k, v in losses.items()}
        rec['ciou10'] = round(_iou[0] / max(_iou[1], 1), 3) if it % 10 == 0 else None
        if it % 10 == 0: _iou[:] = [0, 0]
        rec.update(it=it, type=batch['data_types'][0], dt=round(dt, 3), t=round(time.time() - t0, 1))
        hist.append(rec)
        if it % 10 == 0 or it < 5: print(json.dumps(rec), flush=True)
        it += 1
        if it >= a.iters or time.time() - t0 > a.minutes * 60: break
    if time.time() - t0 > a.minutes * 60: break
print('train wall', time.time() - t0, 'iters', it)
os.makedirs(a.out, exist_ok=True)
model.export_hf(a.out + '/hf')
json.dump(hist, open(a.out + '/hist.json', 'w'))
