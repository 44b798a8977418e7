"""Canonical phrasing of segmentation requests and answers (upstream's evaluation templates).

Readers render ``Sample.conversation`` with these so that a sample is usable as it is; they also keep the raw
``query`` and ``query_type`` so that a training pipeline can re-phrase it with other templates.
"""
from __future__ import annotations

import zlib
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


# Requests of the region / memory data. Upstream draws one template of a list per sample when training; readers
# use the first one of each list (a training pipeline may re-phrase, the raw texts are kept in ``meta``).
REF_SHORT_CAPTION_REQUEST = f'Give me a short description of {REF_TOKEN}.'
REGION_DETAIL_REQUEST = 'Can you provide me with a detailed description of the region in the picture marked by {}?'
MEM_REQUEST = '{} Please localize the relevant objects with IDs.'


def stable_draw(key: str, n: int) -> int:
    """A draw in ``[0, n)`` fixed by ``key`` (CRC32), for choices upstream makes at random once per sample (an
    option letter, the id a lone region is called by): the same sample gets the same choice in every process."""
    return zlib.crc32(key.encode('utf-8')) % n
