"""Frame choice (upstream's formulas) and media reading, including the errors for bad files."""
import os

import numpy as np
import pytest

from unipixel_plugin.data.media import (
    MediaError,
    VideoFile,
    list_frame_files,
    read_image,
    read_images,
    read_timeline,
    read_video,
    sample_frame_positions,
    timeline_length,
    truncated_image,
    video_length,
)

BACKENDS = ['pyav', 'decord']


@pytest.mark.parametrize('length,k,expected', [
    (10, 4, [0, 3, 6, 9]),  # np.arange(0, 10, 3.0) -> 0 3 6 9
    (100, 8, [0, 14, 28, 42, 57, 71, 85, 99]),
    (7, 3, [0, 3, 6]),
    (5, 8, [0, 1, 2, 3, 4]),  # shorter than k: every frame
    (8, 8, list(range(8))),
    (9, 0, list(range(9))),  # k <= 0: every frame
])
def test_uniform_positions_match_upstream_formula(length, k, expected):
    assert sample_frame_positions(length, k, 'uniform') == expected
    if length > k > 1:
        reference = np.arange(0, length, (length - 1) / (k - 1))[:k].round().astype(int).tolist()
        assert expected == reference


def test_random_positions_one_per_segment_and_seeded():
    length, k = 50, 8
    seps = np.arange(0, length, (length - 1) / k)[:k + 1].round().astype(int).tolist()
    draws = [sample_frame_positions(length, k, 'random', np.random.default_rng(s)) for s in range(30)]
    for pos in draws:
        assert len(pos) == k
        for i, p in enumerate(pos):
            assert seps[i] <= p < max(seps[i] + 1, seps[i + 1])
    assert len({tuple(p) for p in draws}) > 1  # it does vary
    same = [sample_frame_positions(length, k, 'random', np.random.default_rng(7)) for _ in range(2)]
    assert same[0] == same[1]


def test_sampling_errors():
    with pytest.raises(ValueError, match='sample_type'):
        sample_frame_positions(10, 4, 'fps')
    with pytest.raises(ValueError, match='rng'):
        sample_frame_positions(10, 4, 'random')
    with pytest.raises(ValueError, match='empty timeline'):
        sample_frame_positions(0, 4)


@pytest.mark.parametrize('backend', BACKENDS)
def test_read_video_selected_frames(tmp_path, fx, backend):
    path = fx.write_video(str(tmp_path / 'v.mp4'), 12)
    assert video_length(path, backend=backend) == 12
    frames = read_video(path, [0, 5, 11], backend=backend)
    assert frames.shape == (3, fx.H, fx.W, 3) and frames.dtype == np.uint8
    levels = frames.reshape(3, -1).mean(axis=1)
    np.testing.assert_allclose(levels, [fx.frame_level(t) for t in (0, 5, 11)], atol=6)


def test_read_timeline_of_video_uses_frame_indices(tmp_path, fx):
    path = fx.write_video(str(tmp_path / 'v.mp4'), 12)
    frames = read_timeline('video', [path], [2, 5, 9], [0, 2])
    np.testing.assert_allclose(frames.reshape(2, -1).mean(axis=1), [fx.frame_level(2), fx.frame_level(9)], atol=6)


def test_frame_folder_sorted_numerically(tmp_path, fx):
    folder = tmp_path / 'f'
    fx.write_frames(str(folder), 3, names=['img9', 'img10', 'img2'])
    assert [os.path.basename(p) for p in list_frame_files(str(folder))] == ['img2.jpg', 'img9.jpg', 'img10.jpg']
    frames = read_images(list_frame_files(str(folder)))
    np.testing.assert_allclose(frames.reshape(3, -1).mean(axis=1), [fx.frame_level(t) for t in (2, 0, 1)], atol=3)


def test_missing_frame_names_the_file(tmp_path, fx):
    paths = fx.write_frames(str(tmp_path / 'vid'), 3)
    os.remove(paths[1])
    with pytest.raises(MediaError, match='00001.jpg'):
        read_timeline('frames', paths, None, [0, 1, 2])


@pytest.mark.parametrize('backend', BACKENDS)
def test_corrupt_video_names_the_file(tmp_path, backend):
    path = tmp_path / 'broken.mp4'
    path.write_bytes(b'\x00\x00\x00\x18ftypmp42' + os.urandom(2000))
    with pytest.raises(MediaError, match='broken.mp4'):
        read_video(str(path), [0], backend=backend)
    with pytest.raises(MediaError, match=r'not found: .*absent\.mp4'):
        read_video(str(tmp_path / 'absent.mp4'), [0], backend=backend)


@pytest.mark.parametrize('backend', BACKENDS)
def test_video_shorter_than_annotation(tmp_path, fx, backend):
    path = fx.write_video(str(tmp_path / 'v.mp4'), 4)
    with pytest.raises(MediaError, match=r'has 4 frames.*\[7\]'):
        read_video(path, [1, 7], backend=backend)


def test_pyav_random_access_matches_decord(tmp_path, fx):
    # 40 frames > 3 GOPs of mp4v (12): exercises seeking back, seeking forward and decoding on inside a GOP
    path = fx.write_video(str(tmp_path / 'v.mp4'), 40)
    reference = read_video(path, None, backend='decord')
    rng = np.random.default_rng(0)
    with VideoFile(path, backend='pyav') as video:
        assert len(video) == 40
        for _ in range(12):
            indices = rng.integers(0, 40, size=int(rng.integers(1, 9))).tolist()  # unsorted, with repeats
            assert np.array_equal(video.read(indices), reference[indices]), indices
        assert np.array_equal(video.read([39, 0, 13, 12, 14]), reference[[39, 0, 13, 12, 14]])


def test_corrupt_image_names_the_file(tmp_path):
    path = tmp_path / 'bad.jpg'
    path.write_bytes(b'not a jpeg at all')
    with pytest.raises(MediaError, match='bad.jpg'):
        read_image(str(path))


def test_truncated_images_are_told_by_their_last_bytes(tmp_path, fx):
    from PIL import Image
    jpeg = fx.write_frames(str(tmp_path / 'vid'), 1)[0]
    png = str(tmp_path / 'frame.png')
    Image.fromarray(np.zeros((fx.H, fx.W, 3), np.uint8)).save(png)
    with open(jpeg, 'rb') as f:
        jpeg_bytes = f.read()
    with open(png, 'rb') as f:
        png_bytes = f.read()
    assert truncated_image(jpeg) is None and truncated_image(png) is None
    cases = {'padded.jpg': jpeg_bytes + b'\x00' * 300 + b'\xff\xff\r\n',  # padding after FFD9 is fine
             'cut.jpg': jpeg_bytes[:-2], 'half.jpg': jpeg_bytes[:len(jpeg_bytes) // 2],
             'cut_in_marker.jpg': jpeg_bytes[:-1] + b'\x00',  # FF then padding: not an end marker
             'cut.png': png_bytes[:-4], 'other.bin': b'GIF89a' + b'\x00' * 10}
    found = {}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        found[name] = truncated_image(str(tmp_path / name))
    assert found['padded.jpg'] is None and found['other.bin'] is None
    assert all('end-of-image marker (FFD9)' in found[n] for n in ('cut.jpg', 'half.jpg', 'cut_in_marker.jpg'))
    assert 'IEND' in found['cut.png']


def test_frames_of_different_size_rejected(tmp_path, fx):
    a = fx.write_frames(str(tmp_path / 'a'), 1)
    b = fx.write_frames(str(tmp_path / 'b'), 1, size=(10, 10))
    with pytest.raises(MediaError, match='differ in size'):
        read_images(a + b)


def test_strided_timeline_of_a_video(tmp_path, fx):
    """SA-V style: every 4th frame of the file; a 10-frame video has positions 0, 1, 2 = frames 0, 4, 8."""
    path = fx.write_video(str(tmp_path / 'v.mp4'), 10)
    assert timeline_length('video', [path], None, frame_stride=4) == 3
    frames = read_timeline('video', [path], None, [2, 1], frame_stride=4)
    np.testing.assert_allclose(frames.reshape(2, -1).mean(axis=1), [fx.frame_level(8), fx.frame_level(4)], atol=6)
    with pytest.raises(MediaError, match=r'has 10 frames.*\[12\]'):
        read_timeline('video', [path], None, [3], frame_stride=4)
