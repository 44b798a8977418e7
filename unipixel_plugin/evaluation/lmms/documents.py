"""What this package's lmms-eval tasks share: their documents, their chat messages and how they read answers.

The task YAML loads a one-row placeholder file (lmms-eval needs a ``dataset_path``) and its ``process_docs`` hook
replaces the rows by documents built from the benchmark's native files with the project's dataset readers, under
``$UNIPIXEL_DATA_ROOT``. Answers of the ``unipixel`` model are JSON strings with COCO RLE masks (lmms-eval's sam3
precedent); any other model's plain text answer holds no mask."""
from __future__ import annotations

import json
import logging
import os
from typing import Callable

logger = logging.getLogger(__name__)

# what reading one benchmark item may raise; such an item loses only itself
ITEM_ERRORS = (ValueError, OSError, RuntimeError, KeyError, IndexError, TypeError)


def process_docs_hook(build_docs: Callable[[str, str, str | None], list[dict]], dataset: str, split: str):
    """A ``process_docs`` function for one benchmark split: ``build_docs(dataset, split, data_root)`` -> rows."""
    def process_docs(placeholder):
        import datasets
        return datasets.Dataset.from_list(build_docs(dataset, split, os.environ.get('UNIPIXEL_DATA_ROOT')))
    return process_docs


def reader_docs(reader_name: str, data_root: str | None, make_doc: Callable, label: str, split: str = 'test',
                what: str = 'question') -> list[dict]:
    """Documents from a dataset reader's samples: ``make_doc(sample)`` per sample, numbered ``doc_id`` in order; a
    sample that ``make_doc`` cannot turn into a document (unreadable masks, a malformed item) is logged with
    ``label`` and its id and left out, and the others are kept."""
    import unipixel_plugin.data  # noqa: F401  (registers the readers)
    from unipixel_plugin.registry import DATASETS
    reader = DATASETS.get(reader_name)(data_root=data_root, split=split)
    docs = []
    for i in range(len(reader)):
        sample = reader.get_data_info(i)
        try:
            doc = make_doc(sample)
        except ITEM_ERRORS as err:
            logger.warning('%s: %s %s left out: %s: %s', label, what, sample.id, type(err).__name__, err)
            continue
        docs.append({'doc_id': len(docs), **doc})
    return docs


def media_messages(kind: str, url: str, prompt: str) -> list[dict]:
    """One user turn: the ``kind`` (``'image'`` or ``'video'``) at ``url``, then the prompt."""
    return [{'role': 'user', 'content': [{'type': kind, 'url': url}, {'type': 'text', 'text': prompt}]}]


def answer_record(answer) -> dict:
    """The JSON record of a ``unipixel`` answer (``{"answer", "masks", "frame_indices"}``); ``{}`` for plain text."""
    try:
        record = json.loads(answer)
    except (TypeError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def timeline_media(sample) -> tuple[dict, str]:
    """A region sample's media as its ``region_request`` / ``pixelqa_request`` carries them (``media_type``,
    ``media``, ``frame_indices``, ``prompt_frame``: the adapter samples the annotated timeline from these) and the
    video its message names (the frame folder, or the video file)."""
    media = {'media_type': sample.media_type, 'media': list(sample.media),
             'frame_indices': list(sample.frame_indices) if sample.frame_indices is not None else None,
             'prompt_frame': sample.prompt_frame}
    video = os.path.dirname(sample.media[0]) if sample.media_type == 'frames' else sample.media[0]
    return media, video


def answer_text(answer) -> str:
    """The text of an answer: a ``unipixel`` answer with masks is JSON (:func:`answer_record`), any other is text."""
    return answer_record(answer).get('answer', answer)


# the lmms-eval hooks of every video task whose documents hold ``video`` and ``prompt``
def video_doc_to_messages(doc: dict) -> list[dict]:
    return media_messages('video', doc['video'], doc['prompt'])


def video_doc_to_visual(doc: dict) -> list:
    return [doc['video']]


def video_doc_to_text(doc: dict) -> str:
    return doc['prompt']


__all__ = ['ITEM_ERRORS', 'reader_docs', 'video_doc_to_messages', 'video_doc_to_visual', 'video_doc_to_text',
           'process_docs_hook', 'media_messages', 'answer_record', 'timeline_media', 'answer_text']
