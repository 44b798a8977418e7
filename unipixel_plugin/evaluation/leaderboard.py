"""Side-by-side leaderboards from lmms-eval results files and ``unipixel score`` JSONs, of any models.

:func:`read_results` turns either kind of file into :class:`Entry` rows (model, benchmark, split, protocol,
metric, value in percent); :func:`render` writes ``leaderboard.md``, ``leaderboard.html`` and one bar chart PNG per
benchmark, optionally with the published rows (:mod:`.published`) and deltas where benchmark, split, protocol and
metric match.

Values: ``unipixel score`` writes fractions; lmms-eval results are read as fractions when <= 1 (the tasks of this
package report fractions, as lmms-eval's own tasks mostly do) and as percent otherwise.
"""
from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from unipixel_plugin.evaluation.published import PUBLISHED, published_for

METRIC_NAMES = {'j': 'J', 'f': 'F', 'jf': 'J&F', 'j&f': 'J&F', 'j_and_f': 'J&F', 'ciou': 'cIoU', 'giou': 'gIoU',
                'acc': 'accuracy', 'accuracy': 'accuracy', 'a': 'A', 'r': 'R', 'volume_j': 'volume J',
                'pixel_f1': 'pixel F1'}
SUBSETS = ('referring', 'reasoning', 'overall')
TASK_PREFIX = 'unipixel_'


@dataclass(frozen=True)
class Entry:
    model: str
    benchmark: str
    split: str
    metric: str
    value: float  # percent
    protocol: str = 'default'
    published: bool = False

    @property
    def key(self):
        return self.benchmark, self.split, self.protocol, self.metric


def metric_name(name: str) -> str | None:
    """Canonical metric name of an lmms-eval / score key (``'j_and_f,none'`` -> ``'J&F'``), or None."""
    base = name.split(',')[0].strip()
    if base.endswith('_stderr'):
        return None
    return METRIC_NAMES.get(base.lower(), base if base in METRIC_NAMES.values() else None)


# task-name spellings of benchmarks and protocol suffixes (for results files written before the tasks declared
# their ``metadata.unipixel``)
BENCHMARK_ALIASES = {'reasonseg': 'reason_seg'}
PROTOCOL_SUFFIXES = {'_ignore_background': 'ignore=background'}
DEFAULT_PROTOCOLS = {'reason_seg': 'ignore=exclude'}


def task_key(task: str) -> tuple[str, str, str]:
    """``(benchmark, split, protocol)`` of a task name: ``unipixel_<benchmark>_<split>[_<protocol>]`` (the splits
    of this package's tasks), ``pixelqa_<mode>``, or ``(task, '', 'default')`` for any other task. The tasks of this
    package also declare the triple in their ``metadata.unipixel``, which :func:`read_results` prefers."""
    name = task[len(TASK_PREFIX):] if task.startswith(TASK_PREFIX) else task
    protocol = None
    for suffix, value in PROTOCOL_SUFFIXES.items():
        if task.startswith(TASK_PREFIX) and name.endswith(suffix):
            name, protocol = name[:-len(suffix)], value
    match = re.match(r'^(.*)_(val|valid|valid_u|test|testA|testB|single|multi|point|box|mix)$', name)
    if match and (task.startswith(TASK_PREFIX) or name.startswith('pixelqa')):
        benchmark = BENCHMARK_ALIASES.get(match.group(1), match.group(1))
        return benchmark, match.group(2), protocol or DEFAULT_PROTOCOLS.get(benchmark, 'default')
    return name, '', 'default'


def declared_key(config: dict | None) -> tuple[str, str, str] | None:
    """``(benchmark, split, protocol)`` a task config declares in ``metadata.unipixel`` (this package's tasks; lmms-eval
    copies each task's config into the results file under ``configs``), or None."""
    metadata = (config or {}).get('metadata') if isinstance(config, dict) else None
    declared = metadata.get('unipixel') if isinstance(metadata, dict) else None
    if not isinstance(declared, dict) or not declared.get('benchmark'):
        return None
    return str(declared['benchmark']), str(declared.get('split', '')), str(declared.get('protocol', 'default'))


def _percent(value: float, fraction: bool) -> float:
    return 100.0 * value if fraction else float(value)


def read_results(path, model: str | None = None) -> list[Entry]:
    """Entries of one lmms-eval ``*_results.json`` or one ``unipixel score`` JSON (``model`` names the rows)."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict):
        raise ValueError(f'{path}: neither an lmms-eval results file nor a unipixel score JSON (not an object)')
    if 'results' in data:  # lmms-eval
        config = data.get('config') or {}
        name = model or _lmms_model_name(config, path)
        out = []
        configs = data.get('configs') or {}
        for task, metrics in data['results'].items():
            declared = declared_key(configs.get(task))
            benchmark, split, protocol = declared or task_key(task)
            if declared is None and benchmark == 'revos' and task.startswith(TASK_PREFIX):
                protocol = 'overall'  # this package's ReVOS task reports the overall score
            for key, value in metrics.items():
                metric = metric_name(key)
                if metric is None or not isinstance(value, (int, float)) or isinstance(value, bool):
                    continue
                out.append(Entry(name, benchmark, split, metric, _percent(value, value <= 1.0), protocol))
        return out
    if 'benchmark' in data:  # unipixel score
        name = model or data.get('model') or Path(path).stem
        benchmark, split = data['benchmark'], data.get('split', '')
        protocol = data.get('protocol', 'default')
        out = []
        groups = [(s, data[s]) for s in SUBSETS if isinstance(data.get(s), dict)] or [(protocol, data)]
        for subset, values in groups:
            for key, value in values.items():
                metric = metric_name(key)
                if metric is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
                    out.append(Entry(name, benchmark, split, metric, _percent(value, True), subset))
        return out
    raise ValueError(f'{path}: neither an lmms-eval results file ("results") nor a unipixel score JSON '
                     '("benchmark")')


def _lmms_model_name(config: dict, path) -> str:
    args = str(config.get('model_args') or '')
    pretrained = re.search(r'pretrained=([^,]+)', args)
    model = str(config.get('model') or Path(path).parent.name)
    return f'{model} ({Path(pretrained.group(1)).name})' if pretrained else model


def with_published(entries: list[Entry]) -> list[Entry]:
    """``entries`` plus the published rows of the benchmarks they cover."""
    benchmarks = {e.benchmark for e in entries}
    extra = [Entry(p.model + ' (published)', p.benchmark, p.split, p.metric, p.value, p.protocol, True)
             for p in PUBLISHED if p.benchmark in benchmarks]
    return list(entries) + extra


def deltas(entries: list[Entry]) -> list[tuple[Entry, str, float]]:
    """``(measured entry, published model, measured - published)`` where benchmark, split, protocol, metric match."""
    out = []
    for e in entries:
        if e.published:
            continue
        for p in published_for(e.benchmark, e.split, e.metric, e.protocol):
            out.append((e, p.model, e.value - p.value))
    return out


def _columns(entries):
    return sorted({e.key for e in entries})


def _table(entries):
    columns = _columns(entries)
    models = list(dict.fromkeys(e.model for e in entries))
    cells = {(e.model, e.key): e.value for e in entries}
    return columns, models, cells


def _header(key):
    benchmark, split, protocol, metric = key
    parts = [benchmark, split, metric] + ([protocol] if protocol != 'default' else [])
    return ' '.join(p for p in parts if p)


def render(entries: list[Entry], out_dir, title: str = 'UniPixel leaderboard') -> dict:
    """Write ``leaderboard.md``, ``leaderboard.html`` and ``<benchmark>.png`` charts under ``out_dir``.

    Returns the paths written: ``{'markdown': ..., 'html': ..., 'charts': [...]}``.
    """
    if not entries:
        raise ValueError('no results to put on a leaderboard: none of the files held a known metric')
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    columns, models, cells = _table(entries)
    lines = [f'# {title}', '', 'Values in percent.', '',
             '| model | ' + ' | '.join(_header(c) for c in columns) + ' |',
             '|---|' + '---|' * len(columns)]
    for m in models:
        lines.append(f'| {m} | ' + ' | '.join(f'{cells[(m, c)]:.1f}' if (m, c) in cells else '–' for c in columns)
                     + ' |')
    found = deltas(entries)
    if found:
        lines += ['', '## Deltas to published numbers (same benchmark, split, protocol and metric)', '',
                  '| model | result | published | delta |', '|---|---|---|---|']
        lines += [f'| {e.model} | {_header(e.key)} {e.value:.1f} | {p} | {d:+.1f} |' for e, p, d in found]
    markdown = out_dir / 'leaderboard.md'
    markdown.write_text('\n'.join(lines) + '\n')

    rows = ''.join('<tr><th>' + html.escape(m) + '</th>' +
                   ''.join(f'<td>{cells[(m, c)]:.1f}</td>' if (m, c) in cells else '<td>–</td>' for c in columns)
                   + '</tr>\n' for m in models)
    page = (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            '<style>table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px;text-align:right}'
            '</style></head><body>'
            f'<h1>{html.escape(title)}</h1><p>Values in percent.</p><table><tr><th>model</th>'
            + ''.join(f'<th>{html.escape(_header(c))}</th>' for c in columns) + '</tr>\n' + rows + '</table>')
    if found:
        page += '<h2>Deltas to published numbers</h2><table><tr><th>model</th><th>result</th><th>published</th>' \
                '<th>delta</th></tr>' + ''.join(
                    f'<tr><th>{html.escape(e.model)}</th><td>{html.escape(_header(e.key))} {e.value:.1f}</td>'
                    f'<td>{html.escape(p)}</td><td>{d:+.1f}</td></tr>' for e, p, d in found) + '</table>'
    page_path = out_dir / 'leaderboard.html'
    page_path.write_text(page + '</body></html>\n')
    return {'markdown': str(markdown), 'html': str(page_path), 'charts': _charts(entries, out_dir)}


def _charts(entries, out_dir: Path) -> list[str]:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    by_benchmark = defaultdict(list)
    for e in entries:
        by_benchmark[e.benchmark].append(e)
    paths = []
    for benchmark, group in sorted(by_benchmark.items()):
        columns, models, cells = _table(group)
        fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(columns) * max(1, len(models)) / 2 + 2), 3.6))
        width = 0.8 / max(1, len(models))
        for i, m in enumerate(models):
            xs = [j + i * width for j, c in enumerate(columns) if (m, c) in cells]
            ys = [cells[(m, c)] for c in columns if (m, c) in cells]
            bars = ax.bar(xs, ys, width, label=m, hatch='//' if m.endswith('(published)') else None)
            ax.bar_label(bars, fmt='%.1f', fontsize=7)
        ax.set_xticks([j + width * (len(models) - 1) / 2 for j in range(len(columns))])
        ax.set_xticklabels([_header(c)[len(benchmark):].strip() or benchmark for c in columns], fontsize=8)
        ax.set_ylabel('%')
        ax.set_ylim(0, 105)
        ax.set_title(benchmark)
        ax.legend(fontsize=7, loc='lower right')
        fig.tight_layout()
        path = out_dir / f'{re.sub(r"[^A-Za-z0-9_+.-]", "_", benchmark)}.png'
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(str(path))
    return paths


__all__ = ['Entry', 'read_results', 'with_published', 'deltas', 'render', 'task_key', 'declared_key', 'metric_name']
