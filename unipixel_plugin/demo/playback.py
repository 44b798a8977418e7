"""A video overlay a browser can play: the MPEG-4 Part 2 file OpenCV writes is re-encoded to H.264 (or VP9) with
PyAV, one frame at a time, so a long video never sits in memory. Browsers do not play OpenCV's ``mp4v``."""
from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# (encoder, container suffix) in order of preference; PyAV's wheels carry libx264 and libvpx
_ENCODERS = (('libx264', '.mp4'), ('libopenh264', '.mp4'), ('libvpx-vp9', '.webm'))


def source_fps(path: str, default: float = 8.0) -> float:
    """The video's frame rate (``default`` when the container does not say)."""
    import av
    try:
        with av.open(str(path)) as container:
            rate = container.streams.video[0].average_rate
            return float(rate) if rate else default
    except (av.error.FFmpegError, IndexError):
        return default


def browser_video(src: str, stem: str | None = None, fps: float = 8.0) -> str | None:
    """Re-encode ``src`` next to it as ``<stem>_play.mp4`` (H.264, yuv420p, even size) or ``.webm`` (VP9).

    Returns the new path, or None (with a log line) when no encoder is available.
    """
    import av
    src = Path(src)
    stem = stem or src.stem
    for codec, suffix in _ENCODERS:
        try:
            av.codec.Codec(codec, 'w')
        except (av.error.FFmpegError, ValueError):
            continue
        dst = src.with_name(f'{stem}_play{suffix}')
        with av.open(str(src)) as inp, av.open(str(dst), 'w') as out:
            stream = None
            for frame in inp.decode(video=0):
                image = frame.to_ndarray(format='rgb24')
                h, w = image.shape[:2]
                image = np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode='edge')  # yuv420p needs even sides
                if stream is None:
                    stream = out.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
                    stream.width, stream.height = image.shape[1], image.shape[0]
                    stream.pix_fmt = 'yuv420p'
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format='rgb24')):
                    out.mux(packet)
            if stream is not None:
                for packet in stream.encode():
                    out.mux(packet)
        return str(dst)
    logger.warning('no H.264 or VP9 encoder in PyAV: the overlay video is offered as a download only')
    return None


__all__ = ['browser_video', 'source_fps']
