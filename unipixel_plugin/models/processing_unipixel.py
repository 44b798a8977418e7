"""From media and text to UniPixel's model inputs, the way upstream builds them.

Every visual goes to the LLM as a video: frames are resized beforehand with ``smart_resize`` (factor 28, within the
pixel budget of the path, :func:`pixel_budget`: at inference ``min_pixels = 128*28*28``,
``max_pixels = 256*28*28*int(16/len(frames))``), an odd frame count is padded with the
last frame (an image becomes a 2-frame video), and the Qwen2-VL video processor runs with ``do_resize=False`` at 2 fps
(so ``second_per_grid_ts`` is 1.0, as transformers 4.x computed it). SAM 2 gets every frame as uint8 -> /255 ->
``S x S`` (aspect ignored, antialiased) -> ImageNet mean/std.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FACTOR = 28
MIN_PIXELS = 128 * 28 * 28
MAX_PIXELS_16 = 256 * 28 * 28  # times int(16 / num_frames)

# Upstream's LLM pixel budgets, per path: (min_pixels, max_pixels per frame before the frame-count factor, the
# numerator of that factor (its sample_frames), whether the factor is capped at sample_frames). See docs/porting.md.
PIXEL_BUDGETS = {
    # tools/inference.py, the demo and the Ref-VOS / RefCOCO / ReasonSeg / PixelQA evaluation scripts:
    # 256*28*28*int(sample_frames/len(frames)), sample_frames = 16
    'inference': (128 * 28 * 28, 256 * 28 * 28, 16, False),
    # training samples of segmentation / referring / region / memory data:
    # 256*28*28*max(1, min(int(sample_frames/len), sample_frames)), the recipe's sample_frames = 8
    'train': (128 * 28 * 28, 256 * 28 * 28, 8, True),
    'train_image_instruct': (128 * 28 * 28, 2048 * 28 * 28, None, False),
    'train_video_instruct': (128 * 28 * 28, 256 * 28 * 28, None, False),
    # infer_videorefer_q.py: 144*28*28*int(16/len)
    'videorefer_q': (100 * 28 * 28, 144 * 28 * 28, 16, False),
    # infer_general.py (MVBench, Video-MME ...)
    'general_video': (128 * 28 * 28, 256 * 28 * 28, None, False),
}


def pixel_budget(num_frames: int, path: str = 'inference', sample_frames: int | None = None) -> tuple[int, int]:
    """``(min_pixels, max_pixels)`` per LLM frame for ``num_frames`` frames on ``path`` (a key of
    :data:`PIXEL_BUDGETS`); ``sample_frames`` replaces the path's numerator (a predictor configured for 8 frames
    uses ``int(8 / len)``, as upstream's scripts do with their ``--sample_frames``).

    The frame-count factor is at least 1 (upstream never gives the LLM more frames than ``sample_frames``).
    """
    if path not in PIXEL_BUDGETS:
        raise ValueError(f'unknown pixel budget {path!r}; expected one of {sorted(PIXEL_BUDGETS)}')
    min_pixels, base, numerator, capped = PIXEL_BUDGETS[path]
    if numerator is None:
        return min_pixels, base
    numerator = sample_frames or numerator
    factor = int(numerator / max(num_frames, 1))
    if capped:
        factor = min(factor, numerator)
    return min_pixels, base * max(1, factor)


def smart_resize(height: int, width: int, factor: int = FACTOR, min_pixels: int = MIN_PIXELS,
                 max_pixels: int = MAX_PIXELS_16 * 16) -> tuple[int, int]:
    """Nearest size with both sides multiples of ``factor`` and an area within ``[min_pixels, max_pixels]``."""
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f'aspect ratio {max(height, width) / min(height, width):.0f} is above 200: '
                         f'{width}x{height} is too thin to encode')
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h, w = math.ceil(height * beta / factor) * factor, math.ceil(width * beta / factor) * factor
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h, w = max(factor, math.floor(height / beta / factor) * factor), max(factor,
                                                                            math.floor(width / beta / factor) * factor)
    return h, w


def llm_frames(frames: torch.Tensor, min_pixels: int = MIN_PIXELS, max_pixels: int | None = None) -> list[Image.Image]:
    """``(T, H, W, 3)`` uint8 -> resized PIL frames for the LLM, padded to an even count with the last frame.

    ``max_pixels`` None: the inference budget for ``T`` frames (:func:`pixel_budget`)."""
    count = frames.shape[0]
    max_pixels = max_pixels or pixel_budget(count)[1]
    h, w = smart_resize(frames.shape[1], frames.shape[2], min_pixels=min_pixels, max_pixels=max_pixels)
    images = [Image.fromarray(f.numpy()).resize((w, h), Image.BICUBIC) for f in frames]
    if len(images) % 2:
        images.append(images[-1])
    return images


def sam2_frames(frames: torch.Tensor, size: int) -> torch.Tensor:
    """``(T, H, W, 3)`` uint8 -> ``(T, 3, size, size)`` float32, resized (antialiased) and ImageNet-normalised."""
    x = frames.permute(0, 3, 1, 2).float() / 255
    x = F.interpolate(x, size=(size, size), mode='bilinear', align_corners=False, antialias=True)
    mean = x.new_tensor(IMAGENET_MEAN)[None, :, None, None]
    std = x.new_tensor(IMAGENET_STD)[None, :, None, None]
    return (x - mean) / std


class LazySAM2Frames(Sequence):
    """A sequence of SAM 2 frames decoded on access, for long videos (memory stays bounded)."""

    def __init__(self, read_frame, num_frames: int, size: int):
        self._read, self._n, self._size = read_frame, num_frames, size

    def __len__(self):
        return self._n

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return [self[i] for i in range(*idx.indices(self._n))]
        if not -self._n <= idx < self._n:
            raise IndexError(idx)
        frame = torch.from_numpy(np.array(self._read(idx % self._n)))[None]
        return sam2_frames(frame, self._size)[0]


def image_prompt_to_sam(coords, frame_size: tuple[int, int], size: int) -> torch.Tensor:
    """Pixel coordinates ``[..., (x, y)]`` in an ``H x W`` frame -> SAM 2 ``size x size`` space (float32, scaled in
    float64 so that ``x * size / W`` pixels come back as exactly ``x`` SAM 2 pixels: PixelQA's prompts, drawn on
    the mask resized to SAM 2's input, reach SAM 2 as upstream's)."""
    coords = torch.as_tensor(coords, dtype=torch.float64)
    scale = coords.new_tensor([size / frame_size[1], size / frame_size[0]])
    return (coords * scale).float()


@dataclass
class PromptObject:
    """One region prompt: a point ``(x, y)`` or a box ``(x1, y1, x2, y2)`` in original pixels, on ``frame``."""
    point: tuple[float, float] | None = None
    box: tuple[float, float, float, float] | None = None
    frame: int = 0


def prompt_tensors(objects: Sequence[PromptObject], frame_size: tuple[int, int], size: int, num_frames: int,
                   source: str = 'input'):
    """Region prompts -> upstream's ``point_coords``, ``point_labels``, ``point_frames`` for one sample.

    Raises ValueError naming ``source`` for prompts outside the frame or on a frame the video does not have.
    """
    height, width = frame_size
    coords, labels, frames = [], [], []
    for i, obj in enumerate(objects):
        if (obj.point is None) == (obj.box is None):
            raise ValueError(f'{source}: region {i} needs exactly one of a point or a box')
        if not 0 <= obj.frame < num_frames:
            raise ValueError(f'{source}: region {i} is on frame {obj.frame} but the media has {num_frames} frame(s)')
        xy = [obj.point] if obj.point is not None else [obj.box[:2], obj.box[2:]]
        for x, y in xy:
            if not (0 <= x <= width and 0 <= y <= height):
                raise ValueError(f'{source}: region {i} ({x}, {y}) is outside the {width}x{height} frame')
        if obj.box is not None and (obj.box[2] <= obj.box[0] or obj.box[3] <= obj.box[1]):
            raise ValueError(f'{source}: box {obj.box} of region {i} must be (x1, y1, x2, y2) with x2 > x1, y2 > y1')
        sam = image_prompt_to_sam(xy, frame_size, size)[None]
        if obj.point is not None:
            coords.append(sam)
            labels.append(torch.tensor([[1]], dtype=torch.int32))
        else:
            coords.append(sam.round().to(torch.int32))
            labels.append(torch.tensor([[2, 3]], dtype=torch.int32))
        frames.append(obj.frame)
    return coords, labels, [torch.tensor(frames, dtype=torch.long)]


class UniPixelInputs:
    """Builds model inputs (upstream's kwarg names) from frames and a conversation.

    Args:
        processor: a ``Qwen2_5_VLProcessor`` (``AutoProcessor.from_pretrained(checkpoint)``).
        sam2_image_size: ``config.sam2_image_size``.
        min_pixels / max_pixels: fixed LLM frame-size bounds; None: the ``budget`` path's (:func:`pixel_budget`).
        budget: the pixel-budget path (``'inference'``, ``'train'`` ... see :data:`PIXEL_BUDGETS`).
        sample_frames: the budget's frame-count numerator (None: the path's own, 16 at inference, 8 in training).
    """

    def __init__(self, processor, sam2_image_size: int, min_pixels: int | None = None, max_pixels: int | None = None,
                 budget: str = 'inference', sample_frames: int | None = None):
        self.processor = processor
        self.sam2_image_size = sam2_image_size
        pixel_budget(1, budget)  # fail early on an unknown path
        self.min_pixels, self.max_pixels = min_pixels, max_pixels
        self.budget, self.sample_frames = budget, sample_frames

    def bounds(self, num_frames: int, budget: str | None = None) -> tuple[int, int]:
        """``(min_pixels, max_pixels)`` for ``num_frames`` LLM frames (fixed bounds win over the budget)."""
        lo, hi = pixel_budget(num_frames, budget or self.budget, self.sample_frames)
        return self.min_pixels or lo, self.max_pixels or hi

    def render(self, user_text: str, response: str | None = None, add_generation_prompt: bool = True) -> str:
        messages = [{'role': 'user', 'content': [{'type': 'video'}, {'type': 'text', 'text': user_text}]}]
        if response is not None:
            messages.append({'role': 'assistant', 'content': response})
            add_generation_prompt = False
        return self.processor.apply_chat_template(messages, add_generation_prompt=add_generation_prompt,
                                                  tokenize=False)

    def __call__(self, frames: torch.Tensor, text: str, sam_frames=None, response=None,
                 suffix: str = '', budget: str | None = None) -> dict:
        """
        Args:
            frames: ``(T, H, W, 3)`` uint8 frames the LLM sees (an image is ``T = 1``).
            text: the user turn, already holding any ``<|ref|>`` / ``<|mem|>`` placeholders.
            sam_frames: what SAM 2 decodes (default: ``frames``); a tensor ``(T', 3, S, S)`` or a lazy sequence.
            response: an assistant turn for teacher forcing; ``suffix`` is appended to a generation prompt.
            budget: the pixel-budget path for this call (default: the one given at construction).
        Returns:
            dict with ``input_ids``, ``attention_mask``, ``pixel_values_videos``, ``video_grid_thw``,
            ``second_per_grid_ts``, ``mm_token_type_ids``, ``frames`` and ``frame_size`` (lists of one).
        """
        data = self.batch([frames], [text], [response], [suffix], budget=budget)
        if sam_frames is None:
            sam_frames = sam2_frames(frames, self.sam2_image_size)
        data['frames'] = [sam_frames]
        return data

    def grid_for(self, frames: torch.Tensor, patch_size: int = 14, budget: str | None = None) -> torch.Tensor:
        """The ``video_grid_thw`` ``(1, 3)`` these frames will get, without running the processor."""
        count = frames.shape[0] + frames.shape[0] % 2
        min_pixels, max_pixels = self.bounds(frames.shape[0], budget)
        h, w = smart_resize(frames.shape[1], frames.shape[2], min_pixels=min_pixels, max_pixels=max_pixels)
        return torch.tensor([[count // 2, h // patch_size, w // patch_size]])

    def batch(self, frames_list: Sequence[torch.Tensor], texts: Sequence[str], responses=None,
              suffixes=None, budget: str | None = None) -> dict:
        """Several requests in one left-padded batch (for ``generate``); SAM 2 frames stay per sample.

        Returns the model inputs of :meth:`__call__` except ``frames`` (SAM 2 frames are made per request).
        """
        if len(frames_list) != len(texts):
            raise ValueError(f'{len(frames_list)} media for {len(texts)} texts')
        responses = responses or [None] * len(texts)
        suffixes = suffixes or [''] * len(texts)
        videos = [llm_frames(f, *self.bounds(f.shape[0], budget)) for f in frames_list]
        prompts = [self.render(t, r) + s for t, r, s in zip(texts, responses, suffixes)]
        data = self.processor(text=prompts, videos=videos, return_tensors='pt', do_resize=False, padding=True,
                              padding_side='left', cap_pixels_per_frame=False,
                              video_metadata=[{'fps': 2.0, 'total_num_frames': len(v)} for v in videos])
        data = dict(data)
        data['second_per_grid_ts'] = torch.ones(len(texts))  # 2 frames per temporal patch at 2 fps
        data['frame_size'] = [torch.Size(f.shape[1:3]) for f in frames_list]
        return data


__all__ = [
    'PIXEL_BUDGETS', 'pixel_budget', 'smart_resize', 'llm_frames', 'sam2_frames', 'LazySAM2Frames', 'image_prompt_to_sam', 'PromptObject',
    'prompt_tensors', 'UniPixelInputs'
]
