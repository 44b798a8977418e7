"""The one cache of toy checkpoints and data: made on first use, shared by tests, configs, the CLI and benchmarks.

* :func:`ensure_toy_checkpoint` writes a ~0.3 M-parameter UniPixel (tiny Qwen2.5-VL + SAM 2.1 Hiera-T,
  :func:`unipixel_plugin.toy.checkpoint.make_tiny_checkpoint`): 128 px for the tiny training config, 256 px for the
  CLI's default model;
* :func:`unipixel_plugin.toy.refvos.ensure_toy_data` writes the procedural referring-video data there.

Both go under the toy root: ``root=``, else ``$UNIPIXEL_TOY_ROOT``, else ``$XDG_CACHE_HOME/unipixel_plugin/toy``
(``~/.cache/...``). They are created once, atomically (several processes may ask at the same time), and reused.
``python -m unipixel_plugin.toy [ROOT]`` creates them and prints their paths.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Optional

TOY_ROOT_ENV = 'UNIPIXEL_TOY_ROOT'


def toy_root(root: Optional[str] = None) -> Path:
    """Where the toy fixture lives: ``root``, else ``$UNIPIXEL_TOY_ROOT``, else the user cache folder."""
    if root:
        return Path(root).expanduser()
    if os.environ.get(TOY_ROOT_ENV):
        return Path(os.environ[TOY_ROOT_ENV]).expanduser()
    cache = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return Path(cache) / 'unipixel_plugin' / 'toy'


def create_once(target: Path, build: Callable[[Path], None]) -> Path:
    """Build ``target`` with ``build(tmp_dir)`` unless it is complete; safe when processes race for it."""
    marker = target / '.complete'
    if marker.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{target.name}.tmp-', dir=target.parent))
    try:
        build(tmp)
        (tmp / '.complete').write_text('complete\n')
        if target.exists() and not marker.exists():
            shutil.rmtree(target, ignore_errors=True)  # left by an interrupted run that was not ours
        try:
            os.rename(tmp, target)
        except OSError:
            if not marker.exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def ensure_toy_checkpoint(root: Optional[str] = None, seed: int = 0, sam2_image_size: int = 128) -> Path:
    """The tiny UniPixel checkpoint folder (created on first use)."""
    from unipixel_plugin.toy.checkpoint import make_tiny_checkpoint

    target = toy_root(root) / f'checkpoint-s{seed}-{sam2_image_size}px'
    return create_once(target, lambda tmp: make_tiny_checkpoint(
        tmp, seed=seed, config_overrides={'sam2_image_size': sam2_image_size}))


def ensure_micro_checkpoint(root: Optional[str] = None, seed: int = 0) -> Path:
    """The micro UniPixel (:mod:`unipixel_plugin.toy.model`) at its seeded random initialisation: what the toy
    config (``configs/unipixel_toy.py``) trains from. The folder is named by the seed and a hash of the micro
    config, so that a changed config never gets an initialisation made by an older one."""
    import hashlib
    import json

    from unipixel_plugin.toy.model import make_micro_checkpoint, micro_config

    digest = hashlib.sha256(json.dumps(micro_config(), sort_keys=True).encode()).hexdigest()[:8]
    target = toy_root(root) / f'micro-init-s{seed}-{digest}'
    return create_once(target, lambda tmp: make_micro_checkpoint(tmp, seed=seed))


# the toy config's scenes: training and held-out splits (the seeds keep them apart)
TRAIN_SCENES = dict(num_images=1500, num_videos=300, seed=0)
HELDOUT_SCENES = dict(num_images=60, num_videos=30, seed=1001)


def ensure_toy_scenes(root: Optional[str] = None, split: str = 'train', num_images: Optional[int] = None,
                      num_videos: Optional[int] = None, seed: Optional[int] = None) -> Path:
    """A data root holding procedural toy scenes (:func:`unipixel_plugin.toy.scenes.write_scenes`) of one split
    (``'train'``, or ``'valid_u'`` for held-out scenes), made on first use; each parameter set is its own folder."""
    from unipixel_plugin.toy.scenes import write_scenes

    defaults = TRAIN_SCENES if split == 'train' else HELDOUT_SCENES
    num_images = defaults['num_images'] if num_images is None else num_images
    num_videos = defaults['num_videos'] if num_videos is None else num_videos
    seed = defaults['seed'] if seed is None else seed
    target = toy_root(root) / f'scenes-{split}-i{num_images}-v{num_videos}-s{seed}'
    return create_once(target, lambda tmp: write_scenes(tmp, num_images=num_images, num_videos=num_videos,
                                                        seed=seed, split=split))


__all__ = ['ensure_toy_checkpoint', 'ensure_micro_checkpoint', 'ensure_toy_scenes', 'toy_root', 'create_once',
           'TOY_ROOT_ENV', 'TRAIN_SCENES', 'HELDOUT_SCENES']
