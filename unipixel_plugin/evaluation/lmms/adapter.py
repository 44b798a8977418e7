"""UniPixel as an lmms-eval model (``lmms-eval --model unipixel --model_args pretrained=...``).

Answers are plain text; when the model produced masks (``<|seg|>``), the answer is a JSON string
``{"answer": text, "masks": [[COCO RLE per frame] per object], "frame_indices": [...]}`` — the precedent of
lmms-eval's ``sam3`` model — which mask-scoring tasks decode in ``process_results``.

Long runs lose nothing: with ``journal=PATH`` every answer is appended to a JSON-lines file as soon as it is produced
(flushed and synced), and a run with the same journal answers the requests found there without generating them again
(lmms-eval's own ``--use_cache`` stores a batch's answers only after the whole batch). A request that fails (a corrupt
video, a missing file) is logged with its task and document and answered with an empty text — scored as a miss — and
the run goes on; it is not journaled, so the next run tries it again.

A document may list the frames a benchmark evaluates on (``frame_files``: a JSON list of image paths, GroundMoRe's
20 of a folder): the request's video is then exactly those frames (the LLM sees ``sample_frames`` of them, SAM 2 all
of them with ``sam2_frames=all``) instead of the whole folder its message names. A document with a
``region_request`` (VideoRefer-Bench-Q, :mod:`.region_questions`) gives its objects as masks: the adapter samples the
annotated frames, turns the masks into ``refer_mask`` and the ``<|mem|>`` region prefix, and uses the request's
pixel budget and answer prefix. A document with a ``pixelqa_request`` (PixelQA, :mod:`.pixelqa`) runs upstream's two
passes: its objects are segmented from points / boxes, then the question is answered about those masks; the answer
carries pass 2's text and pass 1's masks.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os

import numpy as np
from lmms_eval.api.instance import Instance
from lmms_eval.api.model import lmms
from tqdm import tqdm

from unipixel_plugin.prompts import SEG_TOKEN

logger = logging.getLogger(__name__)


class UniPixelLMM(lmms):
    """Chat-style lmms-eval adapter.

    model_args: ``pretrained`` (checkpoint dir or hub id, required), ``device`` (auto), ``dtype`` (auto),
    ``sample_frames`` (16), ``max_new_tokens`` (256), ``attn_implementation`` (sdpa), ``min_pixels``, ``max_pixels``,
    ``sam2_frames`` (``all``: SAM 2 tracks every frame of a video, upstream's evaluation; ``sampled``: the 16),
    ``journal`` (a JSON-lines file of produced answers: resumable runs, see the module docstring), ``sam2_dtype``
    (``fp32``; ``bf16`` runs SAM 2 in bfloat16 as upstream's evaluation does, see docs/inference.md "Numerics"),
    ``batch_size`` (1; also ``--batch_size``, model_args win: requests with the same generation settings go through
    the predictor's batched ViT + LLM, same answers as one at a time).
    """

    is_simple = False

    def __init__(self, pretrained: str | None = None, device: str = 'auto', dtype: str = 'auto',
                 sample_frames: int = 16, max_new_tokens: int = 256, attn_implementation: str = 'sdpa',
                 min_pixels: int | None = None, max_pixels: int | None = None, batch_size=1,
                 sam2_frames: str = 'all', journal: str | None = None, sam2_dtype: str = 'fp32', **kwargs):
        super().__init__()
        if not pretrained:
            raise ValueError('--model unipixel needs --model_args pretrained=<checkpoint dir or hub id>')
        from unipixel_plugin.inference import UniPixelPredictor
        if not str(batch_size).isdigit() or int(batch_size) < 1:
            raise ValueError(f'--model unipixel: batch_size must be a positive integer, got {batch_size!r}')
        self.predictor = UniPixelPredictor.from_pretrained(
            pretrained, device=self._process_device(device), dtype=dtype, attn_implementation=attn_implementation,
            sample_frames=int(sample_frames), max_new_tokens=int(max_new_tokens),
            min_pixels=int(min_pixels) if min_pixels else None, max_pixels=int(max_pixels) if max_pixels else None,
            sam2_frames=sam2_frames, sam2_dtype=sam2_dtype)
        self.batch_size_per_gpu = int(batch_size)
        self.pretrained = pretrained
        self.settings = dict(pretrained=str(pretrained), sample_frames=int(sample_frames), sam2_frames=sam2_frames,
                             min_pixels=min_pixels, max_pixels=max_pixels, dtype=dtype, sam2_dtype=sam2_dtype)
        self.journal = journal
        self.journaled = self._read_journal() if journal else {}
        self.resumed = 0

    def _read_journal(self) -> dict:
        answers = {}
        if not os.path.isfile(self.journal):
            return answers
        with open(self.journal, encoding='utf-8') as f:
            for n, line in enumerate(f):
                try:
                    entry = json.loads(line)
                    answers[entry['key']] = entry['answer']
                except (json.JSONDecodeError, KeyError, TypeError):  # a line cut by a kill: that answer is redone
                    logger.warning('%s: line %d is not a complete entry; its request will be generated again',
                                   self.journal, n + 1)
        return answers

    def request_key(self, request: Instance) -> str:
        """Identifies an answer: task, split, document, generation settings and the model settings."""
        _, _, gen_kwargs, doc_id, task, split = request.args
        gen = {k: v for k, v in (gen_kwargs or {}).items() if isinstance(v, (int, float, str, bool, type(None)))}
        payload = json.dumps([task, split, doc_id, request.idx, gen, self.settings], sort_keys=True, default=str)
        return hashlib.sha1(payload.encode()).hexdigest()

    def _write_journal(self, key: str, request: Instance, answer: str) -> None:
        _, _, _, doc_id, task, _ = request.args
        directory = os.path.dirname(os.path.abspath(self.journal))
        os.makedirs(directory, exist_ok=True)
        line = json.dumps({'key': key, 'task': task, 'doc_id': doc_id, 'rank': self.rank, 'answer': answer}) + '\n'
        with open(self.journal, 'a', encoding='utf-8') as f:
            try:  # the processes of a multi-process run share the journal: one whole line at a time
                import fcntl
                fcntl.flock(f, fcntl.LOCK_EX)
            except ImportError:  # no fcntl (Windows): appends of one process at a time only
                pass
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    @property
    def batch_size(self):
        return self.batch_size_per_gpu

    @property
    def device(self):
        """The model's device (lmms-eval's multi-process route puts its request counts there to gather them)."""
        return self.predictor.device

    @classmethod
    def create_from_arg_string(cls, arg_string: str, additional_config: dict | None = None):
        """As lmms-eval's, except that ``--model_args`` win over the CLI's ``--batch_size`` / ``--device``: the CLI
        always passes ``batch_size`` (default 1), so ``--model_args batch_size=3`` would otherwise fail with
        "got multiple values for keyword argument"."""
        from lmms_eval import utils
        args = utils.simple_parse_args_string(arg_string)
        extra = {k: v for k, v in (additional_config or {}).items() if v is not None and k not in args}
        return cls(**args, **extra)

    @staticmethod
    def _process_device(device: str | None) -> str | None:
        """``auto`` in a multi-process run (``accelerate launch``, ``torchrun``) on GPUs: this process's GPU
        (``LOCAL_RANK``), not every process on GPU 0."""
        import torch
        if device in (None, 'auto') and int(os.environ.get('WORLD_SIZE', '1')) > 1 and torch.cuda.is_available():
            return f'cuda:{int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count()}'
        return device

    def _media_and_text(self, messages, doc: dict | None = None) -> tuple:
        from lmms_eval.protocol import ChatMessages

        from unipixel_plugin.inference import load_media
        chat = ChatMessages(messages=messages)
        images, videos, _ = chat.extract_media()
        texts = [c.text for m in chat.messages if m.role == 'user' for c in m.content if c.type == 'text']
        frame_files = (doc or {}).get('frame_files')
        if videos and frame_files:  # the benchmark's chosen frames of the folder (GroundMoRe's 20), not all of it
            media = load_media(json.loads(frame_files), self.predictor.sample_frames)
        elif videos:
            media = load_media(videos[0], self.predictor.sample_frames)
        elif images:
            image = images[0]
            if isinstance(image, str):  # a path, as this package's tasks give it
                media = load_media(image)
            else:
                media = load_media(np.asarray(image.convert('RGB')) if hasattr(image, 'convert') else
                                   np.asarray(image))
        else:
            raise ValueError('UniPixel needs an image or a video in every request')
        return media, '\n'.join(texts)

    @staticmethod
    def _message_text(messages) -> str:
        from lmms_eval.protocol import ChatMessages
        chat = ChatMessages(messages=messages)
        return '\n'.join(c.text for m in chat.messages if m.role == 'user' for c in m.content if c.type == 'text')

    def _region_request(self, spec: dict, source: str, text: str):
        """A request about objects given as masks (a document's ``region_request``, see
        :mod:`~unipixel_plugin.evaluation.lmms.region_questions`): ``sample_frames`` frames of the annotated
        timeline with ``prompt_frame`` kept (upstream's sampling), the objects' masks on them as ``refer_mask``, the
        region prefix with one ``<|mem|>`` per (object, frame pair) before ``text``, the request's pixel budget and
        answer prefix."""
        import torch

        from unipixel_plugin.data.media import load_timeline, sample_frame_positions
        from unipixel_plugin.data.pipeline import keep_frame
        from unipixel_plugin.inference import Request
        from unipixel_plugin.inference.media import Media
        from unipixel_plugin.masks import decode_rle
        from unipixel_plugin.models.object_memory import mem_prompt_prefix, refer_mask_from_masks

        def choose(length: int) -> list[int]:
            positions = sample_frame_positions(length, self.predictor.sample_frames)
            return keep_frame(positions, spec['prompt_frame']) if spec.get('prompt_frame') is not None else positions

        positions, frames = load_timeline(spec['media_type'], spec['media'], spec.get('frame_indices'), choose)
        size = frames.shape[1:3]
        masks = torch.zeros(len(positions), len(spec['masks']), *size)
        for o, track in enumerate(spec['masks']):
            for i, t in enumerate(positions):
                if track[t] is not None:
                    mask = decode_rle(track[t])
                    if mask.shape != tuple(size):
                        raise ValueError(f'object {spec["object_ids"][o]}: its mask on timeline frame {t} is '
                                         f'{mask.shape[1]}x{mask.shape[0]} but the frame is {size[1]}x{size[0]}')
                    masks[i, o] = torch.from_numpy(mask).float()
        grid = self.predictor.inputs.grid_for(torch.from_numpy(frames), budget=spec.get('budget'))
        refer = refer_mask_from_masks(masks, grid, fill_empty=spec.get('fill_empty', True))
        prefix = mem_prompt_prefix(refer, len(positions), spec['object_ids'])
        kind = 'video' if len(positions) > 1 else 'image'
        media = Media(frames, list(positions), kind, source, len(positions))
        return Request(media, prefix + text, refer_mask=refer, answer_prefix=spec.get('answer_prefix', ''),
                       budget=spec.get('budget'))

    def generate_until(self, requests: list[Instance]) -> list[str]:
        """Answer ``requests`` ``batch_size`` at a time through the predictor's batch path.

        Requests are grouped by what a batch must share (``max_new_tokens``, the pixel budget); a group runs as
        soon as it holds ``batch_size`` requests (and the rest at the end), so only that many decoded media wait
        in memory per group, and each answer is journaled as soon as its batch is done. The progress bar counts
        requests.
        """
        outputs: list = [None] * len(requests)
        groups: dict = {}  # generation settings -> [(position, request, journal key, prepared request)]
        size = max(1, self.batch_size_per_gpu)
        resumed = 0
        with tqdm(total=len(requests), desc='UniPixel', disable=self.rank != 0) as bar:
            for i, request in enumerate(requests):
                _, doc_to_messages, gen_kwargs, doc_id, task, split = request.args
                key = self.request_key(request) if self.journal else None
                if key is not None and key in self.journaled:
                    outputs[i] = self.journaled[key]
                    resumed += 1
                    bar.update(1)
                    continue
                try:
                    doc = self.task_dict[task][split][doc_id]
                    if doc.get('pixelqa_request'):  # PixelQA: two passes, one document at a time
                        outputs[i] = self._pixelqa(request, key, doc, gen_kwargs)
                        bar.update(1)
                        continue
                    prepared = self._prepare_request(doc, doc_to_messages)
                except (OSError, ValueError, RuntimeError) as err:  # the document's media cannot be read
                    logger.warning('%s doc %s: %s: %s; answered with an empty text', task, doc_id,
                                   type(err).__name__, err)
                    outputs[i] = ''
                    bar.update(1)
                    continue
                settings = (int((gen_kwargs or {}).get('max_new_tokens', self.predictor.max_new_tokens)),
                            prepared.budget)
                group = groups.setdefault(settings, [])
                group.append((i, request, key, prepared))
                if len(group) >= size:
                    self._answer_batch(groups.pop(settings), settings[0], outputs, bar)
            for settings, group in groups.items():
                self._answer_batch(group, settings[0], outputs, bar)
        self.resumed += resumed
        if self.journal:
            logger.warning('%s: %d answer(s) taken from the journal, %d generated', self.journal, resumed,
                           len(requests) - resumed)
        return outputs

    def _pixelqa(self, request: Instance, key: str | None, doc: dict, gen_kwargs) -> str:
        """A PixelQA document's answer (:func:`~unipixel_plugin.evaluation.lmms.pixelqa.answer_pixelqa`: pass 1's
        masks, pass 2's text); one that could not be made is empty, logged and not journaled."""
        from unipixel_plugin.evaluation.lmms.pixelqa import answer_pixelqa
        _, _, _, doc_id, task, _ = request.args
        max_new_tokens = int((gen_kwargs or {}).get('max_new_tokens', self.predictor.max_new_tokens))
        answer = answer_pixelqa(self.predictor, doc, max_new_tokens, f'{task} doc {doc_id}')
        return self._finish(request, key, answer) if answer else answer

    def _prepare_request(self, doc: dict, doc_to_messages):
        """The predictor request of one document (its media decoded); raises when the media cannot be read."""
        from unipixel_plugin.inference import Request
        if doc.get('region_request'):  # objects given as masks (VideoRefer-Bench-Q): frames chosen there
            return self._region_request(json.loads(doc['region_request']), str(doc.get('video', '')),
                                        self._message_text(doc_to_messages(doc)))
        return Request(*self._media_and_text(doc_to_messages(doc), doc))

    def _run_predictor(self, prepared: list, max_new_tokens: int) -> list:
        """``predictor.run`` on one batch with this generation budget. When the batch itself fails (media that
        break only while SAM 2 reads every frame), its requests run again one at a time so that only the bad one
        is lost."""
        from unipixel_plugin.inference import RequestError
        old = self.predictor.max_new_tokens
        self.predictor.max_new_tokens = max_new_tokens
        try:
            try:
                return self.predictor.run(prepared, batch_size=len(prepared))
            except (OSError, ValueError, RuntimeError) as err:
                if len(prepared) == 1:
                    return [RequestError(str(getattr(prepared[0].media, 'source', '')), f'{type(err).__name__}: '
                                         f'{err}', err)]
                logger.warning('a batch of %d failed (%s: %s); running its requests one at a time', len(prepared),
                               type(err).__name__, err)
                return [self._run_predictor([p], max_new_tokens)[0] for p in prepared]
        finally:
            self.predictor.max_new_tokens = old

    def _answer_batch(self, items: list, max_new_tokens: int, outputs: list, bar) -> None:
        """Run one batch of ``(position, request, journal key, prepared)`` and record (and journal) its answers."""
        from unipixel_plugin.inference import RequestError
        results = self._run_predictor([p for _, _, _, p in items], max_new_tokens)
        for (i, request, key, _), result in zip(items, results):
            _, _, gen_kwargs, doc_id, task, _ = request.args
            if isinstance(result, RequestError):
                logger.warning('%s doc %s: %s; answered with an empty text', task, doc_id, result.error)
                outputs[i] = ''
            else:
                outputs[i] = self._finish(request, key, self._answer_text(result, (gen_kwargs or {}).get('until')))
            bar.update(1)

    def _finish(self, request: Instance, key: str | None, answer: str) -> str:
        """Journal a produced answer (when journaling) and return it."""
        if key is not None:
            self._write_journal(key, request, answer)
            self.journaled[key] = answer
        return answer

    @staticmethod
    def _answer_text(result, until=None) -> str:
        """The answer string of a result: its text cut at the first of the request's ``until`` strings (as
        lmms-eval's models do; the masks of ``<|seg|>`` tokens cut off go with them), a JSON string with the masks
        as COCO RLE when it made any."""
        text, masks = result.text, result.masks
        for stop in ([until] if isinstance(until, str) else until or []):
            if stop and stop in text:
                text = text.split(stop)[0]
        if len(masks) and text != result.text:
            masks = masks[:text.count(SEG_TOKEN)]
        if not len(masks):
            return text
        record = result.to_record()
        return json.dumps({'answer': text, 'masks': [o['rle'] for o in record['objects'][:len(masks)]],
                           'frame_indices': result.frame_indices})

    def loglikelihood(self, requests):
        raise NotImplementedError('UniPixel answers by generation; use tasks with output_type: generate_until')

    def generate_until_multi_round(self, requests):
        raise NotImplementedError('multi-round generation is not supported by the UniPixel adapter yet')
