"""Pictures people would rather look at: mask overlays on images and videos (PNG, GIF, MP4)."""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

# One colour per object, readable on photos (tab10-like).
PALETTE = np.array([(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)], dtype=np.float32)


def overlay(frame: np.ndarray, masks: Sequence[np.ndarray], alpha: float = 0.5, caption: str | None = None,
            labels: Sequence[str] | None = None) -> np.ndarray:
    """Blend each object's mask in its own colour onto ``frame`` ``(H, W, 3)`` uint8; outline it; add a caption."""
    out = frame.astype(np.float32).copy()
    for i, mask in enumerate(masks):
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != frame.shape[:2]:
            raise ValueError(f'mask {i} is {mask.shape[1]}x{mask.shape[0]} but the frame is '
                             f'{frame.shape[1]}x{frame.shape[0]}')
        colour = PALETTE[i % len(PALETTE)]
        out[mask] = (1 - alpha) * out[mask] + alpha * colour
        edge = mask & ~(np.roll(mask, 1, 0) & np.roll(mask, -1, 0) & np.roll(mask, 1, 1) & np.roll(mask, -1, 1))
        out[edge] = colour
    image = Image.fromarray(out.clip(0, 255).astype(np.uint8))
    if caption or labels:
        draw = ImageDraw.Draw(image)
        y = 2
        if caption:
            draw.rectangle([0, 0, image.width, 12], fill=(0, 0, 0))
            draw.text((2, 1), caption[:max(8, image.width // 6)], fill=(255, 255, 255))
            y = 14
        for i, label in enumerate(labels or []):
            draw.text((2, y + 11 * i), label, fill=tuple(int(c) for c in PALETTE[i % len(PALETTE)]))
    return np.asarray(image)


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


__all__ = ['PALETTE', 'overlay', 'save_frames']
