"""``unipixel score``: any model's prediction folder scored with this package's metrics, the same way for all.

Ref-VOS family (``revos``, ``mevis_valid_u``, ``ref_davis17``, ``ref_sav``): PRED is the PNG tree upstream and the
official scripts read, ``<video id>/<expression id>/<frame>.png`` (0/255; video ids may contain '/'). The ground
truth is read from the benchmark's native files where the dataset readers of :mod:`unipixel_plugin.data` say they
live (``data_root``, else ``$UNIPIXEL_DATA_ROOT``). A missing video folder scores 0 and counts (as the MeViS and
ReVOS scripts do); a missing frame PNG counts as an empty mask and is listed by name.

Scores are fractions under ``J``, ``F``, ``J&F`` (ReVOS: under ``referring``, ``reasoning``, ``overall``, plus ``A``
and ``R`` with the PNG convention named in ``protocol``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from unipixel_plugin.data.base import load_json, load_pickle, resolve_data_root
from unipixel_plugin.evaluation.metrics import running_anno_ids, score_prediction_folder


@dataclass(frozen=True)
class FolderBenchmark:
    reader: str  # the dataset reader whose file table locates the annotations
    split: str
    keying: str = 'anno_id'  # 'anno_id' (meta_expressions' anno ids) or 'running' (VISA's mask_dict.pkl)


FOLDER_BENCHMARKS = {
    'revos': FolderBenchmark('ReVOSDataset', 'valid'),
    'mevis_valid_u': FolderBenchmark('MeViSDataset', 'valid_u'),
    'ref_davis17': FolderBenchmark('RefDAVIS17Dataset', 'valid', keying='running'),
    'ref_sav': FolderBenchmark('RefSAVEvalDataset', 'valid'),
}
BENCHMARKS = tuple(FOLDER_BENCHMARKS)


def _reader(name: str):
    import unipixel_plugin.data  # noqa: F401  (registers the readers)
    from unipixel_plugin.registry import DATASETS
    return DATASETS.get(name)


def _annotation_file(root: str, rel: str, what: str) -> str:
    path = os.path.join(root, rel)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{what}: {path} not found (looked under the data root {root}; give --data-root or '
                                f'set UNIPIXEL_DATA_ROOT)')
    return path


def score_folder(benchmark: str, pred: str, data_root: str | None = None, split: str | None = None,
                 ar_convention: str = 'binary', round_percent: bool = True) -> dict:
    """Score the PNG tree ``pred`` on ``benchmark``; returns the JSON-able result (fractions)."""
    if benchmark not in FOLDER_BENCHMARKS:
        raise ValueError(f'unknown benchmark {benchmark!r}; expected one of {", ".join(BENCHMARKS)}')
    if not os.path.isdir(pred):
        raise FileNotFoundError(f'prediction folder {pred} not found')
    spec = FOLDER_BENCHMARKS[benchmark]
    split = split or spec.split
    reader = _reader(spec.reader)
    root = resolve_data_root(data_root)
    meta = load_json(_annotation_file(root, reader.META[split], f'{benchmark} {split} expressions'))
    videos = meta['videos']
    masks_rel = reader.MASKS.get(split)
    if masks_rel is None:
        raise ValueError(f'{benchmark} {split} has no public ground truth (scored by the official server only)')
    masks_path = _annotation_file(root, masks_rel, f'{benchmark} {split} masks')
    mask_dict = load_pickle(masks_path) if masks_path.endswith('.pkl') else load_json(masks_path)
    if spec.keying == 'running':
        videos = running_anno_ids(videos)
    foreground = None
    if benchmark == 'revos':
        fg_path = os.path.join(root, reader.FOREGROUND)
        foreground = load_json(fg_path) if os.path.isfile(fg_path) else None
    scores = score_prediction_folder(pred, videos, mask_dict, foreground=foreground,
                                     ar_convention=ar_convention if foreground is not None else None,
                                     on_error='zero' if benchmark == 'revos' else 'raise')
    out = {'benchmark': benchmark, 'split': split, 'prediction': os.path.abspath(pred),
           'missing_videos': scores.missing_videos,
           'missing_frames': [str(f) for f in scores.missing_frames], 'errors': [str(e) for e in scores.errors]}
    if benchmark == 'revos':
        summary = scores.revos_summary(round_percent=round_percent)
        names = {'referring': 'referring', 'reason': 'reasoning', 'overall': 'overall'}
        for key, name in names.items():
            values = summary[key]
            out[name] = {('J&F' if k == 'JF' else k): v / 100 for k, v in values.items()
                         if k in ('J', 'F', 'JF', 'A', 'R')}
        out['protocol'] = ('expressions rounded to 0.01 %' if round_percent else 'unrounded') + \
            (f'; A/R on {ar_convention} PNG values' if foreground is not None else '; no foreground file: no A/R')
    else:
        out.update({k: v for k, v in scores.summary().items() if k in ('J', 'F', 'J&F')})
        out['expressions'] = len(scores.expressions)
    return out


def format_table(result: dict) -> str:
    """A few readable lines of a :func:`score_folder` result (percent)."""
    head = f'{result["benchmark"]} ({result["split"]})'
    lines = []
    groups = [(n, result[n]) for n in ('referring', 'reasoning', 'overall') if n in result] or [('', result)]
    for name, values in groups:
        cells = '  '.join(f'{k} {100 * values[k]:6.2f}' for k in ('J', 'F', 'J&F', 'A', 'R') if k in values)
        lines.append(f'{head:28s} {name:10s} {cells}')
    if result['missing_videos']:
        lines.append(f'missing videos (scored 0): {len(result["missing_videos"])}, e.g. {result["missing_videos"][0]}')
    if result['missing_frames']:
        lines.append(f'missing frame PNGs (empty masks): {len(result["missing_frames"])}, e.g. '
                     f'{result["missing_frames"][0]}')
    return '\n'.join(lines)


__all__ = ['BENCHMARKS', 'FOLDER_BENCHMARKS', 'score_folder', 'format_table']
