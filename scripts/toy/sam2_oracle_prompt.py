"""Diagnostic: the micro SAM 2 alone, prompted by a learnt embedding per (colour, shape) instead of the LLM.

PYTHONPATH=. python scripts/toy/sam2_oracle_prompt.py THREADS LR STEPS D_MODEL EMBED_DIM  (NATIVE_INIT=1: SAM 2 init)
"""
import time, torch, numpy as np, sys
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
lr = float(sys.argv[2]) if len(sys.argv) > 2 else 2e-3
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 300
D = int(sys.argv[4]) if len(sys.argv) > 4 else 64; E = int(sys.argv[5]) if len(sys.argv) > 5 else 16
from unipixel_plugin.models.sam2_extension import build_sam2
from unipixel_plugin.engine.sam2_tracking import track_for_training
from unipixel_plugin.engine.mask_loss import SAM2MaskLoss
from unipixel_plugin.toy.model import micro_sam2_overrides
from unipixel_plugin.toy.scenes import sample_scene, render, COLOURS, SHAPES
from unipixel_plugin.models.processing_unipixel import sam2_frames
from unipixel_plugin.toy.checkpoint import seeded_tensor
torch.manual_seed(0)
m = build_sam2('configs/sam2.1_hiera_t', 128, overrides=micro_sam2_overrides(d_model=D, embed_dim=E)).train()
if not int(__import__('os').environ.get('NATIVE_INIT', '0')):
  with torch.no_grad():
    for n, p in m.named_parameters(): p.copy_(seeded_tensor('sam2.' + n, p.shape, 0))
emb = torch.nn.Embedding(len(COLOURS) * len(SHAPES), 2 * D)
opt = torch.optim.AdamW(list(m.parameters()) + list(emb.parameters()), lr=lr)
loss_fn = SAM2MaskLoss()
rng = np.random.default_rng(0)
cl, sh = list(COLOURS), list(SHAPES)
t0 = time.time(); ious = []
for step in range(steps):
    total = 0; inter = union = 0
    for b in range(8):
        sc = sample_scene(rng, 'x', 112, 1)
        frames, vis = render(sc)
        k = int(rng.integers(len(sc.objects)))
        o = sc.objects[k]
        idx = torch.tensor([cl.index(o.colour) * 3 + sh.index(o.shape)])
        hidden = emb(idx).reshape(1, 2, D)
        f = sam2_frames(torch.from_numpy(frames), 128)
        tgt = torch.nn.functional.interpolate(torch.from_numpy(vis[k]).float()[None], size=(128, 128), mode='bilinear') > 0.5
        tgt = tgt.transpose(0, 1)  # (T, 1, S, S)
        out = track_for_training(m, f, hidden)
        total = total + loss_fn(out, tgt)['loss']
        mm = out[0].multimasks[0] > 0; ii = [((x & tgt[0,0]).sum() / (x | tgt[0,0]).sum().clamp(min=1)).item() for x in mm]; best = mm[int(np.argmax(ii))]
        inter += (best & tgt[0, 0]).sum().item(); union += (best | tgt[0, 0]).sum().item()
    opt.zero_grad(); (total / 8).backward(); torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0); opt.step()
    ious.append(inter / max(union, 1))
    if step % 25 == 0: print(step, round(time.time() - t0, 1), 'loss', round(total.item() / 8, 3), 'ciou(last25)', round(float(np.mean(ious[-25:])), 3), flush=True)
