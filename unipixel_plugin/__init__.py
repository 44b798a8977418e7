"""unipixel_plugin: UniPixel as an MMEngine/OpenMIM training plugin and an lmms-eval evaluation plugin.

Importing the package is light; the model lives in :mod:`unipixel_plugin.models` (importing it registers the HF
Auto* classes for ``model_type = "pixel_qwen2_5_vl"``).
"""
__version__ = '0.1.0'

REF_TOKEN = '<|ref|>'
SEG_TOKEN = '<|seg|>'
MEM_TOKEN = '<|mem|>'
