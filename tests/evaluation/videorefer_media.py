"""The procedural media of the VideoRefer-Bench-Q / -D and PixelQA task tests: two squares (red at x0 = 0, blue at
x0 = 14) sliding right on a 32x24 grey frame, written as a 24-frame JPEG folder and a 6-frame MP4."""
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

H, W = 24, 32
# 16 of 20 annotated frames sampled with frame 12 kept (it replaces 11, the nearest; upstream's
# np.arange(0, 20, 19 / 15)[:16].round() gives 0, 1, 3, 4, 5, 6, 8, 9, 10, 11, 13, ...)
KEPT_12 = [0, 1, 3, 4, 5, 6, 8, 9, 10, 12, 13, 14, 15, 16, 18, 19]


def box(t, x0):
    m = np.zeros((H, W), bool)
    m[4:12, x0 + t % 8:x0 + t % 8 + 6] = True
    return m


def frame(t):
    image = np.full((H, W, 3), 40, np.uint8)
    image[box(t, 0)] = (220, 30, 30)
    image[box(t, 14)] = (30, 30, 220)
    return image


def write_clips(videos: Path, folder: str, mp4: str) -> None:
    """``videos/<folder>/`` with 24 JPEG frames and ``videos/<mp4>`` with the first 6 frames."""
    (videos / folder).mkdir(parents=True)
    for t in range(24):
        Image.fromarray(frame(t)).save(videos / folder / f'{t:05d}.jpg')
    writer = cv2.VideoWriter(str(videos / mp4), cv2.VideoWriter_fourcc(*'mp4v'), 6, (W, H))
    for t in range(6):
        writer.write(np.ascontiguousarray(frame(t)[..., ::-1]))
    writer.release()
