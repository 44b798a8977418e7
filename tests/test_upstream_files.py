"""The public paths, from media FILES, against upstream UniPixel's own input pipeline run on the same files.

``tests/reference_files/media`` holds the files (an image, an 18-frame JPEG clip, the clip as MP4, a one-question
VideoRefer-Bench-Q annotation); ``tests/reference_files/data`` what upstream's scripts built from them and produced
with the tiny weights ``make_tiny_checkpoint(path, seed=0)`` (transformers 4.53.3, its vendored SAM 2). See
``tests/reference_files/README.md`` for how, and for the tolerances. Here the same files go through
``UniPixelPredictor.segment`` (teacher-forced and generating) and the PixelQA passes of
``unipixel_plugin.evaluation.lmms.pixelqa.run_pixelqa``; the rendered prompt, input ids, pixel values, SAM 2 frames,
hidden prompts, mask logits, masks and generated ids must be upstream's.
"""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

HERE = Path(__file__).resolve().parent / 'reference_files'
MEDIA, DATA = HERE / 'media', HERE / 'data'

_spec = importlib.util.spec_from_file_location('unipixel_reference_inputs', HERE.parent / 'reference' /
                                               'make_inputs.py')
make_inputs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_inputs)

# Both sides run float32 on CPU (SDPA); see tests/reference_files/README.md for the differences measured.
LOGITS_TOL = dict(atol=1e-4, rtol=1e-4)
EMBED_TOL = dict(atol=1e-5, rtol=1e-5)
MASK_LOGITS_TOL = dict(atol=1e-3, rtol=2e-3)  # upstream's are stored in float16
DECODER_TOL = dict(atol=1e-4, rtol=1e-4)
PIXEL_TOL = dict(atol=1e-5, rtol=0)
MASK_FLIP_MARGIN = 1e-4


def _upstream(name: str):
    from safetensors.torch import load_file
    meta = json.loads((DATA / 'upstream.json').read_text())['cases'][name]
    return load_file(str(DATA / f'{name}.safetensors')), meta


class ProcessorSpy:
    """The real processor; every call's rendered text and output are kept."""

    def __init__(self, processor):
        self._processor, self.calls = processor, []

    def __call__(self, *args, **kwargs):
        out = self._processor(*args, **kwargs)
        self.calls.append((kwargs['text'], out))
        return out

    def __getattr__(self, name):
        return getattr(self._processor, name)


class Spy:
    """What the predictor sent and got, read with hooks on the real model: processor calls, the LLM's
    ``inputs_embeds``, the teacher-forced logits, SAM 2's input frames and mask-decoder calls, ``generate``'s
    keyword arguments and returned ids, and the predictor's results."""

    def __init__(self, predictor):
        self.predictor, self.model = predictor, predictor.model
        self.embeds, self.logits, self.images, self.decoder, self.generated, self.results = [], [], [], [], [], []

    def __enter__(self):
        model, predictor = self.model, self.predictor
        self.processor = ProcessorSpy(predictor.inputs.processor)
        predictor.inputs.processor = self.processor
        lm = model.model.language_model
        self._hooks = [
            lm.register_forward_pre_hook(lambda m, a, k: self.embeds.append(k['inputs_embeds'].detach().clone()),
                                         with_kwargs=True),
            model.register_forward_hook(lambda m, a, out: self.logits.append(out.logits.detach().clone())),
            model.sam2.image_encoder.register_forward_pre_hook(lambda m, a: self.images.append(a[0].detach().clone())),
            model.sam2.sam_mask_decoder.register_forward_hook(self._decoder),
        ]
        generate, run = model.generate, predictor.run

        def spy_generate(*args, **kwargs):
            ids = generate(*args, **kwargs)
            self.generated.append((kwargs, ids))
            return ids

        def spy_run(*args, **kwargs):
            results = run(*args, **kwargs)
            self.results.extend(results)
            return results

        model.generate, predictor.run = spy_generate, spy_run
        return self

    def _decoder(self, module, args, out):
        masks, iou, _, score = out
        self.decoder.append((masks[..., ::8, ::8].detach().clone(), iou.detach().clone(), score.detach().clone()))

    def __exit__(self, *exc):
        for hook in self._hooks:
            hook.remove()
        del self.model.generate, self.predictor.run
        self.predictor.inputs.processor = self.processor._processor


@pytest.fixture(scope='module')
def model(tiny_ckpt):
    """A model of its own (a generation case scales a weight row in and out of it)."""
    from unipixel_plugin.models import PixelQwen2_5_VLForConditionalGeneration
    return PixelQwen2_5_VLForConditionalGeneration.from_pretrained(str(tiny_ckpt), dtype=torch.float32,
                                                                   attn_implementation='sdpa').eval()


@pytest.fixture(scope='module')
def predictor_for(model, tiny_ckpt):
    from transformers import AutoProcessor

    from unipixel_plugin.inference import UniPixelPredictor
    processor = AutoProcessor.from_pretrained(str(tiny_ckpt))

    def make(sam2_frames='sampled', max_new_tokens=8):
        # the default pixel budget: upstream's 128*28*28 / 256*28*28*int(16/len)
        return UniPixelPredictor(model, processor, sam2_frames=sam2_frames, keep_logits=True,
                                 max_new_tokens=max_new_tokens)
    return make


# ------------------------------------------------------------------------------------------------ comparisons
def check_inputs(call, ref, meta, sam_frames=None):
    texts, data = call
    assert texts[0] == meta['prompt']
    assert data['input_ids'][0].tolist() == ref['input_ids'].tolist()
    assert data['video_grid_thw'].tolist() == ref['video_grid_thw'].tolist()
    pv = data['pixel_values_videos'].double()
    assert list(pv.shape) == meta['pixel_values_shape']
    torch.testing.assert_close(pv.flatten()[::meta['pixel_values_stride']].float(), ref['pixel_values_probe'],
                               **PIXEL_TOL)
    for key, value in (('sum', pv.sum()), ('abs_sum', pv.abs().sum()), ('sq_sum', (pv * pv).sum())):
        assert float(value) == pytest.approx(meta[f'pixel_values_{key}'], rel=1e-7, abs=1e-3), key
    if sam_frames is not None:
        frames = torch.cat(sam_frames)
        assert list(frames.shape) == meta['sam2_frames_shape']
        s = meta['sam2_frames_stride']
        torch.testing.assert_close(frames[:, :, ::s, ::s], ref['sam2_frames_probe'], **PIXEL_TOL)
        assert float(frames.double().sum()) == pytest.approx(meta['sam2_frames_sum'], rel=1e-7)
        assert float(frames.double().abs().sum()) == pytest.approx(meta['sam2_frames_abs_sum'], rel=1e-7)


def check_embeds(spy, ids, ref, model, call: int = 0):
    embeds = spy.embeds[call][0]
    for token, key in ((model.config.ref_token_id, 'ref_embeds'), (model.config.mem_token_id, 'mem_embeds')):
        rows = embeds[ids[0] == token]
        if key in ref:
            torch.testing.assert_close(rows, ref[key], **EMBED_TOL)
        else:
            assert rows.numel() == 0, key


def check_decoder(spy, ref):
    """Every upstream SAM 2 mask-decoder call has its own matching call here, in any order (upstream tracks one
    object per pass; the port may track several together)."""
    keys = ('decoder_low_res_probe', 'decoder_iou', 'decoder_object_score')
    if 'decoder_iou' not in ref:
        assert not spy.decoder
        return
    calls = ref['decoder_object_score'].numel()
    assert len(spy.decoder) == calls, (len(spy.decoder), calls)
    want = torch.cat([ref[k].reshape(calls, -1) for k in keys], dim=1)
    got = torch.stack([torch.cat([c[i].flatten() for i in range(3)]) for c in spy.decoder])
    free = list(range(calls))
    for i in range(calls):
        best = min(free, key=lambda j: (got[j] - want[i]).abs().max().item())
        free.remove(best)
        torch.testing.assert_close(got[best], want[i], **DECODER_TOL, msg=lambda m, i=i: f'decoder call {i}: {m}')


def upstream_logits(ref, shape) -> torch.Tensor:
    """Upstream's (N, T, H, W) mask logits: the non-constant frames (float16) put back among the constant ones."""
    logits = ref['mask_logits_const'][:, :, None, None].expand(shape).clone()
    for (n, t), frame in zip(ref.get('mask_logits_where', torch.zeros(0, 2)).tolist(),
                             ref.get('mask_logits_f16', torch.zeros(0))):
        logits[n, t] = frame.float()
    assert not logits.isnan().any()
    return logits


def check_masks(result, ref, meta):
    if not meta.get('num_masks'):
        assert result.masks == []
        return
    shape = meta['masks_shape']
    want = torch.from_numpy(np.unpackbits(ref['masks_packed'].numpy())[:int(np.prod(shape))].reshape(shape)).bool()
    assert len(result.masks) == shape[0], (len(result.masks), shape)
    masks = torch.from_numpy(np.stack(result.masks))
    logits = torch.from_numpy(np.stack(result.logits))
    assert masks.shape == want.shape and torch.equal(masks, logits > 0)
    torch.testing.assert_close(logits, upstream_logits(ref, shape), **MASK_LOGITS_TOL)
    flipped = masks != want
    assert not (flipped & (logits.abs() > MASK_FLIP_MARGIN)).any(), \
        f'{int(flipped.sum())} mask pixels differ from upstream away from the decision boundary'
    torch.testing.assert_close(torch.stack(result.prompts).reshape(ref['seg_hidden'].shape), ref['seg_hidden'],
                               **EMBED_TOL)


def check_teacher_forced(spy, ref, ids):
    logits = spy.logits[0][0]
    pos = ref['seg_positions'].long()
    assert torch.equal(torch.where(ids[0, 1:] == spy.model.config.seg_token_id)[0], pos)
    torch.testing.assert_close(logits[pos], ref['seg_position_logits'], **LOGITS_TOL)
    torch.testing.assert_close(logits[-1], ref['last_logits'], **LOGITS_TOL)


# ------------------------------------------------------------------------------------------------ cases
@pytest.mark.parametrize('name, media, query, sam2_frames', [
    ('seg_image', 'image.jpg', 'The red square.', 'sampled'),  # one frame: 'sampled' and 'all' are the same
    # infer_seg.py: LLM on 16 of 18 frames, SAM 2 on all 18
    pytest.param('seg_video', 'clip', 'a red square', 'all', marks=pytest.mark.slow),
])
def test_segment_teacher_forced_matches_upstream_infer_seg(predictor_for, name, media, query, sam2_frames):
    ref, meta = _upstream(name)
    predictor = predictor_for(sam2_frames)
    with Spy(predictor) as spy:
        result = predictor.segment(str(MEDIA / media), query, answer=meta['answer'])
    assert not spy.generated, 'a teacher-forced request must not generate'
    assert result.prompt == meta['question']
    assert result.media.indices == meta['llm_frame_indices']
    assert result.frame_indices == list(range(meta['sam2_frames']))
    (call,) = spy.processor.calls
    check_inputs(call, ref, meta, spy.images)
    ids = call[1]['input_ids']
    check_teacher_forced(spy, ref, ids)
    check_embeds(spy, ids, ref, spy.model)
    check_decoder(spy, ref)
    check_masks(result, ref, meta)


@pytest.mark.parametrize('name, media', [
    ('generate_image', 'image.jpg'),  # <|seg|> from the prefill step, then from two decode steps
    # tools/inference.py: 16 sampled frames (decord there, PyAV here); <|seg|> from the second decode step
    pytest.param('generate_video', 'clip.mp4', marks=pytest.mark.slow),
])
def test_segment_generation_matches_upstream_inference(predictor_for, name, media):
    ref, meta = _upstream(name)
    predictor = predictor_for('sampled', meta['generate']['max_new_tokens'])
    seg_id = predictor.model.config.seg_token_id
    saved = make_inputs.scale_seg_embedding(predictor.model, seg_id, meta['seg_embedding_scale'])
    try:
        with Spy(predictor) as spy:
            result = predictor.segment(str(MEDIA / media), meta['question'], prompt_type='raw')
    finally:
        make_inputs.restore_rows(saved, seg_id)
    (call,) = spy.processor.calls
    check_inputs(call, ref, meta, spy.images)
    (kwargs, ids), = spy.generated
    new = ids[0, call[1]['input_ids'].size(1):]
    assert new.tolist() == ref['generated_ids'].tolist()
    assert (new == seg_id).nonzero()[:, 0].tolist() == meta['generated_seg_steps'] != []
    check_embeds(spy, call[1]['input_ids'], ref, spy.model)
    check_decoder(spy, ref)
    check_masks(result, ref, meta)


@pytest.fixture(scope='module')
def pixelqa_run(predictor_for, tmp_path_factory):
    """Both PixelQA passes of the committed question through the lmms-eval module, from a data root that links
    the committed annotation and clip in VideoRefer-Bench's layout; each object's prompt kind fixed to upstream's
    run (point for [0], box for [1]: upstream's 'mix' draws unseeded)."""
    pixelqa = pytest.importorskip('unipixel_plugin.evaluation.lmms.pixelqa')
    root = tmp_path_factory.mktemp('pixelqa_root')
    bench = root / 'videorefer' / 'VideoRefer-Bench'
    (bench / 'videos').mkdir(parents=True)
    os.symlink(MEDIA / 'VideoRefer-Bench-Q.json', bench / 'VideoRefer-Bench-Q.json')
    os.symlink(MEDIA / 'clip', bench / 'videos' / 'clip')
    (doc,) = pixelqa.build_docs('pixelqa', 'mix', str(root))
    spec = json.loads(doc['pixelqa_request'])
    spec['kinds'] = _upstream('pixelqa_pass1')[1]['kinds']
    predictor = predictor_for('sampled', _upstream('pixelqa_pass2')[1]['generate']['max_new_tokens'])
    with Spy(predictor) as spy:
        output = pixelqa.run_pixelqa(predictor, spec, doc['video'])
    return spy, output


@pytest.mark.slow
def test_pixelqa_pass1_matches_upstream(pixelqa_run):
    spy, output = pixelqa_run
    ref, meta = _upstream('pixelqa_pass1')
    assert output.localize == meta['question']
    assert output.positions == meta['llm_frame_indices']
    located = spy.results[0]
    assert located.text == meta['answer']
    call = spy.processor.calls[0]
    check_inputs(call, ref, meta, spy.images)
    assert output.sam_prompts == [ref[f'point_coords_{k}'][0].tolist() for k in range(len(meta['kinds']))]
    ids = call[1]['input_ids']
    check_teacher_forced(spy, ref, ids)
    check_embeds(spy, ids, ref, spy.model)
    check_decoder(spy, ref)
    check_masks(located, ref, meta)


@pytest.mark.slow
def test_pixelqa_pass2_matches_upstream(pixelqa_run):
    spy, output = pixelqa_run
    ref, meta = _upstream('pixelqa_pass2')
    call = spy.processor.calls[1]
    assert output.question == meta['question']
    check_inputs(call, ref, meta)
    (kwargs, ids), = spy.generated
    assert torch.equal(kwargs['refer_mask'][0].cpu(), ref['refer_mask'].bool())
    new = ids[0, call[1]['input_ids'].size(1):]
    assert new.tolist() == ref['generated_ids'].tolist()
    check_embeds(spy, call[1]['input_ids'], ref, spy.model, call=1)  # the LLM's first call of pass 2
    assert spy.results[1].masks == []


def test_reference_files_are_complete_and_small():
    meta = json.loads((DATA / 'upstream.json').read_text())
    assert meta['versions']['transformers'].startswith('4.53')
    for name in meta['cases']:
        assert (DATA / f'{name}.safetensors').is_file(), name
    total = sum(p.stat().st_size for p in HERE.rglob('*') if p.is_file())
    assert total < 1024 * 1024, f'tests/reference_files is {total} bytes'
