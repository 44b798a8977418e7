"""Entry point for lmms-eval (group ``lmms_eval.models``): kept import-light on purpose."""
from lmms_eval.models.registry_v2 import ModelManifest


def manifests():
    """``--model unipixel`` (alias ``pixel_qwen2_5_vl``) -> the chat-style UniPixel adapter."""
    return ModelManifest(
        model_id='unipixel',
        chat_class_path='unipixel_plugin.evaluation.lmms.adapter.UniPixelLMM',
        aliases=('pixel_qwen2_5_vl', ),
    )
