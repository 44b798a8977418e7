"""Every word UniPixel is prompted with, and its special tokens: the only home of both.

The strings are the ones upstream trained and evaluates with (its ``unipixel/eval`` scripts, dataset classes and
demo); they are facts to reproduce verbatim, because the checkpoints answer worse to other wordings. Models, data
readers, the training preprocessor and inference all import them from here.

* special tokens: ``<|ref|>`` (a point/box region), ``<|seg|>`` (a mask), ``<|mem|>`` (a remembered object);
* segmentation requests and answers (:func:`seg_request`, :func:`seg_answer`, :func:`seg_conversation`);
* region-QA prefixes for ``<|mem|>`` objects (:func:`region_prefix`);
* multiple-choice and PixelQA wordings (:func:`question_with_options`, :func:`localize_request`).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

REF_TOKEN = '<|ref|>'
SEG_TOKEN = '<|seg|>'
MEM_TOKEN = '<|mem|>'
UNIPIXEL_TOKENS = (REF_TOKEN, SEG_TOKEN, MEM_TOKEN)

SEG_ANSWER = f'Sure, it is {SEG_TOKEN}.'
QUERY_TYPES = ('query', 'sentence', 'explanatory', 'question', 'description')


def normalise_query(query: str) -> str:
    """Upstream's clean-up of a short referring phrase: drop a final '.', lower the first letter, drop an article."""
    query = query.strip().strip('.')
    if not query:
        return query
    query = query[0].lower() + query[1:]
    for article in ('the ', 'an ', 'a '):
        if query.startswith(article):
            query = query[len(article):]
    return query


def seg_request(query: str, query_type: str, media: str) -> str:
    """The user turn asking for a mask.

    Args:
        query: expression, sentence or question.
        query_type: ``'query'``, ``'sentence'``, ``'explanatory'``, ``'question'`` or ``'description'``.
        media: ``'image'`` or ``'video'``.
    """
    if query_type == 'query':
        return f'Please segment the {normalise_query(query)} in this {media}.'
    if query_type == 'sentence':
        return f'{query} Please provide the segmentation mask.'
    if query_type == 'explanatory':
        return f'{query} Please provide the segmentation mask and explain why.'
    if query_type == 'question':
        return f'{query} Please answer the question and provide the segmentation mask.'
    if query_type == 'description':
        return f'Please segment the object according to the description: {query}'
    raise ValueError(f'unknown query_type {query_type!r}; expected query, sentence, explanatory, question '
                     'or description')


def seg_answer(query_type: str, answer: Optional[str] = None) -> str:
    """The assistant turn that carries the ``<|seg|>`` token."""
    if query_type == 'question':
        return f'{answer} {SEG_TOKEN}.' if answer else SEG_ANSWER
    if query_type == 'explanatory' and answer:
        return f'{SEG_ANSWER} {answer}'
    return SEG_ANSWER


def seg_conversation(query: str, query_type: str, media: str, answer: Optional[str] = None) -> list[dict]:
    """``[user request, assistant answer]`` for one segmentation turn."""
    return [{'role': 'user', 'content': seg_request(query, query_type, media)},
            {'role': 'assistant', 'content': seg_answer(query_type, answer)}]


def user_seg_request(query: str, media: str) -> str:
    """What the predictor sends for a user's free text: a sentence (ending in ., ? or !) as it is, a phrase in the
    referring template "Please segment the {phrase} in this {media}." (the phrase is not normalised here)."""
    prompt = query.strip()
    if not prompt:
        raise ValueError('the query is empty: say what to segment')
    if not prompt.endswith(('.', '?', '!')):
        prompt = f'Please segment the {prompt} in this {media}.'
    return prompt


def ref_region_lines(count: int) -> str:
    """A line ``[i]: <|ref|>`` per point/box region, put before a question that names no ``<|ref|>`` itself."""
    return 'Here are the regions:\n' + '\n'.join(f'[{i}]: {REF_TOKEN}' for i in range(count)) + '\n'


def region_prefix(groups_per_object: Sequence[Sequence[int]], object_ids: Sequence[int], num_frames: int) -> str:
    """The region-QA prefix with one ``<|mem|>`` per (object, temporal group) where the object's mask is non-empty.

    Args:
        groups_per_object: per object, the temporal groups (frame pairs, 0-based) its mask covers.
        object_ids: the number ``[id]`` each object is called by.
        num_frames: the media's frame count: 1 gives upstream's image wording, more its video wording with the
            frame pair ``<t>-<t+1>`` of each group.
    """
    image = num_frames == 1
    if image:
        lines = ['Here is an image with the following highlighted regions:']
    else:
        lines = [f'Here is a video with {num_frames} frames denoted as <1> to <{num_frames}>. '
                 'The highlighted regions are as follows:']
    for groups, oid in zip(groups_per_object, object_ids):
        if image:
            lines.append(f'[{oid}]: ' + ' '.join(MEM_TOKEN for _ in groups))
        else:
            lines.append(f'[{oid}]: ' + ' '.join(f'<{2 * g + 1}>-<{2 * g + 2}> {MEM_TOKEN}' for g in groups))
    return '\n'.join(lines) + '\n'


# Requests of the region / memory data. Upstream draws one template of a list per sample when training; readers
# use the first one of each list (a training pipeline may re-phrase, the raw texts are kept in ``meta``).
REF_SHORT_CAPTION_REQUEST = f'Give me a short description of {REF_TOKEN}.'
REGION_DETAIL_REQUEST = 'Can you provide me with a detailed description of the region in the picture marked by {}?'
MEM_REQUEST = '{} Please localize the relevant objects with IDs.'
VIDEOREFER_DETAIL_QUESTION = 'Please give a detailed description of the highlighted object [0] in the video.'
BEST_OPTION_INSTRUCTION = 'Please only give the best option.'
BEST_OPTION_PREFIX = 'The best option is ('


def question_with_options(question: str, options: Sequence[str]) -> str:
    """Upstream's multiple-choice prompt: the question, ``Options:`` one per line, then the instruction."""
    return question.strip() + '\nOptions:' + ''.join(f'\n{opt}' for opt in options) + \
        f'\n{BEST_OPTION_INSTRUCTION}'


def localize_request(question: str, object_ids: Sequence[int], options: Sequence[str] = ()) -> str:
    """PixelQA pass 1 as :class:`~unipixel_plugin.inference.Conversation` words it: ``[id] <|ref|>`` at each region's
    first mention ``[k]`` (or before the question), the options, then "Please localize the relevant objects with
    IDs."."""
    text = question.strip()
    for k, oid in enumerate(object_ids):
        mention = f'[{k}]'
        if mention in text:
            head, _, tail = text.partition(mention)
            text = f'{head}[{oid}] {REF_TOKEN}{tail.replace(mention, f"[{oid}]")}'
        else:
            text = f'[{oid}] {REF_TOKEN} {text}'
    if options:
        text += '\nOptions:\n' + '\n'.join(options)
    return f'{text}. Please localize the relevant objects with IDs.'


def localize_answer(object_ids: Sequence[int]) -> str:
    """The teacher-forced pass-1 answer: ``[id] <|seg|>`` per object."""
    return ' '.join(f'[{i}] {SEG_TOKEN}' for i in object_ids)


def ask_with_options(question: str, options: Sequence[str]) -> str:
    """PixelQA pass 2's question as :class:`~unipixel_plugin.inference.Conversation` words it."""
    return question + '\nOptions:\n' + '\n'.join(options) + f'\n{BEST_OPTION_INSTRUCTION}'


__all__ = [
    'REF_TOKEN', 'SEG_TOKEN', 'MEM_TOKEN', 'UNIPIXEL_TOKENS', 'SEG_ANSWER', 'QUERY_TYPES', 'normalise_query',
    'seg_request', 'seg_answer', 'seg_conversation', 'user_seg_request', 'ref_region_lines', 'region_prefix',
    'REF_SHORT_CAPTION_REQUEST', 'REGION_DETAIL_REQUEST', 'MEM_REQUEST', 'VIDEOREFER_DETAIL_QUESTION',
    'BEST_OPTION_INSTRUCTION', 'BEST_OPTION_PREFIX', 'question_with_options', 'localize_request', 'localize_answer',
    'ask_with_options'
]
