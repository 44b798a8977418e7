"""Segmentation training sources with their own mask formats: ViCaS (per-referral RLE files), ADE20K / COCO-Stuff /
Mapillary (classes from label maps, read when loading) and the Ref-SAV training split (SA-V masklets, every 4th
frame of the video), and their bad inputs."""
import json
import os

import numpy as np
import pytest

from unipixel_plugin.data import EmptyMaskError, MaskError, load_sample
from unipixel_plugin.data.formats.sav import RefSAVDataset
from unipixel_plugin.data.formats.semantic import (
    SEMANTIC_CLASSES,
    ADE20KDataset,
    COCOStuffDataset,
    MapillaryDataset,
    expand_label_map,
)
from unipixel_plugin.data.formats.vicas import ViCaSDataset
from unipixel_plugin.data.mask_parts import decode_object
from unipixel_plugin.data.pipeline import sample_rng


def test_vicas_referrals_and_union_of_tracks(data_root, fx):
    ds = ViCaSDataset(data_root=data_root, split='train')
    assert [s.id for s in ds] == ['000123_0', '000123_1']
    s = ds[0]
    assert s.conversation[0]['content'] == 'The dog runs to the left. Please provide the segmentation mask.'
    assert s.query == 'The dog runs to the left.' and s.query_type == 'sentence' and s.data_type == 'seg_video'
    assert [os.path.basename(p) for p in s.media] == ['00000.jpg', '00001.jpg', '00002.jpg']
    out = load_sample(s, sample_rng(0))
    assert out.masks.sum(axis=(2, 3)).tolist() == [[100, 100, 0]]
    both = load_sample(ds[1], sample_rng(0))
    assert np.array_equal(both.masks[0, 0], fx.rect(0, 10, 0, 10) | fx.rect(20, 30, 30, 40))
    assert both.masks.sum(axis=(2, 3)).tolist() == [[200, 100, 0]]
    val = ViCaSDataset(data_root=data_root, split='valid')  # alias of val: same referrals, no masks (upstream)
    assert len(val) == 2 and all(s.objects == [] for s in val)
    assert len(ViCaSDataset(data_root=data_root, split='test')) == 0


def test_vicas_bad_inputs(fresh_root, fx):
    fx.make_vicas(fresh_root)
    fx.dump_json(os.path.join(fresh_root, 'vicas', 'splits', 'v1.0', 'test.json'), [124])
    test = ViCaSDataset(data_root=fresh_root, split='test')  # the unknown video is skipped and recorded
    assert len(test) == 0
    (problem, ) = fx.skipped(test, r'test\.json: video 000124 is not in .*annotations_wo_masks_v1\.0')
    assert problem.file.endswith('test.json') and problem.video == '000124'
    s = ViCaSDataset(data_root=fresh_root)[1]
    fx.dump_json(os.path.join(fresh_root, 'vicas', 'masks', '000123', '1.json'), [[{'size': [fx.H, fx.W]}], [], []])
    with pytest.raises(MaskError, match=r'malformed COCO RLE \(from .*000123.1\.json at \[0\]\)'):
        load_sample(s, sample_rng(0))


@pytest.mark.parametrize('dataset, classes, names', [
    (ADE20KDataset, [1, 13], ['wall', 'person']),
    # upstream's COCO-Stuff ignore list is LISA's shifted by one: 0 (person) and 96 (bush) out, 95 kept
    (COCOStuffDataset, [95], ['building-other']),
    # a palette PNG: its indices are the classes; 123 is ignored
    (MapillaryDataset, [21, 55], ['road', 'lane marking (only) - dashed line']),
])
def test_semantic_classes_from_the_label_map(data_root, fx, dataset, classes, names):
    (s, ) = list(dataset(data_root=data_root, split='train'))
    assert s.objects == [] and s.conversation == [] and s.meta['label_map']['classes'] == s.source
    assert s.media[0].endswith('.jpg') and os.path.isfile(s.media[0])
    full = expand_label_map(s)
    assert [o.object_id for o in full.objects] == classes and full.meta['queries'] == names
    assert full.conversation[0]['content'] == f'Please segment the {names[0]} in this image.'
    values = {'ade20k': [0, 1, 13], 'cocostuff': [0, 95, 96], 'mapillary': [21, 123, 55]}[s.source]
    out = load_sample(s, sample_rng(0), max_turns=3)
    assert [out.objects[o].object_id for o in out.kept_objects] == classes
    for i, c in enumerate(classes):  # class c is the band of rows 8 * values.index(c) ...
        band = values.index(c)
        assert np.array_equal(out.masks[i, 0], fx.rect(8 * band, 8 * band + 8, 0, fx.W))


def test_semantic_turns_are_sampled_and_bad_label_maps(fresh_root, fx):
    assert [len(SEMANTIC_CLASSES[k][0]) for k in ('ade20k', 'cocostuff', 'mapillary')] == [151, 182, 123]
    assert SEMANTIC_CLASSES['ade20k'][0][150] == 'flag' and SEMANTIC_CLASSES['mapillary'][0][-1] == 'static'
    labels = os.path.join(fresh_root, 'lisa', 'ade20k', 'annotations', 'validation')
    fx.write_label(os.path.join(labels, 'a.png'), fx.semantic_label([1, 2, 3, 4, 5]))
    fx.write_label(os.path.join(labels, 'b.png'), fx.semantic_label([0, 0]))  # nothing but ignored values
    fx.write_label(os.path.join(labels, 'c.png'), fx.semantic_label([1, 200]))  # 200 is no ADE20K class
    fx.write_frames(os.path.join(fresh_root, 'lisa', 'ade20k', 'images', 'validation'), 1, names=['a'])
    a, b, c = ADE20KDataset(data_root=fresh_root, split='val')
    assert a.media[0].endswith(os.path.join('images', 'validation', 'a.jpg'))
    kept = set()
    for seed in range(4):
        out = load_sample(a, sample_rng(seed), max_turns=3)  # upstream: at most 3 random classes per sample
        assert len(out.kept_objects) == 3 and len(out.conversation) == 6
        for i, o in enumerate(out.kept_objects):
            class_id = out.objects[o].object_id
            name = SEMANTIC_CLASSES['ade20k'][0][class_id]
            assert out.conversation[2 * i]['content'] == f'Please segment the {name} in this image.'
            assert np.array_equal(out.masks[i, 0], fx.rect(8 * (class_id - 1), 8 * class_id, 0, fx.W))
        kept.add(tuple(out.kept_objects))
    assert len(kept) > 1
    with pytest.raises(EmptyMaskError, match=r'b\.png holds no ade20k class'):
        load_sample(b, sample_rng(0))
    with pytest.raises(MaskError, match=r'c\.png: pixel values \[200\] are not ade20k classes'):
        expand_label_map(c)


def test_ref_sav_every_fourth_frame_and_masklets(data_root, fx):
    ds = RefSAVDataset(data_root=data_root)
    assert [s.id for s in ds] == ['sav_000001/0', 'sav_000001/1']
    s = ds[1]
    assert s.media_type == 'video' and s.frame_stride == 4 and s.frame_indices is None
    assert s.media[0].endswith(os.path.join('sav', 'sav_train', 'sav_000', 'sav_000001.mp4'))
    assert s.conversation[0]['content'] == ('Please segment the object according to the description: Another '
                                            'square behind it.')
    assert s.objects[0].track.values == ('masklet', '<t>', 1)
    out = load_sample(s, sample_rng(0), num_frames=8)
    assert out.sampled == [0, 1, 2]  # 9 frames -> frames 0, 4, 8
    np.testing.assert_allclose(out.frames.reshape(3, -1).mean(axis=1), [fx.frame_level(t) for t in (0, 4, 8)],
                               atol=6)
    for t in range(3):
        assert np.array_equal(out.masks[0, t], fx.sav_square(1, t))


def test_ref_sav_bad_inputs(fresh_root, fx):
    fx.make_ref_sav(fresh_root, num_frames=13, annotated=3)  # 13 frames -> 4 positions but 3 masklet frames
    s = RefSAVDataset(data_root=fresh_root)[0]
    first = decode_object(s.objects[0], [0, 1, 2], (fx.H, fx.W))  # the annotated positions decode
    assert [m.sum() for m in first] == [36, 36, 36]
    with pytest.raises(MaskError, match=r'sav_000001_manual\.json: key path \[\'masklet\', 3, 0\] fails at 3'):
        load_sample(s, sample_rng(0), num_frames=-1)
    path = os.path.join(fresh_root, 'ref_sav', 'Ref-SAV-Min-Ratio-0.3.json')
    with open(path) as f:
        meta = json.load(f)
    meta['sav_000001']['video_path'] = 'SA-V/sav_val/sav_000001.mp4'
    with open(path, 'w') as f:
        json.dump(meta, f)
    ds = RefSAVDataset(data_root=fresh_root)  # the video's objects are skipped and recorded
    assert len(ds) == 0
    fx.skipped(ds, r'Min-Ratio-0\.3\.json \(video sav_000001\): video_path .* is not in sav_train')
