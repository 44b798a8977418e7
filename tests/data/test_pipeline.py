"""Loading one sample: frame / turn / object choice, visual prompts, empty-mask errors, seeding."""
import numpy as np
import pytest

from unipixel_plugin.data import EmptyMaskError, LoadSample, MaskPart, ObjectMasks, Sample, load_sample
from unipixel_plugin.data.formats.refvos import MeViSDataset
from unipixel_plugin.data.pipeline import choose_objects, keep_frame, sample_rng
from unipixel_plugin.data.visual_prompts import assign_prompt_types, sample_box, sample_point, sample_prompt


def test_point_is_uniform_over_the_mask(fx):
    mask = fx.rect(5, 7, 10, 12, (20, 20))  # 4 pixels
    rng = np.random.default_rng(0)
    points = [tuple(sample_point(mask, rng)[0].astype(int)) for _ in range(400)]
    assert set(points) == {(10, 5), (11, 5), (10, 6), (11, 6)}  # (x, y)
    counts = np.array([points.count(p) for p in set(points)])
    assert counts.min() > 60  # roughly 100 each


def test_box_noise_is_bounded_like_sam(fx):
    mask = fx.rect(10, 41, 20, 121, (100, 200))  # box x 20..120 (w 100), y 10..40 (h 30)
    rng = np.random.default_rng(0)
    exact = sample_box(mask, rng, noise=0)
    np.testing.assert_array_equal(exact, [[20, 10], [120, 40]])
    boxes = np.stack([sample_box(mask, rng, noise=0.1, noise_bound=20, prompt_space=768) for _ in range(300)])
    shift = np.abs(boxes - exact)
    # x: min(0.1 * 100, 20 px of 768 -> 20 * 200 / 768 = 5.2 px); y: min(0.1 * 30, 20 * 100 / 768 = 2.6 px)
    assert shift[:, :, 0].max() <= 20 * 200 / 768 + 1e-4 and shift[:, :, 0].max() > 4
    assert shift[:, :, 1].max() <= 20 * 100 / 768 + 1e-4 and shift[:, :, 1].max() > 2
    unbounded = np.stack([sample_box(mask, rng, noise=0.1, noise_bound=1e9) for _ in range(300)])
    assert np.abs(unbounded - exact)[:, :, 0].max() > 9  # 0.1 * width


def test_prompt_only_on_visible_frames(fx):
    masks = np.zeros((4, 10, 10), bool)
    masks[2, 3:5, 3:5] = True
    rng = np.random.default_rng(0)
    for _ in range(10):
        p = sample_prompt(masks, 'point', rng)
        assert p.frame == 2 and p.labels.tolist() == [1] and masks[2, int(p.coords[0, 1]), int(p.coords[0, 0])]
    box = sample_prompt(masks, 'box', rng, noise=0)
    assert box.labels.tolist() == [2, 3] and box.coords.tolist() == [[3, 3], [4, 4]]
    with pytest.raises(ValueError, match='empty on every sampled frame'):
        sample_prompt(np.zeros((2, 4, 4), bool), 'point', rng)


def test_prompt_types_split_exactly_half():
    kinds = assign_prompt_types(11, np.random.default_rng(0))
    assert kinds.count('point') == 5 and kinds.count('box') == 6
    assert assign_prompt_types(11, np.random.default_rng(0)) == kinds


def test_keep_frame_and_choose_objects():
    assert keep_frame([0, 4, 8], 5) == [0, 5, 8]
    assert keep_frame([0, 4, 8], 4) == [0, 4, 8]
    picked = choose_objects(list(range(9)), 5, np.random.default_rng(0))
    assert len(picked) == 5 and picked == sorted(picked)


def synthetic(fx, tmp_path, data_type='ref_point', visible=(0, 1, 2, 3, 4, 5), num_objects=1):
    paths = fx.write_frames(str(tmp_path / 'frames'), 6)
    objects = [ObjectMasks([[MaskPart('rle', fx.rle(fx.rect(5, 15, 2 + 8 * o, 8 + 8 * o)))]
                            if t in visible else None for t in range(6)], object_id=o) for o in range(num_objects)]
    return Sample(id='s', source='synthetic', data_type=data_type, media_type='frames', media=paths,
                  conversation=[{'role': 'user', 'content': 'x'}], objects=objects,
                  prompt_type='point' if data_type.startswith('ref_') else None)


def test_load_sample_frames_masks_prompts(fx, tmp_path):
    s = synthetic(fx, tmp_path, num_objects=2)
    out = load_sample(s, sample_rng(0), num_frames=3, sample_type='uniform')
    assert out.sampled == [0, 2, 5]
    np.testing.assert_allclose(out.frames.reshape(3, -1).mean(1), [fx.frame_level(t) for t in (0, 2, 5)], atol=3)
    assert out.masks.shape == (2, 3, fx.H, fx.W) and out.masks.sum() == 2 * 3 * 60
    assert [p.kind for p in out.prompts] == ['point', 'point']
    for o, p in enumerate(out.prompts):
        x, y = p.coords[0].astype(int)
        assert out.masks[o, p.frame, y, x]
    assert s.frames is None  # the input is not modified


def test_load_sample_is_seeded(fx, tmp_path):
    s = synthetic(fx, tmp_path, num_objects=7)
    a = load_sample(s, sample_rng(3, 'k'), num_frames=3)
    b = load_sample(s, sample_rng(3, 'k'), num_frames=3)
    assert a.sampled == b.sampled and a.kept_objects == b.kept_objects
    assert [p.coords.tolist() for p in a.prompts] == [p.coords.tolist() for p in b.prompts]
    assert len(a.kept_objects) == 5  # at most 5 objects
    others = {tuple(load_sample(s, sample_rng(seed, 'k'), num_frames=3).sampled) for seed in range(10)}
    assert len(others) > 1


def test_empty_mask_of_prompted_sample_is_an_error(fx, tmp_path):
    s = synthetic(fx, tmp_path, visible=(3,))
    with pytest.raises(EmptyMaskError, match=r'synthetic:s.*object\(s\) \[0\] empty.*\[0, 5\]'):
        load_sample(s, sample_rng(0), num_frames=2, sample_type='uniform')  # frames 0 and 5 miss frame 3
    assert load_sample(s, sample_rng(0), num_frames=-1).prompts[0].frame == 3


def test_segmentation_sample_may_be_empty(fx, tmp_path):
    s = synthetic(fx, tmp_path, data_type='seg_video', visible=())
    out = load_sample(s, sample_rng(0), num_frames=2)
    assert out.masks.sum() == 0 and out.prompts is None


def test_load_sample_transform_in_reader_pipeline(data_root):
    ds = MeViSDataset(data_root=data_root, split='train',
                      pipeline=[dict(type='unipixel_plugin.LoadSample', num_frames=4, sample_type='random', seed=1)])
    a, b = ds[0], ds[0]
    assert a.frames.shape[0] == 4 and a.sampled == b.sampled
    ds = MeViSDataset(data_root=data_root, split='train', pipeline=[LoadSample(seed=1, num_frames=4)])
    assert ds[0].sampled == a.sampled
    assert 'LoadSample(seed=1' in repr(LoadSample(seed=1, num_frames=4))


def test_region_samples_keep_every_object(fx, tmp_path):
    """Upstream caps segmentation / memory samples at 5 objects, but not region samples (their text names all)."""
    path = fx.write_frames(str(tmp_path / 'f'), 1)
    objects = [ObjectMasks([[MaskPart('rle', fx.rle(fx.rect(0, 4, 4 * k, 4 * k + 4)))]], object_id=k + 1)
               for k in range(7)]
    region = Sample(id='r', source='osprey_conversation', data_type='region_image', media_type='image', media=path,
                    conversation=[{'role': 'user', 'content': ' '.join(f'[{k + 1}]' for k in range(7))},
                                  {'role': 'assistant', 'content': 'Seven boxes.'}], objects=objects)
    out = load_sample(region, sample_rng(0), max_objects=5)
    assert out.kept_objects == list(range(7)) and out.masks.sum(axis=(1, 2, 3)).tolist() == [16] * 7
    seg = load_sample(region.replace(data_type='seg_image'), sample_rng(0), max_objects=5)
    assert len(seg.kept_objects) == 5
