"""Configuration of UniPixel (``model_type = "pixel_qwen2_5_vl"``), as in the official checkpoints."""
from __future__ import annotations

from typing import Any

from transformers import Qwen2_5_VLConfig


class PixelQwen2_5_VLConfig(Qwen2_5_VLConfig):
    r"""Qwen2.5-VL configuration plus UniPixel's fields. Every field keeps the name upstream writes to ``config.json``.

    ref_token_id (`int`, defaults to 151665): id of `<|ref|>`, replaced by a point/box prompt embedding.
    seg_token_id (`int`, defaults to 151666): id of `<|seg|>`; the hidden state that predicts it prompts SAM 2.
    mem_token_id (`int`, defaults to 151667): id of `<|mem|>`, replaced by a masked-pooled object memory feature.
    sam2_config (`str`, defaults to "configs/sam2.1_hiera_b+"): SAM 2 variant, upstream spelling accepted.
    sam2_checkpoint (`str`, *optional*): SAM 2 weights used only when initialising a new model for training.
    sam2_image_size (`int`, defaults to 768): SAM 2 input size (768 in the official weights; tests use 256).
    sam2_overrides (`dict` or `list`, *optional*): extra Hydra overrides of the SAM 2 variant (``{key below model.:
        value}`` or ``'++model.key=value'`` strings), e.g. fewer Hiera blocks / channels for a micro model. Not an
        upstream field; absent (None) in the official checkpoints.
    sam2_hidden_tokens (`int`, defaults to 2): hidden sparse tokens predicted per `<|seg|>`.
    sam2_enable_decoder (`bool`, defaults to True): decode masks for `<|seg|>` tokens when frames are given.
    sam2_batch_mode (`bool`, defaults to False): decode every frame independently (as images) instead of tracking.
    sam2_apply_postprocessing (`bool`, defaults to False): kept for compatibility; upstream does not post-process.
    sam2_inference_mode (`bool`, defaults to True): inference-only SAM 2 behaviour (NO_OBJ masking).
    sample_objects (`int`, defaults to 5): objects supervised per sample in training.
    conv_type (`str`, defaults to "chatml"): conversation template.
    mem_window_order (`bool`, defaults to True): read `<|mem|>` features in Qwen2.5-VL window order, as upstream
        does (and the official checkpoints were trained with). False reads them in raster order, matching the mask.
    llm_pixels (`list`, *optional*): ``[min_pixels, max_pixels]``, the LLM frame-size bounds the model was trained
        at, used by the predictor (and so by the CLI and the lmms-eval adapter) when none are given. Not an
        upstream field: absent (None) in the official checkpoints, which get upstream's inference budget.
    """

    model_type = 'pixel_qwen2_5_vl'

    ref_token_id: int = 151665
    seg_token_id: int = 151666
    mem_token_id: int = 151667
    sam2_config: str | None = 'configs/sam2.1_hiera_b+'
    sam2_checkpoint: str | None = None
    sam2_image_size: int = 768
    sam2_hidden_tokens: int = 2
    sam2_overrides: Any = None
    sam2_enable_decoder: bool = True
    sam2_batch_mode: bool = False
    sam2_apply_postprocessing: bool = False
    sam2_inference_mode: bool = True
    sample_objects: int = 5
    conv_type: str = 'chatml'
    base_model: Any = None
    base_model_path: Any = None
    partial_checkpoint: Any = None
    mem_window_order: bool = True
    llm_pixels: Any = None

    @property
    def llm_hidden_size(self) -> int:
        return self.text_config.hidden_size


__all__ = ['PixelQwen2_5_VLConfig']
