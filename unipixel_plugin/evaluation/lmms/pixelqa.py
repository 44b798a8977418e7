"""The lmms-eval side of PixelQA, UniPixel's own benchmark (upstream ``unipixel/eval/infer_pixelqa.py`` and
``eval_pixelqa.py``): VideoRefer-Bench-Q's questions whose objects are given as a point or a box on the question's
frame; the model first segments them, then answers the question about its own masks.

One document per question and prompt mode (``point``, ``box`` or ``mix``); its ``pixelqa_request`` (JSON) holds the
media, the timeline, the prompt frame, each object's ground-truth masks (COCO RLE, ``None`` where not annotated),
the mode, the seed and the prompt kind chosen per object. :func:`run_pixelqa` (called by the ``unipixel`` adapter)
runs upstream's protocol:

* frames: ``sample_frames`` (16) of the annotated timeline, uniformly, with the question's frame kept
  (``load_frames_with_inds_keep``); SAM 2 tracks on the same frames (``sample_for_llm_only=False``); the LLM pixel
  budget is the default inference one (``128*28*28`` / ``256*28*28*int(16/len)``);
* pass 1 (teacher-forced): :func:`~unipixel_plugin.prompts.pixelqa_localize_request` with one region prompt per
  object on the prompt frame, drawn from its ground-truth mask resized to SAM 2's square input: a point is the
  distance-transform centre of the mask (SAM 2's ``get_next_point(mask, None, 'center')``), a box the mask's tight
  box (``sample_box_points(mask, noise=-1)``). ``mix`` gives one object a random kind and several objects half
  points / half boxes (``random.sample``); upstream draws unseeded, here the draw is seeded per question
  (:func:`question_seed`) so a run is repeatable;
* pass 2: the pass-1 masks become ``<|mem|>`` tokens (``refer_mask``; an object whose mask is empty on every frame is
  marked on all frames) after the region prefix, then the question with its options and "Please only give the best
  option." (object tags named ``[N]``); generation is prefilled with "The best option is (".

The answer is the adapter's usual JSON: ``answer`` (pass 2's text), ``masks`` (pass 1's masks, per object per
sampled frame as COCO RLE) and ``frame_indices`` (the sampled timeline positions). Scores: multiple-choice accuracy
(:mod:`~unipixel_plugin.evaluation.metrics.multiple_choice`, as VideoRefer-Bench-Q) and, per object, volume J and
pixel F1 of the pass-1 masks against the ground truth on the sampled frames (a frame without annotation is empty),
averaged over all objects of all questions (``eval_pixelqa.py``: J, F and J&F = their mean).
"""
from __future__ import annotations

import json
import logging
import random
import zlib
from dataclasses import dataclass, field

import numpy as np

from unipixel_plugin.evaluation.lmms.documents import (answer_record, process_docs_hook, reader_docs,
                                                      timeline_media,
                                                      video_doc_to_messages, video_doc_to_text,
                                                      video_doc_to_visual)
from unipixel_plugin.evaluation.metrics.multiple_choice import choice_accuracy, score_choice
from unipixel_plugin.evaluation.metrics.pixelqa import pixel_f1, pixelqa_volume_j
from unipixel_plugin.prompts import BEST_OPTION_PREFIX, pixelqa_localize_request, region_question

logger = logging.getLogger(__name__)

MODES = ('point', 'box', 'mix')
KINDS = ('point', 'box')


def question_seed(question_id: str) -> int:
    """The seed of a question's ``mix`` draw: CRC-32 of ``pixelqa:<question id>`` (the same in every run)."""
    return zlib.crc32(f'pixelqa:{question_id}'.encode())


def prompt_kinds(mode: str, count: int, seed: int) -> list[str]:
    """Which prompt each of ``count`` objects gets: ``point`` / ``box`` for every object in those modes; ``mix`` as
    upstream (one object: ``random.choice`` of the two; several: ``random.sample`` of ``round(count / 2)`` objects
    get points, the rest boxes), drawn from ``random.Random(seed)``."""
    if mode not in MODES:
        raise ValueError(f'PixelQA mode must be one of {MODES}, got {mode!r}')
    if mode != 'mix':
        return [mode] * count
    rng = random.Random(seed)
    if count == 1:
        return [rng.choice(list(KINDS))]
    points = rng.sample(list(range(count)), round(count / 2))
    return ['point' if k in points else 'box' for k in range(count)]


# ---------------------------------------------------------------------------------------------- documents
def build_docs(dataset: str, split: str, data_root: str | None = None) -> list[dict]:
    """One document per question of VideoRefer-Bench-Q (PixelQA's questions); ``split`` is the prompt mode."""
    if dataset != 'pixelqa':
        raise ValueError(f'unknown PixelQA dataset {dataset!r}; expected pixelqa')
    if split not in MODES:
        raise ValueError(f'PixelQA mode must be one of {MODES}, got {split!r}')
    return reader_docs('VideoReferBenchQDataset', data_root, lambda sample: _doc(sample, split), 'pixelqa',
                       what='question')


def _doc(sample, mode: str) -> dict:
    from unipixel_plugin.evaluation.lmms.region_questions import _object_rles
    positions = list(range(len(sample.meta['timeline'])))
    masks = [_object_rles(obj, positions, None) for obj in sample.objects]
    localize, localize_answer, object_ids = pixelqa_localize_request(sample.meta['question'], sample.options)
    prompt, named = region_question(sample.meta['question'], sample.options)
    if not (len(object_ids) == len(named) == len(masks)):
        raise ValueError(f'the question tags {len(object_ids)} objects but {len(masks)} are annotated')
    for oid, track in zip(object_ids, masks):
        if track[sample.prompt_frame] is None:
            raise ValueError(f'object {oid} has no mask on the question\'s frame {sample.meta["frame_idx"]}: no '
                             'point or box can be drawn')
    seed = question_seed(sample.id)
    media, video = timeline_media(sample)
    request = {**media, 'masks': masks, 'object_ids': object_ids, 'mode': mode,
               'seed': seed, 'kinds': prompt_kinds(mode, len(masks), seed), 'localize': localize,
               'localize_answer': localize_answer, 'question': prompt, 'answer_prefix': BEST_OPTION_PREFIX}
    return {'id': sample.id, 'video': video, 'question': sample.meta['question'], 'prompt': prompt,
            'options': json.dumps(sample.options), 'answer': sample.answer, 'type': sample.task or 'unknown',
            'mode': mode, 'pixelqa_request': json.dumps(request)}


def process_docs_for(dataset: str, split: str):
    """The ``process_docs`` hook of one prompt mode (:func:`~.documents.process_docs_hook`)."""
    return process_docs_hook(build_docs, dataset, split)


doc_to_messages, doc_to_visual, doc_to_text = video_doc_to_messages, video_doc_to_visual, video_doc_to_text


# ---------------------------------------------------------------------------------------------- region prompts
def sam_square_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """A ``(H, W)`` mask resized to SAM 2's ``size x size`` input as upstream does it (torchvision's bilinear,
    antialiased resize of the float mask, then ``> 0``)."""
    import torch
    import torch.nn.functional as F
    x = torch.from_numpy(np.asarray(mask, dtype=np.float32))[None, None]
    x = F.interpolate(x, size=(size, size), mode='bilinear', align_corners=False, antialias=True)
    return (x[0, 0] > 0).numpy()


def center_point(mask: np.ndarray) -> tuple[int, int]:
    """``(x, y)`` of the mask pixel farthest from its boundary (L2 distance transform with a 1-pixel zero border,
    first maximum in raster order): SAM 2's ``get_next_point(mask, None, 'center')``."""
    import cv2
    padded = np.pad(np.asarray(mask, dtype=np.uint8), ((1, 1), (1, 1)), 'constant')
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, 0)[1:-1, 1:-1]
    index = int(np.argmax(distance.reshape(-1)))
    return index % mask.shape[1], index // mask.shape[1]


def tight_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)``, inclusive pixel indices: SAM 2's ``sample_box_points(mask, noise=-1)``."""
    from unipixel_plugin.masks import mask_to_box
    box = mask_to_box(np.asarray(mask, bool))
    if box is None:
        raise ValueError('cannot draw a box around an empty mask')
    return tuple(int(v) for v in box)


def _image_coordinate(value: int, length: int, size: int) -> float:
    """The pixel coordinate in a frame side of ``length`` that the predictor maps to exactly ``value`` in SAM 2's
    ``size`` square (:func:`~unipixel_plugin.models.processing_unipixel.image_prompt_to_sam`); checked."""
    from unipixel_plugin.models.processing_unipixel import image_prompt_to_sam
    coordinate = value * length / size
    if float(image_prompt_to_sam([[coordinate, 0.0]], (1, length), size)[0, 0]) != float(value):
        raise ValueError(f'the coordinate {value} of the {size} square does not map back from a {length}-pixel side')
    return coordinate


def region_prompts(masks: list[np.ndarray], kinds: list[str], frame: int, size: int):
    """Each object's prompt on sampled frame ``frame`` from its ground-truth mask there (``(H, W)``, the frame's
    size): a :class:`~unipixel_plugin.models.processing_unipixel.PromptObject` in frame pixels whose SAM 2
    coordinates (``size`` square) are exactly upstream's, and those SAM 2 coordinates (``[[x, y]]`` or
    ``[[x0, y0], [x1, y1]]``)."""
    from unipixel_plugin.models.processing_unipixel import PromptObject
    prompts, sam = [], []
    for k, (mask, kind) in enumerate(zip(masks, kinds)):
        square = sam_square_mask(mask, size)
        if not square.any():
            raise ValueError(f'object {k}: its mask on the prompt frame is empty')
        height, width = mask.shape
        if kind == 'point':
            x, y = center_point(square)
            prompts.append(PromptObject(point=(_image_coordinate(x, width, size), _image_coordinate(y, height, size)),
                                        frame=frame))
            sam.append([[x, y]])
        elif kind == 'box':
            x0, y0, x1, y1 = tight_box(square)
            prompts.append(PromptObject(box=(_image_coordinate(x0, width, size), _image_coordinate(y0, height, size),
                                             _image_coordinate(x1, width, size), _image_coordinate(y1, height, size)),
                                        frame=frame))
            sam.append([[x0, y0], [x1, y1]])
        else:
            raise ValueError(f'unknown prompt kind {kind!r}; expected point or box')
    return prompts, sam


# ---------------------------------------------------------------------------------------------- the two passes
@dataclass
class PixelQAOutput:
    """What :func:`run_pixelqa` returns: pass 2's answer, pass 1's masks and what was sent."""
    text: str
    masks: list[np.ndarray]  # per object (T, H, W) bool on the sampled frames
    positions: list[int]  # sampled timeline positions
    localize: str  # pass 1's user text
    question: str  # pass 2's user text (region prefix + question)
    sam_prompts: list = field(default_factory=list)  # per object, the SAM 2 coordinates of its point / box

    def to_answer(self) -> str:
        """The adapter's answer JSON: ``{"answer", "masks", "frame_indices"}``."""
        from unipixel_plugin.masks import encode_rle
        return json.dumps({'answer': self.text, 'masks': [[encode_rle(m) for m in obj] for obj in self.masks],
                           'frame_indices': list(self.positions)})


def load_frames(spec: dict, sample_frames: int):
    """The sampled timeline positions (question's frame kept) and their ``(T, H, W, 3)`` frames."""
    from unipixel_plugin.data.media import load_timeline, sample_frame_positions
    from unipixel_plugin.data.pipeline import keep_frame

    def choose(length: int) -> list[int]:
        return keep_frame(sample_frame_positions(length, sample_frames), spec['prompt_frame'])

    return load_timeline(spec['media_type'], spec['media'], spec.get('frame_indices'), choose)


def _mask_at(spec: dict, obj: int, position: int, size) -> np.ndarray:
    from unipixel_plugin.masks import decode_rle
    rle = spec['masks'][obj][position]
    if rle is None:
        return np.zeros(tuple(size), bool)
    mask = decode_rle(rle)
    if mask.shape != tuple(size):
        raise ValueError(f'object {spec["object_ids"][obj]}: its mask on timeline frame {position} is '
                         f'{mask.shape[1]}x{mask.shape[0]} but the frame is {size[1]}x{size[0]}')
    return mask


def run_pixelqa(predictor, spec: dict, source: str = '', max_new_tokens: int | None = None) -> PixelQAOutput:
    """Upstream's two passes for one document's ``pixelqa_request`` (see the module docstring).

    Raises the predictor's error (ValueError / OSError) when a pass cannot run."""
    import torch

    from unipixel_plugin.inference import Request, RequestError
    from unipixel_plugin.inference.media import Media
    from unipixel_plugin.models.object_memory import mem_prompt_prefix, refer_mask_from_masks

    positions, frames = load_frames(spec, predictor.sample_frames)
    size = frames.shape[1:3]
    media = Media(frames, list(positions), 'video' if len(positions) > 1 else 'image', source, len(positions))
    frame = list(positions).index(spec['prompt_frame'])
    gt = [_mask_at(spec, k, spec['prompt_frame'], size) for k in range(len(spec['masks']))]
    regions, sam = region_prompts(gt, spec['kinds'], frame, predictor.model.config.sam2_image_size)

    def single(request):
        result = predictor.run([request])[0]
        if isinstance(result, RequestError):
            raise result.exception if result.exception is not None else ValueError(result.error)
        return result

    located = single(Request(media, spec['localize'], tuple(regions), spec['localize_answer']))
    tracks = [np.asarray(located.masks[k], bool) for k in range(len(located.masks))]
    if len(tracks) != len(regions):
        raise ValueError(f'pass 1 gave {len(tracks)} masks for {len(regions)} objects')
    masks = torch.from_numpy(np.stack(tracks, axis=1)).float()  # (T, O, H, W)
    grid = predictor.inputs.grid_for(torch.from_numpy(frames))
    refer = refer_mask_from_masks(masks, grid, fill_empty=True)
    question = mem_prompt_prefix(refer, len(positions), spec['object_ids']) + spec['question']
    old = predictor.max_new_tokens
    predictor.max_new_tokens = int(max_new_tokens or old)
    try:
        answered = single(Request(media, question, refer_mask=refer, answer_prefix=spec['answer_prefix']))
    finally:
        predictor.max_new_tokens = old
    return PixelQAOutput(answered.text, tracks, list(positions), located.prompt, answered.prompt, sam)


def answer_pixelqa(predictor, doc: dict, max_new_tokens: int | None = None, where: str = 'pixelqa') -> str:
    """The adapter's answer to a PixelQA document: :meth:`PixelQAOutput.to_answer`, or an empty text (logged,
    scored as a miss) when its media or masks cannot be used."""
    try:
        return run_pixelqa(predictor, json.loads(doc['pixelqa_request']), str(doc.get('video', '')),
                           max_new_tokens).to_answer()
    except (OSError, ValueError, RuntimeError) as err:
        logger.warning('%s: %s: %s; answered with an empty text', where, type(err).__name__, err)
        return ''


# ---------------------------------------------------------------------------------------------- scores
def mask_scores(doc: dict, record: dict) -> tuple[list[float], list[float]]:
    """Per object, volume J and pixel F1 of the answer's masks against the ground truth on the answer's frames; an
    answer without masks (another model, a failed request) scores 0 for every object."""
    from unipixel_plugin.masks import decode_rle
    spec = json.loads(doc['pixelqa_request'])
    predicted = record.get('masks') or []
    positions = record.get('frame_indices') or []
    js, fs = [], []
    for k in range(len(spec['masks'])):
        if k >= len(predicted) or not predicted[k]:
            js.append(0.0)
            fs.append(0.0)
            continue
        if len(predicted[k]) != len(positions):
            raise ValueError(f'pixelqa question {doc["id"]}: object {k} has {len(predicted[k])} masks for '
                             f'{len(positions)} frames')
        pred = np.stack([decode_rle(rle) for rle in predicted[k]])
        truth = np.stack([_mask_at(spec, k, p, pred.shape[1:]) for p in positions])
        js.append(pixelqa_volume_j(pred, truth))
        fs.append(pixel_f1(pred, truth))
    return js, fs


def process_results(doc: dict, results: list) -> dict:
    """The answer's verdict (correct / wrong / failed, as VideoRefer-Bench-Q) and its objects' J and F."""
    answer = results[0] if results else ''
    record = answer_record(answer)
    text = record.get('answer', answer) if record else answer
    options = json.loads(doc['options'])
    verdict = score_choice(text, doc['answer'], len(options))
    j, f = mask_scores(doc, record)
    item = {'response': text, 'answer': doc['answer'], 'num_options': len(options), 'task': doc['type'],
            'correct': verdict is True, 'failed': verdict is None, 'id': doc['id'], 'j': j, 'f': f}
    return {'accuracy': item, 'J': item, 'F': item, 'J&F': item}


def aggregate_accuracy(items: list[dict]) -> float:
    """Fraction of questions answered with the right option (an answer naming none is wrong; logged)."""
    result = choice_accuracy(items)
    if result.overall.failed:
        logger.warning('PixelQA: %d of %d answers named no option (counted as wrong)', result.overall.failed,
                       result.overall.samples)
    return result.overall.accuracy


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def aggregate_j(items: list[dict]) -> float:
    """Mean volume J over all objects of all questions."""
    return _mean([v for item in items for v in item['j']])


def aggregate_f(items: list[dict]) -> float:
    """Mean pixel F1 over all objects of all questions."""
    return _mean([v for item in items for v in item['f']])


def aggregate_jf(items: list[dict]) -> float:
    """``(J + F) / 2`` (eval_pixelqa.py's J&F)."""
    return (aggregate_j(items) + aggregate_f(items)) / 2


__all__ = ['MODES', 'question_seed', 'prompt_kinds', 'build_docs', 'process_docs_for', 'doc_to_messages',
           'doc_to_visual', 'doc_to_text', 'sam_square_mask', 'center_point', 'tight_box', 'region_prompts',
           'PixelQAOutput', 'load_frames', 'run_pixelqa', 'answer_pixelqa', 'mask_scores', 'process_results',
           'aggregate_accuracy', 'aggregate_j', 'aggregate_f', 'aggregate_jf']
