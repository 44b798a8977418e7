"""``unipixel data check ROOT``: which datasets a data root holds, how many samples, and every problem found.

For each reader and split whose annotation files are present, the check parses the annotations with the reader
training and evaluation use. A broken file (unparseable, wrong structure) is one problem naming it and the split is
not checked further; a bad annotation item (an ``anno_id`` missing from the mask dict, masks for another number of
frames than the video, an empty expression, a malformed entry) is skipped by the reader and reported, one line
each, naming the file and the video / expression, while the rest of the split loads and is checked. Then every
sample is looked at: empty expressions, missing, unreadable or truncated images / frames / videos, frames of one
video that differ in size, masks whose size disagrees with their frame, malformed RLEs, missing mask PNGs / JSON
mask files, and objects with no mask at all. Image headers and the end of each JPEG / PNG (its end-of-image marker:
a cheap test for truncation) are read, not the pixels, and RLEs are validated (not decoded) unless ``decode=True``
(``--decode``), which decodes everything (and also finds semantic label maps without any class). A root that holds
no known dataset is an error.

Also runnable as ``python -m unipixel_plugin.data.check ROOT``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence

from .base import AnnotationProblem, UniPixelDataset
from .formats import READERS
from ..masks import MaskError, rle_string_counts
from .mask_parts import decode_part, json_entry, part_size
from .media import MediaError, VideoFile, read_image, read_image_size, truncated_image
from .schema import MaskPart, ObjectMasks, Sample

PROBLEM_KINDS = ('dataset_missing', 'malformed_annotation', 'empty_expression', 'missing_media', 'unreadable_media',
                 'truncated_media', 'frame_size', 'mask_size', 'malformed_mask', 'missing_mask', 'empty_mask')
# kinds that do not make the report fail: suspicious but legal (upstream notes 5 mask-less Ref-DAVIS17 expressions)
WARNING_KINDS = ('empty_mask',)


@dataclass
class Problem:
    """One thing wrong: what (``kind``), where (``dataset``, ``split``, ``sample``, ``path``) and a message."""
    kind: str
    dataset: str
    split: Optional[str]
    message: str
    sample: Optional[str] = None
    path: Optional[str] = None

    @property
    def severity(self) -> str:
        return 'warning' if self.kind in WARNING_KINDS else 'error'

    def __str__(self):
        where = f'{self.dataset}/{self.split}' if self.split else self.dataset
        sample = f' [{self.sample}]' if self.sample else ''
        return f'{self.kind:<20} {where}{sample}: {self.message}'


@dataclass
class DatasetReport:
    """One reader + split: whether its annotations are present, the sample count (of the samples that load), the
    annotation items the reader skipped, and its problems (those of the skipped items included)."""
    dataset: str
    split: str
    present: bool
    samples: int = 0
    skipped: int = 0
    missing: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Report:
    """Result of :func:`check_data_root`."""
    root: str
    datasets: list[DatasetReport] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # not tied to one split (e.g. unknown dataset name)

    @property
    def all_problems(self) -> list[Problem]:
        return self.problems + [p for d in self.datasets for p in d.problems]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.all_problems if p.severity == 'error']

    @property
    def ok(self) -> bool:
        """No errors (warnings such as ``empty_mask`` are allowed)."""
        return not self.errors

    @property
    def present(self) -> list[DatasetReport]:
        return [d for d in self.datasets if d.present]

    def to_dict(self) -> dict:
        return {'root': self.root, 'ok': self.ok, 'datasets': [asdict(d) for d in self.datasets],
                'problems': [dict(asdict(p), severity=p.severity) for p in self.all_problems]}

    def format(self, max_problems: int = 50) -> str:
        lines = [f'data root: {self.root}']
        any_present = bool(self.present)
        for d in self.datasets:
            if d.present:
                skipped = f'  {d.skipped} item(s) skipped' if d.skipped else ''
                lines.append(f'  [present] {d.dataset:<40} {d.split:<8} {d.samples:>8} samples{skipped}  '
                             f'{len(d.problems)} problem(s)')
            elif any_present:  # with nothing present, the problem below says what was looked for
                lines.append(f'  [absent]  {d.dataset:<40} {d.split:<8} missing: {", ".join(d.missing)}')
        problems = self.all_problems
        lines.append(f'{len(problems)} problem(s), {len(self.errors)} error(s)' + (':' if problems else ''))
        lines += [f'  {p.severity:<7} {p}' for p in problems[:max_problems]]
        if len(problems) > max_problems:
            lines.append(f'  ... {len(problems) - max_problems} more (use --json for all of them)')
        return '\n'.join(lines)


class _SampleChecker:
    """Checks samples of one dataset split, caching what several samples share (frames, videos)."""

    def __init__(self, report: DatasetReport, decode: bool):
        self.report = report
        self.decode = decode
        self.sizes: dict[str, Optional[tuple[int, int]]] = {}  # frame path -> (H, W) or None if bad
        self.videos: dict[str, Optional[tuple[int, tuple[int, int]]]] = {}  # video -> (length, (H, W))
        self.missing_files: set[str] = set()  # JSON mask files already reported missing
        self.checked_pngs: set[str] = set()  # mask / label PNGs whose end was already looked at

    def problem(self, kind: str, message: str, sample: Optional[Sample] = None, path: Optional[str] = None):
        self.report.problems.append(Problem(kind, self.report.dataset, self.report.split, message,
                                            sample.key if sample else None, path))

    def frame_size(self, path: str, sample: Sample) -> Optional[tuple[int, int]]:
        if path not in self.sizes:
            size = None
            if not os.path.isfile(path):
                self.problem('missing_media', f'missing file {path}', sample, path)
            else:
                truncated = self.truncated(path)
                try:
                    size = read_image(path).shape[:2] if self.decode else read_image_size(path)
                except MediaError as err:
                    if truncated:
                        self.problem('truncated_media', f'{path}: {truncated}; decoding it fails: {err}', sample, path)
                    else:
                        self.problem('unreadable_media', str(err), sample, path)
                else:
                    if truncated:  # the header is there, so the masks can still be checked against its size
                        self.problem('truncated_media', f'{path}: {truncated}', sample, path)
            self.sizes[path] = size
        return self.sizes[path]

    @staticmethod
    def truncated(path: str) -> Optional[str]:
        """Why the image at ``path`` looks truncated (its end marker is missing), read cheaply; ``None`` if not."""
        try:
            return truncated_image(path)
        except OSError:
            return None  # unreadable: reading its header reports it

    def video(self, path: str, sample: Sample) -> Optional[tuple[int, tuple[int, int]]]:
        if path not in self.videos:
            info = None
            if not os.path.isfile(path):
                self.problem('missing_media', f'missing video {path}', sample, path)
            else:
                try:
                    with VideoFile(path) as video:
                        frames = video.read(None if self.decode else [0])
                        info = (len(video), tuple(frames.shape[1:3]))
                except MediaError as err:
                    self.problem('unreadable_media', str(err), sample, path)
            self.videos[path] = info
        return self.videos[path]

    def timeline_sizes(self, sample: Sample) -> list[Optional[tuple[int, int]]]:
        """Size of each timeline frame (``None`` where unknown / unreadable); reports media problems."""
        if sample.media_type in ('image', 'frames'):
            sizes = [self.frame_size(p, sample) for p in sample.media]
            known = {s for s in sizes if s is not None}
            if len(known) > 1:
                self.problem('frame_size', f'frames differ in size: {sorted(known)} '
                             f'(under {os.path.dirname(sample.media[0])})', sample)
            return sizes
        if sample.media_type == 'video':
            info = self.video(sample.media[0], sample)
            if info is None:
                return [None] * (sample.num_frames or 0)
            length, size = info
            indices = sample.frame_indices if sample.frame_indices is not None else \
                range(0, length, sample.frame_stride)
            bad = [i for i in indices if not 0 <= i < length]
            if bad:
                self.problem('missing_media', f'video {sample.media[0]} has {length} frames, annotation uses '
                             f'frames {bad[:5]}', sample, sample.media[0])
            return [size] * len(indices)
        return []

    def check_part(self, part: MaskPart, frame_size: Optional[tuple[int, int]], sample: Sample, t: int) -> bool:
        """Check one mask part against its frame; ``False`` when a problem was reported."""
        where = part.source or self.report.dataset
        try:
            if part.kind in ('png', 'json'):
                if not os.path.isfile(part.data):
                    if part.kind == 'png' or part.data not in self.missing_files:
                        self.problem('missing_mask', f'missing mask file {part.data}', sample, part.data)
                        self.missing_files.add(part.data)
                    return False
            if part.kind == 'png' and part.data not in self.checked_pngs:
                self.checked_pngs.add(part.data)  # a label PNG serves several objects: look at its end once
                truncated = self.truncated(part.data)
                if truncated:
                    self.problem('truncated_media', f'{part.data}: {truncated}', sample, part.data)
            if self.decode:
                size = decode_part(part, frame_size).shape
            elif part.kind == 'png':
                size = read_image_size(part.data)
            elif part.kind == 'json':
                size = self._validate_entry(json_entry(part))
            else:
                size = part_size(part)
                if part.kind == 'rle':
                    self._validate_rle(part.data)
        except (MaskError, MediaError, ValueError) as err:
            self.problem('malformed_mask', f'frame {t}: {err}', sample, where)
            return False
        if size is not None and frame_size is not None and tuple(size) != tuple(frame_size):
            self.problem('mask_size', f'frame {t}: mask is {size[1]}x{size[0]} (WxH) but the frame is '
                         f'{frame_size[1]}x{frame_size[0]} (from {where})', sample, where)
            return False
        return True

    @classmethod
    def _validate_entry(cls, entry) -> Optional[tuple[int, int]]:
        """Validate an entry of a JSON mask file without decoding; the size of its first RLE (``None``: none)."""
        if entry is None:
            return None
        if isinstance(entry, dict):
            cls._validate_rle(entry)
            return tuple(entry['size'])
        if isinstance(entry, list):
            if entry and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in entry):
                if len(entry) < 6 or len(entry) % 2:
                    raise MaskError(f'malformed polygon: expected an even number (>= 6) of coordinates, got '
                                    f'{len(entry)}')
                return None
            sizes = [cls._validate_entry(item) for item in entry]
            return next((size for size in sizes if size is not None), None)
        raise MaskError(f'malformed mask entry: expected a COCO RLE, null, a polygon or a list, got {str(entry)[:80]}')

    @staticmethod
    def _validate_rle(rle):
        if not isinstance(rle, dict) or 'size' not in rle or 'counts' not in rle:
            raise MaskError(f'malformed COCO RLE: expected {{"size", "counts"}}, got {str(rle)[:80]}')
        h, w = rle['size']
        counts = rle['counts']
        runs = counts if isinstance(counts, list) else rle_string_counts(
            counts.encode('ascii') if isinstance(counts, str) else counts)
        if any(r < 0 for r in runs) or sum(runs) != h * w:
            raise MaskError(f'malformed COCO RLE: runs sum to {sum(runs)}, expected {h}*{w}={h * w}')

    def check(self, sample: Sample):
        queries = [sample.query] if sample.query is not None else []
        queries += sample.meta.get('queries', [])
        if any(not str(q).strip() for q in queries):
            self.problem('empty_expression', 'an expression / query text is empty', sample)
        if any(turn['role'] == 'user' and not str(turn['content']).strip() for turn in sample.conversation):
            self.problem('empty_expression', 'a user turn is empty', sample)
        sizes = self.timeline_sizes(sample)
        for obj in sample.objects + ([sample.ignore] if sample.ignore else []):
            self.check_object(obj, sizes, sample)
        if sample.meta.get('label_map'):
            self.check_label_map(sample, sizes[0] if sizes else None)

    def check_object(self, obj: ObjectMasks, sizes: list, sample: Sample):
        if obj.is_dense and len(obj.frames) != len(sizes) and sample.media_type != 'none':
            self.problem('malformed_annotation', f'object {obj.object_id!r} has masks for {len(obj.frames)} '
                         f'frames but the sample has {len(sizes)}', sample)
            return
        if obj.positions is not None and sizes and obj.positions[-1:] and obj.positions[-1] >= len(sizes):
            self.problem('malformed_annotation', f'object {obj.object_id!r} is annotated on timeline position '
                         f'{obj.positions[-1]} but the sample has {len(sizes)} frames', sample)
            return
        # an expression without any object ("no target" expressions of MeViS) is legal; one that names
        # objects but has no mask anywhere is suspicious
        if obj is not sample.ignore and obj.object_id not in (None, []) and not obj.has_masks():
            self.problem('empty_mask', f'object {obj.object_id!r} has no mask on any frame', sample)
        if obj.track is not None:
            if not sizes:  # unreadable video: the file can still be missing
                self.check_part(obj.parts(0)[0], None, sample, 0)
            for t, size in enumerate(sizes):  # a track's problems repeat on every frame: report the first
                if not self.check_part(obj.parts(t)[0], size, sample, t):
                    break
            return
        positions = obj.positions if obj.positions is not None else range(len(obj.frames))
        for t, parts in zip(positions, obj.frames):
            for part in parts or ():
                self.check_part(part, sizes[t] if t < len(sizes) else None, sample, t)

    def check_label_map(self, sample: Sample, frame_size: Optional[tuple[int, int]]):
        """A semantic label map: present and of the image's size; with ``decode``, also holding some class."""
        path = sample.meta['label_map']['file']
        if not self.check_part(MaskPart('png', path, source=path), frame_size, sample, 0) or not self.decode:
            return
        from .formats.semantic import expand_label_map
        from .pipeline import EmptyMaskError
        try:
            expand_label_map(sample)
        except EmptyMaskError as err:
            self.problem('empty_mask', str(err), sample, path)
        except MaskError as err:
            self.problem('malformed_mask', str(err), sample, path)


def check_dataset(root: str, name: str, split: str, decode: bool = False,
                  max_samples: Optional[int] = None) -> DatasetReport:
    """Check one reader (by upstream name) and split under ``root``."""
    cls: type[UniPixelDataset] = READERS[name]
    missing = cls.missing_files(root, split)
    report = DatasetReport(name, split, present=not missing, missing=missing)
    if missing:
        return report
    try:
        dataset = cls(data_root=root, split=split, serialize_data=False, lazy_init=True)
        dataset.log_problems = False  # reported below, one line each
        dataset.full_init()
    except Exception as err:  # a broken file: the split does not load
        report.problems.append(Problem('malformed_annotation', name, split, f'{type(err).__name__}: {err}'))
        return report
    report.samples = len(dataset)
    report.skipped = len(dataset.problems)
    report.problems += [reader_problem(name, split, p) for p in dataset.problems]
    checker = _SampleChecker(report, decode)
    for i in range(len(dataset) if max_samples is None else min(max_samples, len(dataset))):
        checker.check(dataset.data_list[i])
    return report


def reader_problem(name: str, split: str, problem: AnnotationProblem) -> Problem:
    """A skipped annotation item as a report line: its kind, the item (``name:video/expression``), the message (which
    names the file) and the file."""
    item = problem.sample or problem.video
    return Problem(problem.kind, name, split, problem.message, f'{name}:{item}' if item else None, problem.file)


def present_readers(root: str, splits: Optional[Sequence[str]] = None) -> list[str]:
    """``name/split`` of every reader split whose annotation files are all under ``root``."""
    found = []
    for name, cls in READERS.items():
        for split in wanted_splits(cls, splits):
            if not cls.missing_files(root, split):
                found.append(f'{name}/{split}')
    return found


def wanted_splits(cls: type[UniPixelDataset], splits: Optional[Sequence[str]] = None) -> list[str]:
    """The reader's splits, or those of ``splits`` it has (aliases such as ``val`` / ``valid`` resolved)."""
    if splits is None:
        return list(cls.SPLITS)
    wanted = []
    for s in splits:
        try:
            wanted.append(cls.canonical_split(s))
        except ValueError:
            continue
    return list(dict.fromkeys(wanted))


def no_dataset_problem(root: str, splits: Optional[Sequence[str]] = None) -> Problem:
    """The problem of a root without any known dataset: what was looked for, and where datasets are if they are one
    folder down (a root given one level too high)."""
    examples = [READERS[n].required_files(s)[0] for n, s in (('mevis', 'train'), ('revos', 'train'),
                                                             ('ref_youtube_vos', 'train'), ('refcoco', 'train'),
                                                             ('videorefer_bench_q', 'test'))]
    only = f' (splits {", ".join(splits)})' if splits else ''
    message = (f'no known dataset{only} found under {root}: looked for the annotation files of the {len(READERS)} '
               f'datasets of --datasets (see --help), e.g. {", ".join(examples)}; the root is upstream\'s data/ '
               'folder, laid out as docs/data.md says')
    try:
        subfolders = sorted(e.path for e in os.scandir(root) if e.is_dir())[:20]
    except OSError:
        subfolders = []
    for sub in subfolders:
        found = present_readers(sub, splits)
        if found:
            message += f'. {sub} holds {", ".join(found[:5])}{" ..." if len(found) > 5 else ""}: is that the root?'
            break
    return Problem('dataset_missing', '*', None, message)


def check_data_root(root: str, datasets: Optional[Sequence[str]] = None, splits: Optional[Sequence[str]] = None,
                    decode: bool = False, max_samples: Optional[int] = None) -> Report:
    """Check a data root (upstream's ``data/`` folder).

    Args:
        root: the data root.
        datasets: upstream names to check (``'mevis'``, ``'refcoco+'`` ...; see ``READERS``); default all. A
            dataset named here but absent is a problem; otherwise absent datasets are just listed, unless none at
            all is present (a problem: the root holds no known dataset).
        splits: restrict to these splits (aliases like ``val`` / ``valid`` accepted).
        decode: decode every image, video and mask instead of reading headers and validating RLEs.
        max_samples: check at most this many samples per split (counts are still complete).

    Returns:
        :class:`Report` (``report.ok``, ``report.format()``, ``report.to_dict()``).
    """
    report = Report(root=os.path.abspath(root))
    if not os.path.isdir(root):
        report.problems.append(Problem('dataset_missing', '*', None, f'data root {root} is not a folder'))
        return report
    names = list(READERS) if datasets is None else list(datasets)
    for name in names:
        if name not in READERS:
            report.problems.append(Problem('dataset_missing', name, None, f'unknown dataset {name!r}; known: '
                                           f'{", ".join(READERS)}'))
            continue
        cls = READERS[name]
        wanted = wanted_splits(cls, splits)
        for split in wanted:
            report.datasets.append(check_dataset(root, name, split, decode, max_samples))
        if datasets is not None and not any(d.present for d in report.datasets if d.dataset == name):
            report.problems.append(Problem('dataset_missing', name, None, f'{name} was asked for but none of its '
                                           f'splits {wanted} is present under {root}'))
    if datasets is None and not report.present:
        report.problems.append(no_dataset_problem(root, splits))
    return report


def add_check_arguments(parser: argparse.ArgumentParser):
    parser.add_argument('root', metavar='ROOT', help='data root (upstream\'s data/ folder; see docs/data.md)')
    parser.add_argument('--datasets', nargs='+', metavar='NAME',
                        help=f'datasets to check (default: all): {", ".join(READERS)}')
    parser.add_argument('--splits', nargs='+', metavar='SPLIT', help='only these splits (e.g. train val)')
    parser.add_argument('--json', metavar='OUT.json', help='also write the full report as JSON')
    parser.add_argument('--decode', action='store_true', help='decode all media and masks (slow, thorough)')
    parser.add_argument('--max-samples', type=int, metavar='N', help='check at most N samples per split')
    parser.add_argument('--max-problems', type=int, default=50, metavar='N', help='problems printed (default 50)')


def run_check(args: argparse.Namespace) -> int:
    """Run the check for parsed arguments; prints the report, returns 0 if no error (warnings allowed), 1 otherwise."""
    datasets = None
    if args.datasets:
        datasets = [n for item in args.datasets for n in item.split(',') if n]
    report = check_data_root(args.root, datasets, args.splits, args.decode, args.max_samples)
    print(report.format(args.max_problems))
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(report.to_dict(), f, indent=2)
        print(f'report written to {args.json}')
    return 0 if report.ok else 1


def add_data_cli(subparsers) -> argparse.ArgumentParser:
    """Register ``data check ROOT [--datasets ...] [--json out.json]`` on an argparse ``subparsers`` object.

    The ``check`` parser sets ``func=run_check``: dispatch with ``sys.exit(args.func(args))``.

    Returns:
        the ``data`` parser.
    """
    data = subparsers.add_parser('data', help='inspect and check UniPixel datasets',
                                 description='Inspect and check UniPixel datasets.')
    commands = data.add_subparsers(dest='data_command', metavar='COMMAND')
    commands.required = True
    check = commands.add_parser('check', help='report present datasets, sample counts and problems',
                                description=__doc__.split('\n\n')[0])
    add_check_arguments(check)
    check.set_defaults(func=run_check)
    return data


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m unipixel_plugin.data.check', description=__doc__.split('\n\n')[0])
    add_check_arguments(parser)
    return run_check(parser.parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
