"""``UniPixelPredictor``: load a checkpoint once, then call verbs on media (in the spirit of SAM 2's predictors).

* ``segment(media, query)`` / ``ask(media, question, regions)``: one request;
* ``segment_batch([...])`` / ``ask_batch([...])``: many requests through the ViT and LLM in one batch (left padding,
  greedy), masks decoded per request; a bad item becomes a :class:`RequestError` and the rest still run;
* ``segment_stream(video, query)``: long videos — the LLM sees ``sample_frames`` frames, SAM 2 streams every frame
  from the decoder and results are yielded frame by frame with bounded memory;
* with ``sam2_frames='all'`` the batch verbs stream too: SAM 2 reads a video's frames one at a time with bounded state
  (``keep_memories``) and each frame's masks are COCO RLE as soon as they are decoded (:class:`RLEMasks`);
* :class:`~unipixel_plugin.inference.session.Conversation` keeps an object memory bank across turns.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from typing import overload
from dataclasses import dataclass, field

import numpy as np
import torch

from unipixel_plugin.inference.media import Media, MediaError, load_media
from unipixel_plugin.masks import decode_rle, encode_rle
from unipixel_plugin.models.object_memory import mem_prompt_prefix, refer_mask_from_masks
from unipixel_plugin.models.processing_unipixel import (LazySAM2Frames, PromptObject, UniPixelInputs,
                                                       prompt_tensors, sam2_frames)
from unipixel_plugin.prompts import MEM_TOKEN, REF_TOKEN, place_ref_tokens, segmentation_prompt

logger = logging.getLogger(__name__)


class RLEMasks(Sequence):
    """The mask tracks of a result kept as COCO RLE, one per frame: what a streamed track (SAM 2 on every frame of a
    long video) holds instead of ``(T, H, W)`` arrays, so a result's size grows with the masks' outlines, not with
    ``T x H x W``.

    It reads as the list of arrays it replaces: ``masks[i]`` is object ``i``'s ``(T, H, W)`` bool array, decoded on
    first access and then kept (that object then costs its dense size), ``len(masks)`` the number of objects;
    ``masks[a:b]`` is an ``RLEMasks`` of those objects. Without decoding: :meth:`rle` (object ``i``'s per-frame RLEs,
    what :meth:`UniPixelResult.to_record` writes) and :meth:`frame` (all objects on one frame).
    """

    def __init__(self, rles: Sequence[Sequence[dict]], size: tuple[int, int]):
        self._rles = [list(track) for track in rles]
        self.size = (int(size[0]), int(size[1]))
        self._dense: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._rles)

    @overload
    def __getitem__(self, i: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, i: slice) -> RLEMasks: ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            return RLEMasks(self._rles[i], self.size)
        i = range(len(self._rles))[i]  # IndexError past the end, negative indices from the end
        if i not in self._dense:
            track = self._rles[i]
            dense = np.zeros((len(track), *self.size), dtype=bool)
            for t, rle in enumerate(track):
                dense[t] = decode_rle(rle)
            self._dense[i] = dense
        return self._dense[i]

    def rle(self, i: int) -> list[dict]:
        """Object ``i``'s masks as COCO RLE, one per frame (no decoding)."""
        return self._rles[i]

    def frame(self, t: int) -> np.ndarray:
        """``(N, H, W)`` bool: every object's mask on frame position ``t``, decoded from the RLE (nothing kept)."""
        out = np.zeros((len(self._rles), *self.size), dtype=bool)
        for i, track in enumerate(self._rles):
            out[i] = decode_rle(track[t])
        return out

    def __repr__(self) -> str:
        frames = len(self._rles[0]) if self._rles else 0
        return f'RLEMasks({len(self._rles)} object(s) x {frames} frame(s) of {self.size[1]}x{self.size[0]})'


@dataclass
class UniPixelResult:
    """What one request returns.

    Attributes:
        text: the model's answer (special tokens kept, so ``<|seg|>`` shows where masks were made).
        masks: one ``(T, H, W)`` bool array per ``<|seg|>``, on the frames in ``frame_indices``: a list of arrays, or
            an :class:`RLEMasks` that reads the same and holds COCO RLE per frame (streamed tracks; the predictor's
            ``mask_format``).
        media: the decoded input.  prompt: the user turn sent to the model.
        prompts: the SAM 2 hidden prompt ``(K, 256)`` behind each mask (what the memory bank keeps).
        logits: the ``(T, H, W)`` float mask logits behind each mask, when the predictor keeps them
            (``keep_logits=True``); mask = logits > 0.
    """
    text: str
    masks: list[np.ndarray]
    media: Media
    prompt: str
    frame_indices: list[int] = field(default_factory=list)
    prompts: list[torch.Tensor] = field(default_factory=list)
    logits: list[np.ndarray] | None = None

    def to_record(self) -> dict:
        """A JSON-able record with masks as COCO RLE (one list of per-frame RLEs per object)."""
        return {
            'source': self.media.source,
            'kind': self.media.kind,
            'prompt': self.prompt,
            'answer': self.text,
            'frame_indices': self.frame_indices,
            'size': list(self.media.size),
            'objects': [{'id': i, 'rle': (self.masks.rle(i) if isinstance(self.masks, RLEMasks) else
                                          [encode_rle(m) for m in self.masks[i]])} for i in range(len(self.masks))],
        }


@dataclass
class RequestError:
    """A request of a batch that could not run; the others still did."""
    source: str
    error: str
    exception: Exception | None = field(default=None, repr=False, compare=False)

    def to_record(self) -> dict:
        return {'source': self.source, 'error': self.error}


@dataclass
class Request:
    """One request: media, the user text, optional region prompts and an optional teacher-forced answer."""
    media: object
    text: str
    regions: Sequence[PromptObject] = ()
    answer: str | None = None
    refer_mask: torch.Tensor | None = None
    masks: Sequence = ()  # (H, W) bool masks on frame `mask_frame`, given to the model as <|mem|> objects
    mask_frame: int = 0
    answer_prefix: str = ''  # generation starts after this text (upstream PixelQA: "The best option is (")
    prompt_type: str = 'query'  # for segmentation requests: a type of prompts.PROMPT_TYPES ('raw': as given)
    budget: str | None = None  # the LLM pixel budget path (models.processing_unipixel.PIXEL_BUDGETS); None: inference


@dataclass
class _Prepared:
    """A request after loading and validation."""
    media: Media
    text: str
    prompts: tuple | None  # (point_coords, point_labels, point_frames) of one sample, or None without regions
    answer: str | None
    refer_mask: torch.Tensor | None
    answer_prefix: str = ''
    budget: str | None = None


def resolve_device(device: str | None) -> torch.device:
    if device in (None, 'auto'):
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return torch.device(device)


def resolve_dtype(dtype, device: torch.device, config_dtype=None) -> torch.dtype:
    """``auto``: the checkpoint's dtype on an accelerator, float32 on the CPU (bf16 matmuls are slow there)."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, 'auto'):
        if device.type == 'cpu':
            return torch.float32
        return config_dtype if isinstance(config_dtype, torch.dtype) else torch.bfloat16
    names = {'bf16': 'bfloat16', 'fp16': 'float16', 'fp32': 'float32'}
    if not isinstance(getattr(torch, names.get(dtype, dtype), None), torch.dtype):
        raise ValueError(f'unknown dtype {dtype!r}: use auto, bf16, fp16 or fp32')
    return getattr(torch, names.get(dtype, dtype))


class UniPixelPredictor:
    """UniPixel loaded once; verbs answer requests.

    Args:
        model: a ``PixelQwen2_5_VLForConditionalGeneration``. processor: its ``Qwen2_5_VLProcessor``.
        sample_frames: frames of a video the LLM sees (upstream: 16, uniformly sampled).
        min_pixels / max_pixels: fixed LLM frame-size bounds; None (both): the checkpoint's ``config.llm_pixels``
            when it has one (the toy: 112 x 112, what it was trained at), else upstream's inference budget
            (``128*28*28`` / ``256*28*28*int(sample_frames/T)``, ``models.processing_unipixel.pixel_budget``).
        max_new_tokens: generation budget per request.
        progress: show progress bars (batches, SAM 2 tracking through video frames).
        sam2_frames: ``'sampled'``: masks on the frames the LLM sees (upstream's tools/inference.py); ``'all'``:
            SAM 2 tracks every frame of a video file, frame folder or list of frame files (upstream's evaluation),
            streamed: frames read one at a time from the decoder, SAM 2 state bounded by ``keep_memories``.
        keep_logits: also return each mask's float logits (``UniPixelResult.logits``; dense ``(T, H, W)`` float32
            arrays, so a long streamed video costs ``4 x T x H x W`` bytes per object).
        keep_memories: on streamed tracks, the non-conditioning frame outputs SAM 2 keeps (raised to what its
            memory and object-pointer windows read, so the masks are those of unbounded tracking); only the current
            frame's image features are cached. None: keep every frame's outputs and features (unbounded).
        mask_format: how results hold masks. ``'auto'``: COCO RLE per frame (:class:`RLEMasks`) for streamed
            tracks, arrays otherwise; ``'rle'``: always :class:`RLEMasks`; ``'dense'``: always a list of arrays
            (a streamed track is then filled into one ``(T, H, W)`` array per object).
    """

    def __init__(self, model, processor, sample_frames: int = 16, min_pixels: int | None = None,
                 max_pixels: int | None = None, max_new_tokens: int = 128, progress: bool = False,
                 sam2_frames: str = 'sampled', keep_logits: bool = False, keep_memories: int | None = 16,
                 mask_format: str = 'auto'):
        self.model = model.eval()
        self.processor = processor
        self.sample_frames = sample_frames
        trained_at = getattr(model.config, 'llm_pixels', None)
        if min_pixels is None and max_pixels is None and trained_at:
            min_pixels, max_pixels = (int(p) for p in trained_at)
        self.inputs = UniPixelInputs(processor, model.config.sam2_image_size, min_pixels, max_pixels,
                                     budget='inference', sample_frames=sample_frames)
        self.max_new_tokens = max_new_tokens
        self.progress = progress
        if sam2_frames not in ('sampled', 'all'):
            raise ValueError(f"sam2_frames must be 'sampled' or 'all', got {sam2_frames!r}")
        self.sam2_frames = sam2_frames
        self.keep_logits = keep_logits
        self.keep_memories = keep_memories
        if mask_format not in ('auto', 'rle', 'dense'):
            raise ValueError(f"mask_format must be 'auto', 'rle' or 'dense', got {mask_format!r}")
        self.mask_format = mask_format

    @classmethod
    def from_pretrained(cls, checkpoint: str, device: str | None = 'auto', dtype='auto',
                        attn_implementation: str = 'sdpa', sam2_dtype='fp32', **kwargs) -> UniPixelPredictor:
        """Load a UniPixel checkpoint directory or hub id (``PolyU-ChenLab/UniPixel-3B``).

        ``dtype`` is the LLM's and the vision tower's; SAM 2 (and the prompt encoders kept with it) stays float32
        unless ``sam2_dtype='bf16'`` (upstream evaluates with the whole model in bfloat16, SAM 2 included; see
        docs/inference.md, "Numerics").
        """
        from transformers import AutoConfig, AutoProcessor

        from unipixel_plugin.models import PixelQwen2_5_VLForConditionalGeneration
        dev = resolve_device(device)
        config = AutoConfig.from_pretrained(checkpoint)
        torch_dtype = resolve_dtype(dtype, dev, getattr(config, 'dtype', None))
        model = PixelQwen2_5_VLForConditionalGeneration.from_pretrained(
            checkpoint, dtype=torch_dtype, attn_implementation=attn_implementation).to(dev)
        sam2_torch_dtype = resolve_dtype(sam2_dtype, dev)
        if sam2_torch_dtype != torch.float32:
            model.sam2.to(sam2_torch_dtype)
        processor = AutoProcessor.from_pretrained(checkpoint)
        return cls(model, processor, **kwargs)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # ------------------------------------------------------------------ verbs
    def segment(self, media, query: str, sample_frames: int | None = None, answer: str | None = None,
                prompt_type: str = 'query') -> UniPixelResult:
        """Segment what ``query`` describes. ``media``: a path (image, video, frame folder) or uint8 frames.

        ``prompt_type`` says how the query is phrased, as upstream's evaluation does (``prompts.seg_request``):
        ``'query'`` (a referring phrase: "the dog on the left" -> "Please segment the dog on the left in this
        image."), ``'sentence'``, ``'explanatory'``, ``'question'``, ``'description'``, or ``'raw'`` (sent as it is,
        as upstream's tools/inference.py does). ``answer`` teacher-forces the reply (e.g. ``"Sure, it is
        <|seg|>."``): one forward pass, masks from the ``<|seg|>`` tokens of the answer, no generation.
        """
        return self._raise_single(self.segment_batch([media], [query], sample_frames, answer,
                                                     prompt_type=prompt_type))

    def ask(self, media, question: str, regions: Sequence[PromptObject] | None = None,
            sample_frames: int | None = None, answer: str | None = None, masks: Sequence = (),
            mask_frame: int = 0) -> UniPixelResult:
        """Answer ``question`` about regions given as points/boxes (one ``<|ref|>`` per region) and/or masks.

        When the question has no ``<|ref|>`` placeholders, region ``k`` is named ``[k]``: its first mention becomes
        ``[k] <|ref|>`` (upstream's object notation) and regions not mentioned are put before the question the
        same way. With placeholders, the ``<|ref|>`` tokens take the regions in order.
        ``masks`` (``(H, W)`` bool arrays on frame ``mask_frame``) become ``<|mem|>`` objects ``[0]``, ``[1]``...
        with upstream's region-QA prefix.
        """
        request = Request(media, question, tuple(regions or ()), answer, masks=tuple(masks), mask_frame=mask_frame)
        return self._raise_single(self.run([request], sample_frames))

    def segment_batch(self, media: Sequence, queries: Sequence[str], sample_frames: int | None = None,
                      answer: str | None = None, batch_size: int = 8, prompt_type: str = 'query') -> list:
        """Segment several media (one query each, phrased as ``prompt_type``) in batches; see :meth:`run`."""
        if len(media) != len(queries):
            raise ValueError(f'{len(media)} media for {len(queries)} queries')
        requests = [Request(m, q, answer=answer, prompt_type=prompt_type) for m, q in zip(media, queries)]
        return self.run(requests, sample_frames, batch_size, segment=True)

    def run(self, requests: Sequence[Request], sample_frames: int | None = None, batch_size: int = 8,
            segment: bool = False, progress: bool | None = None) -> list:
        """Run requests ``batch_size`` at a time. Returns, in order, a :class:`UniPixelResult` per request or a
        :class:`RequestError` for one that could not be loaded or prompted (the rest still run)."""
        results: list = [None] * len(requests)
        ready = []
        for i, req in enumerate(requests):
            try:
                ready.append((i, self._prepare(req, sample_frames, segment)))
            except (MediaError, ValueError, OSError) as err:
                source = req.media if isinstance(req.media, str) else getattr(req.media, 'source', '<array>')
                logger.warning('skipping request %d (%s): %s', i, source, err)
                results[i] = RequestError(str(source), str(err), err)
        chunks = [ready[k:k + batch_size] for k in range(0, len(ready), batch_size)]
        iterator = chunks
        if (self.progress if progress is None else progress) and len(chunks) > 1:
            from tqdm import tqdm
            iterator = tqdm(chunks, desc='UniPixel', unit='batch')
        for chunk in iterator:
            for (i, _), result in zip(chunk, self._run_batch([p for _, p in chunk])):
                results[i] = result
        return results

    def segment_stream(self, video: str, query: str, sample_frames: int | None = None, answer: str | None = None,
                       keep_memories: int = 16, progress: bool | None = None, prompt_type: str = 'query'
                       ) -> Iterator[tuple[int, np.ndarray, str]]:
        """Segment a long video: yield ``(frame_idx, masks (N, H, W) bool, answer)`` for EVERY frame, in order.

        The LLM sees ``sample_frames`` uniformly sampled frames (upstream's 16); SAM 2 decodes all frames, read from
        the video one at a time (decord, or a frame folder) and never held together; its per-frame state is
        bounded by ``keep_memories``. ``masks`` has one row per ``<|seg|>`` of the answer.
        """
        from unipixel_plugin.inference.media import frame_reader
        media = load_media(video, sample_frames or self.sample_frames)
        read, total = frame_reader(video)
        lazy = LazySAM2Frames(read, total, self.model.config.sam2_image_size)
        prompt = segmentation_prompt(query, prompt_type, media.kind)
        states, text = self._llm_seg_states([_Prepared(media, prompt, None, answer, None)])[0]
        if states.size(0) == 0:
            logger.info('the answer has no <|seg|>: nothing to track (%r)', text)
            return
        frames = self.model.mask_head.decode_objects(states, lazy, media.size, keep_memories=keep_memories,
                                                     verbose=self.progress if progress is None else progress)
        for frame_idx, logits in frames:
            yield frame_idx, (logits > 0).cpu().numpy(), text

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _raise_single(results):
        result = results[0]
        if isinstance(result, RequestError):
            raise result.exception
        return result

    def _prepare(self, req: Request, sample_frames, segment: bool):
        media = req.media if isinstance(req.media, Media) else load_media(req.media,
                                                                             sample_frames or self.sample_frames)
        text = segmentation_prompt(req.text, req.prompt_type, media.kind) if segment else req.text
        refer_mask = req.refer_mask
        if len(req.masks):
            refer_mask, prefix = self._mask_prompts(req.masks, req.mask_frame, media, first_id=len(req.regions),
                                                    budget=req.budget)
            text = prefix + text
        regions = list(req.regions)
        if regions and REF_TOKEN not in text:
            text, order = place_ref_tokens(text, len(regions))
            regions = [regions[k] for k in order]
        if text.count(REF_TOKEN) != len(regions):
            raise ValueError(f'{media.source}: the text has {text.count(REF_TOKEN)} <|ref|> placeholders for '
                             f'{len(regions)} regions: {req.text!r}')
        prompts = None
        if regions:  # built (and validated against the frame) now, so a bad prompt fails this request only
            prompts = prompt_tensors(regions, media.size, self.model.config.sam2_image_size, len(media.frames),
                                     media.source)
        if refer_mask is not None and text.count(MEM_TOKEN) != int(refer_mask.flatten(2).any(-1).sum()):
            raise ValueError(f'{media.source}: the text has {text.count(MEM_TOKEN)} <|mem|> tokens but the masks '
                             f'cover {int(refer_mask.flatten(2).any(-1).sum())} (object, frame pair) regions')
        return _Prepared(media, text, prompts, req.answer, refer_mask, req.answer_prefix, req.budget)

    def _mask_prompts(self, masks, frame: int, media: Media, first_id: int = 0, budget: str | None = None):
        count = len(media.frames)
        if not 0 <= frame < count:
            raise ValueError(f'{media.source}: the masks are on frame {frame} but the media has {count} frame(s)')
        stack = torch.zeros(count, len(masks), *media.size)
        for i, mask in enumerate(masks):
            mask = torch.as_tensor(np.asarray(mask)).bool()
            if tuple(mask.shape) != media.size:
                raise ValueError(f'{media.source}: mask {i} is {mask.shape[-1]}x{mask.shape[0]} but the media is '
                                 f'{media.size[1]}x{media.size[0]}')
            if not mask.any():
                raise ValueError(f'{media.source}: mask {i} is empty: a mask prompt must cover some pixels')
            stack[frame, i] = mask.float()
        grid = self.inputs.grid_for(torch.from_numpy(np.array(media.frames)), budget=budget)
        # only the temporal group holding the prompt frame is marked; an all-empty object would mean "everywhere"
        refer = refer_mask_from_masks(stack, grid)
        return refer, mem_prompt_prefix(refer, count, range(first_id, first_id + len(masks)))

    def _llm_seg_states(self, prepared) -> list[tuple[torch.Tensor, str]]:
        """Run the LLM on a batch; return per request the ``(N, llm_dim)`` states that predict ``<|seg|>`` and the
        answer text. Teacher-forced requests (an ``answer``) run one forward; the others generate greedily."""
        model, device = self.model, self.device
        teacher = [p.answer is not None for p in prepared]
        if any(teacher) and not all(teacher):
            raise ValueError('a batch mixes teacher-forced and generated requests; run them separately')
        budgets = {p.budget for p in prepared}
        if len(budgets) > 1:
            raise ValueError(f'a batch mixes pixel budgets {sorted(map(str, budgets))}; run them separately')
        frames = [torch.from_numpy(np.array(p.media.frames)) for p in prepared]
        data = self.inputs.batch(frames, [p.text for p in prepared], [p.answer for p in prepared] if teacher[0]
                                 else None, [p.answer_prefix for p in prepared], budget=prepared[0].budget)
        batch = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in data.items() if k != 'frame_size'}
        if any(p.prompts for p in prepared):
            coords, labels, pframes = [], [], []
            for p in prepared:
                c, lab, f = p.prompts or ([], [], [torch.zeros(0, dtype=torch.long)])
                coords.append([t.to(device) for t in c])
                labels.append([t.to(device) for t in lab])
                pframes.append([t.to(device) for t in f])
            batch.update(point_coords=coords, point_labels=labels, point_frames=pframes)
        if any(p.refer_mask is not None for p in prepared):
            grids = data['video_grid_thw']
            batch['refer_mask'] = [(p.refer_mask if p.refer_mask is not None else
                                    torch.zeros(int(g[0]), 0, int(g[1]) // 2, int(g[2]) // 2, dtype=torch.bool)
                                    ).to(device) for p, g in zip(prepared, grids)]
        model.seg_state_collector = []
        try:
            with torch.inference_mode():
                if teacher[0]:
                    model(**batch)
                    new = None
                else:
                    prompt_len = batch['input_ids'].shape[1]
                    ids = model.generate(**batch, do_sample=False, temperature=None, top_p=None, top_k=None,
                                         repetition_penalty=None, max_new_tokens=self.max_new_tokens,
                                         pad_token_id=self.processor.tokenizer.pad_token_id)
                    new = ids[:, prompt_len:]
            collected = model.seg_state_collector
        finally:
            model.seg_state_collector = None
        prompt_rows = collected[0][1]
        lasts = [entry for kind, entry in collected if kind == 'last']
        seg_id = model.config.seg_token_id
        out = []
        for b, p in enumerate(prepared):
            rows = [prompt_rows[b]]
            if new is not None:
                steps = (new[b] == seg_id).nonzero()[:, 0].tolist()
                rows += [lasts[k][b][None] for k in steps]
                text = self._decode_text(new[b])
            else:
                text = p.answer
            out.append((torch.cat(rows), text))
        return out

    def _decode_text(self, ids: torch.Tensor) -> str:
        tok = self.processor.tokenizer
        stop = {tok.convert_tokens_to_ids('<|im_end|>'), tok.pad_token_id, tok.convert_tokens_to_ids('<|endoftext|>')}
        kept = []
        for t in ids.tolist():
            if t in stop:
                break
            kept.append(t)
        return self.processor.decode(kept, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def _run_batch(self, prepared) -> list[UniPixelResult]:
        results = []
        llm = self._llm_seg_states(prepared)
        sam, indices = zip(*[self._sam_frames(p.media) for p in prepared])
        # single images that need masks: one SAM 2 image-encoder call for all of them
        batchable = [b for b, (p, (states, _)) in enumerate(zip(prepared, llm))
                     if states.size(0) and len(sam[b]) == 1 and not self.model.config.sam2_batch_mode]
        encoded = {}
        if len(batchable) > 1:
            entries = self.model.sam2.encode_frames(torch.cat([sam[b] for b in batchable]))
            encoded = {b: {0: entry} for b, entry in zip(batchable, entries)}
        for b, (p, (states, reply)) in enumerate(zip(prepared, llm)):
            media = p.media
            self.model.seg_prompts = []
            if isinstance(sam[b], LazySAM2Frames):
                masks, logits = self._stream_masks(states, sam[b], media.size)
            else:
                logits = [] if self.keep_logits else None
                masks = self.model.decode_masks(states, sam[b], media.size, features=encoded.get(b),
                                                verbose=self.progress and len(sam[b]) > 1, logits_out=logits)
                masks = [m[0].numpy() for m in masks]
                if self.mask_format == 'rle':
                    masks = RLEMasks([[encode_rle(f) for f in m] for m in masks], media.size)
                logits = None if logits is None else [x.numpy() for x in logits]
            results.append(UniPixelResult(reply, masks, media, p.text, indices[b], list(self.model.seg_prompts),
                                          logits))
        return results

    def _stream_masks(self, states: torch.Tensor, frames: LazySAM2Frames, size: tuple[int, int]):
        """Track ``states`` through frames read one at a time, with SAM 2's state bounded by ``keep_memories``;
        each frame's masks are COCO RLE as soon as they are decoded (dense arrays with ``mask_format='dense'``)."""
        count, total = states.size(0), len(frames)
        dense = self.mask_format == 'dense'
        masks = np.zeros((count, total, *size), dtype=bool) if dense and count else None
        rles: list[list[dict]] = [[] for _ in range(count)]
        logits = np.zeros((count, total, *size), dtype=np.float32) if self.keep_logits and count else None
        for idx, frame_logits in self.model.track_masks(states, frames, size, keep_memories=self.keep_memories,
                                                        verbose=self.progress):
            frame_masks = (frame_logits > 0).cpu().numpy()
            if dense:
                masks[:, idx] = frame_masks
            else:
                for obj, mask in enumerate(frame_masks):
                    rles[obj].append(encode_rle(mask))
            if logits is not None:
                logits[:, idx] = frame_logits.float().cpu().numpy()
        tracks = list(masks) if dense and count else [] if dense else RLEMasks(rles, size)
        return tracks, None if not self.keep_logits else list(logits) if count else []

    def _sam_frames(self, media: Media):
        """SAM 2's frames and their numbers in the source: the sampled frames, or with ``sam2_frames='all'`` every
        frame of a video file / frame folder / list of frame files, decoded lazily one at a time."""
        size = self.model.config.sam2_image_size
        whole = self.sam2_frames == 'all' and media.kind == 'video' and media.total_frames > len(media.frames)
        source = media.files or media.source  # a list of frame files: exactly those frames
        if whole and (media.files or isinstance(media.source, str) and os.path.exists(media.source)):
            from unipixel_plugin.inference.media import frame_reader
            read, total = frame_reader(source)
            return LazySAM2Frames(read, total, size), list(range(total))
        return sam2_frames(torch.from_numpy(np.array(media.frames)), size).to(self.device), list(media.indices)


__all__ = ['UniPixelPredictor', 'UniPixelResult', 'RLEMasks', 'RequestError', 'Request', 'resolve_device',
           'resolve_dtype']
