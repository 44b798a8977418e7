"""Reading images, frame folders and video files, and choosing which frames to read.

Frame choice follows upstream's ``load_frames`` exactly (``unipixel/utils/io.py``):

* ``uniform``: ``np.arange(0, n, (n - 1) / (k - 1))[:k].round()`` — first and last frame included;
* ``random``: split ``[0, n)`` at ``np.arange(0, n, (n - 1) / k)[:k + 1].round()`` and draw one frame from each
  of the ``k`` segments;
* a timeline no longer than ``k`` frames is read whole.

Videos are decoded with decord and only the chosen frames are read (``VideoReader.get_batch``); every error names
the file and says what to check.
"""
from __future__ import annotations

import os
import re
from typing import Optional, Sequence

import numpy as np
from PIL import Image

SAMPLE_TYPES = ('uniform', 'random')
FRAME_EXTENSIONS = ('.jpg', '.jpeg', '.png')


class MediaError(RuntimeError):
    """An image, frame or video file is missing, unreadable or shorter than its annotation says."""


def sample_frame_positions(length: int,
                           num_frames: int,
                           sample_type: str = 'uniform',
                           rng: Optional[np.random.Generator] = None) -> list[int]:
    """Choose ``num_frames`` positions out of a timeline of ``length`` frames, as upstream does.

    Args:
        length: number of frames in the timeline (``n``).
        num_frames: how many to keep (``k``); ``<= 0`` keeps every frame.
        sample_type: ``'uniform'`` or ``'random'`` (one frame drawn from each of ``k`` equal segments).
        rng: generator for ``'random'``; required there so that sampling is reproducible.

    Returns:
        Sorted positions in ``[0, length)``, ``min(k, n)`` of them (all of them when ``n <= k``).
    """
    if sample_type not in SAMPLE_TYPES:
        raise ValueError(f'unknown frame sample_type {sample_type!r}; expected one of {SAMPLE_TYPES}')
    if length <= 0:
        raise ValueError(f'cannot sample frames from an empty timeline (length={length})')
    if num_frames <= 0 or length <= num_frames:
        return list(range(length))
    if num_frames == 1:
        # upstream divides by (k - 1) here; one frame means the first one for 'uniform'
        if sample_type == 'uniform':
            return [0]
    if sample_type == 'uniform':
        inds = np.arange(0, length, (length - 1) / (num_frames - 1))[:num_frames].round().astype(int)
        return inds.tolist()
    if rng is None:
        raise ValueError("sample_type='random' needs an rng (np.random.Generator) so that sampling is seeded")
    seps = np.arange(0, length, (length - 1) / num_frames)[:num_frames + 1].round().astype(int).tolist()
    return [int(rng.integers(sep, max(sep + 1, seps[i + 1]))) for i, sep in enumerate(seps[:-1])]


def read_image(path: str) -> np.ndarray:
    """Read an image file as RGB.

    Returns:
        ``uint8`` array ``(H, W, 3)``.
    """
    if not os.path.isfile(path):
        raise MediaError(f'image file not found: {path} (check the data root and that the archive was extracted)')
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert('RGB'))
    except Exception as err:  # PIL raises many types for truncated / corrupt files
        raise MediaError(f'cannot decode image {path}: {type(err).__name__}: {err} (re-extract or re-download it)') \
            from err


def read_image_size(path: str) -> tuple[int, int]:
    """``(height, width)`` of an image from its header, without decoding the pixels."""
    if not os.path.isfile(path):
        raise MediaError(f'image file not found: {path}')
    try:
        with Image.open(path) as img:
            width, height = img.size
    except Exception as err:
        raise MediaError(f'cannot read image header {path}: {type(err).__name__}: {err}') from err
    return height, width


def read_images(paths: Sequence[str]) -> np.ndarray:
    """Read frame files of one video; all must share one size.

    Returns:
        ``uint8`` array ``(T, H, W, 3)``.
    """
    if len(paths) == 0:
        raise MediaError('no frame files to read')
    frames = [read_image(p) for p in paths]
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        sizes = ', '.join(f'{os.path.basename(p)}: {f.shape[1]}x{f.shape[0]}' for p, f in zip(paths, frames))
        raise MediaError(f'frames of {os.path.dirname(paths[0])} differ in size ({sizes})')
    return np.stack(frames)


def list_frame_files(folder: str, extensions: Sequence[str] = FRAME_EXTENSIONS) -> list[str]:
    """Frame files in ``folder`` sorted by the number in their names (``'img10.jpg'`` after ``'img9.jpg'``)."""
    if not os.path.isdir(folder):
        raise MediaError(f'frame folder not found: {folder}')
    names = [n for n in os.listdir(folder) if n.lower().endswith(tuple(extensions))]

    def number(name):
        digits = re.sub(r'^\D*', '', os.path.splitext(name)[0])
        match = re.match(r'\d+', digits)
        return (int(match.group()) if match else float('inf'), name)

    return [os.path.join(folder, n) for n in sorted(names, key=number)]


def _video_reader(path: str, num_threads: int = 1):
    import decord  # imported lazily: decord spawns threads at import time

    if not os.path.isfile(path):
        raise MediaError(f'video file not found: {path} (check the data root and that the archive was extracted)')
    try:
        return decord.VideoReader(path, num_threads=num_threads)
    except Exception as err:  # decord raises DECORDError / RuntimeError for unreadable containers
        raise MediaError(f'cannot open video {path}: {type(err).__name__}: {str(err).splitlines()[0]} '
                         '(the file is corrupt or not a video; re-extract or re-download it)') from err


def video_length(path: str, num_threads: int = 1) -> int:
    """Number of frames decord reports for a video file."""
    return len(_video_reader(path, num_threads))


def read_video(path: str, indices: Optional[Sequence[int]] = None, num_threads: int = 1) -> np.ndarray:
    """Decode some frames of a video file.

    Args:
        path: video file.
        indices: frame numbers to decode; ``None`` decodes every frame.
        num_threads: decord decoding threads (``0``: decord's default).

    Returns:
        ``uint8`` array ``(T, H, W, 3)`` (RGB).
    """
    reader = _video_reader(path, num_threads)
    length = len(reader)
    indices = list(range(length)) if indices is None else [int(i) for i in indices]
    bad = [i for i in indices if not 0 <= i < length]
    if bad:
        raise MediaError(f'video {path} has {length} frames but frames {bad[:5]} were requested '
                         '(the annotation does not match this file)')
    try:
        return reader.get_batch(indices).asnumpy()
    except Exception as err:
        raise MediaError(f'cannot decode frames {indices[:5]}... of video {path}: {type(err).__name__}: '
                         f'{str(err).splitlines()[0]}') from err


def timeline_length(media_type: str, media: Sequence[str], frame_indices: Optional[Sequence[int]]) -> int:
    """Length of a sample's timeline (see :mod:`.schema`), opening the video only when it must."""
    if media_type == 'image':
        return 1
    if media_type == 'frames':
        return len(media)
    if media_type == 'video':
        return len(frame_indices) if frame_indices is not None else video_length(media[0])
    return 0


def read_timeline(media_type: str,
                  media: Sequence[str],
                  frame_indices: Optional[Sequence[int]],
                  positions: Sequence[int],
                  num_threads: int = 1) -> np.ndarray:
    """Decode the frames at ``positions`` of a sample's timeline.

    Returns:
        ``uint8`` array ``(T, H, W, 3)`` with ``T = len(positions)``.
    """
    if media_type == 'image':
        if any(p != 0 for p in positions):
            raise ValueError(f'an image has one frame, got positions {list(positions)}')
        return read_image(media[0])[None].repeat(len(positions), axis=0)
    if media_type == 'frames':
        return read_images([media[p] for p in positions])
    if media_type == 'video':
        indices = list(positions) if frame_indices is None else [frame_indices[p] for p in positions]
        return read_video(media[0], indices, num_threads=num_threads)
    raise ValueError(f'media_type {media_type!r} has no frames to read')
