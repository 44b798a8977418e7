"""What UniPixel adds to SAM 2, written as a small extension of the ``sam2`` package (no vendored copy).

UniPixel prompts SAM 2 with *hidden* sparse tokens predicted by the LLM instead of clicks. Upstream changed three
things in its copy of SAM 2; here each one is a subclass hook of the pip package:

* the prompt encoder accepts extra sparse tokens appended after the point tokens (:class:`HiddenTokenPromptEncoder`);
* the video predictor gets ``add_new_hidden_state(state, frame_idx, obj_id, hidden)`` to prompt a frame with them,
  and ``init_state`` takes already-normalised frames (a tensor, or any lazy sequence of ``(3, S, S)`` tensors for
  streaming long videos) instead of a path (:class:`UniPixelSAM2`);
* the NO_OBJ score masking is applied in inference only (pip applies it always, which is what inference needs).

The checkpoint names the variant (``sam2_config``, e.g. upstream's ``"configs/sam2.1_hiera_b+"``) and the input size
(``sam2_image_size``); :func:`build_sam2` maps the name onto the package's own Hydra configs.
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence

import torch
from sam2.modeling.sam.prompt_encoder import PromptEncoder
from sam2.sam2_video_predictor import SAM2VideoPredictor

# The four variants shipped by the sam2 package, in both generations.
_SAM2_VARIANTS = ('hiera_t', 'hiera_s', 'hiera_b+', 'hiera_l')


def resolve_sam2_config(name: str) -> str:
    """Map a SAM 2 config name onto the Hydra config path shipped by the ``sam2`` package.

    Accepts upstream UniPixel's names (``"configs/sam2.1_hiera_b+"``), the package's own paths
    (``"configs/sam2.1/sam2.1_hiera_t.yaml"``) and bare names (``"sam2.1_hiera_t"``, ``"sam2_hiera_l"``).
    """
    stem = re.sub(r'\.yaml$', '', name.strip()).split('/')[-1]
    m = re.fullmatch(r'(sam2(?:\.1)?)_(hiera_(?:t|s|b\+|l))', stem)
    if m is None or m.group(2) not in _SAM2_VARIANTS:
        raise ValueError(f'Unknown SAM 2 config {name!r}: expected one of sam2.1_hiera_{{t,s,b+,l}} or '
                         f'sam2_hiera_{{t,s,b+,l}} (upstream spelling "configs/sam2.1_hiera_b+" is accepted too).')
    return f'configs/{m.group(1)}/{stem}.yaml'


class HiddenTokenPromptEncoder(PromptEncoder):
    """SAM prompt encoder that also accepts ``hidden`` sparse tokens, appended after the point/box tokens.

    With no points, SAM 2 pads one "not-a-point" token and the padding rule adds a second one, so a hidden prompt
    of ``(B, 2, 256)`` gives four sparse tokens: two pads, then the two hidden tokens — exactly upstream's layout.
    ``hidden`` may be passed explicitly or set for the duration of a call with :meth:`hidden_tokens` (which is how
    the unchanged SAM 2 tracking code reaches it).
    """

    _pending_hidden: torch.Tensor | None = None

    @contextlib.contextmanager
    def hidden_tokens(self, hidden: torch.Tensor | None):
        self._pending_hidden = hidden
        try:
            yield
        finally:
            self._pending_hidden = None

    def _get_batch_size(self, points, boxes, masks, hidden=None):
        if points is None and boxes is None and masks is None and hidden is not None:
            return hidden.shape[0]
        return super()._get_batch_size(points, boxes, masks)

    def forward(self, points, boxes, masks, hidden=None):
        """
        Args:
            points: ``(coords (B, N, 2) float, labels (B, N) int)`` in input-image pixels, or None.
            boxes: ``(B, 4)`` or None.  masks: ``(B, 1, 4h, 4w)`` or None.
            hidden: ``(B, K, embed_dim)`` extra sparse tokens, or None.
        Returns:
            sparse ``(B, N', embed_dim)`` and dense ``(B, embed_dim, h, w)`` embeddings.
        """
        hidden = self._pending_hidden if hidden is None else hidden
        self._float32_fourier_features()
        sparse, dense = super().forward(points, boxes, masks)
        dtype = self.no_mask_embed.weight.dtype
        sparse, dense = sparse.to(dtype), dense.to(dtype)
        if hidden is not None:
            sparse = torch.cat([sparse, hidden.to(dtype)], dim=1)
        return sparse, dense

    def get_dense_pe(self) -> torch.Tensor:
        self._float32_fourier_features()
        return super().get_dense_pe().to(self.no_mask_embed.weight.dtype)

    def _float32_fourier_features(self) -> None:
        """Keep the random Fourier matrix in float32 when the module is cast to bfloat16 (DeepSpeed bf16 casts the
        whole model, as upstream trains): the package encodes coordinates in float32 and multiplies them by it."""
        pe = self.pe_layer
        if pe.positional_encoding_gaussian_matrix.dtype != torch.float32:
            pe.positional_encoding_gaussian_matrix = pe.positional_encoding_gaussian_matrix.float()


class UniPixelSAM2(SAM2VideoPredictor):
    """SAM 2 video predictor with UniPixel's hidden-token prompts and tensor / streaming frame input.

    Keeps every parameter name of the package's model, so UniPixel checkpoints (``sam2.*`` keys) load unchanged.
    """

    def _build_sam_heads(self):
        super()._build_sam_heads()
        # Re-class in place: the subclass adds behaviour, not parameters.
        self.sam_prompt_encoder.__class__ = HiddenTokenPromptEncoder

    @property
    def dtype(self) -> torch.dtype:
        return self.image_encoder.trunk.patch_embed.proj.weight.dtype

    @torch.inference_mode()
    def encode_frames(self, frames: torch.Tensor) -> list[tuple]:
        """Run the image encoder on ``(B, 3, S, S)`` frames in one batch; one cache entry per frame, to seed
        :meth:`init_state` (``features=``) of several single-image requests at the cost of one encoder call."""
        images = frames.to(self.device, self.dtype)
        out = self.forward_image(images)
        entries = []
        for i in range(images.size(0)):
            entries.append((images[i:i + 1], {
                'backbone_fpn': [t[i:i + 1] for t in out['backbone_fpn']],
                'vision_pos_enc': [t[i:i + 1] for t in out['vision_pos_enc']],
            }))
        return entries

    @torch.inference_mode()
    def init_state(self, frames: torch.Tensor | Sequence[torch.Tensor], frame_size: tuple[int, int] | None = None,
                   offload_state_to_cpu: bool = False, cache_all_features: bool = True,
                   features: dict | None = None) -> dict:
        """Start a tracking session on frames that are already resized and normalised for SAM 2.

        Args:
            frames: ``(T, 3, S, S)`` tensor, or any sequence of ``(3, S, S)`` tensors with ``len()`` (a lazy
                decoder for long videos), with ``S = image_size``.
            features: ``{frame_idx: entry}`` from :meth:`encode_frames`, already-encoded frames.
            frame_size: original ``(H, W)``: masks are returned at this size. Defaults to ``(S, S)``.
            offload_state_to_cpu: keep per-frame memories on the CPU.
            cache_all_features: keep the image features of every visited frame (fast when several objects are
                decoded on the same frames); False keeps only the last frame's (bounded memory for long videos).
        """
        if len(frames) == 0:
            raise ValueError('init_state got no frames: pass a (T, 3, S, S) tensor or a sequence with T >= 1.')
        height, width = (self.image_size, self.image_size) if frame_size is None else (int(frame_size[0]),
                                                                                        int(frame_size[1]))
        device = self.device
        storage = torch.device('cpu') if offload_state_to_cpu else device
        state = {
            'images': frames,  # indexed lazily, one frame at a time
            'num_frames': len(frames),
            'offload_video_to_cpu': True,
            'offload_state_to_cpu': offload_state_to_cpu,
            'video_height': height,
            'video_width': width,
            'device': device,
            'storage_device': storage,
            'point_inputs_per_obj': {},
            'mask_inputs_per_obj': {},
            'cached_features': dict(features or {}),
            'cache_all_features': cache_all_features,
            'constants': {},
            'obj_id_to_idx': {},
            'obj_idx_to_id': {},
            'obj_ids': [],
            'output_dict_per_obj': {},
            'temp_output_dict_per_obj': {},
            'frames_tracked_per_obj': {},
        }
        return state

    def _get_image_feature(self, inference_state, frame_idx, batch_size):
        cache = inference_state['cached_features']
        if frame_idx not in cache:
            image = inference_state['images'][frame_idx]
            image = image.to(inference_state['device'], self.dtype).unsqueeze(0)
            backbone_out = self.forward_image(image)
            if not inference_state.get('cache_all_features', False):
                cache.clear()
            cache[frame_idx] = (image, backbone_out)
        image, backbone_out = cache[frame_idx]
        # the package's FPN neck upsamples and encodes positions in float32: in a bfloat16 SAM 2 some levels come
        # out float32, so give every level the model's dtype (a no-op in float32)
        expanded = {
            'backbone_fpn': [f.to(self.dtype).expand(batch_size, -1, -1, -1) for f in backbone_out['backbone_fpn']],
            'vision_pos_enc': [p.to(self.dtype).expand(batch_size, -1, -1, -1)
                               for p in backbone_out['vision_pos_enc']],
        }
        return (image.expand(batch_size, -1, -1, -1), ) + self._prepare_backbone_features(expanded)

    # The package stores spatial memories in bfloat16 to save GPU memory; upstream UniPixel keeps them in the model's
    # dtype, and the numbers differ. These two overrides keep the model's dtype (``memory_dtype`` switches it).
    memory_dtype: torch.dtype | None = None

    def _store_memory(self, inference_state, maskmem_features):
        dtype = self.memory_dtype or self.dtype
        return maskmem_features.to(inference_state['storage_device'], dtype, non_blocking=True)

    def _run_single_frame_inference(self, inference_state, output_dict, frame_idx, batch_size, is_init_cond_frame,
                                    point_inputs, mask_inputs, reverse, run_mem_encoder, prev_sam_mask_logits=None):
        _, _, vision_feats, vision_pos, feat_sizes = self._get_image_feature(inference_state, frame_idx, batch_size)
        out = self.track_step(
            frame_idx=frame_idx,
            is_init_cond_frame=is_init_cond_frame,
            current_vision_feats=vision_feats,
            current_vision_pos_embeds=vision_pos,
            feat_sizes=feat_sizes,
            point_inputs=point_inputs,
            mask_inputs=mask_inputs,
            output_dict=output_dict,
            num_frames=inference_state['num_frames'],
            track_in_reverse=reverse,
            run_mem_encoder=run_mem_encoder,
            prev_sam_mask_logits=prev_sam_mask_logits,
        )
        memory = out['maskmem_features']
        pred_masks = out['pred_masks']
        compact = {
            'maskmem_features': None if memory is None else self._store_memory(inference_state, memory),
            'maskmem_pos_enc': self._get_maskmem_pos_enc(inference_state, out),
            'pred_masks': pred_masks.to(inference_state['storage_device'], non_blocking=True),
            'obj_ptr': out['obj_ptr'],
            'object_score_logits': out['object_score_logits'],
        }
        return compact, pred_masks

    def _run_memory_encoder(self, inference_state, frame_idx, batch_size, high_res_masks, object_score_logits,
                            is_mask_from_pts):
        _, _, vision_feats, _, feat_sizes = self._get_image_feature(inference_state, frame_idx, batch_size)
        memory, pos_enc = self._encode_new_memory(
            current_vision_feats=vision_feats,
            feat_sizes=feat_sizes,
            pred_masks_high_res=high_res_masks,
            object_score_logits=object_score_logits,
            is_mask_from_pts=is_mask_from_pts,
        )
        pos_enc = self._get_maskmem_pos_enc(inference_state, {'maskmem_pos_enc': pos_enc})
        return self._store_memory(inference_state, memory), pos_enc

    @torch.inference_mode()
    def add_new_hidden_state(self, inference_state: dict, frame_idx: int, obj_id: int, hidden: torch.Tensor):
        """Prompt object ``obj_id`` on ``frame_idx`` with hidden tokens ``(1, K, hidden_dim)`` from the LLM.

        Returns ``(frame_idx, obj_ids, masks)`` with masks ``(num_objects, 1, H, W)`` logits at the original size.
        Call :meth:`propagate_in_video` next to track the object through the other frames.
        """
        if hidden.dim() != 3 or hidden.size(0) != 1 or hidden.size(-1) != self.hidden_dim:
            raise ValueError(f'hidden must have shape (1, K, {self.hidden_dim}), got {tuple(hidden.shape)}')
        if not 0 <= frame_idx < inference_state['num_frames']:
            raise ValueError(f"frame_idx {frame_idx} is outside the video (0..{inference_state['num_frames'] - 1})")
        obj_idx = self._obj_id_to_idx(inference_state, obj_id)
        tracked = inference_state['frames_tracked_per_obj'][obj_idx]
        is_init_cond_frame = frame_idx not in tracked
        reverse = False if is_init_cond_frame else tracked[frame_idx]['reverse']
        is_cond = is_init_cond_frame or self.add_all_frames_to_correct_as_cond
        storage_key = 'cond_frame_outputs' if is_cond else 'non_cond_frame_outputs'
        hidden = hidden.to(inference_state['device'], self.dtype)
        with self.sam_prompt_encoder.hidden_tokens(hidden):
            current_out, _ = self._run_single_frame_inference(
                inference_state=inference_state,
                output_dict=inference_state['output_dict_per_obj'][obj_idx],
                frame_idx=frame_idx,
                batch_size=1,
                is_init_cond_frame=is_init_cond_frame,
                point_inputs=None,
                mask_inputs=None,
                reverse=reverse,
                run_mem_encoder=False,
            )
        inference_state['temp_output_dict_per_obj'][obj_idx][storage_key][frame_idx] = current_out
        consolidated = self._consolidate_temp_output_across_obj(
            inference_state, frame_idx, is_cond=is_cond, consolidate_at_video_res=True)
        _, masks = self._get_orig_video_res_output(inference_state, consolidated['pred_masks_video_res'])
        return frame_idx, inference_state['obj_ids'], masks

    @torch.inference_mode()
    def propagate_in_video(self, inference_state: dict, start_frame_idx: int | None = None,
                           max_frame_num_to_track: int | None = None, reverse: bool = False,
                           verbose: bool = False, keep_memories: int | None = None
                           ) -> Iterator[tuple[int, list, torch.Tensor]]:
        """Track every prompted object through the video, yielding ``(frame_idx, obj_ids, mask_logits)`` per frame.

        ``mask_logits`` is ``(num_objects, 1, H, W)`` at the original frame size. ``keep_memories`` bounds memory
        for long videos: only the non-conditioning outputs of the last ``keep_memories`` frames are kept (SAM 2
        reads at most ``num_maskmem`` memories and ``max_obj_ptrs_in_encoder`` object pointers of them per step, and
        the bound is raised to that, so the masks equal unbounded tracking; the package keeps all of them, see sam2
        issue 196).
        """
        self.propagate_in_video_preflight(inference_state)
        obj_ids = inference_state['obj_ids']
        num_frames = inference_state['num_frames']
        num_objects = self._get_obj_num(inference_state)
        if start_frame_idx is None:
            start_frame_idx = min(t for out in inference_state['output_dict_per_obj'].values()
                                  for t in out['cond_frame_outputs'])
        span = num_frames if max_frame_num_to_track is None else max_frame_num_to_track
        if reverse:
            order = range(start_frame_idx, max(start_frame_idx - span, 0) - 1, -1) if start_frame_idx > 0 else []
        else:
            order = range(start_frame_idx, min(start_frame_idx + span, num_frames - 1) + 1)
        if keep_memories is not None:  # never fewer than the memory and object-pointer windows read back
            window = self.num_maskmem * self.memory_temporal_stride_for_eval
            if self.use_obj_ptrs_in_encoder:
                window = max(window, self.max_obj_ptrs_in_encoder)
            keep_memories = max(keep_memories, window)

        progress = None
        if verbose:
            from tqdm import tqdm
            progress = tqdm(total=len(order), desc='SAM 2 propagation', unit='frame')
        for frame_idx in order:
            per_object = []
            for obj_idx in range(num_objects):
                out_dict = inference_state['output_dict_per_obj'][obj_idx]
                if frame_idx in out_dict['cond_frame_outputs']:
                    current = out_dict['cond_frame_outputs'][frame_idx]
                    pred_masks = current['pred_masks'].to(inference_state['device'], non_blocking=True)
                else:
                    current, pred_masks = self._run_single_frame_inference(
                        inference_state=inference_state,
                        output_dict=out_dict,
                        frame_idx=frame_idx,
                        batch_size=1,
                        is_init_cond_frame=False,
                        point_inputs=None,
                        mask_inputs=None,
                        reverse=reverse,
                        run_mem_encoder=True,
                    )
                    out_dict['non_cond_frame_outputs'][frame_idx] = current
                    if keep_memories is not None:
                        stale = frame_idx + keep_memories if reverse else frame_idx - keep_memories
                        out_dict['non_cond_frame_outputs'].pop(stale, None)
                inference_state['frames_tracked_per_obj'][obj_idx][frame_idx] = {'reverse': reverse}
                per_object.append(pred_masks)
            _, video_res_masks = self._get_orig_video_res_output(inference_state, torch.cat(per_object, dim=0))
            if progress is not None:
                progress.update(1)
            yield frame_idx, obj_ids, video_res_masks
        if progress is not None:
            progress.close()


def build_sam2(config_name: str, image_size: int, device: torch.device | str = 'cpu',
               overrides: Sequence[str] | dict | None = None) -> UniPixelSAM2:
    """Build the SAM 2 part of UniPixel from the package's Hydra config, at ``image_size`` x ``image_size``.

    ``overrides`` are extra Hydra overrides on the package's config (``config.sam2_overrides``), as a list of
    ``'key=value'`` strings or a ``{key: value}`` dict with keys below ``model.`` (``'image_encoder.trunk.embed_dim':
    32``): how a micro SAM 2 (fewer blocks, fewer channels) is made from a shipped variant. They are applied after
    the size overrides, so they may also change those.

    Random weights; the UniPixel checkpoint (``sam2.*``) or :func:`load_sam2_checkpoint` fills them. Built in
    float32 on real memory even under a meta-device init context: SAM 2 computes RoPE tables in ``__init__`` that
    are plain attributes, not buffers, and would otherwise stay on the meta device.
    """
    import sam2  # noqa: F401  (initialises the package's Hydra config module)
    from hydra import compose
    from hydra.utils import instantiate

    if image_size % 16 != 0 or image_size < 64:
        raise ValueError(f'sam2_image_size must be a multiple of 16 and >= 64, got {image_size}')
    feat = image_size // 16
    hydra_overrides = [
        f'++model._target_={UniPixelSAM2.__module__}.{UniPixelSAM2.__qualname__}',
        f'++model.image_size={image_size}',
        f'++model.memory_attention.layer.self_attention.feat_sizes=[{feat},{feat}]',
        f'++model.memory_attention.layer.cross_attention.feat_sizes=[{feat},{feat}]',
        # as upstream's inference config: a re-prompted frame becomes a conditioning frame; no hole filling
        '++model.add_all_frames_to_correct_as_cond=true',
        '++model.fill_hole_area=0',
    ] + sam2_override_list(overrides)
    cfg = compose(config_name=resolve_sam2_config(config_name), overrides=hydra_overrides)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        with torch.device('cpu'):
            model = instantiate(cfg.model, _recursive_=True)
    finally:
        torch.set_default_dtype(previous)
    return model.to(device).eval()


def sam2_override_list(overrides: Sequence[str] | dict | None) -> list[str]:
    """``config.sam2_overrides`` as Hydra override strings: a dict ``{'image_encoder.trunk.embed_dim': 32}`` becomes
    ``['++model.image_encoder.trunk.embed_dim=32']`` (lists written as ``[a,b]``); strings pass unchanged."""
    if not overrides:
        return []
    if isinstance(overrides, dict):
        out = []
        for key, value in overrides.items():
            if isinstance(value, (list, tuple)):
                value = '[' + ','.join(str(v) for v in value) + ']'
            elif isinstance(value, bool):
                value = str(value).lower()
            out.append(f'++model.{key}={value}')
        return out
    if isinstance(overrides, str) or not all(isinstance(o, str) for o in overrides):
        raise ValueError(f'sam2_overrides must be a dict or a list of Hydra override strings, got {overrides!r}')
    return list(overrides)


def load_sam2_checkpoint(model: UniPixelSAM2, path: str) -> None:
    """Load an official SAM 2 checkpoint (``{'model': state_dict}``, e.g. ``sam2.1_hiera_base_plus.pt``)."""
    state = torch.load(path, map_location='cpu', weights_only=True)
    state = state.get('model', state)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RuntimeError(f'SAM 2 checkpoint {path} does not match the {type(model).__name__} built from the '
                           f'config: missing {sorted(missing)[:10]}, unexpected {sorted(unexpected)[:10]}')


__all__ = ['HiddenTokenPromptEncoder', 'UniPixelSAM2', 'build_sam2', 'load_sam2_checkpoint', 'resolve_sam2_config',
           'sam2_override_list']
