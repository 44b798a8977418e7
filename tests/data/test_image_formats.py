"""Image readers: RefCOCO family (refer API splits, polygons and RLE) and ReasonSeg (target / ignore / flag)."""
import json
import os

import numpy as np

from unipixel_plugin.data import load_sample
from unipixel_plugin.data.formats.parts import PACOLVISDataset, category_name
from unipixel_plugin.data.formats.reason_seg import ReasonSegDataset
from unipixel_plugin.data.formats.refcoco import RefCOCODataset, RefCOCOgDataset, split_matches
from unipixel_plugin.data.mask_parts import decode_object
from unipixel_plugin.data.pipeline import sample_rng


def test_refer_split_semantics():
    assert split_matches('testAB', 'testA') and split_matches('testAB', 'testB')
    assert split_matches('testB', 'test') and not split_matches('testB', 'testA')
    assert split_matches('val', 'val') and not split_matches('train', 'val')


def test_refcoco_eval_split_one_sample_per_sentence(data_root, fx):
    ds = RefCOCODataset(data_root=data_root, split='testA')
    assert len(ds) == 1
    s = ds[0]
    assert s.id == '40' and s.data_type == 'seg_image' and s.media_type == 'image'
    assert s.media[0].endswith(os.path.join('mscoco', 'images', 'train2014', 'COCO_train2014_000000000001.jpg'))
    assert s.conversation[0]['content'] == 'Please segment the man on left in this image.'
    assert s.boxes == [[4, 8, 14, 14]]
    mask = decode_object(s.objects[0], [0], (fx.H, fx.W))[0]
    assert mask.sum() == 60 and mask[8:14, 4:14].all()  # COCO rasterisation of the 10x6 polygon


def test_refcoco_rle_segmentation(data_root, fx):
    s = RefCOCODataset(data_root=data_root, split='testB')[0]
    mask = decode_object(s.objects[0], [0], (fx.H, fx.W))[0]
    assert np.array_equal(mask, fx.rect(20, 30, 20, 30))


def test_refcoco_train_groups_sentences_per_image(data_root):
    ds = RefCOCODataset(data_root=data_root, split='train')
    assert len(ds) == 1  # image 1 only (image 2's ref is in val)
    s = ds[0]
    assert s.meta['queries'] == ['left square', 'the small box', 'right square']
    assert s.meta['turn_objects'] == [[0], [0], [1]]  # two sentences share annotation 11
    assert [o.object_id for o in s.objects] == [11, 12]
    assert len(s.conversation) == 6
    assert s.conversation[2]['content'] == 'Please segment the small box in this image.'


def test_refcoco_train_turn_sampling_keeps_masks_aligned(data_root):
    s = RefCOCODataset(data_root=data_root, split='train')[0]
    for seed in range(6):
        out = load_sample(s, sample_rng(seed), max_turns=2)
        users = [t['content'] for t in out.conversation if t['role'] == 'user']
        assert len(users) == 2
        wanted = [11 if ('left' in u or 'small' in u) else 12 for u in users]
        # one target per <|seg|> turn, in order: two sentences of one ref each get that ref's mask
        assert [s.objects[o].object_id for o in out.kept_objects] == wanted
        assert out.masks.shape[:2] == (len(out.kept_objects), 1)
    out = load_sample(s, sample_rng(0), max_turns=3)  # every turn kept
    assert [s.objects[o].object_id for o in out.kept_objects] == [11, 11, 12]
    assert sum(t['content'].count('<|seg|>') for t in out.conversation) == len(out.kept_objects) == 3


def test_refcocog_uses_umd(data_root):
    ds = RefCOCOgDataset(data_root=data_root, split='test')
    assert sorted(s.id for s in ds) == ['40', '50', '60']


def test_refcoco_missing_annotation(fresh_root, fx):
    fx.make_refcoco(fresh_root)
    path = os.path.join(fresh_root, 'lisa', 'refer_seg', 'refcoco', 'instances.json')
    with open(path) as f:
        inst = json.load(f)
    inst['annotations'] = inst['annotations'][1:]
    with open(path, 'w') as f:
        json.dump(inst, f)
    # the refs of the missing annotation are skipped and recorded; the others still load
    test_a = RefCOCODataset(data_root=fresh_root, split='testA')
    assert len(test_a) == 0
    fx.skipped(test_a, r'instances\.json: annotation 11 of ref 4 not found')
    train = RefCOCODataset(data_root=fresh_root, split='train')
    assert [s.meta['queries'] for s in train] == [['right square']]  # ref 1 (annotation 11) lost, ref 2 kept
    fx.skipped(train, r'annotation 11 of ref 1')


def test_reason_seg_queries_target_and_ignore(data_root):
    ds = ReasonSegDataset(data_root=data_root, split='val')
    assert [s.id for s in ds] == ['img1/0', 'img1/1']
    s = ds[0]
    assert s.query_type == 'sentence'
    assert s.conversation[0]['content'] == 'What can hold water? Please provide the segmentation mask.'
    out = load_sample(s, sample_rng(0))
    target, ignore = out.masks[0, 0], out.ignore_mask[0]
    assert ignore.sum() == 121 and ignore[15:26, 20:31].all()
    assert target.sum() == 31 * 21 - 121 and target[10, 10] and not target[20, 25]
    assert not target[0:3, 0:3].any()  # the "flag" shape is dropped


def test_reason_seg_train_explanatory(fresh_root, fx):
    fx.make_reason_seg(fresh_root, 'train')
    ds = ReasonSegDataset(data_root=fresh_root, split='train')
    exp = [s for s in ds if s.query_type == 'explanatory']
    assert len(exp) == 1 and exp[0].answer == 'The cup holds water.'
    assert exp[0].conversation[1]['content'] == 'Sure, it is <|seg|>. The cup holds water.'
    assert len(ReasonSegDataset(data_root=fresh_root, split='train', add_explanatory=False)) == 2


def test_reason_seg_bad_shape_label(fresh_root, fx):
    fx.make_reason_seg(fresh_root, 'val')
    path = os.path.join(fresh_root, 'lisa', 'reason_seg', 'ReasonSeg', 'val', 'img1.json')
    with open(path) as f:
        meta = json.load(f)
    meta['shapes'][0]['label'] = 'tagret'
    with open(path, 'w') as f:
        json.dump(meta, f)
    ds = ReasonSegDataset(data_root=fresh_root, split='val')  # the image is skipped, not the split
    assert len(ds) == 0
    (problem, ) = fx.skipped(ds, r"img1\.json: shape 0 has label 'tagret'")
    assert problem.sample == 'img1'


def test_paco_parts_one_turn_per_annotation(data_root, fx):
    assert category_name('dog:leg_(animal)', 'x') == ('dog', 'leg')
    ds = PACOLVISDataset(data_root=data_root, split='val')
    assert len(ds) == 1  # the image without annotations is skipped
    s = ds[0]
    assert s.media[0].endswith(os.path.join('lisa', 'coco', 'val2017', '000000000009.jpg'))
    assert s.meta['queries'] == ['mug handle', 'trash_can'] and s.meta['names'] == [['mug', 'handle'], 'trash_can']
    assert s.conversation[0]['content'] == 'Please segment the mug handle in this image.'
    out = load_sample(s, sample_rng(0), max_turns=3)
    assert sorted(out.masks.sum(axis=(1, 2, 3)).tolist()) == [16, 36]
