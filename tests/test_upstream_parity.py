"""The port against numbers produced by the upstream UniPixel code (transformers 4.53.3 + its vendored SAM 2).

Same tiny weights (``make_tiny_checkpoint(path, seed=0)``), same inputs (``tests/reference/data/<case>_inputs.*``,
built by ``tests/reference/make_inputs.py``), upstream keyword names. See ``tests/reference/README.md`` for how the
``<case>_upstream.safetensors`` files were made and what each case covers.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

REFERENCE = Path(__file__).resolve().parent / 'reference'
DATA = REFERENCE / 'data'

_spec = importlib.util.spec_from_file_location('unipixel_reference_inputs', REFERENCE / 'make_inputs.py')
make_inputs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_inputs)

FORWARD_CASES = [name for name, spec in make_inputs.CASES.items() if not spec.get('generate')]
GENERATE_CASES = [name for name, spec in make_inputs.CASES.items() if spec.get('generate')]

# Tolerances. Both sides run float32 on CPU with SDPA; the differences seen are float rounding (different kernels
# and summation orders between transformers 4.53 and 5.24), a few 1e-6 at most.
LOGITS_TOL = dict(atol=1e-4, rtol=1e-4)
EMBED_TOL = dict(atol=1e-5, rtol=1e-5)
# Upstream's SAM 2 mask logits are stored in float16 (size budget): |error| <= |x| * 2**-11 from the storage alone.
MASK_LOGITS_TOL = dict(atol=1e-3, rtol=2e-3)
DECODER_TOL = dict(atol=1e-4, rtol=1e-4)
# A mask pixel may flip only where our logit is this close to 0 (a flip anywhere else is a real difference).
MASK_FLIP_MARGIN = 1e-4


def _load_upstream(name: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file
    return load_file(str(DATA / f'{name}_upstream.safetensors'))


@pytest.fixture(scope='module')
def model(tiny_ckpt):
    """A model of its own (these tests patch hooks and, for one case, a weight row in and out of it), loaded from
    the session checkpoint ``make_tiny_checkpoint(path, seed=0)`` (tests/conftest.py) as upstream was: float32,
    SDPA."""
    from unipixel_plugin.models import PixelQwen2_5_VLForConditionalGeneration

    model = PixelQwen2_5_VLForConditionalGeneration.from_pretrained(str(tiny_ckpt), dtype=torch.float32,
                                                                     attn_implementation='sdpa')
    return model.eval()


class Recorder:
    """What the reference run recorded, captured the same way on this model: the LLM's ``inputs_embeds`` (pre-hook
    on ``model.model.language_model``), the pre-norm last-layer state (pre-hook on its ``norm``), the SAM 2 mask
    logits yielded by ``propagate_in_video`` and, per SAM 2 mask-decoder call, a ``::8`` probe of its low-res masks,
    its IoU predictions and object score (the tracked frames' masks are all NO_OBJ -1024 with these random weights,
    so the decoder outputs are what checks the memory path numerically)."""

    def __init__(self, model):
        self.model = model
        self.embeds, self.states, self.mask_logits, self.decoder = [], [], [], []
        self._propagate = model.sam2.propagate_in_video

    def __enter__(self):
        lm = self.model.model.language_model
        self._hooks = [
            lm.register_forward_pre_hook(lambda m, a, k: self.embeds.append(k['inputs_embeds'].detach().clone()),
                                         with_kwargs=True),
            lm.norm.register_forward_pre_hook(lambda m, a: self.states.append(a[0].detach().clone())),
            self.model.sam2.sam_mask_decoder.register_forward_hook(self._decoder_hook),
        ]

        def propagate(*args, **kwargs):
            frames = []
            for out in self._propagate(*args, **kwargs):
                frames.append(out[2].detach().clone())
                yield out
            self.mask_logits.append(torch.cat(frames, dim=1))

        self.model.sam2.propagate_in_video = propagate
        return self

    def _decoder_hook(self, module, args, out):
        masks, iou, _, object_score = out
        self.decoder.append((masks[..., ::8, ::8].detach().clone(), iou.detach().clone(),
                             object_score.detach().clone()))

    def decoder_outputs(self) -> dict[str, torch.Tensor]:
        if not self.decoder:
            return {}
        return {key: torch.cat([call[i].flatten() for call in self.decoder])
                for i, key in enumerate(('decoder_low_res_probe', 'decoder_iou', 'decoder_object_score'))}

    def __exit__(self, *exc):
        for hook in self._hooks:
            hook.remove()
        del self.model.sam2.propagate_in_video  # back to the class method


def _inputs(name):
    kwargs, meta = make_inputs.load_case(name, DATA)
    # the frames and pixel values rebuilt here must be those the reference numbers were computed from
    # (bit-identical with the torch these files were made with; other torch builds may round the resize differently)
    frames = kwargs['frames'][0]
    torch.testing.assert_close(frames[:, :, ::16, ::16], meta['frames_probe'], atol=1e-5, rtol=0)
    assert float(frames.double().sum()) == pytest.approx(meta['frames_sum'], rel=1e-7)
    assert float(kwargs['pixel_values_videos'].double().sum()) == pytest.approx(meta['pixel_values_sum'], rel=1e-9)
    return kwargs, meta


def _seg_prompts(model, state, input_ids, logits_last, include_prompt=True):
    """Upstream's rule: seg_head over the whole pre-norm state, rows at the positions predicting <|seg|> (prompt),
    then the last row if the raw logits there predict <|seg|>."""
    seg_id = model.config.seg_token_id
    prompts = model.seg_head(state)  # (1, L, 2, 256)
    rows = []
    if include_prompt:
        rows.append(prompts[0, torch.where(input_ids[0, 1:] == seg_id)[0]])
    if logits_last.argmax() == seg_id:
        rows.append(prompts[0, -1:])
    return torch.cat(rows) if rows else prompts[0, :0]


def _max_diff(a, b):
    return (a.float() - b.float()).abs().max().item() if a.numel() else 0.0


def _check_decoder_calls(ours: dict, ref: dict):
    """Every upstream SAM 2 mask-decoder call must have its own matching call here, in any order.

    Upstream decodes each ``<|seg|>`` in its own tracking pass (object 0 on all frames, then object 1 ...); a port
    may track the objects together (frame by frame), which only permutes the calls.
    """
    keys = ('decoder_low_res_probe', 'decoder_iou', 'decoder_object_score')
    if 'decoder_object_score' not in ref:
        assert not ours, 'upstream never ran the SAM 2 mask decoder here'
        return
    calls = ref['decoder_object_score'].numel()
    assert ours and ours['decoder_object_score'].numel() == calls, \
        f'{calls} SAM 2 mask-decoder calls upstream, {ours and ours["decoder_object_score"].numel()} here'
    want = torch.cat([ref[k].reshape(calls, -1) for k in keys], dim=1)
    got = torch.cat([ours[k].reshape(calls, -1) for k in keys], dim=1)
    assert got.shape == want.shape, (tuple(got.shape), tuple(want.shape))
    free = list(range(calls))
    for i in range(calls):
        distance = [(got[j] - want[i]).abs().max().item() for j in free]
        best = min(range(len(free)), key=distance.__getitem__)
        torch.testing.assert_close(got[free.pop(best)], want[i], **DECODER_TOL,
                                   msg=lambda m, i=i: f'SAM 2 mask-decoder call {i} of upstream: {m}')


def _check_masks(model, ref, rec):
    _check_decoder_calls(rec.decoder_outputs(), ref)
    ours_masks = [m for m in model.seg]
    if 'masks' not in ref:
        assert ours_masks == [], f'upstream decoded no mask, the port decoded {len(ours_masks)}'
        return
    want = ref['masks'].bool()
    assert len(ours_masks) == want.size(0), (len(ours_masks), tuple(want.shape))
    ours = torch.cat(ours_masks)
    assert ours.shape == want.shape and ours.dtype == torch.bool
    logits = torch.cat(rec.mask_logits)
    assert logits.shape == want.shape
    torch.testing.assert_close(logits, ref['mask_logits_f16'].float(), **MASK_LOGITS_TOL)
    flipped = ours != want
    assert not (flipped & (logits.abs() > MASK_FLIP_MARGIN)).any(), \
        f'{int(flipped.sum())} mask pixels differ from upstream away from the decision boundary'
    assert torch.equal(ours, logits > 0)


@pytest.mark.parametrize('name', FORWARD_CASES)
def test_forward_matches_upstream(model, name):
    kwargs, _ = _inputs(name)
    ref = _load_upstream(name)
    with torch.inference_mode(), Recorder(model) as rec:
        out = model(**kwargs)
    ids = kwargs['input_ids']

    torch.testing.assert_close(out.logits[0].float(), ref['logits'], **LOGITS_TOL)

    embeds = rec.embeds[0][0]
    for token_id, key in ((model.config.ref_token_id, 'ref_embeds'), (model.config.mem_token_id, 'mem_embeds')):
        rows = embeds[ids[0] == token_id]
        if key in ref:
            torch.testing.assert_close(rows, ref[key], **EMBED_TOL)
        else:
            assert rows.numel() == 0

    state = rec.states[0]
    with torch.inference_mode():
        prompts = _seg_prompts(model, state, ids, out.logits[0, -1])
    assert prompts.shape == ref['seg_prompts'].shape
    torch.testing.assert_close(state[0, ref['seg_positions']], ref['seg_states'], **EMBED_TOL)
    torch.testing.assert_close(prompts, ref['seg_prompts'], **EMBED_TOL)
    _check_masks(model, ref, rec)


@pytest.mark.parametrize('name', GENERATE_CASES)
def test_generate_matches_upstream(model, name):
    kwargs, meta = _inputs(name)
    ref = _load_upstream(name)
    saved = make_inputs.scale_seg_embedding(model, model.config.seg_token_id, meta['seg_embedding_scale'])
    try:
        with torch.inference_mode(), Recorder(model) as rec:
            res = model.generate(**kwargs, **meta['generate'], return_dict_in_generate=True, output_logits=True)
    finally:
        make_inputs.restore_rows(saved, model.config.seg_token_id)
    ids = kwargs['input_ids']
    new = res.sequences[0, ids.size(1):]
    assert new.tolist() == ref['generated_ids'].tolist()
    step_logits = torch.cat([lg.float() for lg in res.logits])  # raw logits of each step's last position
    torch.testing.assert_close(step_logits, ref['generate_logits'], **LOGITS_TOL)

    assert len(rec.states) == len(res.logits)
    with torch.inference_mode():
        prompts = torch.cat([
            _seg_prompts(model, state, ids, lg[0], include_prompt=step == 0)
            for step, (state, lg) in enumerate(zip(rec.states, res.logits))
        ])
    assert prompts.shape == ref['seg_prompts'].shape
    torch.testing.assert_close(prompts, ref['seg_prompts'], **EMBED_TOL)
    _check_masks(model, ref, rec)


def test_reference_files_are_complete():
    for name in make_inputs.CASES:
        for suffix in ('_inputs.safetensors', '_inputs.json', '_upstream.safetensors'):
            assert (DATA / f'{name}{suffix}').is_file(), f'{name}{suffix} is missing: see tests/reference/README.md'
    meta = json.loads((DATA / 'upstream_versions.json').read_text())
    assert meta['transformers'].startswith('4.53')
    total = sum(p.stat().st_size for p in DATA.iterdir())
    assert total < 2 * 1024 * 1024, f'reference data is {total} bytes'
