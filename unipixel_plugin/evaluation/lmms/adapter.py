"""UniPixel as an lmms-eval model (``lmms-eval --model unipixel --model_args pretrained=...``).

Answers are plain text; when the model produced masks (``<|seg|>``), the answer is a JSON string
``{"answer": text, "masks": [[COCO RLE per frame] per object], "frame_indices": [...]}`` — the precedent of
lmms-eval's ``sam3`` model — which mask-scoring tasks decode in ``process_results``.
"""
from __future__ import annotations

import json

import numpy as np
from lmms_eval.api.instance import Instance
from lmms_eval.api.model import lmms
from tqdm import tqdm


class UniPixelLMM(lmms):
    """Chat-style lmms-eval adapter.

    model_args: ``pretrained`` (checkpoint dir or hub id, required), ``device`` (auto), ``dtype`` (auto),
    ``sample_frames`` (16), ``max_new_tokens`` (256), ``attn_implementation`` (sdpa), ``min_pixels``, ``max_pixels``,
    ``sam2_frames`` (``all``: SAM 2 tracks every frame of a video, upstream's evaluation; ``sampled``: the 16).
    """

    is_simple = False

    def __init__(self, pretrained: str | None = None, device: str = 'auto', dtype: str = 'auto',
                 sample_frames: int = 16, max_new_tokens: int = 256, attn_implementation: str = 'sdpa',
                 min_pixels: int | None = None, max_pixels: int | None = None, batch_size=1,
                 sam2_frames: str = 'all', **kwargs):
        super().__init__()
        if not pretrained:
            raise ValueError('--model unipixel needs --model_args pretrained=<checkpoint dir or hub id>')
        from unipixel_plugin.inference import UniPixelPredictor
        self.predictor = UniPixelPredictor.from_pretrained(
            pretrained, device=device, dtype=dtype, attn_implementation=attn_implementation,
            sample_frames=int(sample_frames), max_new_tokens=int(max_new_tokens),
            min_pixels=int(min_pixels) if min_pixels else None, max_pixels=int(max_pixels) if max_pixels else None,
            sam2_frames=sam2_frames)
        self.batch_size_per_gpu = int(batch_size)
        self.pretrained = pretrained

    @property
    def batch_size(self):
        return self.batch_size_per_gpu

    def _media_and_text(self, messages) -> tuple:
        from lmms_eval.protocol import ChatMessages

        from unipixel_plugin.inference import load_media
        chat = ChatMessages(messages=messages)
        images, videos, _ = chat.extract_media()
        texts = [c.text for m in chat.messages if m.role == 'user' for c in m.content if c.type == 'text']
        if videos:
            media = load_media(videos[0], self.predictor.sample_frames)
        elif images:
            image = images[0]
            if isinstance(image, str):  # a path, as this package's tasks give it
                media = load_media(image)
            else:
                media = load_media(np.asarray(image.convert('RGB')) if hasattr(image, 'convert') else
                                   np.asarray(image))
        else:
            raise ValueError('UniPixel needs an image or a video in every request')
        return media, '\n'.join(texts)

    def generate_until(self, requests: list[Instance]) -> list[str]:
        from unipixel_plugin.inference import Request, RequestError
        outputs = []
        for request in tqdm(requests, desc='UniPixel', disable=self.rank != 0):
            _, doc_to_messages, gen_kwargs, doc_id, task, split = request.args
            messages = doc_to_messages(self.task_dict[task][split][doc_id])
            media, text = self._media_and_text(messages)
            old = self.predictor.max_new_tokens
            self.predictor.max_new_tokens = int(gen_kwargs.get('max_new_tokens', old))
            try:
                result = self.predictor.run([Request(media, text)])[0]
            finally:
                self.predictor.max_new_tokens = old
            if isinstance(result, RequestError):
                raise result.exception
            if result.masks:
                record = result.to_record()
                outputs.append(json.dumps({'answer': result.text, 'masks': [o['rle'] for o in record['objects']],
                                           'frame_indices': result.frame_indices}))
            else:
                outputs.append(result.text)
        return outputs

    def loglikelihood(self, requests):
        raise NotImplementedError('UniPixel answers by generation; use tasks with output_type: generate_until')

    def generate_until_multi_round(self, requests):
        raise NotImplementedError('multi-round generation is not supported by the UniPixel adapter yet')
