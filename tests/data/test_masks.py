"""Mask decoding: COCO RLE / polygons, LabelMe shapes with ignore regions, label PNGs, and malformed input."""
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from unipixel_plugin.data.mask_parts import decode_frame, decode_object, decode_part
from unipixel_plugin.masks import MaskError, decode_polygons, decode_rle, rle_string_counts
from unipixel_plugin.data.schema import POSITION, MaskPart, ObjectMasks


def test_rle_round_trip_string_bytes_and_uncompressed(fx):
    mask = fx.rect(3, 9, 4, 20)
    compressed = fx.rle(mask)
    assert np.array_equal(decode_rle(compressed), mask)
    assert np.array_equal(decode_rle({**compressed, 'counts': compressed['counts'].encode()}), mask)
    # uncompressed: column-major runs starting with background
    runs = []
    flat, value, n = mask.flatten(order='F'), False, 0
    for v in flat:
        if v == value:
            n += 1
        else:
            runs.append(n)
            value, n = v, 1
    runs.append(n)
    assert np.array_equal(decode_rle({'size': list(mask.shape), 'counts': runs}), mask)


def test_rle_string_counts_matches_pycocotools():
    rng = np.random.default_rng(0)
    for _ in range(50):
        h, w = rng.integers(1, 40, 2)
        mask = rng.random((h, w)) < rng.random()
        encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        runs = rle_string_counts(encoded['counts'])
        assert sum(runs) == h * w
        assert sum(runs[1::2]) == mask.sum()


@pytest.mark.parametrize('bad,match', [
    ({'counts': 'abc'}, 'size'),
    ({'size': [10, 10], 'counts': 'PPP'}, 'sum to|ends inside'),
    ({'size': [10, 10], 'counts': [10, 10]}, 'sum to 20'),
    ({'size': [10], 'counts': '0'}, 'height, width'),
    ({'size': [4, 4], 'counts': 3.5}, 'string or a list'),
])
def test_malformed_rle_errors_name_the_file(bad, match):
    with pytest.raises(MaskError, match=match) as info:
        decode_rle(bad, source='mask_dict.json')
    assert 'mask_dict.json' in str(info.value)


def test_polygons_rasterise_like_coco():
    mask = decode_polygons([[2, 2, 10, 2, 10, 6, 2, 6]], (12, 16))
    reference = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([[2, 2, 10, 2, 10, 6, 2, 6]], 12, 16)))
    assert np.array_equal(mask, reference.astype(bool))
    assert mask.sum() == 8 * 4  # COCO rasterises the half-open square
    with pytest.raises(MaskError, match='instances.json'):
        decode_polygons([[1, 2, 3]], (12, 16), source='instances.json')


def test_shapes_ignore_cuts_into_target():
    shapes = [{'label': 'target', 'points': [[2, 2], [11, 2], [11, 7], [2, 7]]},
              {'label': 'ignore', 'points': [[4, 3], [6, 3], [6, 5], [4, 5]]}]
    target = decode_part(MaskPart('shapes', shapes, size=(10, 14), values=('target',)))
    ignore = decode_part(MaskPart('shapes', shapes, size=(10, 14), values=('ignore',)))
    assert ignore.sum() == 9 and ignore[3:6, 4:7].all()
    assert target.sum() == 10 * 6 - 9  # outline + fill of the big polygon minus the ignore square
    assert not (target & ignore).any()


def test_png_values_select_objects(tmp_path):
    label = np.zeros((6, 8), np.uint8)
    label[0:2, 0:2] = 1
    label[4:6, 6:8] = 2
    path = str(tmp_path / 'm.png')
    Image.fromarray(label, mode='L').save(path)
    assert decode_part(MaskPart('png', path, values=(2,))).sum() == 4
    assert decode_part(MaskPart('png', path, values=(1, 2))).sum() == 8
    assert decode_part(MaskPart('png', path)).sum() == 8
    with pytest.raises(MaskError, match='missing.png'):
        decode_part(MaskPart('png', str(tmp_path / 'missing.png')))


def test_union_of_parts_and_resize_or_error(fx):
    a, b = fx.rect(0, 4, 0, 4, (8, 8)), fx.rect(4, 8, 4, 8, (8, 8))
    union = decode_frame([MaskPart('rle', fx.rle(a)), MaskPart('rle', fx.rle(b))], (8, 8))
    assert union.sum() == 32 and union[0, 0] and union[7, 7] and not union[0, 7]
    small = MaskPart('rle', fx.rle(fx.rect(0, 2, 0, 2, (4, 4))), source='x.json')
    assert decode_frame([small], (8, 8)).sum() == 16  # nearest-neighbour upscale x2
    with pytest.raises(MaskError, match=r'x\.json.*4x4.*8x8'):
        decode_frame([small], (8, 8), on_size_mismatch='error')


def test_decode_object_absent_frames_are_empty(fx):
    obj = ObjectMasks([[MaskPart('rle', fx.rle(fx.rect(0, 2, 0, 2, (4, 4))))], None], object_id=5)
    out = decode_object(obj, [1, 0], (4, 4))
    assert out.shape == (2, 4, 4) and out[0].sum() == 0 and out[1].sum() == 4
    with pytest.raises(MaskError, match='2 frames'):
        decode_object(obj, [3], (4, 4))


def test_json_mask_file_entries(tmp_path, fx):
    """The lazy 'json' kind: RLE, null, flat polygon and nested lists (union), reached by a key path."""
    a, b = fx.rect(0, 4, 0, 4, (8, 8)), fx.rect(4, 8, 4, 8, (8, 8))
    path = str(tmp_path / 'masks.json')
    fx.dump_json(path, {'masklet': [[fx.rle(a), None], [[fx.rle(a), None, [[4, 4, 8, 4, 8, 8, 4, 8]]], [None]]]})
    assert np.array_equal(decode_part(MaskPart('json', path, values=('masklet', 0, 0))), a)
    assert decode_part(MaskPart('json', path, values=('masklet', 0, 1)), (8, 8)).sum() == 0  # null: empty
    assert np.array_equal(decode_part(MaskPart('json', path, values=('masklet', 1, 0)), (8, 8)), a | b)
    with pytest.raises(MaskError, match=r'masks\.json: the entry at \[.masklet., 1, 1\] is empty and the frame size'):
        decode_part(MaskPart('json', path, values=('masklet', 1, 1)))
    with pytest.raises(MaskError, match=r"masks\.json: key path \['frames', 0\] fails at 'frames' \(no such key"):
        decode_part(MaskPart('json', path, values=('frames', 0)))
    with pytest.raises(MaskError, match=r'mask file not found: .*absent\.json'):
        decode_part(MaskPart('json', str(tmp_path / 'absent.json'), values=(0, )))
    fx.dump_json(path, {'masklet': [[fx.rle(b)]]})  # a rewritten file is read again, not served from the cache
    assert np.array_equal(decode_part(MaskPart('json', path, values=('masklet', 0, 0))), b)


def test_sparse_and_track_objects(tmp_path, fx):
    a = fx.rect(0, 2, 0, 2, (4, 4))
    sparse = ObjectMasks([[MaskPart('rle', fx.rle(a))]], object_id=1, positions=[7])
    assert sparse.num_frames is None and sparse.annotated_frames() == [7] and sparse.parts(3) is None
    out = decode_object(sparse, [0, 7, 30], (4, 4))  # any timeline length: only position 7 has a mask
    assert out.sum(axis=(1, 2)).tolist() == [0, 4, 0]
    path = str(tmp_path / 'manual.json')
    fx.dump_json(path, {'masklet': [[fx.rle(a * False)], [fx.rle(a)]]})
    track = ObjectMasks(track=MaskPart('json', path, values=('masklet', POSITION, 0)), object_id=0)
    assert track.annotated_frames() is None and track.has_masks() and track.parts(1)[0].values == ('masklet', 1, 0)
    assert decode_object(track, [1, 0], (4, 4)).sum(axis=(1, 2)).tolist() == [4, 0]
    with pytest.raises(MaskError, match=r"key path \['masklet', 2, 0\] fails at 2"):
        decode_object(track, [2], (4, 4))
    with pytest.raises(ValueError, match='ascending'):
        ObjectMasks([None, None], positions=[3, 1])
    with pytest.raises(ValueError, match='POSITION once'):
        ObjectMasks(track=MaskPart('json', path, values=('masklet', 0, 0)))
