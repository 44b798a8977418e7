"""UniPixel as an MMEngine model: the HF model, what to train, the LM + SAM 2 mask losses, predictions, export."""
from __future__ import annotations

import copy
import re
from typing import Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel

# the two registrations this model builds by name
from unipixel_plugin.engine.data_preprocessor import IGNORE_INDEX, UniPixelDataPreprocessor  # noqa: F401
from unipixel_plugin.engine.mask_loss import SAM2MaskLoss  # noqa: F401
from unipixel_plugin.engine.sam2_tracking import track_for_training
from unipixel_plugin.registry import MODELS

MODES = ('loss', 'predict', 'tensor')

# LoRA targets of upstream's stage 3 ("qkvo_all"): LLM attention projections and the ViT's attention. Anchored on the
# Qwen parts on purpose: SAM 2 also has modules called q_proj / attn.qkv / attn.proj.
UPSTREAM_LORA_TARGETS = (r'model\.language_model\.layers\.\d+\.self_attn\.(q|k|v|o)_proj'
                         r'|model\.visual\.blocks\.\d+\.attn\.(qkv|proj)')


@MODELS.register_module()
class UniPixelModel(BaseModel):
    """UniPixel (:class:`~unipixel_plugin.models.PixelQwen2_5_VLForConditionalGeneration`) for MMEngine runners.

    Args:
        pretrained: a UniPixel checkpoint folder (official layout or ``save_pretrained`` output), ``'micro'`` for the
            micro toy's random initialisation (:func:`unipixel_plugin.toy.cache.ensure_micro_checkpoint`), or ``'toy'`` for
            the tiny procedural checkpoint of :mod:`unipixel_plugin.toy`. Exclusive with ``base_model``.
        base_model: start a new UniPixel from a Qwen2.5-VL checkpoint and a SAM 2 checkpoint, as upstream's
            training does: ``dict(path=..., sam2_checkpoint=..., sam2_config=..., sam2_image_size=...)``; see
            :func:`~unipixel_plugin.engine.initialisation.unipixel_from_base`.
        partial_checkpoints: MMEngine / trainable-only checkpoints of earlier stages loaded on top, in order
            (upstream's ``--partial_checkpoint stage1,stage2`` for stage 3).
        trainable: ``'all'`` (full fine-tuning) or a list of regular expressions matched at the start of parameter
            names of the HF model (e.g. ``['seg_head']`` for stage 2; ``['ref_proj', 'tem_emb', 'tem_proj']`` for
            stage 1). Every other parameter is frozen. A pattern that matches nothing is an error.
        lora: ``peft.LoraConfig`` keyword arguments (``r``, ``lora_alpha``, ``lora_dropout``, optionally
            ``target_modules``, default :data:`UPSTREAM_LORA_TARGETS`); LoRA weights are trained, the wrapped
            weights frozen; :meth:`export_hf` merges them.
        mask_loss: ``SAM2MaskLoss`` config, or ``None`` for no mask loss (stage 1 trains with the decoder off).
        sample_objects: at most this many ``<|seg|>`` objects per sample get the mask loss (default: the checkpoint's
            ``sample_objects``; ``<= 0``: all).
        save_trainable_only: ``state_dict()`` holds only trainable parameters (frozen ones come from
            ``pretrained`` when loading); False saves everything.
        dtype: weight dtype (``'bfloat16'`` ...; default: the checkpoint's). SAM 2 stays in float32.
        attn_implementation: passed to ``from_pretrained`` (``'sdpa'``, ``'flash_attention_2'`` ...).
        gradient_checkpointing: checkpoint the LLM decoder layers.
        generation: ``generate`` keyword arguments for predict mode (default ``max_new_tokens=64``, greedy).
        data_preprocessor: :class:`UniPixelDataPreprocessor` config; its ``checkpoint`` defaults to the model's.
    """

    def __init__(self,
                 pretrained: Optional[str] = None,
                 base_model: Optional[dict] = None,
                 partial_checkpoints: Sequence[str] = (),
                 trainable: Union[str, Sequence[str]] = 'all',
                 lora: Optional[dict] = None,
                 mask_loss: Optional[dict] = dict(type='SAM2MaskLoss'),
                 sample_objects: Optional[int] = None,
                 save_trainable_only: bool = True,
                 dtype: Optional[str] = None,
                 attn_implementation: Optional[str] = None,
                 gradient_checkpointing: bool = False,
                 generation: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if (pretrained is None) == (base_model is None):
            raise ValueError('UniPixelModel needs exactly one of pretrained= (a UniPixel checkpoint folder, or "toy") '
                             'and base_model= (dict(path=<Qwen2.5-VL folder>, sam2_checkpoint=...))')
        load_kwargs = {}
        if dtype is not None:
            load_kwargs['dtype'] = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        if attn_implementation is not None:
            load_kwargs['attn_implementation'] = attn_implementation
        processor = None
        for what, value in (('pretrained', pretrained), ('base_model.path', (base_model or {}).get('path')),
                            ('base_model.sam2_checkpoint', (base_model or {}).get('sam2_checkpoint')),
                            *((f'partial_checkpoints[{i}]', p) for i, p in enumerate(partial_checkpoints))):
            _check_path_setting(what, value)
        if base_model is not None:
            from unipixel_plugin.engine.initialisation import unipixel_from_base
            hf_model, processor = unipixel_from_base(**base_model, **load_kwargs)
            source = base_model['path']
        else:
            if pretrained == 'toy':
                from unipixel_plugin.toy.cache import ensure_toy_checkpoint
                pretrained = str(ensure_toy_checkpoint())
            elif pretrained == 'micro':
                from unipixel_plugin.toy.cache import ensure_micro_checkpoint
                pretrained = str(ensure_micro_checkpoint())
            from unipixel_plugin.models import PixelQwen2_5_VLForConditionalGeneration
            hf_model = PixelQwen2_5_VLForConditionalGeneration.from_pretrained(str(pretrained), **load_kwargs)
            source = str(pretrained)
        preprocessor = dict(type='UniPixelDataPreprocessor') if data_preprocessor is None else data_preprocessor
        if isinstance(preprocessor, dict):
            preprocessor = dict(preprocessor)
            if processor is not None:
                preprocessor.setdefault('processor', processor)
                preprocessor.setdefault('sam2_image_size', hf_model.config.sam2_image_size)
            preprocessor.setdefault('checkpoint', source)
            preprocessor = MODELS.build(preprocessor)  # this scope's registry, whatever the default scope
        super().__init__(data_preprocessor=preprocessor, init_cfg=init_cfg)
        self.hf_model = hf_model
        self.pretrained = source
        for path in partial_checkpoints:
            self.load_partial_checkpoint(path)

        self.save_trainable_only = save_trainable_only
        self.lora_config = None
        self._configure_trainable(trainable, lora)
        if gradient_checkpointing:
            self.hf_model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={'use_reentrant': False})
        self.mask_loss = MODELS.build(mask_loss) if mask_loss is not None else None
        config_objects = getattr(hf_model.config, 'sample_objects', 0)
        self.sample_objects = config_objects if sample_objects is None else sample_objects
        self.generation = dict(max_new_tokens=64, do_sample=False)
        self.generation.update(generation or {})
        self.register_load_state_dict_post_hook(_ignore_frozen_missing_keys)

    # ------------------------------------------------------------------ what to train
    def _configure_trainable(self, trainable, lora):
        names = [n for n, _ in self.hf_model.named_parameters()]
        if trainable == 'all':
            patterns = None
        elif isinstance(trainable, str):
            raise ValueError(f"trainable must be 'all' or a list of parameter-name patterns, got {trainable!r}")
        else:
            patterns = [re.compile(p) for p in trainable]
            unmatched = [p.pattern for p in patterns if not any(p.match(n) for n in names)]
            if unmatched:
                raise ValueError(f'trainable patterns {unmatched} match no parameter of the model; names look like '
                                 f'{names[:3]} ... {names[-3:]} (patterns match at the start of a name)')
        if lora is not None:
            from peft import LoraConfig, inject_adapter_in_model
            lora = dict(lora)
            lora.setdefault('target_modules', UPSTREAM_LORA_TARGETS)
            lora.setdefault('bias', 'none')
            self.lora_config = LoraConfig(**lora)
            # peft freezes every non-adapter parameter here, so the trainable set is applied after it
            inject_adapter_in_model(self.lora_config, self.hf_model)
        for name, param in self.hf_model.named_parameters():
            if self.lora_config is not None and 'lora_' in name:
                param.requires_grad_(True)
            elif self.lora_config is not None and '.base_layer.' in name:
                param.requires_grad_(False)  # the weights LoRA wraps stay frozen, as upstream's
            else:
                param.requires_grad_(patterns is None or any(p.match(name) for p in patterns))
        params = list(self.hf_model.parameters())
        trained = sum(p.numel() for p in params if p.requires_grad)
        if not trained:
            raise ValueError('nothing to train: trainable matched no parameter and no LoRA is configured')
        total = sum(p.numel() for p in params)
        print_log(f'UniPixelModel trains {trained:,} of {total:,} parameters ({100 * trained / total:.2f}%)'
                  f'{" with LoRA r=" + str(self.lora_config.r) if self.lora_config else ""}', logger='current')

    def parse_losses(self, losses: dict):
        """MMEngine's parsing, with the logged values averaged over ranks (the loss to back-propagate stays local).

        Under DDP each rank would otherwise log its own batch's losses and the log shows rank 0's. Ranks may hold
        batches of different data types (and so different loss names) at one iteration; each logged value is the mean
        over the ranks that have it. The logger then averages these over its window (``log_processor.window_size``).
        """
        loss, log_vars = super().parse_losses(losses)
        from mmengine.dist import all_gather_object, get_world_size
        if get_world_size() <= 1:
            return loss, log_vars
        local = {k: float(v.detach()) for k, v in log_vars.items()}
        gathered = all_gather_object(local)
        for key, value in log_vars.items():
            values = [g[key] for g in gathered if key in g]
            log_vars[key] = torch.tensor(sum(values) / len(values), dtype=torch.float32)
        return loss, log_vars

    def trainable_parameter_names(self) -> list[str]:
        return [n for n, p in self.named_parameters() if p.requires_grad]

    def init_weights(self):
        """Nothing to initialise: every weight comes from ``pretrained`` / ``base_model`` (the HF model's own
        ``init_weights`` would re-draw them, so MMEngine must not reach it)."""

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self, *args, **kwargs):
        """Trainable parameters only when ``save_trainable_only`` (the frozen ones are ``pretrained``'s)."""
        state = super().state_dict(*args, **kwargs)
        if not getattr(self, 'save_trainable_only', False):
            return state
        prefix = kwargs.get('prefix', args[1] if len(args) > 1 else '')
        keep = {prefix + n for n, p in self.named_parameters() if p.requires_grad}
        for key in [k for k in state if k.startswith(prefix) and k not in keep]:
            del state[key]  # in place: a parent module may have passed its own destination
        return state

    def load_partial_checkpoint(self, path: str):
        """Load a trainable-only (or full) checkpoint of an earlier stage on top of the current weights.

        Accepts MMEngine checkpoints (``state_dict`` with ``hf_model.`` keys) and plain state dicts. Keys that the
        model does not have are an error; keys it has but the file lacks keep their current values.
        """
        from mmengine.runner.checkpoint import _load_checkpoint
        checkpoint = _load_checkpoint(path, map_location='cpu')
        state = checkpoint.get('state_dict', checkpoint)
        state = {k[len('hf_model.'):] if k.startswith('hf_model.') else k: v for k, v in state.items()}
        result = self.hf_model.load_state_dict(state, strict=False)
        if result.unexpected_keys:
            raise ValueError(f'partial checkpoint {path} has keys the model lacks: {result.unexpected_keys[:10]}')

    def merged_state_dict(self) -> dict:
        """The HF model's state dict with LoRA merged into the wrapped weights (key names as without LoRA)."""
        state = self.hf_model.state_dict()
        if self.lora_config is None:
            return state
        from peft.tuners.lora import LoraLayer
        for name, module in self.hf_model.named_modules():
            if not isinstance(module, LoraLayer):
                continue
            base = module.get_base_layer()
            weight = base.weight.detach().clone()
            for adapter in module.active_adapters:
                weight += module.get_delta_weight(adapter).to(weight.dtype)
            for key in [k for k in state if k.startswith(name + '.')]:
                del state[key]
            state[f'{name}.weight'] = weight
            if getattr(base, 'bias', None) is not None:
                state[f'{name}.bias'] = base.bias.detach()
        return state

    def export_hf(self, save_dir: str, save_processor: bool = True) -> str:
        """Write an HF checkpoint (``from_pretrained``-able, LoRA merged) with the processor to ``save_dir``."""
        state = self.merged_state_dict()
        config = self.hf_model.config
        training_mode = config.sam2_inference_mode
        config.sam2_inference_mode = True  # the export is for inference (upstream's loader sets it the same way)
        try:
            self.hf_model.save_pretrained(save_dir, state_dict=state)
        finally:
            config.sam2_inference_mode = training_mode
        if save_processor:
            self.data_preprocessor.processor.save_pretrained(save_dir)
        return save_dir

    # ------------------------------------------------------------------ forward
    def forward(self, data: Optional[dict] = None, data_samples: Optional[list] = None, mode: str = 'tensor'):
        """
        Args:
            data: the teacher-forced batch from :class:`UniPixelDataPreprocessor` (``input_ids``, ``labels``,
                ``pixel_values_videos``, ``frames``, ``label_mask`` ...). Needed for ``'loss'`` and ``'tensor'``.
            data_samples: per-sample dicts from the preprocessor. Needed for ``'predict'``.
            mode: ``'loss'`` -> dict of losses (``loss_lm``, ``loss_seg``) and logged terms; ``'predict'`` -> one
                dict per sample (``text``, ``pred_masks`` ``(N, T, H, W)`` bool, ``gt_masks``, ids);
                ``'tensor'`` -> LM logits ``(B, L, vocab)``.
        """
        if mode == 'loss':
            return self.loss(data)
        if mode == 'predict':
            return self.predict(data_samples)
        if mode == 'tensor':
            return self._forward_lm(data).logits
        raise ValueError(f'UniPixelModel.forward got mode={mode!r}; expected one of {MODES}')

    def _forward_lm(self, data: dict):
        if data is None:
            raise ValueError('this mode needs the teacher-forced batch: every sample must end with an assistant turn')
        # SAM 2 frames go to the mask loss, not to the HF forward (which would decode masks in eval mode)
        inputs = {k: v for k, v in data.items() if k not in ('label_mask', 'frames', 'frame_size')}
        return self.hf_model(**inputs, use_cache=False)

    def loss(self, data: dict) -> dict:
        labels = data.get('labels')
        if labels is None or not (labels != IGNORE_INDEX).any():
            raise ValueError('the batch has no supervised tokens (labels are all IGNORE_INDEX)')
        outputs = self._forward_lm(data)
        mask = data.get('attention_mask')
        # what ThroughputHook reads: the batch's samples and (non-padding) tokens
        self.last_batch_size = dict(samples=int(data['input_ids'].size(0)),
                                    tokens=int(mask.sum()) if mask is not None else int(data['input_ids'].numel()))
        losses = {'loss_lm': outputs.loss}
        label_masks = data.get('label_mask') or []
        if self.mask_loss is not None and any(m is not None for m in label_masks):
            # (B, L, D): the last decoder layer's output, before the final norm
            losses.update(self._mask_losses(data, label_masks, self.hf_model.pre_norm_states))
        return losses

    def _mask_losses(self, data: dict, label_masks: list, states: Optional[torch.Tensor]) -> dict:
        """SAM 2's mask loss for every sample with targets; ``states``: the LLM states ``(B, L, D)`` whose
        ``<|seg|>`` rows ``seg_head`` turns into prompts, or None when :meth:`seg_prompts` makes them alone."""
        config = self.hf_model.config
        input_ids = data['input_ids']
        totals, count = {}, 0
        for b, target in enumerate(label_masks):
            if target is None:
                continue
            positions = (input_ids[b, 1:] == config.seg_token_id).nonzero()[:, 0]  # states that predict <|seg|>
            if positions.numel() != target.size(1):
                raise ValueError(f'sample {b}: {positions.numel()} <|seg|> tokens but {target.size(1)} target masks')
            if 0 < self.sample_objects < positions.numel():
                keep = torch.randperm(positions.numel(), device=positions.device)[:self.sample_objects].sort().values
                positions, target = positions[keep], target[:, keep.to(target.device)]
            hidden = self.hf_model.seg_head(states[b, positions]) if states is not None else None  # (O, K, sam_dim)
            hidden, extra = self.seg_prompts(data, b, positions, hidden)
            for key, value in extra.items():
                totals[key] = totals.get(key, 0) + value
            frames = data['frames'][b]
            outputs = track_for_training(self.hf_model.sam2, frames, hidden, independent_frames=config.sam2_batch_mode)
            terms = self.mask_loss(outputs, target.to(frames.device))
            for key, value in terms.items():
                totals[key] = totals.get(key, 0) + value
            count += 1
        out = {'loss_seg': totals.pop('loss') / count}
        out.update({f'seg_{k}': (v / count).detach() for k, v in totals.items()})
        return out

    def seg_prompts(self, data: dict, b: int, positions: torch.Tensor, hidden: torch.Tensor):
        """The prompts SAM 2 gets for sample ``b``'s ``<|seg|>`` states (``hidden``: ``(O, K, sam_dim)``) and any
        extra loss terms (added to the mask loss's, ``loss`` included); a recipe may override it."""
        if hidden is None:
            raise ValueError('UniPixelModel prompts SAM 2 from the LLM states only: no states were given')
        return hidden, {}

    @torch.no_grad()
    def predict(self, data_samples: list) -> list[dict]:
        if not data_samples:
            raise ValueError('predict mode needs data_samples (the per-sample dicts from the data preprocessor)')
        tokenizer = self.data_preprocessor.processor.tokenizer
        drop = {t for t in (tokenizer.pad_token, tokenizer.eos_token, '<|im_end|>', '<|endoftext|>') if t}
        results = []
        for sample in data_samples:
            inputs = self.data_preprocessor.generation_inputs(sample)
            generated = self.hf_model.generate(**inputs, **self.generation)
            new_tokens = generated[0, inputs['input_ids'].size(1):].tolist()
            text = tokenizer.decode(new_tokens, skip_special_tokens=False)
            for token in drop:
                text = text.replace(token, '')
            frames = sample['frames']
            if self.hf_model.seg:
                pred = torch.cat(self.hf_model.seg)
            elif frames is not None:
                pred = torch.zeros(0, *frames.shape[:3], dtype=torch.bool)
            else:
                pred = None
            results.append(dict(id=sample['id'], source=sample['source'], data_type=sample['data_type'],
                                text=text.strip(), pred_masks=pred, gt_masks=sample['masks'],
                                meta=copy.copy(sample['meta'])))
        return results


def _check_path_setting(what: str, value) -> None:
    """Configs default unset paths to ``unset-<ENV_NAME>``: say which variable to set instead of "not found"."""
    if isinstance(value, str) and value.startswith('unset-'):
        env = value[len('unset-'):]
        raise ValueError(f'model.{what} is not set: export {env}=<path> before loading the config, or pass '
                         f'--cfg-options model.{what}=<path>')


def _ignore_frozen_missing_keys(module: UniPixelModel, incompatible_keys):
    """Loading a trainable-only checkpoint: the frozen weights are not missing, they come from ``pretrained``."""
    if not module.save_trainable_only:
        return
    trainable = {n for n, p in module.named_parameters() if p.requires_grad}
    incompatible_keys.missing_keys[:] = [k for k in incompatible_keys.missing_keys
                                         if k.removeprefix('module.') in trainable]


__all__ = ['UniPixelModel', 'UPSTREAM_LORA_TARGETS', 'MODES']
