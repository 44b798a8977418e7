"""The documented edge cases and conventions of the metrics, and their error messages."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from unipixel_plugin.evaluation.metrics import (
    IoUAccumulator,
    boundary_f,
    boundary_map,
    boundary_tolerance,
    choice_accuracy,
    generalized_iou,
    intersection_and_union,
    j_and_f,
    jaccard,
    parse_choice,
    pixel_f1,
    pixelqa_volume_j,
    revos_accuracy_robustness,
    revos_summary,
    sample_iou,
    score_prediction_folder,
    tolerance_disk,
)
from unipixel_plugin.evaluation.metrics.refvos import ExpressionScores


def _square(h, w, y, x, side):
    m = np.zeros((h, w), bool)
    m[y:y + side, x:x + side] = True
    return m


def test_full_versus_empty_and_both_empty():
    full, empty = np.ones((37, 53), bool), np.zeros((37, 53), bool)
    assert j_and_f(full, empty) == (0.0, 1.0)  # a full frame has no boundary pixels
    assert j_and_f(empty, full) == (0.0, 1.0)
    assert j_and_f(empty, empty) == (1.0, 1.0)
    assert not boundary_map(full).any()


def test_image_border_is_never_boundary():
    m = np.zeros((6, 7), bool)
    m[-1, :] = True  # the last row: only east neighbours count, and they are equal; the row above is the boundary
    b = boundary_map(m)
    assert not b[-1].any() and b[-2].all() and b.sum() == 7
    m[:, -1] = True
    b = boundary_map(m)
    assert b[-2, :-1].all() and not b[-1].any() and b[:-1, -2].all() and not b[:, -1].any()
    one = np.zeros((6, 7), bool)
    one[-1, -1] = True  # the bottom-right pixel is never a boundary pixel; its W, N and NW neighbours are
    b = boundary_map(one)
    assert b.sum() == 3 and not b[-1, -1] and b[-1, -2] and b[-2, -1] and b[-2, -2]


def test_tolerance_radius():
    assert boundary_tolerance(37, 53) == 1
    assert boundary_tolerance(480, 854) == 8
    assert boundary_tolerance(480, 854, 3) == 3
    with pytest.raises(ValueError, match='whole number'):
        boundary_tolerance(480, 854, 1.5)
    disk = tolerance_disk(8)
    assert disk.shape == (17, 17) and disk[8].sum() == 17 and disk[0].sum() == 1


def test_shifted_square_at_480x854():
    base = _square(480, 854, 200, 300, 100)
    assert boundary_f(_square(480, 854, 200, 308, 100), base) == 1.0
    assert boundary_f(_square(480, 854, 200, 309, 100), base) < 1.0
    assert boundary_f(_square(37, 53, 10, 11, 12), _square(37, 53, 10, 10, 12)) == 1.0  # 1 px at 37x53
    assert boundary_f(_square(37, 53, 10, 12, 12), _square(37, 53, 10, 10, 12)) < 1.0


def test_masks_are_read_as_nonzero():
    rng = np.random.default_rng(0)
    a, b = rng.random((30, 40)) < 0.4, rng.random((30, 40)) < 0.4
    ref = j_and_f(a, b)
    assert j_and_f(a.astype(np.uint8) * 255, b.astype(np.uint8)) == ref
    assert j_and_f(a.astype(np.float32), b.astype(np.int64) * 7) == ref


def _dense_f(pred, gt, radius):
    """The reference formulation: whole-frame boundary maps, disk dilation."""
    bp, bg = boundary_map(pred), boundary_map(gt)
    disk = tolerance_disk(radius)
    n_p, n_g = bp.sum(), bg.sum()
    if n_p == 0 and n_g == 0:
        return 1.0
    if n_p == 0 or n_g == 0:
        return 0.0
    p = (bp & cv2.dilate(bg.astype(np.uint8), disk).astype(bool)).sum() / float(n_p)
    r = (bg & cv2.dilate(bp.astype(np.uint8), disk).astype(bool)).sum() / float(n_g)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


@pytest.mark.parametrize('seed, canvas_words', [(0, None), (1, None), (2, None), (3, 1), (4, 1), (5, 40)])
def test_cropped_matching_equals_dense_dilation(seed, canvas_words, monkeypatch):
    """Packed crops on canvases (one canvas per crop when ``canvas_words`` is tiny) vs whole-frame dilation."""
    if canvas_words is not None:
        from unipixel_plugin.evaluation.metrics import video_segmentation
        monkeypatch.setattr(video_segmentation, 'CANVAS_WORDS', canvas_words)
    rng = np.random.default_rng(seed)
    t, h, w = 3, int(rng.integers(20, 90)), int(rng.integers(20, 90))
    yy, xx = np.mgrid[:h, :w]
    gt = np.stack([((yy - rng.uniform(0, h)) / rng.uniform(3, h)) ** 2 + ((xx - rng.uniform(0, w)) /
                                                                         rng.uniform(3, w)) ** 2 <= 1
                   for _ in range(t)])
    pred = gt ^ (rng.random(gt.shape) < 0.03)
    pred[0] = np.roll(gt[0], (3, -2), axis=(0, 1))
    pred[1, -3:, :] |= rng.random((3, w)) < 0.5  # touching the last row and column
    pred[2, :, -2:] |= rng.random((h, 2)) < 0.5
    for bound_th in (0.008, 0.05, 4, 70):
        f = boundary_f(pred, gt, bound_th)
        radius = boundary_tolerance(h, w, bound_th)
        assert f.tolist() == [_dense_f(pred[i], gt[i], radius) for i in range(t)]


def test_stack_returns_arrays_and_frame_returns_floats():
    a = np.zeros((4, 10, 12), bool)
    a[:, 2:6, 3:8] = True
    j, f = j_and_f(a, a)
    assert isinstance(j, np.ndarray) and j.shape == (4,) and f.tolist() == [1.0] * 4
    j1, f1 = j_and_f(a[0], a[0])
    assert type(j1) is float and type(f1) is float
    assert isinstance(jaccard(a, a), np.ndarray)


def test_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r'pred \(4, 5\), gt \(4, 6\)'):
        j_and_f(np.zeros((4, 5)), np.zeros((4, 6)))
    with pytest.raises(ValueError, match=r'\(H, W\) or a stack of frames \(T, H, W\), got shape \(5,\)'):
        jaccard(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match='pred .* gt'):
        pixelqa_volume_j(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match='ignore_mask'):
        intersection_and_union(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((3, 2)))


def test_pixelqa_both_empty_is_zero():
    z = np.zeros((3, 8, 8), bool)
    assert pixelqa_volume_j(z, z) == 0.0 and pixel_f1(z, z) == 0.0
    assert jaccard(z, z).tolist() == [1.0] * 3  # unlike DAVIS J
    o = np.ones((1, 1, 1), bool)  # the epsilon shows on small counts (float32: 192 + 1e-6 == 192)
    assert pixelqa_volume_j(o, o) == pytest.approx(1.0, abs=1e-6) and pixelqa_volume_j(o, o) < 1.0


def test_giou_conventions():
    assert sample_iou(0, 0) == 1.0 and sample_iou(0, 0, 'lisa') == 1.0
    exact, lisa = sample_iou(3, 7), sample_iou(3, 7, 'lisa')
    assert exact == 3 / 7 and lisa != exact and abs(lisa - exact) < 1e-6
    assert generalized_iou([3, 0], [7, 0]) == (3 / 7 + 1) / 2
    with pytest.raises(ValueError, match='convention'):
        sample_iou(1, 2, 'mean')


def test_ignore_modes():
    gt = np.zeros((4, 4), bool)
    gt[:2] = True
    pred = np.ones((4, 4), bool)
    ignore = np.zeros((4, 4), bool)
    ignore[3] = True
    assert intersection_and_union(pred, gt, ignore) == (8, 12)  # row 3 left out
    assert intersection_and_union(pred, gt, ignore, ignore='background') == (8, 16)  # row 3: false positives
    assert intersection_and_union(pred, gt) == (8, 16)


def test_iou_accumulator_merges():
    a, b = IoUAccumulator(), IoUAccumulator()
    a.add_counts(3, 7)
    b.add_counts(0, 0)
    both = a.merge(b)
    assert (both.inter_sum, both.union_sum, both.count) == (3, 7, 2) and both.giou == (3 / 7 + 1) / 2
    assert both.ciou == 3 / 7
    with pytest.raises(ValueError, match='merge'):
        a.merge(IoUAccumulator('lisa'))


def test_revos_accuracy_robustness_conventions():
    gt = np.array([[0, 1, 2, 0]], np.uint8)  # 2: two objects overlap (the script adds them)
    pred = np.array([[255, 255, 0, 0]], np.uint8)
    fg = np.array([[1, 1, 1, 0]], np.uint8)
    a, r = revos_accuracy_robustness(pred, gt, fg, convention='raw')
    assert a == 0.25  # only the last pixel: 0 == 0 (255 never equals 1)
    assert r == 0.0  # one false positive weighs 255
    a, r = revos_accuracy_robustness(pred, gt, fg, convention='binary')
    assert a == 0.5 and r == pytest.approx(1 - 1 / 3, abs=1e-6)
    a, r = revos_accuracy_robustness(np.array([[0, 0, 1, 0]], np.uint8), gt, fg, convention='raw')
    assert r == 0.0  # uint8 wrap: (1 - 2) * 1 = 255
    with pytest.raises(TypeError):
        revos_accuracy_robustness(pred, gt, fg)  # the convention has no default
    with pytest.raises(ValueError, match='0..255'):
        revos_accuracy_robustness(pred.astype(np.int32) + 1, gt, fg, convention='raw')


def test_revos_summary_rounding_and_subsets():
    s1 = ExpressionScores(0.123456, 0.5, 0.25, 0.75)
    s2 = ExpressionScores(0.9, 0.33333, 0.5, 0.0)
    rounded = revos_summary([(s1, 0), (s2, 1), (ExpressionScores(0, 0, 0, 0), 2)])
    assert rounded['referring']['J'] == 12.35 and rounded['reason']['F'] == 33.33
    unrounded = revos_summary([(s1, 0), (s2, 1)], round_percent=False)
    assert unrounded['referring']['J'] == pytest.approx(12.3456)
    assert rounded['overall']['J'] == (12.35 + 90.0) / 2 and rounded['overall']['expressions'] == 2
    assert np.isnan(revos_summary([(s1, 0)])['reason']['J'])


@pytest.mark.parametrize('response, n, want', [('A', 4, 'A'), ('(b) a dog', 4, 'B'), ('c.', 4, 'C'),
                                                ('Bicycle', 4, 'B'), ('E', 4, None), ('', 4, None),
                                                (' A', 4, None), ('\nA', 4, None), ('(D)', 3, None),
                                                ('The answer is A', 4, None), ('d) x', 4, 'D')])
def test_parse_choice(response, n, want):
    assert parse_choice(response, n) == want


def test_choice_accuracy_per_type():
    records = [dict(response='A', answer='(A) x', options=['(A) x', '(B) y'], task='t1'),
               dict(response='B', answer='A', options=['a', 'b'], task=['t1', 't2']),
               dict(response='zzz', answer='A', num_options=2, task='t2'), dict(answer='A', options=['a'])]
    result = choice_accuracy(records)
    assert (result.overall.samples, result.overall.failed, result.overall.correct) == (3, 1, 1)
    assert result.per_type['t1'].accuracy == 0.5 and result.per_type['t2'].accuracy == 0.0
    assert result.as_dict()['accuracy'] == pytest.approx(100 / 3)


def test_decode_rle_matches_pycocotools():
    """The folder scorer reads RLEs with the package's one decoder (unipixel_plugin.masks)."""
    from pycocotools import mask as mask_utils

    from unipixel_plugin.masks import decode_rle
    rng = np.random.default_rng(5)
    for i in range(40):
        h, w = (int(v) for v in rng.integers(1, 70, 2))
        m = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        if i % 5 == 0:
            m[:] = i % 2
        rle = mask_utils.encode(np.asfortranarray(m))
        np.testing.assert_array_equal(decode_rle(rle), m)
        np.testing.assert_array_equal(decode_rle({'size': rle['size'], 'counts': rle['counts'].decode()}), m)
    # uncompressed counts, column-major: 1 zero, 2 ones, 3 zeros over [[a, c, e], [b, d, f]]
    np.testing.assert_array_equal(decode_rle({'size': [2, 3], 'counts': [1, 2, 3]}),
                                  np.array([[0, 1, 0], [1, 0, 0]], np.uint8))
    with pytest.raises(ValueError, match='sum to 3'):
        decode_rle({'size': [2, 3], 'counts': [1, 2]})


def test_folder_errors(tmp_path, cases):
    paths = cases.refvos_dataset(str(tmp_path), 255)
    import json
    videos = json.load(open(paths['meta_expressions']))['videos']
    mask_dict = json.load(open(paths['mask_dict']))
    cv2.imwrite(str(tmp_path / 'pred' / 'vid_b' / '1' / '00001.png'), np.zeros((5, 5), np.uint8))
    with pytest.raises(ValueError, match=r"video 'vid_b', expression '1'.*5x5"):
        score_prediction_folder(paths['pred_root'], videos, mask_dict)
    scores = score_prediction_folder(paths['pred_root'], videos, mask_dict, on_error='zero')
    assert scores.expressions[('vid_b', '1')] == ExpressionScores(0.0, 0.0)
    assert [e[:2] for e in scores.errors] == [('vid_b', '1')]
    with pytest.raises(ValueError, match='ar_convention'):
        score_prediction_folder(paths['pred_root'], videos, mask_dict, foreground={})
