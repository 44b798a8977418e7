"""The lmms-eval side of VideoRefer-Bench-D: a detailed description of one object given as mask prompts, generated
as upstream's ``unipixel/eval/infer_videorefer_d.py`` does, in its two settings ``multi`` (every annotated mask) and
``single`` (``--single_frame_mode``: only the mask on the item's ``frame_idx``).

Upstream scores the descriptions with a GPT judge (``eval_videorefer_d.sh``: ``videorefer_bench_d/
1.eval_gpt_4o_mini.py`` asks gpt-4o-mini, through the OpenAI API, for four 0-5 scores per description against the
reference caption: Subject Correspondence, Appearance Description, Temporal Description, Hallucination Detection;
``2.extract_re.py`` parses them and ``3.analyze_score.py`` averages). No offline scorer can reproduce those numbers,
so these tasks compute no score: the aggregation writes the predictions file that judge reads and logs where it is
and how to score it. The metric the task reports, ``descriptions``, is the number of descriptions written.

The file is ``<--output_path>/videorefer_bench_d/<task>/output.json``: a JSON list, one object per item with ``pred``
(the generated description) and ``caption`` (the reference), the two fields the judge reads, plus ``id``, ``vid``,
``video``, ``frame_idx``, ``question`` and ``mode``. The judge takes the folder (it reads every ``*.json`` whose path
contains ``output``).

A document holds upstream's question ("Please give a detailed description of the highlighted object [0] in the
video."), the reference caption and a ``region_request`` (JSON) the ``unipixel`` adapter turns into the model's
inputs as for VideoRefer-Bench-Q (:mod:`.region_questions`): 16 frames of the annotated timeline with ``frame_idx``
kept, the object's masks as ``refer_mask`` without whole-frame fill, the region prefix with its ``<|mem|>`` tokens
before the question; the pixel budget is upstream's inference one (``128*28*28`` / ``256*28*28*int(16/len)``, what
infer_videorefer_d.py sets), no answer prefix, greedy decoding up to 512 tokens.
"""
from __future__ import annotations

import json
import logging
import os

from unipixel_plugin.evaluation.lmms.documents import (answer_text, process_docs_hook, reader_docs,
                                                      timeline_media,
                                                      video_doc_to_messages, video_doc_to_text,
                                                      video_doc_to_visual)
from unipixel_plugin.evaluation.lmms.region_questions import _object_rles

logger = logging.getLogger(__name__)

MODES = ('multi', 'single')
BUDGET = 'inference'  # infer_videorefer_d.py: min 128*28*28, max 256*28*28*int(16/len)
PREDICTIONS = 'output.json'  # the judge reads the *.json files of the folder whose path contains "output"
JUDGE = ('bash unipixel/eval/eval_videorefer_d.sh {folder}   # in a checkout of upstream UniPixel, with an OpenAI key '
         'set in videorefer_bench_d/1.eval_gpt_4o_mini.py')


def build_docs(dataset: str, split: str, data_root: str | None = None) -> list[dict]:
    """One document per item of VideoRefer-Bench-D; ``split`` is the mask setting, ``multi`` or ``single``."""
    if dataset != 'videorefer_bench_d':
        raise ValueError(f'unknown region-description dataset {dataset!r}; expected videorefer_bench_d')
    if split not in MODES:
        raise ValueError(f'VideoRefer-Bench-D mode must be one of {MODES}, got {split!r}')
    return reader_docs('VideoReferBenchDDataset', data_root, lambda sample: _doc(sample, split), 'videorefer_bench_d',
                       what='item')


def _doc(sample, mode: str) -> dict:
    if len(sample.objects) != 1:
        raise ValueError(f'expected one highlighted object, got {len(sample.objects)}')
    positions = list(range(len(sample.meta['timeline'])))
    keep_only = sample.prompt_frame if mode == 'single' else None
    masks = [_object_rles(sample.objects[0], positions, keep_only)]
    media, video = timeline_media(sample)
    request = {**media, 'masks': masks, 'object_ids': [0], 'answer_prefix': '',
               'budget': BUDGET, 'fill_empty': False}
    name = str(sample.meta['video'])
    return {'id': sample.id, 'video': video, 'vid': os.path.splitext(os.path.basename(name.rstrip('/')))[0],
            'frame_idx': int(sample.meta['frame_idx']), 'prompt': sample.conversation[0]['content'],
            'caption': sample.answer, 'mode': mode, 'region_request': json.dumps(request)}


def process_docs_for(dataset: str, split: str):
    """The ``process_docs`` hook of one setting (:func:`~.documents.process_docs_hook`)."""
    return process_docs_hook(build_docs, dataset, split)


doc_to_messages, doc_to_visual, doc_to_text = video_doc_to_messages, video_doc_to_visual, video_doc_to_text


def process_results(doc: dict, results: list) -> dict:
    """The item's entry of the predictions file: the generated description next to the reference caption."""
    answer = results[0] if results else ''
    text = answer_text(answer)
    item = {'id': doc['id'], 'vid': doc['vid'], 'video': doc['video'], 'frame_idx': doc['frame_idx'],
            'question': doc['prompt'], 'caption': doc['caption'], 'pred': str(text).strip(), 'mode': doc['mode']}
    return {'descriptions': item}


def predictions_path(output_path: str | None, mode: str) -> str:
    """Where a run's predictions file goes: ``<output_path>/videorefer_bench_d/<task>/output.json``."""
    return os.path.join(output_path or '.', 'videorefer_bench_d', f'unipixel_videorefer_bench_d_{mode}', PREDICTIONS)


def write_predictions(items: list[dict], path: str) -> int:
    """Write ``items`` (one per item, a document padded in twice counts once) as the judge's input file."""
    unique = {}
    for item in items:
        unique.setdefault(item['id'], item)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        json.dump(list(unique.values()), f, indent=1, ensure_ascii=False)
    os.replace(tmp, path)
    return len(unique)


def aggregate_descriptions(items: list[dict], args=None) -> int:
    """Write the predictions file under ``args.output_path`` (lmms-eval's ``--output_path``; the working folder
    without one), log where it is and the command that scores it, and return the number of descriptions: the
    benchmark's score needs the GPT judge, so none is computed here."""
    if not items:
        raise ValueError('no description to write: the benchmark has no documents')
    mode = items[0]['mode']
    path = predictions_path(getattr(args, 'output_path', None), mode)
    written = write_predictions(items, path)
    logger.warning('unipixel_videorefer_bench_d_%s: VideoRefer-Bench-D is scored by a GPT judge (gpt-4o-mini via the '
                   'OpenAI API), so this run computes no score. %d descriptions are in %s; score them with: %s',
                   mode, written, path, JUDGE.format(folder=os.path.dirname(os.path.abspath(path))))
    return written


__all__ = ['MODES', 'BUDGET', 'PREDICTIONS', 'JUDGE', 'build_docs', 'process_docs_for', 'doc_to_messages',
           'doc_to_visual', 'doc_to_text', 'process_results', 'predictions_path', 'write_predictions',
           'aggregate_descriptions']
