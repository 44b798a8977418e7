"""Canonical phrasing of segmentation requests and answers (upstream's evaluation templates).

Readers render ``Sample.conversation`` with these so that a sample is usable as it is; they also keep the raw
``query`` and ``query_type`` so that a training pipeline can re-phrase it with other templates.
"""
from __future__ import annotations

from typing import Optional

REF_TOKEN = '<|ref|>'
SEG_TOKEN = '<|seg|>'
MEM_TOKEN = '<|mem|>'

SEG_ANSWER = f'Sure, it is {SEG_TOKEN}.'


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
