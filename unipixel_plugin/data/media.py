"""Reading images, frame folders and video files, and choosing which frames to read.

Frame choice follows upstream's ``load_frames`` exactly (``unipixel/utils/io.py``):

* ``uniform``: ``np.arange(0, n, (n - 1) / (k - 1))[:k].round()`` — first and last frame included;
* ``random``: split ``[0, n)`` at ``np.arange(0, n, (n - 1) / k)[:k + 1].round()`` and draw one frame from each
  of the ``k`` segments;
* a timeline no longer than ``k`` frames is read whole.

Only the chosen frames of a video are decoded (:class:`VideoFile`: PyAV with keyframe seeking, or decord's
``VideoReader.get_batch`` as upstream); every error names the file and says what to check.
"""
from __future__ import annotations

import os
import re
from typing import Callable, Optional, Sequence

import numpy as np
from PIL import Image

SAMPLE_TYPES = ('uniform', 'random')
VIDEO_BACKENDS = ('pyav', 'decord')
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


JPEG_SOI, JPEG_EOI = b'\xff\xd8', b'\xff\xd9'
PNG_SIGNATURE, PNG_IEND = b'\x89PNG\r\n\x1a\n', b'IEND\xaeB`\x82'  # the IEND chunk's type and CRC end a PNG
TRAILING_PADDING = b'\x00\xff \t\r\n'  # what some writers put after the end marker
TAIL_BYTES = 4096


def truncated_image(path: str) -> Optional[str]:
    """Why the JPEG / PNG at ``path`` is truncated, judged from its first and last bytes only (no decoding):
    a JPEG must end with its end-of-image marker ``FFD9`` and a PNG with its ``IEND`` chunk, padding after them
    allowed. ``None`` when it does, when the file is neither, or when its last 4 KiB are all padding."""
    with open(path, 'rb') as f:
        head = f.read(len(PNG_SIGNATURE))
        if head.startswith(JPEG_SOI):
            marker, what = JPEG_EOI, 'the JPEG ends without its end-of-image marker (FFD9)'
        elif head == PNG_SIGNATURE:
            marker, what = PNG_IEND, 'the PNG ends without its IEND chunk'
        else:
            return None
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - TAIL_BYTES))
        tail = f.read().rstrip(TRAILING_PADDING)
    if not tail and size > TAIL_BYTES:
        return None  # more padding than we look at: cannot tell cheaply
    if tail.endswith(marker):  # rstrip stops at the marker's last byte (D9 / 82), which is not padding
        return None
    return f'{what}: the file is truncated ({size} bytes; re-extract or re-download it)'


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


def default_video_backend() -> str:
    """``$UNIPIXEL_VIDEO_BACKEND`` if set, else ``'pyav'`` when PyAV is installed, else ``'decord'``."""
    backend = os.environ.get('UNIPIXEL_VIDEO_BACKEND')
    if backend:
        if backend not in VIDEO_BACKENDS:
            raise ValueError(f'UNIPIXEL_VIDEO_BACKEND={backend!r}; expected one of {VIDEO_BACKENDS}')
        return backend
    try:
        import av  # noqa: F401
        return 'pyav'
    except ImportError:
        return 'decord'


class VideoFile:
    """Frame-accurate random access to the frames of a video file.

    Frame ``i`` is the ``i``-th frame in presentation order, as decord numbers them (both backends give the same
    pixels). The ``'pyav'`` backend indexes the packets once (no decoding), then for each wanted frame seeks to
    the keyframe before it unless it can keep decoding forward, and converts only the wanted frames to RGB —
    about twice as fast as decord's ``get_batch`` for a few frames of a long video. ``'decord'`` uses
    ``VideoReader.get_batch`` (upstream's reader).

    Args:
        path: video file.
        backend: ``'pyav'`` or ``'decord'``; default :func:`default_video_backend`.
        num_threads: decoder threads (``1`` suits dataloader workers; ``0``: the library's default).
    """

    def __init__(self, path: str, backend: Optional[str] = None, num_threads: int = 1):
        self.path = path
        self._container = self._reader = None
        self.backend = backend or default_video_backend()
        if self.backend not in VIDEO_BACKENDS:
            raise ValueError(f'unknown video backend {self.backend!r}; expected one of {VIDEO_BACKENDS}')
        if not os.path.isfile(path):
            raise MediaError(f'video file not found: {path} (check the data root and that the archive was '
                             'extracted)')
        try:
            if self.backend == 'pyav':
                self._open_pyav(num_threads)
            else:
                import decord  # imported lazily: decord starts threads at import time
                self._reader = decord.VideoReader(path, num_threads=num_threads)
                self._length = len(self._reader)
        except MediaError:
            self.close()
            raise
        except Exception as err:  # PyAV / decord raise many types for unreadable containers
            self.close()
            raise MediaError(f'cannot open video {path}: {type(err).__name__}: {_first_line(err)} (the file is '
                             'corrupt or not a video; re-extract or re-download it)') from err
        if self._length == 0:
            raise MediaError(f'video {path} has no frames')

    def _open_pyav(self, num_threads: int):
        import av

        self._container = av.open(self.path)
        if not self._container.streams.video:
            raise MediaError(f'{self.path} has no video stream')
        self._stream = self._container.streams.video[0]
        if num_threads != 1:
            self._stream.thread_type = 'AUTO'
            self._stream.codec_context.thread_count = max(0, num_threads)
        pts, keys = [], []
        for packet in self._container.demux(self._stream):
            if packet.pts is not None and packet.size > 0:
                pts.append(packet.pts)
                if packet.is_keyframe:
                    keys.append(packet.pts)
        self._pts, self._keys = sorted(pts), sorted(keys)
        self._length = len(self._pts)
        self._frames = None  # decoder iterator after the last seek
        self._last = None  # pts of the last decoded frame

    def __len__(self) -> int:
        return self._length

    def read(self, indices: Optional[Sequence[int]] = None) -> np.ndarray:
        """Decode frames ``indices`` (``None``: all); returns ``uint8`` ``(T, H, W, 3)`` RGB in the given order."""
        indices = list(range(self._length)) if indices is None else [int(i) for i in indices]
        bad = [i for i in indices if not 0 <= i < self._length]
        if bad:
            raise MediaError(f'video {self.path} has {self._length} frames but frames {bad[:5]} were requested '
                             '(the annotation does not match this file)')
        try:
            if self.backend == 'decord':
                return self._reader.get_batch(indices).asnumpy()
            return self._read_pyav(indices)
        except MediaError:
            raise
        except Exception as err:
            raise MediaError(f'cannot decode frames {indices[:5]} of video {self.path}: {type(err).__name__}: '
                             f'{_first_line(err)}') from err

    def _read_pyav(self, indices: list[int]) -> np.ndarray:
        import bisect

        decoded = {}
        for i in sorted(set(indices)):
            target = self._pts[i]
            key = self._keys[max(0, bisect.bisect_right(self._keys, target) - 1)] if self._keys else None
            # keep decoding forward when the target is in the GOP being decoded; seek otherwise
            if self._frames is None or self._last is None or self._last >= target or \
                    (key is not None and self._last < key):
                self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
                self._frames = self._container.decode(self._stream)
            for frame in self._frames:
                self._last = frame.pts
                if frame.pts is not None and frame.pts >= target:
                    if frame.pts != target:
                        raise MediaError(f'video {self.path}: frame {i} (pts {target}) not found after seeking '
                                         f'(got pts {frame.pts}); try UNIPIXEL_VIDEO_BACKEND=decord')
                    decoded[i] = frame.to_ndarray(format='rgb24')
                    break
            else:
                raise MediaError(f'video {self.path}: the stream ended before frame {i}')
        return np.stack([decoded[i] for i in indices])

    def close(self):
        if self._container is not None:
            self._container.close()
            self._container = None
        self._reader = None

    def __enter__(self) -> 'VideoFile':
        return self

    def __exit__(self, *exc):
        self.close()


def _first_line(err: Exception) -> str:
    text = str(err)
    return text.splitlines()[0] if text else ''


def video_length(path: str, num_threads: int = 1, backend: Optional[str] = None) -> int:
    """Number of frames of a video file."""
    with VideoFile(path, backend, num_threads) as video:
        return len(video)


def read_video(path: str, indices: Optional[Sequence[int]] = None, num_threads: int = 1,
               backend: Optional[str] = None) -> np.ndarray:
    """Decode some frames of a video file.

    Args:
        path: video file.
        indices: frame numbers to decode; ``None`` decodes every frame.
        num_threads: decoder threads (``0``: the library's default).
        backend: ``'pyav'`` / ``'decord'`` (see :class:`VideoFile`).

    Returns:
        ``uint8`` array ``(T, H, W, 3)`` (RGB).
    """
    with VideoFile(path, backend, num_threads) as video:
        return video.read(indices)


def strided_length(length: int, stride: int) -> int:
    """Number of frames ``0, s, 2s, ...`` in a video of ``length`` frames (``len(range(0, length, stride))``)."""
    return (length + stride - 1) // stride


def timeline_length(media_type: str, media: Sequence[str], frame_indices: Optional[Sequence[int]],
                    frame_stride: int = 1) -> int:
    """Length of a sample's timeline (see :mod:`.schema`), opening the video only when it must."""
    if media_type == 'image':
        return 1
    if media_type == 'frames':
        return len(media)
    if media_type == 'video':
        if frame_indices is not None:
            return len(frame_indices)
        return strided_length(video_length(media[0]), frame_stride)
    return 0


def read_timeline(media_type: str,
                  media: Sequence[str],
                  frame_indices: Optional[Sequence[int]],
                  positions: Sequence[int],
                  num_threads: int = 1,
                  frame_stride: int = 1) -> np.ndarray:
    """Decode the frames at ``positions`` of a sample's timeline.

    Returns:
        ``uint8`` array ``(T, H, W, 3)`` with ``T = len(positions)``.
    """
    return load_timeline(media_type, media, frame_indices, lambda n: list(positions), num_threads, frame_stride)[1]


def load_timeline(media_type: str,
                  media: Sequence[str],
                  frame_indices: Optional[Sequence[int]],
                  choose: Callable[[int], list[int]],
                  num_threads: int = 1,
                  frame_stride: int = 1) -> tuple[list[int], np.ndarray]:
    """Choose positions on a sample's timeline (``choose(length) -> positions``) and decode those frames,
    opening a video file once. A video without ``frame_indices`` has the timeline ``0, s, 2s, ...`` for
    ``s = frame_stride``.

    Returns:
        ``(positions, frames)``; frames are ``uint8`` ``(T, H, W, 3)`` RGB.
    """
    if media_type == 'image':
        positions = choose(1)
        if any(p != 0 for p in positions):
            raise ValueError(f'an image has one frame, got positions {list(positions)}')
        return positions, read_image(media[0])[None].repeat(len(positions), axis=0)
    if media_type == 'frames':
        positions = choose(len(media))
        return positions, read_images([media[p] for p in positions])
    if media_type == 'video':
        with VideoFile(media[0], num_threads=num_threads) as video:
            if frame_indices is not None:
                positions = choose(len(frame_indices))
                indices = [frame_indices[p] for p in positions]
            else:
                positions = choose(strided_length(len(video), frame_stride))
                indices = [p * frame_stride for p in positions]
            return positions, video.read(indices)
    raise ValueError(f'media_type {media_type!r} has no frames to read')
