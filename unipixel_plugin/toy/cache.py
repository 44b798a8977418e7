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


__all__ = ['ensure_toy_checkpoint', 'toy_root', 'create_once', 'TOY_ROOT_ENV']
