"""Published numbers (percent), keyed by benchmark, split, protocol and metric: the reference rows of leaderboards.

Sources: the UniPixel README (3B / 7B) and the peers' papers as collected in ../shared/docs/UPSTREAM.md. A
leaderboard shows a delta to a published row only where benchmark, split, protocol and metric all match: e.g.
UniPixel's "MeViS (val)" is the official server's ``valid`` split, while Sa2VA reports ``valid_u``; UniPixel's
ReasonSeg numbers were scored by its own script, which counts LISA's "ignore" regions as background
(``ignore=background``), not with the LISA protocol (``ignore=exclude``). This package's lmms-eval tasks declare
their ``(benchmark, split, protocol)`` in their YAML (``metadata.unipixel``), which is what leaderboards match on.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Published:
    model: str
    benchmark: str
    split: str
    metric: str
    value: float  # percent
    protocol: str = 'default'
    source: str = ''


def _rows():
    readme = 'UniPixel README'
    out = []

    def add(models, benchmark, split, metric, values, protocol='default', source=readme):
        for model, value in zip(models, values):
            out.append(Published(model, benchmark, split, metric, value, protocol, source))

    uni = ('UniPixel-3B', 'UniPixel-7B')
    add(uni, 'revos', 'valid', 'J&F', (62.1, 63.7), 'overall')
    add(uni, 'mevis', 'valid', 'J&F', (53.1, 55.8), 'server')
    add(uni, 'ref_youtube_vos', 'valid', 'J&F', (70.5, 71.0), 'server')
    add(uni, 'ref_davis17', 'valid', 'J&F', (74.2, 76.4))
    add(uni, 'ref_sav', 'valid', 'J&F', (67.2, 69.0))
    add(uni, 'groundmore', 'test', 'J&F', (37.4, 37.8))
    for split, values in (('val', (80.5, 80.8)), ('testA', (82.6, 83.0)), ('testB', (76.9, 77.4))):
        add(uni, 'refcoco', split, 'cIoU', values)
    for split, values in (('val', (74.3, 75.3)), ('testA', (78.9, 80.1)), ('testB', (68.4, 70.0))):
        add(uni, 'refcoco+', split, 'cIoU', values)
    for split, values in (('val', (76.3, 76.4)), ('test', (77.0, 77.1))):
        add(uni, 'refcocog', split, 'cIoU', values)
    add(uni, 'reason_seg', 'val', 'gIoU', (64.0, 60.5), 'ignore=background')
    add(uni, 'reason_seg', 'val', 'cIoU', (56.2, 58.7), 'ignore=background')
    add(uni, 'videorefer_bench_q', 'single', 'accuracy', (72.2, 73.4))
    add(uni, 'videorefer_bench_q', 'multi', 'accuracy', (72.8, 74.1))
    add(uni, 'mvbench', 'test', 'accuracy', (62.5, 64.3))
    sa2va = ('Sa2VA-Qwen2.5-VL-3B', 'Sa2VA-Qwen2.5-VL-7B')
    add(sa2va, 'refcoco', 'val', 'cIoU', (79.6, 82.4), source='Sa2VA')
    add(sa2va, 'mevis', 'valid_u', 'J&F', (51.6, 56.4), source='Sa2VA')
    add(sa2va, 'ref_davis17', 'valid', 'J&F', (73.4, 79.4), source='Sa2VA')
    add(('VISA-13B', ), 'revos', 'valid', 'J&F', (50.9, ), 'overall', source='VISA')
    add(('VISA-13B', ), 'mevis', 'valid', 'J&F', (44.5, ), 'server', source='VISA')
    add(('GPT-4o', ), 'videorefer_bench_q', 'single', 'accuracy', (71.3, ), source='VideoRefer-Bench')
    add(('LISA-7B', ), 'refcoco', 'val', 'cIoU', (74.1, ), source='LISA')
    return tuple(out)


PUBLISHED = _rows()


def published_for(benchmark: str, split: str, metric: str, protocol: str = 'default') -> list[Published]:
    """The published rows that a measured value may be compared with (same benchmark, split, metric, protocol)."""
    return [p for p in PUBLISHED if (p.benchmark, p.split, p.metric, p.protocol) == (benchmark, split, metric,
                                                                                      protocol)]


__all__ = ['Published', 'PUBLISHED', 'published_for']
