"""Optimizer construction for UniPixel.

MMEngine's ``DefaultOptimWrapperConstructor`` walks every module's own parameters when ``paramwise_cfg`` is set,
so a weight shared by two modules (Qwen2.5-VL-3B ties ``lm_head`` to ``embed_tokens``, as the toy does) lands in two
parameter groups and ``torch.optim`` refuses the optimizer ("some parameters appear in more than one parameter
group"). :class:`UniPixelOptimWrapperConstructor` keeps the first group of each shared weight (the embedding's,
since ``model.language_model`` comes before ``lm_head``) and is otherwise the default constructor.
"""
from __future__ import annotations

from mmengine.optim import DefaultOptimWrapperConstructor

from unipixel_plugin.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class UniPixelOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` that puts each (possibly tied) parameter in exactly one group."""

    def add_params(self, params, module, prefix: str = '', is_dcn_module=None) -> None:
        super().add_params(params, module, prefix, is_dcn_module)
        if prefix:
            return  # a recursive call: the top-level call removes the repeats once
        seen, kept = set(), []
        for group in params:
            ids = tuple(id(p) for p in group['params'])
            if any(i in seen for i in ids):
                continue
            seen.update(ids)
            kept.append(group)
        params[:] = kept


__all__ = ['UniPixelOptimWrapperConstructor']
