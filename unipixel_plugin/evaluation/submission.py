"""Submission archives for the benchmarks whose ground truth is hidden and scored only by an official server:
MeViS ``valid`` and Ref-YouTube-VOS ``valid``.

Both servers take a zip of one PNG per (video, expression, frame): 8-bit grey, 0 = background, 255 = object (the
official tools write ``Image.fromarray(mask * 255).convert('L')``), named ``<video>/<expression id>/<frame>.png``
with the frame names of ``meta_expressions.json``. They differ in where that tree starts inside the zip:

* Ref-YouTube-VOS (CodaLab): under ``Annotations/`` (ReferFormer's and its successors' instructions:
  ``zip -q -r submission.zip Annotations``);
* MeViS (CodaLab 15094 / CodaBench 11420): the video folders at the top of the zip (the MeViS README:
  "sample_submission_valid.zip ... directly packages 140 val video folders"; its run_test.sh zips the contents of
  the prediction folder).

Every expression of the split must be in the archive, every frame of it: an expression the model gave no mask for is
written as empty masks, so the server scores it 0 rather than rejecting the file.
"""
from __future__ import annotations

import io
import logging
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Server:
    """Where a benchmark split is scored and how its archive is laid out."""
    name: str
    prefix: str  # folder inside the zip above the video folders ('' = at the top)
    urls: tuple[str, ...]


SERVERS = {
    'mevis': Server('MeViS valid', '', ('https://codalab.lisn.upsaclay.fr/competitions/15094',
                                        'https://www.codabench.org/competitions/11420/')),
    'ref_youtube_vos': Server('Ref-YouTube-VOS valid', 'Annotations/',
                              ('https://codalab.lisn.upsaclay.fr/competitions/3282', )),
}


def png_bytes(mask: np.ndarray) -> bytes:
    """A ``(H, W)`` mask as the servers read it: an 8-bit grey PNG, 0 or 255."""
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(np.where(np.asarray(mask) != 0, 255, 0).astype(np.uint8)).save(buffer, format='PNG')  # 'L'
    return buffer.getvalue()


def archive_member(benchmark: str, video: str, expression: str, frame: str) -> str:
    """The path of one frame's PNG inside ``benchmark``'s archive."""
    return f'{SERVERS[benchmark].prefix}{video}/{expression}/{frame}.png'


def write_submission(benchmark: str, expressions: Iterable[tuple[str, str, list[str], Iterable[np.ndarray]]],
                     path: str) -> dict:
    """Write ``benchmark``'s server archive to ``path`` (a ``.zip``).

    Args:
        benchmark: a key of :data:`SERVERS` (``'mevis'``, ``'ref_youtube_vos'``).
        expressions: ``(video id, expression id, frame names, masks)`` per expression, ``masks`` one ``(H, W)``
            bool mask per frame name, in order (an iterable, so a caller may decode them one at a time).
        path: the archive to write; its folder is created. Written to ``path + '.part'`` first and renamed, so a
            run stopped halfway leaves no archive that looks complete.

    Returns:
        ``{'path', 'expressions', 'frames'}`` counts of what was written.
    """
    if benchmark not in SERVERS:
        raise ValueError(f'no server archive for {benchmark!r}; known: {sorted(SERVERS)}')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = path + '.part'
    count, frames, seen = 0, 0, set()
    with zipfile.ZipFile(partial, 'w', compression=zipfile.ZIP_DEFLATED) as archive:
        for video, expression, names, masks in expressions:
            if (video, expression) in seen:
                raise ValueError(f'{benchmark}: expression {video}/{expression} is given twice')
            seen.add((video, expression))
            written = 0
            for name, mask in zip(names, masks):
                archive.writestr(archive_member(benchmark, video, str(expression), name), png_bytes(mask))
                written += 1
            if written != len(names):
                raise ValueError(f'{benchmark}: expression {video}/{expression} has {len(names)} frames but '
                                 f'{written} masks')
            count += 1
            frames += written
    os.replace(partial, path)
    return {'path': os.path.abspath(path), 'expressions': count, 'frames': frames}


def announce(task: str, benchmark: str, written: dict) -> str:
    """The log line that says where the archive is and that the scores come from the server."""
    server = SERVERS[benchmark]
    message = (f'{task}: {server.name} has no public ground truth, so this run computes no score. The submission '
               f'archive for the official server is {written["path"]} ({written["expressions"]} expressions, '
               f'{written["frames"]} frame PNGs); upload it to {" or ".join(server.urls)} for J, F and J&F.')
    logger.warning(message)
    return message


__all__ = ['Server', 'SERVERS', 'png_bytes', 'archive_member', 'write_submission', 'announce']
