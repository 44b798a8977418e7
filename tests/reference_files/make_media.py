"""Draw the media files of ``tests/reference_files/media`` (run once; the files are committed, because decoders and
encoders differ across library versions, so the test reads the files, never this script).

    python tests/reference_files/make_media.py            # writes media/ next to this file

* ``image.jpg``: 128x96, a colour gradient with noise, a red square and a blue bar (JPEG quality 90);
* ``clip/00000.jpg`` ... ``clip/00017.jpg``: 18 frames of 128x96, the red square moving 4 px right per frame, the
  blue bar still (JPEG quality 90);
* ``clip.mp4``: the same 18 frames as H.264 (yuv420p, 6 fps), written with PyAV;
* ``VideoRefer-Bench-Q.json``: one VideoRefer-Bench-Q question about the clip (the
  red square ``<object0>`` and the blue bar ``<object1>``), each object's mask on every frame as COCO RLE (drawn
  from the geometry, not from the decoded JPEGs), the question's frame ``frame_idx`` = 4; a data root for it is
  ``videorefer/VideoRefer-Bench/{VideoRefer-Bench-Q.json, videos/clip}`` (the test links one together).

Everything is drawn from ``numpy.random.default_rng(0)``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
HEIGHT, WIDTH, FRAMES = 96, 128, 18
SQUARE = 24  # side of the red square
SQUARE_TOP, SQUARE_LEFT, STEP = 20, 10, 4
BAR = (60, 84, 70, 118)  # y0, y1, x0, x1 of the blue bar (exclusive ends)
QUESTION = 'What is <object0><region> doing next to <object1><region>?'
OPTIONS = ['(A) moving right', '(B) moving left', '(C) standing still', '(D) jumping']


def background(rng: np.random.Generator) -> np.ndarray:
    y = np.linspace(0, 1, HEIGHT)[:, None]
    x = np.linspace(0, 1, WIDTH)[None, :]
    base = np.stack([40 + 80 * x + 0 * y, 60 + 60 * y + 0 * x, 90 + 50 * (1 - x) * y], axis=-1)
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255)


def square_mask(t: int) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), bool)
    left = SQUARE_LEFT + STEP * t
    mask[SQUARE_TOP:SQUARE_TOP + SQUARE, left:left + SQUARE] = True
    return mask


def bar_mask() -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), bool)
    y0, y1, x0, x1 = BAR
    mask[y0:y1, x0:x1] = True
    return mask


def draw(rng: np.random.Generator, t: int) -> np.ndarray:
    frame = background(rng)
    frame[bar_mask()] = (30, 60, 220)
    frame[square_mask(t)] = (220, 30, 30)
    return frame.round().astype(np.uint8)


def main(out: Path = HERE / 'media') -> None:
    import av
    from PIL import Image

    sys.path.insert(0, str(HERE.parents[1]))
    from unipixel_plugin.masks import encode_rle

    rng = np.random.default_rng(0)
    out.mkdir(parents=True, exist_ok=True)
    Image.fromarray(draw(rng, 3)).save(out / 'image.jpg', quality=90)
    frames = [draw(rng, t) for t in range(FRAMES)]
    (out / 'clip').mkdir(exist_ok=True)
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(out / 'clip' / f'{t:05d}.jpg', quality=90)
    with av.open(str(out / 'clip.mp4'), 'w') as container:
        stream = container.add_stream('libx264', rate=6)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, 'yuv420p'
        stream.options = {'crf': '23', 'preset': 'medium'}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format='rgb24')):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    annotation = [{str(t): {'segmentation': encode_rle(square_mask(t))} for t in range(FRAMES)},
                  {str(t): {'segmentation': encode_rle(bar_mask())} for t in range(FRAMES)}]
    item = {'id': 0, 'video': 'clip', 'Question': QUESTION, 'type': 'Basic Questions', 'options': OPTIONS,
            'Answer': OPTIONS[0], 'frame_idx': '4', 'annotation': annotation}
    (out / 'VideoRefer-Bench-Q.json').write_text(json.dumps([item]))


if __name__ == '__main__':
    main()
