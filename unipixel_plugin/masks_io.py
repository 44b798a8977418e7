"""Masks in and out: COCO RLE (pycocotools) and PNG files."""
from __future__ import annotations

import numpy as np
from PIL import Image


def encode_rle(mask: np.ndarray) -> dict:
    """``(H, W)`` bool -> COCO RLE ``{"size": [H, W], "counts": str}``."""
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {'size': [int(s) for s in rle['size']], 'counts': rle['counts'].decode('ascii')}


def decode_rle(rle: dict) -> np.ndarray:
    """COCO RLE (compressed string or uncompressed list counts) -> ``(H, W)`` bool."""
    from pycocotools import mask as mask_utils
    if isinstance(rle.get('counts'), list):
        rle = mask_utils.frPyObjects(rle, *rle['size'])
    elif isinstance(rle.get('counts'), str):
        rle = {'size': rle['size'], 'counts': rle['counts'].encode('ascii')}
    return mask_utils.decode(rle).astype(bool)


def save_mask_png(path: str, mask: np.ndarray) -> None:
    """Write a 0/255 single-channel PNG (the convention of UniPixel's and ReVOS' prediction files)."""
    Image.fromarray(np.asarray(mask, dtype=np.uint8) * 255).save(path)


def load_mask_png(path: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a mask PNG (any non-zero pixel is foreground); check its ``(H, W)`` against ``size`` if given."""
    import os
    if not os.path.isfile(path):
        raise FileNotFoundError(f'mask file not found: {path}')
    try:
        with Image.open(path) as img:
            mask = np.asarray(img.convert('L')) > 0
    except Exception as err:
        raise ValueError(f'cannot read mask {path}: {err}') from err
    if size is not None and mask.shape != tuple(size):
        raise ValueError(f'mask {path} is {mask.shape[1]}x{mask.shape[0]} but the media is {size[1]}x{size[0]}')
    return mask


__all__ = ['encode_rle', 'decode_rle', 'save_mask_png', 'load_mask_png']
