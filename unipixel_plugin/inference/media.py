"""Media for inference: an image, a video file, a folder of frames or a list of frame files, with upstream's frame
sampling."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from unipixel_plugin.data.media import (MediaError, list_frame_files, read_image, read_images, read_video,
                                        sample_frame_positions, video_length)

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


@dataclass
class Media:
    """Decoded frames of one input.

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 frames the model sees (an image has ``T = 1``).
        indices: frame numbers of ``frames`` in the source.
        kind: ``"image"`` or ``"video"``.  source: where it came from (for messages and records).
        total_frames: frames in the source.
        files: the frame files when the source is a list of them (a benchmark's chosen frames, e.g. GroundMoRe's
            20); ``indices`` count in this list.
    """
    frames: np.ndarray
    indices: list[int]
    kind: str
    source: str
    total_frames: int = 1
    fps: float | None = field(default=None)
    files: list[str] | None = None

    @property
    def size(self) -> tuple[int, int]:
        return int(self.frames.shape[1]), int(self.frames.shape[2])


def load_media(source, sample_frames: int = 16) -> Media:
    """Load an image file, a video file, a frame folder or a list of frame files (a video of exactly those frames, in
    that order); videos keep ``sample_frames`` uniform frames (<= 0: all).

    Raises :class:`~unipixel_plugin.data.media.MediaError` naming the input when it is missing or unreadable.
    """
    if isinstance(source, np.ndarray):
        frames = source[None] if source.ndim == 3 else source
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise MediaError(f'an array input must be (H, W, 3) or (T, H, W, 3) uint8, got {source.shape} '
                             f'{source.dtype}')
        kind = 'image' if frames.shape[0] == 1 else 'video'
        return Media(frames, list(range(frames.shape[0])), kind, '<array>', frames.shape[0])
    if isinstance(source, (list, tuple)):
        files = [os.fspath(f) for f in source]
        if not files:
            raise MediaError('an empty list of frame files')
        positions = sample_frame_positions(len(files), sample_frames)
        return Media(read_images([files[i] for i in positions]), positions, 'video' if len(files) > 1 else 'image',
                     os.path.dirname(files[0]) or files[0], len(files), files=files)
    path = os.fspath(source)
    if os.path.isdir(path):
        files = list_frame_files(path)
        if not files:
            raise MediaError(f'frame folder {path} holds no .jpg/.png frames')
        positions = sample_frame_positions(len(files), sample_frames)
        return Media(read_images([files[i] for i in positions]), positions, 'video', path, len(files))
    if not os.path.exists(path):
        raise MediaError(f'media not found: {path}')
    if path.lower().endswith(IMAGE_EXTENSIONS):
        return Media(read_image(path)[None], [0], 'image', path, 1)
    length = video_length(path)
    if length == 0:
        raise MediaError(f'video {path} has no frames')
    positions = sample_frame_positions(length, sample_frames)
    return Media(read_video(path, positions), positions, 'video', path, length)


def frame_reader(source):
    """``(read(i) -> (H, W, 3) uint8, num_frames)`` for a video file, a frame folder or a list of frame files,
    decoding one frame per call."""
    if isinstance(source, (list, tuple)):
        files = [os.fspath(f) for f in source]
        return (lambda i: read_image(files[i])), len(files)
    path = os.fspath(source)
    if os.path.isdir(path):
        files = list_frame_files(path)
        if not files:
            raise MediaError(f'frame folder {path} holds no .jpg/.png frames')
        return (lambda i: read_image(files[i])), len(files)
    from unipixel_plugin.data.media import VideoFile
    video = VideoFile(path)  # decodes forward frame by frame when read in order
    return (lambda i: video.read([i])[0]), len(video)


__all__ = ['Media', 'load_media', 'frame_reader', 'MediaError']
