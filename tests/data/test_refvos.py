"""Ref-VOS readers: MeViS, ReVOS, LV-VIS, Ref-SAV (eval) and the VISA layout of Ref-YouTube-VOS / Ref-DAVIS17."""
import json
import os

import numpy as np
import pytest

from unipixel_plugin.data import AnnotationError, DatasetNotFoundError, load_sample
from unipixel_plugin.data.formats.refvos import (
    LVVISDataset,
    MeViSDataset,
    RefDAVIS17Dataset,
    RefSAVEvalDataset,
    RefYouTubeVOSDataset,
    ReVOSDataset,
    revos_foreground,
    running_expression_index,
)
from unipixel_plugin.data.mask_parts import decode_object
from unipixel_plugin.data.pipeline import sample_rng


def all_masks(sample, frame_size):
    return decode_object(sample.objects[0], range(len(sample.objects[0].frames)), frame_size)


def test_mevis_train_expressions_masks_and_frames(data_root, fx):
    ds = MeViSDataset(data_root=data_root, split='train')
    # 'a unicorn' has no object: dropped in train (2 videos x 2 kept expressions)
    assert len(ds) == 4
    s = ds[0]
    assert (s.id, s.source, s.data_type, s.media_type) == ('vidA/0', 'mevis', 'seg_video', 'frames')
    assert s.query == 'The car moving right.' and s.query_type == 'query'
    assert s.conversation == [{'role': 'user', 'content': 'Please segment the car moving right in this video.'},
                              {'role': 'assistant', 'content': 'Sure, it is <|seg|>.'}]
    assert len(s.media) == 6 and s.media[3].endswith(os.path.join('mevis', 'train', 'JPEGImages', 'vidA', '00003.jpg'))
    masks = all_masks(s, (fx.H, fx.W))
    for t in range(6):
        assert np.array_equal(masks[t], fx.mevis_masks(t)[0])
    # expression 1 = union of anno 0 and anno 1 (anno 1 only on frames 0-2)
    union = all_masks(ds[1], (fx.H, fx.W))
    assert union[0].sum() == 200 and union[4].sum() == 100
    assert ds[1].meta['obj_id'] == [0, 1]


def test_mevis_valid_u_keeps_empty_expression(data_root):
    ds = MeViSDataset(data_root=data_root, split='valid_u')
    assert len(ds) == 6
    empty = [s for s in ds if s.query == 'a unicorn']
    assert len(empty) == 2 and all(not any(s.objects[0].frames) for s in empty)


def test_mevis_valid_without_masks(fresh_root, fx):
    fx.make_mevis(fresh_root, 'valid')
    ds = MeViSDataset(data_root=fresh_root, split='valid')
    assert len(ds) == 6 and all(s.objects == [] for s in ds)


def test_data_root_from_env(data_root, monkeypatch):
    monkeypatch.setenv('UNIPIXEL_DATA_ROOT', data_root)
    assert len(MeViSDataset(split='train')) == 4
    monkeypatch.delenv('UNIPIXEL_DATA_ROOT')
    with pytest.raises(DatasetNotFoundError, match='UNIPIXEL_DATA_ROOT'):
        MeViSDataset(split='train')


def test_missing_annotation_names_the_file(fresh_root):
    with pytest.raises(DatasetNotFoundError, match=r'mevis/train/meta_expressions\.json'):
        MeViSDataset(data_root=fresh_root, split='train')


def test_unknown_split(data_root):
    with pytest.raises(ValueError, match="no split 'test'.*valid_u"):
        MeViSDataset(data_root=data_root, split='test')


def test_malformed_meta_names_the_file(fresh_root, fx):
    fx.make_mevis(fresh_root, 'train')
    path = os.path.join(fresh_root, 'mevis', 'train', 'meta_expressions.json')
    with open(path, 'w') as f:
        f.write('{"videos": {"vidA": ')
    with pytest.raises(AnnotationError, match=r'meta_expressions\.json'):
        MeViSDataset(data_root=fresh_root, split='train')


def test_anno_id_missing_from_mask_dict(fresh_root, fx):
    fx.make_mevis(fresh_root, 'train')
    path = os.path.join(fresh_root, 'mevis', 'train', 'mask_dict.json')
    with open(path) as f:
        masks = json.load(f)
    del masks['0']
    with open(path, 'w') as f:
        json.dump(masks, f)
    # the two expressions of anno 0 (vidA/0 and vidA/1) are skipped and recorded; vidB still loads
    ds = MeViSDataset(data_root=fresh_root, split='train')
    assert [s.id for s in ds] == ['vidB/0', 'vidB/1']
    problems = fx.skipped(ds, r'mask_dict\.json: anno_id 0 \(named by expression vidA/[01] of '
                          r'.*meta_expressions\.json\) has no entry', count=2)
    assert [(p.video, p.sample) for p in problems] == [('vidA', 'vidA/0'), ('vidA', 'vidA/1')]


def test_revos_tasks_sentence_type_and_tao_crop(data_root):
    train = ReVOSDataset(data_root=data_root, split='train')
    tao = [s for s in train if s.meta['video'].startswith('TAO')]
    # TAO training videos are cropped to the annotated span (frames 2..4 of 8)
    assert all(len(s.media) == 3 for s in tao)
    assert tao[0].media[0].endswith(os.path.join('TAO', 'train', 'vidT', '00002.jpg'))
    valid = ReVOSDataset(data_root=data_root, split='val')
    assert len(valid[0].media) == 8  # evaluation keeps the whole video
    by_id = {s.id: s for s in valid}
    reasoning = by_id['MOSE/vidM/1']
    assert reasoning.task == 'reasoning' and reasoning.meta['type_id'] == 1
    assert reasoning.query_type == 'sentence'
    assert reasoning.conversation[0]['content'] == \
        'Which object can be used to sit on? Please provide the segmentation mask.'
    assert by_id['MOSE/vidM/0'].task == 'referring'
    fg = revos_foreground(valid[0].meta['foreground_file'])
    assert set(fg) == {'TAO/train/vidT', 'MOSE/vidM'}


def test_running_index_sorts_expression_ids_as_strings(fx):
    videos = {'vid_b': {'expressions': {'1': {}, '0': {}}},
              'vid_a': {'expressions': {str(k): {} for k in range(12)}}}
    index = running_expression_index(videos)
    # vid_a first; within it '0' '1' '10' '11' '2' ... '9'
    assert [index[('vid_a', k)] for k in ('0', '1', '10', '11', '2', '9')] == [0, 1, 2, 3, 4, 11]
    assert index[('vid_b', '0')] == 12 and index[('vid_b', '1')] == 13
    file_order = running_expression_index(videos, order='file')
    assert file_order[('vid_b', '1')] == 0 and file_order[('vid_a', '2')] == 4


@pytest.mark.parametrize('cls', [RefYouTubeVOSDataset, RefDAVIS17Dataset])
def test_visa_layout_reads_masks_by_running_index(data_root, fx, cls):
    ds = cls(data_root=data_root, split='train')
    assert len(ds) == 14
    by_id = {s.id: s for s in ds}
    # fixture mask under running index i covers i + 1 pixels: read the index back from the decoded area
    for exp_id, index in [('0', 0), ('1', 1), ('10', 2), ('11', 3), ('2', 4), ('9', 11)]:
        s = by_id[f'vid_a/{exp_id}']
        assert s.meta['mask_index'] == index
        assert all_masks(s, (fx.H, fx.W))[0].sum() == index + 1
        assert s.query == f'object number {exp_id}'
    assert all_masks(by_id['vid_b/0'], (fx.H, fx.W))[1].sum() == 13
    assert by_id['vid_b/1'].objects[0].object_id == '1'


def test_visa_file_order_option(data_root, fx):
    ds = RefYouTubeVOSDataset(data_root=data_root, split='train', index_order='file')
    by_id = {s.id: s for s in ds}
    assert by_id['vid_b/1'].meta['mask_index'] == 0
    assert all_masks(by_id['vid_a/2'], (fx.H, fx.W))[0].sum() == 5  # file order: 2 + 2 before it


def test_visa_mismatched_pickle(fresh_root, fx):
    fx.make_visa(fresh_root, 'ref_davis17')
    path = os.path.join(fresh_root, 'ref_davis17', 'meta_expressions', 'train', 'meta_expressions.json')
    with open(path) as f:
        meta = json.load(f)
    meta['videos']['vid_b']['expressions']['2'] = {'exp': 'extra', 'obj_id': '3'}
    with open(path, 'w') as f:
        json.dump(meta, f)
    with pytest.raises(AnnotationError, match=r'holds 14 expressions but .* lists 15'):
        RefDAVIS17Dataset(data_root=fresh_root, split='train')


def test_ref_youtube_vos_valid_has_no_masks(data_root):
    ds = RefYouTubeVOSDataset(data_root=data_root, split='valid')
    assert len(ds) == 14 and ds[0].objects == []
    assert 'valid' in ds[0].media[0]


def test_lvvis_and_ref_sav(data_root, fx):
    lv = LVVISDataset(data_root=data_root)
    assert lv[0].query == 'traffic light'
    assert lv[0].conversation[0]['content'] == 'Please segment the traffic light in this video.'
    sav = RefSAVEvalDataset(data_root=data_root, split='val')
    s = sav[0]
    assert s.query_type == 'description'
    assert s.conversation[0]['content'].startswith('Please segment the object according to the description: A small')
    masks = all_masks(s, (fx.H, fx.W))
    assert masks[0].sum() == 64 and masks[1].sum() == 0


def test_missing_frame_fails_at_load_naming_it(fresh_root, fx):
    fx.make_mevis(fresh_root, 'train')
    os.remove(os.path.join(fresh_root, 'mevis', 'train', 'JPEGImages', 'vidB', '00001.jpg'))
    ds = MeViSDataset(data_root=fresh_root, split='train')
    sample = [s for s in ds if s.id == 'vidB/0'][0]
    with pytest.raises(Exception, match=r'vidB.00001\.jpg'):
        load_sample(sample, sample_rng(0), num_frames=8, sample_type='uniform')


def test_serialized_and_plain_datasets_agree(data_root):
    a = MeViSDataset(data_root=data_root, split='train', serialize_data=True)
    b = MeViSDataset(data_root=data_root, split='train', serialize_data=False)
    assert [s.id for s in a] == [s.id for s in b]
    assert a.data_types == ['seg_video'] * 4


def test_filter_by_frame_count(data_root):
    ds = MeViSDataset(data_root=data_root, split='train', max_frames=5)
    assert {s.meta['video'] for s in ds} == {'vidB'}
    ds = MeViSDataset(data_root=data_root, split='train', min_frames=4)
    assert {s.meta['video'] for s in ds} == {'vidA'}



def test_subsets_keep_batch_groups(data_root):
    ds = MeViSDataset(data_root=data_root, split='train')
    sub = ds.get_subset([3, 0])
    assert [s.id for s in sub] == ['vidB/1', 'vidA/0'] and sub.data_types == ['seg_video'] * 2
    assert ds[-1].id == 'vidB/1'
    plain = MeViSDataset(data_root=data_root, split='train', serialize_data=False, indices=2)
    assert len(plain) == 2 and plain.data_types == ['seg_video'] * 2
