"""``UniPixelPredictor``: load a checkpoint once, then call verbs on media (in the spirit of SAM 2's predictors)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from unipixel_plugin.inference.media import Media, load_media
from unipixel_plugin.processing import PromptObject, UniPixelInputs, prompt_tensors, sam2_frames

logger = logging.getLogger(__name__)


@dataclass
class UniPixelResult:
    """What one request returns.

    Attributes:
        text: the model's answer (special tokens kept, so ``<|seg|>`` shows where masks were made).
        masks: one ``(T, H, W)`` bool array per ``<|seg|>``, on the frames in ``frame_indices``.
        media: the decoded input.  prompt: the user turn sent to the model.
    """
    text: str
    masks: list[np.ndarray]
    media: Media
    prompt: str
    frame_indices: list[int] = field(default_factory=list)

    def to_record(self) -> dict:
        """A JSON-able record with masks as COCO RLE (one list of per-frame RLEs per object)."""
        from unipixel_plugin.masks_io import encode_rle
        return {
            'source': self.media.source,
            'kind': self.media.kind,
            'prompt': self.prompt,
            'answer': self.text,
            'frame_indices': self.frame_indices,
            'size': list(self.media.size),
            'objects': [{'id': i, 'rle': [encode_rle(m) for m in obj]} for i, obj in enumerate(self.masks)],
        }


def resolve_device(device: str | None) -> torch.device:
    if device in (None, 'auto'):
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return torch.device(device)


def resolve_dtype(dtype, device: torch.device, config_dtype=None) -> torch.dtype:
    """``auto``: the checkpoint's dtype on an accelerator, float32 on the CPU (bf16 matmuls are slow there)."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, 'auto'):
        if device.type == 'cpu':
            return torch.float32
        return config_dtype if isinstance(config_dtype, torch.dtype) else torch.bfloat16
    names = {'bf16': 'bfloat16', 'fp16': 'float16', 'fp32': 'float32'}
    return getattr(torch, names.get(dtype, dtype))


class UniPixelPredictor:
    """UniPixel loaded once; ``segment`` and ``ask`` answer requests.

    Args:
        model: a ``PixelQwen2_5_VLForConditionalGeneration``. processor: its ``Qwen2_5_VLProcessor``.
        sample_frames: frames of a video the LLM sees (upstream: 16, uniformly sampled).
        min_pixels / max_pixels: LLM frame-size bounds (upstream's defaults when None).
    """

    def __init__(self, model, processor, sample_frames: int = 16, min_pixels: int | None = None,
                 max_pixels: int | None = None, max_new_tokens: int = 128):
        from unipixel_plugin.processing import MIN_PIXELS
        self.model = model.eval()
        self.processor = processor
        self.sample_frames = sample_frames
        self.inputs = UniPixelInputs(processor, model.config.sam2_image_size, min_pixels or MIN_PIXELS, max_pixels)
        self.max_new_tokens = max_new_tokens

    @classmethod
    def from_pretrained(cls, checkpoint: str, device: str | None = 'auto', dtype='auto',
                        attn_implementation: str = 'sdpa', **kwargs) -> UniPixelPredictor:
        """Load a UniPixel checkpoint directory or hub id (``PolyU-ChenLab/UniPixel-3B``)."""
        from transformers import AutoConfig, AutoProcessor

        from unipixel_plugin.models import PixelQwen2_5_VLForConditionalGeneration
        dev = resolve_device(device)
        config = AutoConfig.from_pretrained(checkpoint)
        torch_dtype = resolve_dtype(dtype, dev, getattr(config, 'dtype', None))
        model = PixelQwen2_5_VLForConditionalGeneration.from_pretrained(
            checkpoint, dtype=torch_dtype, attn_implementation=attn_implementation).to(dev)
        processor = AutoProcessor.from_pretrained(checkpoint)
        return cls(model, processor, **kwargs)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _generate(self, data: dict) -> tuple[str, list[np.ndarray]]:
        device = self.device
        batch = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in data.items()}
        batch['frames'] = [f.to(device) if torch.is_tensor(f) else f for f in batch['frames']]
        prompt_len = batch['input_ids'].shape[1]
        with torch.inference_mode():
            ids = self.model.generate(**batch, do_sample=False, temperature=None, top_p=None, top_k=None,
                                      repetition_penalty=None, max_new_tokens=self.max_new_tokens)
        new = ids[0, prompt_len:]
        eos = self.processor.tokenizer.convert_tokens_to_ids('<|im_end|>')
        if len(new) and new[-1] == eos:
            new = new[:-1]
        text = self.processor.decode(new, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        masks = [m[0].numpy() for m in self.model.seg]
        return text, masks

    def segment(self, media, query: str, sample_frames: int | None = None, answer: str | None = None
                ) -> UniPixelResult:
        """Segment what ``query`` describes. ``media``: a path (image, video, frame folder) or uint8 frames.

        A short query such as ``"red square"`` becomes upstream's "Please segment the red square in this image."
        prompt; a full sentence is sent as it is. ``answer`` teacher-forces the reply (e.g. ``"Sure, it is
        <|seg|>."``): one forward pass, masks from the ``<|seg|>`` tokens of the answer, no generation.
        """
        media = media if isinstance(media, Media) else load_media(media, sample_frames or self.sample_frames)
        prompt = query.strip()
        if not prompt.endswith(('.', '?', '!')):
            prompt = f'Please segment the {prompt} in this {media.kind}.'
        return self._run(media, prompt, answer=answer)

    def ask(self, media, question: str, regions: list[PromptObject] | None = None,
            sample_frames: int | None = None) -> UniPixelResult:
        """Answer ``question`` about regions given as points/boxes (one ``<|ref|>`` per region).

        ``[0]``, ``[1]``... in the question name the regions; when the question has no ``<|ref|>``
        placeholders, a prefix listing them is added.
        """
        media = media if isinstance(media, Media) else load_media(media, sample_frames or self.sample_frames)
        regions = regions or []
        prompt = question
        if regions and '<|ref|>' not in question:
            listed = '\n'.join(f'[{i}]: <|ref|>' for i in range(len(regions)))
            prompt = f'Here are the regions:\n{listed}\n{question}'
        if prompt.count('<|ref|>') != len(regions):
            raise ValueError(f'the question has {prompt.count("<|ref|>")} <|ref|> placeholders for '
                             f'{len(regions)} regions: {question!r}')
        return self._run(media, prompt, regions)

    def _forward(self, data: dict) -> list[np.ndarray]:
        device = self.device
        batch = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in data.items()}
        batch['frames'] = [f.to(device) if torch.is_tensor(f) else f for f in batch['frames']]
        with torch.inference_mode():
            self.model(**batch)
        return [m[0].numpy() for m in self.model.seg]

    def _run(self, media: Media, prompt: str, regions=None, answer: str | None = None) -> UniPixelResult:
        frames = torch.from_numpy(np.array(media.frames))
        sam = sam2_frames(frames, self.model.config.sam2_image_size)
        data = self.inputs(frames, prompt, sam_frames=sam, response=answer)
        if regions:
            coords, labels, pframes = prompt_tensors(regions, media.size, self.model.config.sam2_image_size,
                                                     len(media.frames), source=media.source)
            data.update(point_coords=[coords], point_labels=[labels], point_frames=[pframes])
        if answer is not None:
            text, masks = answer, self._forward(data)
        else:
            text, masks = self._generate(data)
        return UniPixelResult(text, masks, media, prompt, list(media.indices))


__all__ = ['UniPixelPredictor', 'UniPixelResult', 'resolve_device', 'resolve_dtype']
