"""The toy scenes as datasets of the configs: the project's RefCOCO and MeViS readers over scenes made on first use.

``ToyRefCOCODataset`` reads the image scenes in the RefCOCO layout (training samples group up to ``max_turns``
expressions of one image, as upstream's RefCOCO samples do) and ``ToyMeViSDataset`` the scenes in the MeViS layout
(the videos, and the image scenes as one-frame videos). The training
split comes from :data:`~unipixel_plugin.toy.cache.TRAIN_SCENES`, the held-out one (``valid_u``) from
:data:`~unipixel_plugin.toy.cache.HELDOUT_SCENES` (other seeds, so no scene is shared).
"""
from __future__ import annotations

from typing import Optional

from unipixel_plugin.data.formats.refcoco import RefCOCODataset
from unipixel_plugin.data.formats.refvos import MeViSDataset
from unipixel_plugin.registry import DATASETS
from unipixel_plugin.toy.cache import ensure_toy_scenes


def _scene_root(root, split, kwargs) -> str:
    if 'data_root' in kwargs:
        raise TypeError('the toy datasets write their own data: give root= (the toy root), not data_root=')
    return str(ensure_toy_scenes(root, split=split))


@DATASETS.register_module(name=['ToyRefCOCODataset', 'toy_refcoco'])
class ToyRefCOCODataset(RefCOCODataset):
    """Image scenes, RefCOCO layout. ``split``: ``'train'`` or ``'val'`` (the held-out scenes)."""

    SOURCE = 'toy_refcoco'

    def __init__(self, root: Optional[str] = None, split: str = 'train', **kwargs):
        super().__init__(data_root=_scene_root(root, 'train' if split == 'train' else 'valid_u', kwargs),
                         split=split, **kwargs)


@DATASETS.register_module(name=['ToyMeViSDataset', 'toy_mevis'])
class ToyMeViSDataset(MeViSDataset):
    """Video (and one-frame image) scenes, MeViS layout. ``split``: ``'train'`` or ``'valid_u'`` (held out)."""

    SOURCE = 'toy_mevis'

    def __init__(self, root: Optional[str] = None, split: str = 'train', **kwargs):
        super().__init__(data_root=_scene_root(root, split, kwargs), split=split, **kwargs)


__all__ = ['ToyRefCOCODataset', 'ToyMeViSDataset']
