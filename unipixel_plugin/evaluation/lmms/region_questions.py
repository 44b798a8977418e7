"""The lmms-eval side of VideoRefer-Bench-Q: multiple-choice questions about objects given as mask prompts, in
upstream's two settings (``unipixel/eval/infer_videorefer_q.py``): ``multi`` (every annotated mask of each object)
and ``single`` (``--single_frame_mode``: only the mask on the question's ``frame_idx``).

A document holds the question as upstream sends it after its region prefix (:func:`~unipixel_plugin.prompts.
region_question`: options, the instruction, object tags named ``[N]``), the answer letter, the question type and a
``region_request`` (JSON) that the ``unipixel`` adapter turns into the model's inputs:

* the timeline is the annotated frames (the union over objects); the frames are 16 of them sampled uniformly with the
  question's frame kept (upstream's ``load_frames_with_inds_keep``), the same frames for the LLM and the masks;
* each object's masks on those frames become ``refer_mask`` (temporal pairs max-pooled, resized to the patch grid,
  max-pooled per merged patch; an object without any mask there gets no ``<|mem|>``, as upstream) and the prefix
  "Here is a video with N frames denoted as <1> to <N>. The highlighted regions are as follows:\\n[id]: <t>-<t+1>
  <|mem|> ..." goes before the question;
* the LLM pixel budget is VideoRefer-Bench-Q's (``100*28*28`` / ``144*28*28*int(16/len)``, budget path
  ``videorefer_q``); generation is prefilled with "The best option is (".

Scoring is upstream's ``eval_general.py`` (:mod:`unipixel_plugin.evaluation.metrics.multiple_choice`): the letter is
read from the answer's first word; an answer that names no option is wrong and counted as failed. Accuracy overall
and per question type.
"""
from __future__ import annotations

import json
import logging

from unipixel_plugin.evaluation.lmms.documents import (answer_text, process_docs_hook, reader_docs,
                                                      timeline_media,
                                                      video_doc_to_messages, video_doc_to_text,
                                                      video_doc_to_visual)
from unipixel_plugin.evaluation.metrics.multiple_choice import choice_accuracy, score_choice
from unipixel_plugin.prompts import BEST_OPTION_PREFIX, region_question

logger = logging.getLogger(__name__)

MODES = ('multi', 'single')
BUDGET = 'videorefer_q'
# the question types of VideoRefer-Bench-Q and the metric that reports each
TYPE_METRICS = {'Basic Questions': 'accuracy_basic', 'Sequential Questions': 'accuracy_sequential',
                'Relationship Questions': 'accuracy_relationship', 'Reasoning Questions': 'accuracy_reasoning',
                'Future Predictions': 'accuracy_future'}


def build_docs(dataset: str, split: str, data_root: str | None = None) -> list[dict]:
    """One document per question of VideoRefer-Bench-Q; ``split`` is the mask setting, ``multi`` or ``single``."""
    if dataset != 'videorefer_bench_q':
        raise ValueError(f'unknown region-question dataset {dataset!r}; expected videorefer_bench_q')
    if split not in MODES:
        raise ValueError(f'VideoRefer-Bench-Q mode must be one of {MODES}, got {split!r}')
    return reader_docs('VideoReferBenchQDataset', data_root, lambda sample: _doc(sample, split), 'videorefer_bench_q',
                       what='question')


def _object_rles(obj, positions: list[int], keep_only: int | None) -> list:
    """One object's masks on the timeline as COCO RLE (``None`` where it has none); ``keep_only``: one position."""
    from unipixel_plugin.data.mask_parts import decode_object, part_size
    from unipixel_plugin.masks import encode_rle
    out = []
    for t in positions:
        parts = obj.frames[t] if t < len(obj.frames) else None
        if not parts or (keep_only is not None and t != keep_only):
            out.append(None)
            continue
        size = part_size(parts[0])
        if size is None:
            raise ValueError(f'object {obj.object_id}: the mask on timeline frame {t} does not say its size')
        out.append(encode_rle(decode_object(obj, [t], size)[0]))
    return out


def _doc(sample, mode: str) -> dict:
    positions = list(range(len(sample.meta['timeline'])))
    keep_only = sample.prompt_frame if mode == 'single' else None
    masks = [_object_rles(obj, positions, keep_only) for obj in sample.objects]
    prompt, object_ids = region_question(sample.meta['question'], sample.options)
    if len(object_ids) != len(masks):
        raise ValueError(f'the question tags {len(object_ids)} objects but {len(masks)} are annotated')
    media, video = timeline_media(sample)
    request = {**media, 'masks': masks, 'object_ids': object_ids,
               'answer_prefix': BEST_OPTION_PREFIX, 'budget': BUDGET, 'fill_empty': False}
    return {'id': sample.id, 'video': video, 'question': sample.meta['question'], 'prompt': prompt,
            'options': json.dumps(sample.options), 'answer': sample.answer, 'type': sample.task or 'unknown',
            'mode': mode, 'region_request': json.dumps(request)}


def process_docs_for(dataset: str, split: str):
    """The ``process_docs`` hook of one setting (:func:`~.documents.process_docs_hook`)."""
    return process_docs_hook(build_docs, dataset, split)


doc_to_messages, doc_to_visual, doc_to_text = video_doc_to_messages, video_doc_to_visual, video_doc_to_text


def process_results(doc: dict, results: list) -> dict:
    """The answer's verdict: correct, wrong, or failed (no option named; counted as wrong)."""
    answer = results[0] if results else ''
    text = answer_text(answer)
    options = json.loads(doc['options'])
    verdict = score_choice(text, doc['answer'], len(options))
    item = {'response': text, 'answer': doc['answer'], 'num_options': len(options), 'task': doc['type'],
            'correct': verdict is True, 'failed': verdict is None, 'id': doc['id']}
    return {'accuracy': item, **{name: item for name in TYPE_METRICS.values()}}


def aggregate_accuracy(items: list[dict]) -> float:
    """Overall accuracy (fraction); logs the questions of types without a metric of their own and the failures."""
    result = choice_accuracy(items)
    others = sorted(set(result.per_type) - set(TYPE_METRICS))
    if others:
        logger.warning('VideoRefer-Bench-Q: question types %s have no per-type metric; they count in accuracy', others)
    if result.overall.failed:
        logger.warning('VideoRefer-Bench-Q: %d of %d answers named no option (counted as wrong)',
                       result.overall.failed, result.overall.samples)
    return result.overall.accuracy


def accuracy_of(question_type: str):
    """The aggregation of one question type's accuracy (0 when the run has none of that type, as upstream)."""
    def aggregate(items: list[dict]) -> float:
        tally = choice_accuracy(items).per_type.get(question_type)
        return tally.accuracy if tally else 0.0
    aggregate.__name__ = f'aggregate_{TYPE_METRICS.get(question_type, question_type)}'
    return aggregate


__all__ = ['MODES', 'BUDGET', 'TYPE_METRICS', 'build_docs', 'process_docs_for', 'doc_to_messages', 'doc_to_visual',
           'doc_to_text', 'process_results', 'aggregate_accuracy', 'accuracy_of']
