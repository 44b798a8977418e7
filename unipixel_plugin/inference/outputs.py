"""What a request leaves behind: mask overlays on images and videos (PNG, GIF, MP4), mask PNGs and JSON records."""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from unipixel_plugin.masks import save_mask_png

# One colour per object, readable on photos (tab10-like).
PALETTE = np.array([(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)], dtype=np.float32)


def _contrast(colour: np.ndarray) -> np.ndarray:
    """Black or white, whichever stands out against ``colour`` (by luminance)."""
    luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    return np.array((0, 0, 0) if luminance > 140 else (255, 255, 255), dtype=np.float32)


def caption_lines(caption: str, width: int, max_lines: int = 3) -> list[str]:
    """``caption`` wrapped to a ``width``-pixel picture (PIL's default font is about 6 px a character); the last line
    ends with '...' when the text is longer than ``max_lines``."""
    import textwrap
    chars = max(8, width // 6)
    lines = textwrap.wrap(caption, chars) or ['']
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][:chars - 3].rstrip() + '...'
    return lines


def overlay(frame: np.ndarray, masks: Sequence[np.ndarray], alpha: float = 0.5, caption: str | None = None,
            labels: Sequence[str] | None = None) -> np.ndarray:
    """Blend each object's mask in its own colour onto ``frame`` ``(H, W, 3)`` uint8; outline it; add a caption.

    The outline is drawn twice: the mask's boundary pixels in the object's colour and the ring just outside it in
    black or white (whichever contrasts with that colour), so a mask stays visible on an object of its own colour
    (a blue mask on a blue circle). The caption wraps onto up to three lines.
    """
    out = frame.astype(np.float32).copy()
    for i, mask in enumerate(masks):
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != frame.shape[:2]:
            raise ValueError(f'mask {i} is {mask.shape[1]}x{mask.shape[0]} but the frame is '
                             f'{frame.shape[1]}x{frame.shape[0]}')
        colour = PALETTE[i % len(PALETTE)]
        out[mask] = (1 - alpha) * out[mask] + alpha * colour
        grown = _shift_any(mask)
        out[grown & ~mask] = _contrast(colour)
        out[mask & ~_shift_all(mask)] = colour
    image = Image.fromarray(out.clip(0, 255).astype(np.uint8))
    if caption or labels:
        draw = ImageDraw.Draw(image)
        y = 2
        if caption:
            lines = caption_lines(caption, image.width)
            draw.rectangle([0, 0, image.width, 11 * len(lines) + 1], fill=(0, 0, 0))
            for n, line in enumerate(lines):
                draw.text((2, 1 + 11 * n), line, fill=(255, 255, 255))
            y = 11 * len(lines) + 3
        for i, label in enumerate(labels or []):
            draw.text((2, y + 11 * i), label, fill=tuple(int(c) for c in PALETTE[i % len(PALETTE)]))
    return np.asarray(image)


def _neighbours(mask: np.ndarray) -> list[np.ndarray]:
    """The mask shifted one pixel up, down, left and right (no wrap-around at the picture's border)."""
    padded = np.pad(mask, 1)
    return [padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]]


def _shift_all(mask: np.ndarray) -> np.ndarray:
    """Pixels whose four neighbours are all in ``mask`` (the mask eroded by one pixel)."""
    n = _neighbours(mask)
    return n[0] & n[1] & n[2] & n[3]


def _shift_any(mask: np.ndarray) -> np.ndarray:
    """``mask`` grown by one pixel."""
    n = _neighbours(mask)
    return mask | n[0] | n[1] | n[2] | n[3]


def save_frames(path: str, frames: Sequence[np.ndarray], fps: float = 5.0) -> str:
    """Write one frame as PNG/JPG, several as GIF or MP4 (by the extension of ``path``)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    ext = os.path.splitext(path)[1].lower()
    if ext in ('.png', '.jpg', '.jpeg'):
        Image.fromarray(frames[0]).save(path)
    elif ext == '.gif':
        images = [Image.fromarray(f) for f in frames]
        images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    elif ext == '.mp4':
        import cv2
        h, w = frames[0].shape[:2]
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps, (w, h))
        if not writer.isOpened():
            raise RuntimeError(f'OpenCV cannot write {path} (no mp4v encoder?); save a .gif instead')
        for f in frames:
            writer.write(np.ascontiguousarray(f[..., ::-1]))
        writer.release()
    else:
        raise ValueError(f'unknown picture/video extension {ext!r} for {path}: use .png, .gif or .mp4')
    return path


def write_outputs(result, out_dir: Path, caption: str, fps: float = 5.0, video_format: str = 'gif') -> dict:
    """Overlay picture/video, per-object PNG masks and a JSON record (masks as COCO RLE) of a ``UniPixelResult``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(result.media.source).stem if result.media.source != '<array>' else 'media'
    frames = result.media.frames
    if len(result.frame_indices) != len(frames):  # masks on every frame of the video: read them for the overlay
        from unipixel_plugin.inference.media import frame_reader
        read, _ = frame_reader(result.media.source)
        frames = [read(i) for i in result.frame_indices]
    pictures = [overlay(frame, [m[t] for m in result.masks], caption=caption,
                        labels=[f'[{i}]' for i in range(len(result.masks))])
                for t, frame in enumerate(frames)]
    ext = '.png' if len(pictures) == 1 else f'.{video_format}'
    picture = save_frames(str(out_dir / f'{stem}_overlay{ext}'), pictures, fps=fps)
    for i, obj in enumerate(result.masks):
        for t, frame_idx in enumerate(result.frame_indices):
            save_mask_png(str(out_dir / f'{stem}_obj{i}_frame{frame_idx:05d}.png'), obj[t])
    record = result.to_record()
    record['overlay'] = picture
    (out_dir / f'{stem}.json').write_text(json.dumps(record, indent=1))
    return record


class StreamingOutputs:
    """Write a long video's results frame by frame, holding no frame longer than it takes to write it.

    Per frame: one 0/255 PNG per object and one overlay frame (MP4, encoded incrementally with OpenCV). The COCO RLE
    of every mask is kept (a few bytes per frame) and written in the JSON record by :meth:`close`. A GIF must be
    assembled in memory, so a GIF overlay keeps at most ``gif_max_frames`` frames (evenly subsampled, with a
    message); use ``video_format='mp4'`` for every frame. ``video_format=None`` writes no overlay video (a caller that
    encodes its own takes the overlay frames :meth:`add` returns).

    Args:
        out_dir / stem: where, and the file-name stem (``<stem>_overlay.mp4``, ``<stem>_obj<i>_frame<t>.png``,
            ``<stem>.json``).
        total_frames: the video's frame count (for the GIF subsampling).
    """

    def __init__(self, out_dir, stem: str, caption: str, total_frames: int, fps: float = 5.0,
                 video_format: str | None = 'mp4', gif_max_frames: int = 120):
        if video_format not in ('mp4', 'gif', None):
            raise ValueError(f"video_format must be 'mp4', 'gif' or None, got {video_format!r}")
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.stem, self.caption, self.fps, self.format = stem, caption, fps, video_format
        self.overlay_path = str(self.out_dir / f'{stem}_overlay.{video_format}') if video_format else None
        self.rles: list[list[dict]] = []
        self.frame_indices: list[int] = []
        self._writer = None
        self._gif: list[Image.Image] = []
        self._gif_step = max(1, -(-total_frames // gif_max_frames))
        self.note = None
        if video_format == 'gif' and self._gif_step > 1:
            self.note = (f'GIF overlay subsampled to every {self._gif_step}th frame ({total_frames} frames; GIFs are '
                         'built in memory): use --video-format mp4 for every frame')

    def add(self, frame_idx: int, frame: np.ndarray, masks) -> np.ndarray:
        """Write ``masks`` ``(N, H, W)`` bool of source frame ``frame_idx`` (``frame``: ``(H, W, 3)`` uint8);
        returns the frame's overlay picture ``(H, W, 3)`` uint8."""
        from unipixel_plugin.masks import encode_rle
        masks = [np.asarray(m, dtype=bool) for m in masks]
        if not self.rles:
            self.rles = [[] for _ in masks]
        for i, mask in enumerate(masks):
            save_mask_png(str(self.out_dir / f'{self.stem}_obj{i}_frame{frame_idx:05d}.png'), mask)
            self.rles[i].append(encode_rle(mask))
        self.frame_indices.append(int(frame_idx))
        picture = overlay(frame, masks, caption=self.caption, labels=[f'[{i}]' for i in range(len(masks))])
        if self.format == 'gif':
            if (len(self.frame_indices) - 1) % self._gif_step == 0:
                self._gif.append(Image.fromarray(picture))
            return picture
        if self.format is None:
            return picture
        if self._writer is None:
            import cv2
            h, w = picture.shape[:2]
            self._writer = cv2.VideoWriter(self.overlay_path, cv2.VideoWriter_fourcc(*'mp4v'), self.fps, (w, h))
            if not self._writer.isOpened():
                raise RuntimeError(f'OpenCV cannot write {self.overlay_path} (no mp4v encoder?); use a .gif')
        self._writer.write(np.ascontiguousarray(picture[..., ::-1]))
        return picture

    def close(self, record: dict) -> dict:
        """Finish the overlay and write ``<stem>.json``: ``record`` plus the frame indices, RLEs and overlay path
        (``record``'s own ``overlay`` is kept when this writer made no video)."""
        if self._writer is not None:
            self._writer.release()
        if self._gif:
            self._gif[0].save(self.overlay_path, save_all=True, append_images=self._gif[1:],
                              duration=int(1000 * self._gif_step / self.fps), loop=0)
        record = dict(record, frame_indices=self.frame_indices,
                      objects=[{'id': i, 'rle': rles} for i, rles in enumerate(self.rles)])
        if self.overlay_path is not None:
            record['overlay'] = self.overlay_path
        (self.out_dir / f'{self.stem}.json').write_text(json.dumps(record, indent=1))
        return record


__all__ = ['PALETTE', 'overlay', 'caption_lines', 'save_frames', 'write_outputs', 'StreamingOutputs']
