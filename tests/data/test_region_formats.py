"""Region / memory / referring data: VideoRefer-700K, Inst-IT and Osprey, as upstream's region, memory and
referring datasets read them (texts, object ids, timelines, masks), and their bad inputs."""
import json
import os

import numpy as np
import pytest

from unipixel_plugin.data import MaskError, load_sample
from unipixel_plugin.data.formats.inst_it import (
    InstITImageShortCaptionRefDataset,
    InstITVideoQADataset,
    InstITVideoQAMemDataset,
    repair_ids,
)
from unipixel_plugin.data.formats.osprey import (
    OspreyConversationDataset,
    OspreyDetailDescriptionDataset,
    OspreyPosNegDataset,
)
from unipixel_plugin.data.formats.videorefer_700k import (
    VideoReferDetailedCaptionDataset,
    VideoReferQADataset,
    VideoReferQAMemDataset,
    VideoReferShortCaptionDataset,
    VideoReferShortCaptionRefDataset,
)
from unipixel_plugin.data.pipeline import sample_rng
from unipixel_plugin.data.base import stable_draw


def levels(frames):
    return frames.reshape(len(frames), -1).mean(axis=1)


# ---- VideoRefer-700K ---------------------------------------------------------------------------------------------

def test_videorefer_short_caption_ref_single_frame_of_a_video_file(data_root, fx):
    ds = VideoReferShortCaptionRefDataset(data_root=data_root)
    assert len(ds) == 3  # the referring reader does not filter by ratio
    assert sorted(s.prompt_type for s in ds) in (['box', 'box', 'point'], ['box', 'point', 'point'])
    s = ds[0]
    assert s.data_type == f'ref_{s.prompt_type}' and s.media_type == 'video' and s.frame_indices is None
    assert s.conversation == [{'role': 'user', 'content': 'What is <|ref|> doing?'},
                              {'role': 'assistant', 'content': 'Sliding right.'}]
    (obj, ) = s.objects
    assert obj.positions == [4] and s.prompt_frame == 4 and s.meta['qid'] == 's0'
    # the whole 12-frame video is the timeline; frame 4 is always sampled and is the only one with a mask
    out = load_sample(s, sample_rng(0), num_frames=4, sample_type='random')
    assert 4 in out.sampled and len(out.sampled) == 4
    np.testing.assert_allclose(levels(out.frames), [fx.frame_level(t) for t in out.sampled], atol=6)
    k = out.sampled.index(4)
    assert np.array_equal(out.masks[0, k], fx.vr_square(0, 4))
    assert out.masks.sum() == 100 and out.prompts[0].frame == k


def test_videorefer_single_frame_of_a_frame_folder(data_root, fx):
    s = VideoReferShortCaptionRefDataset(data_root=data_root)[1]  # '<region>...\n<video>' question form
    assert s.media_type == 'frames' and len(s.media) == 6 and s.media[5].endswith(os.path.join('folder_clip',
                                                                                                 '00005.jpg'))
    assert s.conversation[0]['content'] == 'Describe <|ref|>.' and s.objects[0].positions == [2]
    out = load_sample(s, sample_rng(0), num_frames=-1)
    assert out.masks.sum(axis=(2, 3)).tolist() == [[0, 0, 100, 0, 0, 0]]


def test_videorefer_region_captions(data_root, fx):
    short = VideoReferShortCaptionDataset(data_root=data_root)
    assert [s.meta['qid'] for s in short] == ['s0', 's1']  # ratio 0.1 skipped
    oid = stable_draw('videorefer_short_caption/0', 16)
    assert short[0].conversation[0]['content'] == f'What is [{oid}] doing?' and short[0].objects[0].object_id == oid
    assert short[0].data_type == 'region_video' and short[0].prompt_type is None

    detailed = VideoReferDetailedCaptionDataset(data_root=data_root)
    multi, single = detailed[0], detailed[1]
    # annotated on frames 1, 3, 7 of the video file: the timeline is those frames
    assert multi.media_type == 'video' and multi.frame_indices == [1, 3, 7] and multi.prompt_frame is None
    out = load_sample(multi, sample_rng(0), num_frames=8)
    np.testing.assert_allclose(levels(out.frames), [fx.frame_level(t) for t in (1, 3, 7)], atol=6)
    for i, t in enumerate((1, 3, 7)):
        assert np.array_equal(out.masks[0, i], fx.vr_square(0, t))
    # annotated on one frame: the whole frame folder, masked on frame 5 only
    assert single.media_type == 'frames' and len(single.media) == 6 and single.objects[0].positions == [5]


def test_videorefer_qa_region_keeps_the_question_and_names_objects(data_root, fx):
    ds = VideoReferQADataset(data_root=data_root)
    assert [s.meta['qid'] for s in ds] == ['q0', 'q1', 'q2']  # six objects: skipped
    s = ds[0]
    assert s.conversation == [{'role': 'user', 'content': 'What is [2] doing near [0]?'},
                              {'role': 'assistant', 'content': 'It follows [0].'}]
    assert [o.object_id for o in s.objects] == [0, 2] and s.frame_indices == [0, 5, 9]
    out = load_sample(s, sample_rng(0), num_frames=8)
    # object 0 on frames 0 and 5, object 2 (second in the annotation) on frames 5 and 9
    assert out.masks.sum(axis=(2, 3)).tolist() == [[100, 100, 0], [0, 100, 100]]
    assert np.array_equal(out.masks[1, 2], fx.vr_square(1, 9))
    oid = stable_draw('videorefer_qa/1', 16)
    assert ds[1].conversation[0]['content'] == f'What colour is [{oid}]?'


def test_videorefer_qa_memory(data_root):
    ds = VideoReferQAMemDataset(data_root=data_root)
    assert [s.meta['qid'] for s in ds] == ['q0', 'q1']  # q2 is annotated on one frame: no memory sample
    s = ds[0]
    letter = 'ABCD'[stable_draw('videorefer_qa_mem/0/option', 4)]
    assert s.data_type == 'mem_video' and s.prompt_type in ('point', 'box')
    assert s.conversation[0]['content'] == (
        'There are [0] <|ref|> and [2] <|ref|> in the video.\nWhat is [2] doing near [0]?\nOptions:\n'
        f'({letter}) It follows [0]. Please localize the relevant objects with IDs.')
    assert s.conversation[1]['content'] == '[0] <|seg|> [2] <|seg|>'
    oid = stable_draw('videorefer_qa_mem/1', 16)
    assert ds[1].conversation[1]['content'] == f'[{oid}] <|seg|>' and ds[1].objects[0].object_id == oid
    out = load_sample(s, sample_rng(1), num_frames=8)
    assert len(out.prompts) == 2 and all(p.kind == s.prompt_type for p in out.prompts)


def test_videorefer_bad_inputs(fresh_root, fx):
    fx.make_videorefer_700k(fresh_root)
    path = os.path.join(fresh_root, fx.VR700K, 'videorefer-qa-75k-wo-masks.json')
    with open(path) as f:
        items = json.load(f)
    items[1]['conversations'][0]['value'] = 'What colour is <region>?'  # no <video> placeholder
    with open(path, 'w') as f:
        json.dump(items, f)
    qa = VideoReferQADataset(data_root=fresh_root)  # item 1 is skipped, the others load
    assert [s.meta['qid'] for s in qa] == ['q0', 'q2']
    (problem, ) = fx.skipped(qa, r'qa-75k-wo-masks\.json \(item 1, id q1\).*<video>')
    assert problem.sample == 'q1'
    # a mask file that is missing / shorter than the timeline fails when loading, naming the file
    s = VideoReferDetailedCaptionDataset(data_root=fresh_root)[0]
    os.remove(os.path.join(fresh_root, fx.VR700K, 'masks_detailed_caption', '0.json'))
    with pytest.raises(MaskError, match=r'masks_detailed_caption.0\.json'):
        load_sample(s, sample_rng(0))
    fx.dump_json(os.path.join(fresh_root, fx.VR700K, 'masks_detailed_caption', '0.json'), [[None, None]])
    with pytest.raises(MaskError, match=r'0\.json: key path \[0, 2\] fails at 2 \(a list of 2 entries\)'):
        load_sample(s, sample_rng(0))


# ---- Inst-IT ------------------------------------------------------------------------------------------------------

def test_inst_it_image_short_caption_ref(data_root, fx):
    ds = InstITImageShortCaptionRefDataset(data_root=data_root)
    assert [s.id for s in ds] == ['img1_1', 'img1_2'] and {s.prompt_type for s in ds} == {'point', 'box'}
    s = ds[1]
    assert s.media[0].endswith(os.path.join('Inst-IT-Dataset', 'images_raw', 'img1.jpg'))
    assert s.conversation == [{'role': 'user', 'content': 'Give me a short description of <|ref|>.'},
                              {'role': 'assistant', 'content': 'A right square.'}]
    out = load_sample(s, sample_rng(0))
    assert np.array_equal(out.masks[0, 0], fx.rect(0, 10, 50, 60)) and out.objects[0].object_id == 2


def test_inst_it_video_qa_region(data_root, fx):
    ds = InstITVideoQADataset(data_root=data_root)
    assert [s.id for s in ds] == ['vid1/0', 'vid1/2', 'vid9/0']  # the question without instances is dropped
    s = ds[0]
    # slips repaired: <0> -> <1>, [02] -> [2]
    assert s.conversation == [{'role': 'user', 'content': 'What is [1] doing at <1>?'},
                              {'role': 'assistant', 'content': 'It walks to [2].'}]
    assert [o.object_id for o in s.objects] == [1, 2] and s.data_type == 'region_video'
    assert [os.path.basename(p) for p in s.media] == ['1.jpg', '2.jpg', '10.jpg']  # numeric order
    assert s.meta['all_frames'] and s.meta['single_frame_prob'] == 0.5
    masks = [load_sample(s, sample_rng(seed), num_frames=2).masks for seed in range(12)]
    assert all(m.shape == (2, 3, fx.H, fx.W) for m in masks)  # all frames read although num_frames=2
    full = [m for m in masks if m.sum(axis=(2, 3)).tolist() == [[100, 100, 0], [100, 0, 100]]]
    # the single-frame variant keeps frame 0, the only one where both instances are visible
    single = [m for m in masks if m.sum(axis=(2, 3)).tolist() == [[100, 0, 0], [100, 0, 0]]]
    assert len(full) + len(single) == 12 and full and single
    assert np.array_equal(single[0][1, 0], fx.rect(30, 40, 40, 50))


def test_inst_it_video_qa_memory(data_root):
    ds = InstITVideoQAMemDataset(data_root=data_root)
    assert [s.id for s in ds] == ['vid1/0', 'vid1/2']  # vid9 has 9 frames (> 8)
    s = ds[0]
    letter = 'ABCD'[stable_draw('inst_it_video_qa_raw_mem/vid1/0/option', 4)]
    assert s.conversation[0]['content'] == (f'What is [1] <|ref|> doing at <1>?\nOptions:\n({letter}) It walks to '
                                            '[2] <|ref|>. Please localize the relevant objects with IDs.')
    assert s.conversation[1]['content'] == '[1] <|seg|> [2] <|seg|>'
    assert s.data_type == 'mem_video' and 'single_frame_prob' not in s.meta


def test_inst_it_bad_inputs(fresh_root, fx):
    assert repair_ids('[01] at <0> and [10]') == '[1] at <1> and [10]'
    fx.make_inst_it(fresh_root)
    path = os.path.join(fresh_root, 'inst_it', 'Inst-IT-Dataset', 'inst_it_dataset_video_21k_w_mask.json')
    with open(path) as f:
        items = json.load(f)
    items[0]['question_answer_pairs'][2]['question'] = 'Where is [0]?'
    with open(path, 'w') as f:
        json.dump(items, f)
    # the question is skipped, not its video nor the split
    qa = InstITVideoQADataset(data_root=fresh_root)
    assert [s.id for s in qa] == ['vid1/0', 'vid9/0']
    (problem, ) = fx.skipped(qa, r'21k_w_mask\.json \(item 0, video vid1\): question 2 names instance \[0\]')
    assert (problem.video, problem.sample) == ('vid1', 'vid1/2')
    items[0]['question_answer_pairs'][2]['question'] = 'Where is [2]?'
    items[1]['video_path'] = 'videos_raw/nowhere'
    with open(path, 'w') as f:
        json.dump(items, f)
    mem = InstITVideoQAMemDataset(data_root=fresh_root)  # the video without frames is skipped
    assert [s.id for s in mem] == ['vid1/0', 'vid1/2']
    (problem, ) = fx.skipped(mem, r'video vid9.*frame folder not found: .*nowhere')
    assert problem.video == 'vid9'


# ---- Osprey -------------------------------------------------------------------------------------------------------

def test_osprey_conversation_repairs_tags_and_skips_invalid(data_root, fx):
    ds = OspreyConversationDataset(data_root=data_root)
    assert [s.id for s in ds] == ['1'] and ds.num_invalid == 2
    s = ds[0]
    assert [t['content'] for t in s.conversation] == ['What is [1] holding?', 'It holds [2]. ', 'And [1]?',
                                                      'Nothing.']
    assert [t['role'] for t in s.conversation] == ['user', 'assistant'] * 2
    assert s.data_type == 'region_image' and [o.object_id for o in s.objects] == [1, 2]
    out = load_sample(s, sample_rng(0))
    assert np.array_equal(out.masks[1, 0], fx.rect(20, 30, 20, 30))  # RLE region
    assert out.masks[0, 0].sum() == 100 and out.masks[0, 0, :10, :10].all()  # polygon region, COCO rasterised


def test_osprey_pos_neg_and_detail(data_root):
    (pn, ) = list(OspreyPosNegDataset(data_root=data_root))
    assert pn.media[0].endswith(os.path.join('osprey', 'coco', 'imgs', 'pn.jpg'))
    assert [o.object_id for o in pn.objects] == [2] and pn.conversation[0]['content'] == 'Is [2] a cat?'
    ds = OspreyDetailDescriptionDataset(data_root=data_root)
    assert len(ds) == 1 and ds.num_invalid == 1  # a description naming two regions invalidates its item
    (s, ) = list(ds)
    assert [t['content'] for t in s.conversation] == [
        'Can you provide me with a detailed description of the region in the picture marked by [1]?',
        'A grey square.',
        'Can you provide me with a detailed description of the region in the picture marked by [2]?',  # <Region2>
        'A small box.']


def test_osprey_bad_input(fresh_root, fx):
    fx.make_osprey(fresh_root)
    path = os.path.join(fresh_root, 'osprey', 'Osprey-724K', 'osprey_detail_description.json')
    with open(path) as f:
        items = json.load(f)
    items[0]['description'][1] = 'A small box <region2>.'
    with open(path, 'w') as f:
        json.dump(items, f)
    ds = OspreyDetailDescriptionDataset(data_root=fresh_root)  # item 0 skipped (item 1 is dropped as upstream)
    assert len(ds) == 0 and ds.num_invalid == 1
    fx.skipped(ds, r'osprey_detail_description\.json \(item 0, id 4\): description 1 does not start with <regionN>')
