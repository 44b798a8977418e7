"""Region prompts made by clicking a frame: points, boxes from two corner clicks, and how they are drawn.

The state is a plain JSON-able dict (it lives in a ``gr.State`` per browser session)::

    {'media': path, 'kind': 'image' | 'video', 'size': [H, W], 'num_frames': T, 'indices': [...],
     'frame': t, 'regions': [{'point': [x, y], 'frame': t} | {'box': [x1, y1, x2, y2], 'frame': t}, ...],
     'corner': [x, y] | None}

``frame`` counts the frames the model sees (the video's ``sample_frames`` uniformly sampled frames), and
``indices`` gives their numbers in the source video.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from unipixel_plugin.inference.outputs import PALETTE
from unipixel_plugin.models.processing_unipixel import PromptObject

POINT = 'point'
BOX = 'box (two corner clicks)'
MODES = (POINT, BOX)


def new_state(media: str, kind: str, size, indices) -> dict:
    return {'media': media, 'kind': kind, 'size': [int(size[0]), int(size[1])], 'num_frames': len(indices),
            'indices': [int(i) for i in indices], 'frame': 0, 'regions': [], 'corner': None}


def check_inside(state: dict, x: float, y: float) -> None:
    """ValueError when ``(x, y)`` is not on the frame (a click never is; an API call may send anything)."""
    height, width = state['size']
    if not (0 <= x <= width and 0 <= y <= height):
        raise ValueError(f'the point ({x:g}, {y:g}) is outside the {width}x{height} frame')


def add_click(state: dict, mode: str, x: float, y: float) -> dict:
    """The state after a click at ``(x, y)`` on the current frame: a point, a box's first corner, or the box."""
    if state is None:
        raise ValueError('upload an image or a video first, then click on it')
    if mode not in MODES:
        raise ValueError(f'unknown prompt mode {mode!r}; choose one of {", ".join(MODES)}')
    check_inside(state, x, y)
    state = dict(state, regions=list(state['regions']))
    frame = state['frame']
    if mode == POINT:
        state['regions'].append({'point': [float(x), float(y)], 'frame': frame})
        state['corner'] = None
        return state
    corner = state.get('corner')
    if corner is None:
        state['corner'] = [float(x), float(y)]
        return state
    x1, x2 = sorted((corner[0], float(x)))
    y1, y2 = sorted((corner[1], float(y)))
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f'the box corners ({corner[0]:g}, {corner[1]:g}) and ({x:g}, {y:g}) span no area: click two '
                         'opposite corners')
    state['regions'].append({'box': [x1, y1, x2, y2], 'frame': frame})
    state['corner'] = None
    return state


def prompt_objects(state: dict) -> list[PromptObject]:
    """The regions as the predictor's :class:`PromptObject` list, region ``k`` being ``[k]`` in a question."""
    return [PromptObject(point=tuple(r['point']), frame=r['frame']) if 'point' in r else
            PromptObject(box=tuple(r['box']), frame=r['frame']) for r in state['regions']]


def describe(state: dict | None) -> str:
    """One line per region, as shown next to the frame."""
    if not state or not (state['regions'] or state.get('corner')):
        return 'no regions yet: click on the frame'
    lines = []
    for k, r in enumerate(state['regions']):
        where = f'frame {r["frame"]} (source frame {state["indices"][r["frame"]]})' if state['kind'] == 'video' \
            else 'the image'
        if 'point' in r:
            lines.append(f'[{k}] point ({r["point"][0]:g}, {r["point"][1]:g}) on {where}')
        else:
            lines.append(f'[{k}] box ({", ".join(f"{v:g}" for v in r["box"])}) on {where}')
    if state.get('corner'):
        lines.append(f'box corner at ({state["corner"][0]:g}, {state["corner"][1]:g}): click the opposite corner')
    return '\n'.join(lines)


def draw(frame: np.ndarray, state: dict | None) -> np.ndarray:
    """``frame`` ``(H, W, 3)`` uint8 with the regions of the current frame drawn in their objects' colours."""
    image = Image.fromarray(frame)
    if not state:
        return frame
    pen = ImageDraw.Draw(image)
    radius = max(2, min(image.size) // 40)
    for k, r in enumerate(state['regions']):
        if r['frame'] != state['frame']:
            continue
        colour = tuple(int(c) for c in PALETTE[k % len(PALETTE)])
        if 'point' in r:
            x, y = r['point']
            pen.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour, outline=(255, 255, 255))
            pen.text((x + radius + 1, y - radius), f'[{k}]', fill=colour)
        else:
            pen.rectangle(r['box'], outline=colour, width=max(1, radius // 2))
            pen.text((r['box'][0] + 2, r['box'][1] + 1), f'[{k}]', fill=colour)
    if state.get('corner'):
        x, y = state['corner']
        pen.line([x - radius, y, x + radius, y], fill=(255, 255, 255))
        pen.line([x, y - radius, x, y + radius], fill=(255, 255, 255))
    return np.asarray(image)


__all__ = ['POINT', 'BOX', 'MODES', 'new_state', 'add_click', 'check_inside', 'prompt_objects', 'describe', 'draw']
