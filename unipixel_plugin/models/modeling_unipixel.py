"""UniPixel on transformers 5.x: Qwen2.5-VL plus ``<|ref|>`` / ``<|mem|>`` prompt embeddings and ``<|seg|>`` masks.

Only the difference to :class:`transformers.Qwen2_5_VLForConditionalGeneration` is written here. The forward and
``generate`` keyword arguments are those of upstream's ``PixelQwen2_5_VLForConditionalGeneration`` (``frames``,
``frame_size``, ``point_coords``, ``point_labels``, ``point_frames``, ``refer_mask``), and the masks of the last call
are left in ``model.seg`` (list of ``(1, T, H, W)`` bool, one per ``<|seg|>``), so code written for upstream runs
unchanged. What transformers 5 changed under upstream's feet (see docs/porting.md) is handled here: checkpoint key
conversion, ``mm_token_type_ids`` for M-RoPE, the first-iteration test in generation, one ViT pass per forward.
"""
from __future__ import annotations

import types

import torch
from transformers import Qwen2_5_VLForConditionalGeneration
from transformers.conversion_mapping import get_checkpoint_conversion_mapping, register_checkpoint_conversion_mapping
from transformers.core_model_loading import WeightRenaming

from unipixel_plugin.models.configuration_unipixel import PixelQwen2_5_VLConfig
from unipixel_plugin.models.mask_head import SAM2MaskHead
from unipixel_plugin.models.object_memory import MaskFeatureProjector, pool_object_memory, raster_to_window_order
from unipixel_plugin.models.prompt_encoder import VisualPromptEncoder
from unipixel_plugin.models.rope_index import upstream_rope_index
from unipixel_plugin.prompts import MEM_TOKEN, REF_TOKEN


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's tensors do not match the model built from its config."""


def _register_key_conversion():
    """Checkpoint key layouts -> this model: Qwen's legacy layout and SAM 2's ``fuser`` ``weight`` -> ``gamma``."""
    name = 'PixelQwen2_5_VLForConditionalGeneration'
    qwen = get_checkpoint_conversion_mapping('Qwen2VLForConditionalGeneration') or []
    fuser = WeightRenaming(source_patterns=r'^sam2\.memory_encoder\.fuser\.layers\.(\d+)\.weight',
                           target_patterns=r'sam2.memory_encoder.fuser.layers.\1.gamma')
    register_checkpoint_conversion_mapping(name, qwen + [fuser], overwrite=True)


_register_key_conversion()


def mm_token_type_ids_from(input_ids: torch.Tensor, config) -> torch.Tensor:
    """0 for text, 1 for image and 2 for video placeholder tokens (what 4.x processors did not return)."""
    types = torch.zeros_like(input_ids, dtype=torch.int32)
    types[input_ids == config.image_token_id] = 1
    types[input_ids == config.video_token_id] = 2
    return types


class PixelQwen2_5_VLForConditionalGeneration(Qwen2_5_VLForConditionalGeneration):
    """UniPixel: Qwen2.5-VL + visual prompt encoder + object memory + SAM 2 mask decoder.

    Extra forward inputs (lists have one entry per sample; upstream decodes masks for batch size 1):
        frames: list of ``(T, 3, S, S)`` float SAM 2 frames (``S = config.sam2_image_size``), all frames of the media.
        frame_size: list of ``(H, W)`` original sizes.
        point_coords / point_labels: list (sample) of lists (object) of ``(1, 1, 2)`` float + ``(1, 1)`` labels for a
            point, ``(1, 2, 2)`` int32 + ``(1, 2)`` labels ``[2, 3]`` for a box, in SAM 2 space.
        point_frames: list (sample) of a one-element list holding ``(num_objects,)`` prompt frame indices.
        refer_mask: list of ``(grid_t, num_objects, grid_h / 2, grid_w / 2)`` bool masks for ``<|mem|>`` tokens.
    """

    config_class = PixelQwen2_5_VLConfig
    # pip SAM 2 fails in pure bf16 (fp32 coordinates times a bf16 Gaussian matrix); keep it and its prompt encoders
    # in float32 whatever dtype the LLM runs in.
    _keep_in_fp32_modules_strict = ['sam2', 'ref_encoder', 'tem_pe']

    def __init__(self, config: PixelQwen2_5_VLConfig):
        super().__init__(config)
        # M-RoPE positions as transformers 4.53 computes them (5.x resumes text after a video at a different place)
        self.model.get_rope_index = types.MethodType(upstream_rope_index, self.model)
        self.seg: list[torch.Tensor] = []
        self.seg_prompts: list[torch.Tensor] = []  # the SAM 2 hidden prompt (K, 256) behind each mask in self.seg
        self._captured: dict[str, torch.Tensor] = {}
        if config.sam2_config is not None:
            llm_dim = config.text_config.hidden_size
            head = SAM2MaskHead(llm_dim, config.sam2_config, config.sam2_image_size, config.sam2_hidden_tokens,
                                getattr(config, 'sam2_overrides', None))
            prompts = VisualPromptEncoder(llm_dim, head.sam2.hidden_dim, config.sam2_image_size,
                                          head.sam2.sam_image_embedding_size)
            # Official checkpoints keep the components' parts at the top level (seg_head.*, sam2.*, ref_*, tem_*):
            # the parts are registered here, and the two components, which share them, are kept in a plain dict
            # so that they add no second path to the state dict.
            for component in (head, prompts):
                for name, child in component.named_children():
                    setattr(self, name, child)
            self._components = {'mask_head': head, 'visual_prompt_encoder': prompts}
            merger_dim = self.model.visual.merger.hidden_size
            self.msk_proj = MaskFeatureProjector(merger_dim, llm_dim)
        self.model.visual.merger.mlp.register_forward_pre_hook(self._capture('merger_input'))
        self.model.language_model.norm.register_forward_pre_hook(self._capture('pre_norm'))
        self.post_init()

    @property
    def mask_head(self) -> SAM2MaskHead:
        """``seg_head`` + ``sam2`` as one component (decodes ``<|seg|>`` states into mask tracks)."""
        return self._components['mask_head']

    @property
    def visual_prompt_encoder(self) -> VisualPromptEncoder:
        """``ref_encoder``, ``ref_proj*`` and ``tem_*`` as one component (points/boxes -> ``<|ref|>``)."""
        return self._components['visual_prompt_encoder']

    def _capture(self, key):
        # the merger-MLP input (for <|mem|>) and the last layer's output before the norm (for <|seg|>)
        def hook(module, args):
            self._captured[key] = args[0]
        return hook

    @property
    def pre_norm_states(self) -> torch.Tensor | None:
        """``(B, L, llm_dim)``: the last decoder layer's output before the final norm, from the latest forward
        (what ``seg_head`` reads at the positions that predict ``<|seg|>``)."""
        return self._captured.get('pre_norm')

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, strict: bool = True, **kwargs):
        """``transformers`` ``from_pretrained`` that fails loudly on missing, unexpected or mismatched tensors.

        ``strict=False`` restores the library's behaviour (report and go on). SAM 2 stays in float32 whatever
        ``dtype`` asks for. ``output_loading_info=True`` is honoured.
        """
        want_info = kwargs.pop('output_loading_info', False)
        if strict:
            # let the library report mismatches instead of raising its own message, which names no key
            kwargs['ignore_mismatched_sizes'] = True
        model, info = super().from_pretrained(pretrained_model_name_or_path, *args, output_loading_info=True,
                                              **kwargs)
        problems = {
            'missing keys': sorted(info.get('missing_keys') or []),
            'unexpected keys': sorted(info.get('unexpected_keys') or []),
            'mismatched keys': [f'{k} (checkpoint {list(a)} vs model {list(b)})' for k, a, b in
                                sorted(info.get('mismatched_keys') or [])],
        }
        if strict and any(problems.values()):
            lines = [f'{k} ({len(v)}): {", ".join(v[:12])}{" ..." if len(v) > 12 else ""}'
                     for k, v in problems.items() if v]
            raise CheckpointMismatchError(
                f'{pretrained_model_name_or_path} does not match {cls.__name__} built from its config.json:\n  ' +
                '\n  '.join(lines) + '\nCheck that config.json belongs to these weights (sam2_config, '
                'sam2_image_size, sizes); pass strict=False to load anyway.')
        model._after_load()
        return (model, info) if want_info else model

    def _after_load(self):
        if getattr(self, 'sam2', None) is not None:
            for module in (self.sam2, self.ref_encoder, self.tem_pe):
                module.float()
            self._reset_rope_tables()

    def _reset_rope_tables(self):
        # SAM 2's RoPE tables are plain attributes computed in __init__ (not buffers): after a meta-device init they
        # are meta tensors. Recompute them for this image size on the SAM 2 device.
        side = self.config.sam2_image_size // 16
        for module in self.sam2.modules():
            table = getattr(module, 'freqs_cis', None)
            if torch.is_tensor(table) and (table.is_meta or table.device != self.sam2.device):
                module.freqs_cis = module.compute_cis(end_x=side, end_y=side).to(self.sam2.device)

    # ------------------------------------------------------------------ prompt embeddings
    def _ref_embeddings(self, point_coords, point_labels, point_frames, video_grid_thw) -> torch.Tensor:
        embeds = []
        for b in range(video_grid_thw.size(0)):
            coords, labels = point_coords[b], point_labels[b]
            if len(coords) == 0:
                continue
            frame_idx = torch.cat([torch.as_tensor(f).reshape(-1) for f in point_frames[b]])
            num_frames = int(video_grid_thw[b][0]) * 2
            embeds.append(self.visual_prompt_encoder(coords, labels, frame_idx, num_frames))
        return torch.cat(embeds) if embeds else None

    def _mem_embeddings(self, refer_mask, video_grid_thw, features) -> torch.Tensor | None:
        if features is None or video_grid_thw is None:
            raise ValueError('refer_mask needs the video of the same call: pass pixel_values_videos and '
                             'video_grid_thw with it')
        merge = self.model.visual.spatial_merge_size
        rows, start = [], 0
        for b in range(video_grid_thw.size(0)):
            thw = video_grid_thw[b]
            count = int(thw.prod()) // (merge * merge)
            video = features[start:start + count]
            if not self.config.mem_window_order:
                window = raster_to_window_order(thw, merge, self.model.visual.window_size,
                                                self.model.visual.patch_size).to(video.device)
                video = video[torch.argsort(window)]
            rows.append(pool_object_memory(video, refer_mask[b].to(video.device)))
            start += count
        rows = torch.cat(rows)
        if rows.numel() == 0:
            return None
        return self.msk_proj(rows.to(self.msk_proj[0].weight.dtype))

    @staticmethod
    def _scatter(inputs_embeds, token_mask, values, what):
        count = int(token_mask.sum())
        got = 0 if values is None else values.size(0)
        if count != got:
            raise ValueError(f'the prompt has {count} {what} tokens but {got} embeddings were built for them: '
                             f'give one {"point/box" if "ref" in what else "non-empty mask region"} per token')
        if count == 0:
            return inputs_embeds
        mask = token_mask.unsqueeze(-1).expand_as(inputs_embeds)
        return inputs_embeds.masked_scatter(mask, values.to(inputs_embeds.dtype))

    # ------------------------------------------------------------------ forward
    def forward(self,
                input_ids=None,
                attention_mask=None,
                position_ids=None,
                cache=None,
                inputs_embeds=None,
                labels=None,
                use_cache=None,
                pixel_values=None,
                pixel_values_videos=None,
                image_grid_thw=None,
                video_grid_thw=None,
                mm_token_type_ids=None,
                second_per_grid_ts=None,
                logits_to_keep=0,
                mm_encoder_outputs=None,
                frames=None,
                frame_size=None,
                point_coords=None,
                point_labels=None,
                point_frames=None,
                refer_mask=None,
                label_obj_to_frame_idx=None,
                label_mask=None,
                **kwargs):
        first_step = cache is None or cache.get_seq_length() == 0
        if first_step and not self.training:
            self.seg, self.seg_prompts = [], []
        if input_ids is not None:
            input_ids = input_ids.to(self.model.language_model.embed_tokens.weight.device)
            if mm_token_type_ids is None and (video_grid_thw is not None or image_grid_thw is not None):
                mm_token_type_ids = mm_token_type_ids_from(input_ids, self.config)

        self._captured.clear()
        need_vision = inputs_embeds is None and (pixel_values is not None or pixel_values_videos is not None)
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        if need_vision and mm_encoder_outputs is None:
            # Encode once here and hand the result to the base model, so the ViT runs once per forward.
            mm_encoder_outputs = self._encode_media(pixel_values, image_grid_thw, pixel_values_videos,
                                                    video_grid_thw)
            pixel_values = pixel_values_videos = None
        video_out = (mm_encoder_outputs or {}).get('video')
        merger_input = getattr(video_out, 'unipixel_merger_input', None)
        video_grid_thw = video_grid_thw if video_grid_thw is not None else getattr(video_out, 'unipixel_grid_thw',
                                                                                   None)

        if input_ids is not None and any(x is not None for x in (point_coords, point_labels, point_frames)):
            if any(x is None for x in (point_coords, point_labels, point_frames)):
                raise ValueError('point_coords, point_labels and point_frames must be given together')
            ref = self._ref_embeddings(point_coords, point_labels, point_frames, video_grid_thw)
            inputs_embeds = self._scatter(inputs_embeds, input_ids == self.config.ref_token_id, ref, REF_TOKEN)
        if input_ids is not None and refer_mask is not None:
            mem = self._mem_embeddings(refer_mask, video_grid_thw, merger_input)
            inputs_embeds = self._scatter(inputs_embeds, input_ids == self.config.mem_token_id, mem, MEM_TOKEN)

        if self.training and not inputs_embeds.requires_grad:
            inputs_embeds.requires_grad_(True)

        outputs = super().forward(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            inputs_embeds=inputs_embeds,
            labels=labels,
            use_cache=use_cache if use_cache is not None else not self.training,
            pixel_values=pixel_values,
            pixel_values_videos=pixel_values_videos,
            image_grid_thw=image_grid_thw,
            video_grid_thw=video_grid_thw,
            mm_token_type_ids=mm_token_type_ids,
            second_per_grid_ts=second_per_grid_ts,
            logits_to_keep=logits_to_keep,
            mm_encoder_outputs=mm_encoder_outputs,
            **kwargs)

        if self.seg_state_collector is not None and input_ids is not None:
            self._collect_seg_states(input_ids, first_step)
        decode = (getattr(self, 'sam2', None) is not None and self.config.sam2_enable_decoder
                  and frames is not None and not self.training)
        if decode:
            self._decode_seg_tokens(input_ids, outputs.logits, frames, frame_size, first_step)
        return outputs

    def _encode_media(self, pixel_values, image_grid_thw, pixel_values_videos, video_grid_thw) -> dict:
        """Run the ViT once; keep the merger-MLP input (window order) and the grid with the video output."""
        outputs = {}
        if pixel_values is not None:
            outputs['image'] = self.model.get_image_features(pixel_values, image_grid_thw, return_dict=True)
        if pixel_values_videos is not None:
            self._captured.pop('merger_input', None)
            video = self.model.get_video_features(pixel_values_videos, video_grid_thw, return_dict=True)
            video.unipixel_merger_input = self._captured.get('merger_input')
            video.unipixel_grid_thw = video_grid_thw
            outputs['video'] = video
        return outputs

    def _prepare_multimodal_encoder_kwargs_for_generation(self, model_kwargs):
        # generate() encodes the media before prefill and drops the pixel inputs and grids from the kwargs; encode
        # here instead, so the merger input (for <|mem|>) and the grid (for <|ref|> frame encodings) stay attached.
        if model_kwargs.get('mm_encoder_outputs') or (model_kwargs.get('pixel_values') is None
                                                      and model_kwargs.get('pixel_values_videos') is None):
            return super()._prepare_multimodal_encoder_kwargs_for_generation(model_kwargs)
        model_kwargs['mm_encoder_outputs'] = self._encode_media(
            model_kwargs.pop('pixel_values', None), model_kwargs.get('image_grid_thw'),
            model_kwargs.pop('pixel_values_videos', None), model_kwargs.get('video_grid_thw'))
        return model_kwargs

    # When a list, every forward appends the pre-norm states that may predict <|seg|> (batched decoding: the
    # caller picks the ones whose token really is <|seg|> once generation has finished).
    seg_state_collector: list | None = None

    def _collect_seg_states(self, input_ids, first_step):
        state = self._captured['pre_norm']
        if first_step:
            nxt = input_ids[:, 1:] == self.config.seg_token_id
            rows = [state[b, :-1][nxt[b]].detach() for b in range(input_ids.size(0))]
            self.seg_state_collector.append(('prompt', rows))
        self.seg_state_collector.append(('last', state[:, -1].detach()))

    def seg_hidden_states(self, input_ids: torch.Tensor, logits: torch.Tensor, include_prompt: bool) -> torch.Tensor:
        """The pre-norm states that predict ``<|seg|>`` in sample 0: prompt positions (first step), then the last one.

        Returns ``(N, llm_dim)``.
        """
        state = self._captured['pre_norm'][0]
        rows = []
        if include_prompt:
            nxt = input_ids[0, 1:]
            rows.append(state[:-1][nxt == self.config.seg_token_id])
        if logits[0, -1].argmax() == self.config.seg_token_id:
            rows.append(state[-1:])
        return torch.cat(rows) if rows else state[:0]

    def _decode_seg_tokens(self, input_ids, logits, frames, frame_size, first_step):
        if len(frames) != 1 or len(frame_size) != 1:
            raise ValueError(f'mask decoding in forward/generate takes one sample (got {len(frames)}); use '
                             'unipixel_plugin.inference for batches')
        hidden = self.seg_hidden_states(input_ids, logits, include_prompt=first_step)
        self.seg.extend(self.decode_masks(hidden, frames[0], frame_size[0]))

    def track_masks(self, hidden: torch.Tensor, frames, frame_size, keep_memories: int | None = None,
                    features: dict | None = None, verbose: bool = False):
        """Track ``hidden`` ``(N, llm_dim)`` seg states through ``frames``, yielding ``(frame_idx, logits (N, H, W))``
        frame by frame (nothing is held across frames but SAM 2's state, bounded by ``keep_memories``).

        Records each object's SAM 2 prompt in ``self.seg_prompts`` when tracking starts.
        """
        if hidden.size(0) == 0:
            return
        self.seg_prompts.extend(self.seg_head(hidden.to(self.seg_head[1].weight.dtype)).detach().float().cpu())
        yield from self.mask_head.decode_objects(hidden, frames, tuple(int(s) for s in frame_size),
                                                 batch_mode=self.config.sam2_batch_mode,
                                                 keep_memories=keep_memories, features=features, verbose=verbose)

    def decode_masks(self, hidden: torch.Tensor, frames, frame_size, keep_memories: int | None = None,
                     features: dict | None = None, verbose: bool = False, logits_out: list | None = None
                     ) -> list[torch.Tensor]:
        """Masks for ``hidden`` ``(N, llm_dim)`` seg states: a list of N ``(1, T, H, W)`` bool (upstream's ``seg``).

        Also records each object's SAM 2 prompt in ``self.seg_prompts``; ``logits_out``, if a list, receives the
        N ``(T, H, W)`` float mask logits (mask = logits > 0). :meth:`track_masks` yields them frame by frame.
        """
        if hidden.size(0) == 0:
            return []
        height, width = (int(s) for s in frame_size)
        masks = torch.zeros(hidden.size(0), len(frames), height, width, dtype=torch.bool)
        keep = torch.zeros(masks.shape) if logits_out is not None else None
        for idx, logits in self.track_masks(hidden, frames, (height, width), keep_memories, features, verbose):
            masks[:, idx] = (logits > 0).cpu()
            if keep is not None:
                keep[:, idx] = logits.float().cpu()
        if keep is not None:
            logits_out.extend(keep)
        return [m[None] for m in masks]

    # ------------------------------------------------------------------ generation
    def prepare_inputs_for_generation(self, input_ids, next_sequence_length=None, cache=None, attention_mask=None,
                                      inputs_embeds=None, is_first_iteration=False, frames=None, frame_size=None,
                                      point_coords=None, point_labels=None, point_frames=None, refer_mask=None,
                                      **kwargs):
        inputs = super().prepare_inputs_for_generation(input_ids, next_sequence_length=next_sequence_length,
                                                       cache=cache, attention_mask=attention_mask,
                                                       inputs_embeds=inputs_embeds,
                                                       is_first_iteration=is_first_iteration, **kwargs)
        prompts = dict(point_coords=point_coords, point_labels=point_labels, point_frames=point_frames,
                       refer_mask=refer_mask)
        inputs.update(frames=frames, frame_size=frame_size)
        inputs.update({k: (v if is_first_iteration else None) for k, v in prompts.items()})
        return inputs

    def _prepare_position_ids_for_generation(self, inputs_tensor, model_kwargs):
        # Upstream-style inputs carry no mm_token_type_ids; without them M-RoPE silently falls back to text positions.
        ids = model_kwargs.get('input_ids', inputs_tensor)
        if (model_kwargs.get('mm_token_type_ids') is None and ids is not None and ids.dim() == 2
                and (model_kwargs.get('video_grid_thw') is not None or model_kwargs.get('image_grid_thw') is not None)):
            model_kwargs['mm_token_type_ids'] = mm_token_type_ids_from(ids, self.config)
        return super()._prepare_position_ids_for_generation(inputs_tensor, model_kwargs)


__all__ = ['PixelQwen2_5_VLForConditionalGeneration', 'CheckpointMismatchError', 'mm_token_type_ids_from']
