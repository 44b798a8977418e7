"""Toy UniPixel models and data for offline work: tests, the CLI's default model, benchmarks and the tiny configs.

* :mod:`.checkpoint`: the one tiny-checkpoint factory (:func:`make_tiny_checkpoint`, official-layout folders);
* :mod:`.cache`: the one cache folder they are made in, once (``$UNIPIXEL_TOY_ROOT``);
* :mod:`.refvos`: procedural referring-video data in MeViS' layout and its reader (``ToyRefVOSDataset``);
* :mod:`.scenes`, :mod:`.model`, :mod:`.evaluate`: the micro UniPixel that is to train from scratch on a CPU
  (work in progress: docs/toy_research.md).

Importing this package is light; the submodules import the model and data code they need.
"""
from pathlib import Path


def sample_media(kind: str = 'image') -> Path:
    """The bundled sample media: ``'image'`` (160x120: a red square and a blue circle) or ``'video'`` (16 frames)."""
    if kind not in ('image', 'video'):
        raise ValueError(f"sample media kind must be 'image' or 'video', got {kind!r}")
    here = Path(__file__).resolve().parent.parent / 'assets'
    return here / ('sample.png' if kind == 'image' else 'sample.mp4')


__all__ = ['sample_media']
