"""unipixel_plugin: UniPixel as an MMEngine/OpenMIM training plugin and an lmms-eval evaluation plugin.

Importing the package is light. Where things live (imports point one way, top to bottom):

* ``cli/`` (the ``unipixel`` command), ``evaluation/`` (lmms-eval adapter, metrics), ``engine/`` (MMEngine training),
  ``toy/`` (offline toy checkpoints and data);
* ``inference/`` (predictor, conversations with the memory bank, outputs);
* ``models/`` (the HF model: importing it registers the Auto* classes for ``model_type = "pixel_qwen2_5_vl"``),
  ``data/`` (dataset readers, mixtures, checks);
* ``prompts`` (every prompt wording and the special tokens), ``masks`` (RLE / PNG / polygons / resizing).
"""
from unipixel_plugin.prompts import MEM_TOKEN, REF_TOKEN, SEG_TOKEN

__version__ = '0.1.0'

__all__ = ['REF_TOKEN', 'SEG_TOKEN', 'MEM_TOKEN', '__version__']
