"""Overlay videos a browser plays: H.264 (or VP9) written frame by frame with PyAV, so a long video never sits in
memory. (OpenCV's ``mp4v``, what the CLI writes, does not play in browsers.)"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

# (encoder, container suffix) in order of preference; PyAV's wheels carry libx264 and libvpx
ENCODERS = (('libx264', '.mp4'), ('libopenh264', '.mp4'), ('libvpx-vp9', '.webm'))


def source_fps(path: str, default: float = 8.0) -> float:
    """The video's frame rate (``default`` when the container does not say)."""
    import av
    try:
        with av.open(str(path)) as container:
            rate = container.streams.video[0].average_rate
            return float(rate) if rate else default
    except (av.error.FFmpegError, IndexError):
        return default


def available_encoder() -> tuple[str, str] | None:
    import av
    for codec, suffix in ENCODERS:
        try:
            av.codec.Codec(codec, 'w')
            return codec, suffix
        except (av.error.FFmpegError, ValueError):
            continue
    return None


class PlayableVideo:
    """``write`` RGB frames ``(H, W, 3)`` uint8 one at a time into ``<stem>.mp4`` (H.264, yuv420p) or ``.webm``.

    Raises RuntimeError when this PyAV has none of :data:`ENCODERS`.
    """

    def __init__(self, folder, stem: str, fps: float = 8.0):
        import av
        found = available_encoder()
        if found is None:
            raise RuntimeError('PyAV has no H.264 or VP9 encoder here: no browser-playable overlay video')
        self.codec, suffix = found
        self.path = str(Path(folder) / f'{stem}{suffix}')
        self._container = av.open(self.path, 'w')
        self._fps = Fraction(fps).limit_denominator(1000)
        self._stream = None
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        import av
        h, w = frame.shape[:2]
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode='edge')  # yuv420p needs even sides
        if self._stream is None:
            self._stream = self._container.add_stream(self.codec, rate=self._fps)
            self._stream.width, self._stream.height = frame.shape[1], frame.shape[0]
            self._stream.pix_fmt = 'yuv420p'
        for packet in self._stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format='rgb24')):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> str:
        if self._stream is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
        self._container.close()
        return self.path


__all__ = ['PlayableVideo', 'available_encoder', 'source_fps', 'ENCODERS']
