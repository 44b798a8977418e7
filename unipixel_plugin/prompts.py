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

import re
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


def query_of_request(text: str) -> Optional[str]:
    """The expression of the last ``query``-type request in ``text`` (what :func:`seg_request` put there), or None."""
    import re
    found = re.findall(r'Please segment the (.+?) in this (?:image|video)\.', text)
    return found[-1] if found else None


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


PROMPT_TYPES = QUERY_TYPES + ('raw', )


def segmentation_prompt(query: str, prompt_type: str, media: str) -> str:
    """The user turn for a segmentation request of type ``prompt_type``: one of :data:`QUERY_TYPES` (upstream's
    evaluation templates, :func:`seg_request`) or ``'raw'`` (the text as given, as upstream's tools/inference.py and
    demo send it). Raises ValueError for an empty query."""
    if not query.strip():
        raise ValueError('the query is empty: say what to segment')
    if prompt_type == 'raw':
        return query.strip()
    return seg_request(query, prompt_type, media)


def guess_prompt_type(text: str) -> str:
    """What the CLI assumes when it is not told: a text ending in '.', '?' or '!' is a full prompt (``'raw'``),
    anything else a referring phrase (``'query'``)."""
    return 'raw' if text.strip().endswith(('.', '?', '!')) else 'query'


def place_ref_tokens(question: str, count: int, names: Optional[Sequence[int]] = None) -> tuple[str, list[int]]:
    """Put one ``<|ref|>`` per point/box region into a question that has none, in upstream's object notation.

    Region ``k`` is mentioned as ``[k]``; it is called ``[names[k]]`` (default ``k``) in the text sent. Its first
    mention becomes ``[name] <|ref|>`` (as in PixelQA's and VideoRefer's questions); regions the question does not
    mention are put before it as ``[name] <|ref|>``.

    Returns:
        the text and, for each ``<|ref|>`` in text order, the index of its region (the order in which the
        regions' embeddings must be given).
    """
    names = list(range(count)) if names is None else [int(n) for n in names]
    seen, order = set(), []

    def rename(match):
        k = int(match.group(1))
        if k >= count:
            return match.group(0)
        if k in seen:
            return f'[{names[k]}]'
        seen.add(k)
        order.append(k)
        return f'[{names[k]}] {REF_TOKEN}'

    text = re.sub(r'\[(\d+)\]', rename, question.strip())
    unmentioned = [k for k in range(count) if k not in seen]
    if unmentioned:
        text = ' '.join(f'[{names[k]}] {REF_TOKEN}' for k in unmentioned) + ' ' + text
    return text, unmentioned + order


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


OBJECT_REGION_TAG = re.compile(r'<object(\d+)><region>')


def name_region_tags(text: str) -> tuple[str, list[int]]:
    """VideoRefer's object tags in upstream's object notation: each ``<objectN><region>`` becomes ``[N]`` and so does
    any later bare ``<objectN>`` (upstream's infer_videorefer_q.py); a text with bare ``<region>`` tags only (no
    ``<objectN>``) names them ``[0]``, ``[1]``... in order.

    Returns:
        the text and the object ids in the order of their tags (the order of the annotation's objects).
    """
    ids = [int(n) for n in OBJECT_REGION_TAG.findall(text)]
    if ids:
        for n in ids:
            text = text.replace(f'<object{n}><region>', f'[{n}]').replace(f'<object{n}>', f'[{n}]')
        return text, ids
    count = text.count('<region>')
    for k in range(count):
        text = text.replace('<region>', f'[{k}]', 1)
    return text, list(range(count))


def region_question(question: str, options: Sequence[str]) -> tuple[str, list[int]]:
    """VideoRefer-Bench-Q's question as upstream sends it after the region prefix: the question with its options and
    the instruction (:func:`question_with_options`), object tags named ``[N]`` (:func:`name_region_tags`).
    Generation is then prefilled with :data:`BEST_OPTION_PREFIX`."""
    return name_region_tags(question_with_options(question, options))


def localize_request(question: str, object_ids: Sequence[int], options: Sequence[str] = ()) -> tuple[str, list[int]]:
    """PixelQA pass 1 as :class:`~unipixel_plugin.inference.Conversation` words it: the question with
    ``[id] <|ref|>`` at each region's first mention ``[k]`` (regions it does not mention before it), the options, then
    "Please localize the relevant objects with IDs.".

    Returns:
        the text and, per ``<|ref|>`` in text order, the index of its region (see :func:`place_ref_tokens`).
    """
    text, order = place_ref_tokens(question, len(object_ids), object_ids)
    if options:
        text += '\nOptions:\n' + '\n'.join(options)
    return f'{text}. Please localize the relevant objects with IDs.', order


def pixelqa_localize_request(question: str, options: Sequence[str]) -> tuple[str, str, list[int]]:
    """PixelQA pass 1 exactly as upstream builds it from a VideoRefer-Bench-Q question (``infer_pixelqa.py`` with the
    dataset's ``mem_question`` / ``mem_response``): the question, ``Options:`` one per line, each ``<objectN><region>``
    replaced by ``[N] <|ref|>`` and any later ``<objectN>`` by ``[N]`` (a question without ``<objectN>`` tags has its
    ``<region>`` named ``[0] <|ref|>``), then "." and :data:`MEM_REQUEST`.

    Returns:
        ``(user text, teacher-forced answer "[N] <|seg|> ...", object ids in tag order)``; the ``<|ref|>`` tokens are
        in the same order, so region prompts are given in the annotation's object order.
    """
    text = question.strip() + '\nOptions:' + ''.join(f'\n{opt}' for opt in options)
    if '<object' in text:
        ids = OBJECT_REGION_TAG.findall(text)
        for n in ids:
            text = text.replace(f'<object{n}><region>', f'[{n}] {REF_TOKEN}').replace(f'<object{n}>', f'[{n}]')
    else:
        ids = ['0']
        text = text.replace('<region>', f'[0] {REF_TOKEN}')
    if '<region>' in text or not ids:
        raise ValueError(f'cannot name the regions of the question {question!r}: every <region> must follow an '
                         '<objectN> tag, or the question must have a single bare <region>')
    answer = ' '.join(f'[{n}] {SEG_TOKEN}' for n in ids)
    return MEM_REQUEST.format(text + '.'), answer, [int(n) for n in ids]


def localize_answer(object_ids: Sequence[int]) -> str:
    """The teacher-forced pass-1 answer: ``[id] <|seg|>`` per object."""
    return ' '.join(f'[{i}] {SEG_TOKEN}' for i in object_ids)


def ask_with_options(question: str, options: Sequence[str]) -> str:
    """PixelQA pass 2's question as :class:`~unipixel_plugin.inference.Conversation` words it."""
    return question + '\nOptions:\n' + '\n'.join(options) + f'\n{BEST_OPTION_INSTRUCTION}'


__all__ = [
    'REF_TOKEN', 'SEG_TOKEN', 'MEM_TOKEN', 'UNIPIXEL_TOKENS', 'SEG_ANSWER', 'QUERY_TYPES', 'normalise_query',
    'seg_request', 'query_of_request', 'seg_answer', 'seg_conversation', 'PROMPT_TYPES', 'segmentation_prompt', 'guess_prompt_type',
    'place_ref_tokens', 'region_prefix',
    'REF_SHORT_CAPTION_REQUEST', 'REGION_DETAIL_REQUEST', 'MEM_REQUEST', 'VIDEOREFER_DETAIL_QUESTION',
    'BEST_OPTION_INSTRUCTION', 'BEST_OPTION_PREFIX', 'question_with_options', 'localize_request', 'localize_answer',
    'ask_with_options', 'OBJECT_REGION_TAG', 'name_region_tags', 'region_question', 'pixelqa_localize_request'
]
