"""Prompt wordings as upstream writes them (unipixel/eval/infer_seg.py, infer_pixelqa.py, the dataset classes)."""
import pytest

from unipixel_plugin.prompts import (guess_prompt_type, localize_answer, localize_request, normalise_query,
                                     place_ref_tokens, question_with_options, region_prefix, seg_request,
                                     segmentation_prompt)


@pytest.mark.parametrize('query, expected', [
    ('the dog on the left', 'dog on the left'),          # README's example: no "the the"
    ('The dog on the left.', 'dog on the left'),
    ('A red square', 'red square'),
    ('an apple', 'apple'),
    ('theatre seats', 'theatre seats'),                   # 'the ' only as a word
    ('the an apple', 'apple'),                             # 'the ', then 'an ' on the rest, in turn
])
def test_referring_queries_are_normalised_as_upstream(query, expected):
    assert normalise_query(query) == expected


def test_every_query_type_renders_upstream_wording():
    assert seg_request('the dog on the left', 'query', 'image') == 'Please segment the dog on the left in this image.'
    assert seg_request('A man who runs.', 'query', 'video') == 'Please segment the man who runs in this video.'
    assert seg_request('Where is it?', 'sentence', 'image') == 'Where is it? Please provide the segmentation mask.'
    assert seg_request('Why?', 'explanatory', 'image') == 'Why? Please provide the segmentation mask and explain why.'
    assert seg_request('Who?', 'question', 'video') == \
        'Who? Please answer the question and provide the segmentation mask.'
    assert seg_request('a long text', 'description', 'video') == \
        'Please segment the object according to the description: a long text'
    with pytest.raises(ValueError, match='unknown query_type'):
        seg_request('x', 'caption', 'image')


def test_raw_prompts_pass_through_and_empty_ones_fail():
    assert segmentation_prompt('  Where is the dog? ', 'raw', 'image') == 'Where is the dog?'
    assert segmentation_prompt('red square', 'query', 'image') == 'Please segment the red square in this image.'
    with pytest.raises(ValueError, match='query is empty'):
        segmentation_prompt('   ', 'query', 'image')
    assert guess_prompt_type('the dog') == 'query' and guess_prompt_type('Where is the dog?') == 'raw'


def test_ref_tokens_follow_the_mentions_and_report_their_order():
    text, order = place_ref_tokens('Is [1] left of [0]? Then [1] moves.', 2)
    assert text == 'Is [1] <|ref|> left of [0] <|ref|>? Then [1] moves.' and order == [1, 0]
    text, order = place_ref_tokens('What are these?', 2)
    assert text == '[0] <|ref|> [1] <|ref|> What are these?' and order == [0, 1]
    text, order = place_ref_tokens('What is [1] doing?', 2)
    assert text == '[0] <|ref|> What is [1] <|ref|> doing?' and order == [0, 1]
    assert 'Here are the regions' not in text  # the wording upstream never trained on is gone


def test_pixelqa_pass_1_and_2_wordings():
    text, order = localize_request('What is [0] doing to [1]?', [3, 4], ['(A) pushing', '(B) chasing'])
    assert text == ('What is [3] <|ref|> doing to [4] <|ref|>?\nOptions:\n(A) pushing\n(B) chasing. '
                    'Please localize the relevant objects with IDs.') and order == [0, 1]
    assert localize_answer([3, 4]) == '[3] <|seg|> [4] <|seg|>'
    assert region_prefix([[0, 2], [1]], [0, 1], 6) == (
        'Here is a video with 6 frames denoted as <1> to <6>. The highlighted regions are as follows:\n'
        '[0]: <1>-<2> <|mem|> <5>-<6> <|mem|>\n[1]: <3>-<4> <|mem|>\n')
    # images: the training data's "[0]: <|mem|>" (the demo's "[0]: <1> <|mem|>" was never trained on; porting.md)
    assert region_prefix([[0]], [0], 1) == 'Here is an image with the following highlighted regions:\n[0]: <|mem|>\n'
    assert question_with_options('What is [0]? ', ['(A) a', '(B) b']) == \
        'What is [0]?\nOptions:\n(A) a\n(B) b\nPlease only give the best option.'
