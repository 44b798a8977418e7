"""Base class of every UniPixel dataset reader: an MMEngine ``BaseDataset`` whose items are :class:`Sample` s.

A reader states where its files live (relative to the data root, i.e. upstream's ``data/`` folder), which splits
it has, and how to parse them (:meth:`UniPixelDataset.parse`). The base class resolves the data root
(argument, else the ``UNIPIXEL_DATA_ROOT`` environment variable), checks that the annotation files exist with an
error that names them, filters by timeline length, serializes the parsed samples (MMEngine's shared-memory
trick for dataloader workers) and applies the optional ``pipeline`` (e.g. :class:`~.pipeline.LoadSample`).

One bad annotation item loses only itself: a reader parses each item (expression, question, image entry ...)
through :meth:`UniPixelDataset.try_item`, which turns a problem of that item (an ``anno_id`` missing from the mask
dict, masks for the wrong number of frames, an empty expression, a malformed entry) into an
:class:`AnnotationProblem` in ``dataset.problems`` (file, video / sample id, what is wrong) and skips the item; the
rest of the split loads. A broken FILE (unparseable JSON, wrong top-level structure, files of different releases)
still fails the whole split with an :class:`AnnotationError` naming it.
"""
from __future__ import annotations

import copy
import inspect
import json
import logging
import os
import pickle
import zlib
from collections import Counter, OrderedDict
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.dataset.base_dataset import force_full_init

from ..masks import MaskError
from .media import MediaError
from .schema import Sample

DATA_ROOT_ENV = 'UNIPIXEL_DATA_ROOT'
# bumped when what a cached annotation table holds changes (v2: skipped items and their problems, in a sidecar)
CACHE_VERSION = 2


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's annotation files are not under the data root."""


class AnnotationError(ValueError):
    """An annotation file is unreadable or does not have the expected structure, or one of its items is malformed.

    ``file`` (optional) is the file at fault when it is not the one the reader was parsing (e.g. the mask dict an
    expression points into); ``kind`` is the problem kind recorded when the error only skips one item.
    """

    kind = 'malformed_annotation'

    def __init__(self, message: str, file: Optional[str] = None):
        super().__init__(message)
        self.file = file


class EmptyExpressionError(AnnotationError):
    """An expression / query / description text is empty or whitespace only."""

    kind = 'empty_expression'


class EmptyMaskError(ValueError):
    """A sample that needs its objects visible has an object that is empty on every sampled frame."""


def resolve_data_root(data_root: Optional[str] = None) -> str:
    """The data root: ``data_root`` if given, else ``$UNIPIXEL_DATA_ROOT``; it must be an existing folder."""
    root = data_root or os.environ.get(DATA_ROOT_ENV)
    if not root:
        raise DatasetNotFoundError(f'no data root: pass data_root=... or set {DATA_ROOT_ENV} to the folder that '
                                   'holds the extracted UniPixel-SFT-1M archives (upstream\'s data/ folder)')
    root = os.path.expanduser(root)
    if not os.path.isdir(root):
        raise DatasetNotFoundError(f'data root {root} is not a folder (from '
                                   f'{"data_root" if data_root else DATA_ROOT_ENV})')
    return root


def load_json(path: str, ordered: bool = False) -> Any:
    """Read a JSON file; errors name the file."""
    try:
        with open(path, 'r', encoding='utf-8') as f:
            return json.load(f, object_pairs_hook=OrderedDict) if ordered else json.load(f)
    except FileNotFoundError as err:
        raise DatasetNotFoundError(f'annotation file not found: {path}') from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise AnnotationError(f'cannot parse JSON {path}: {err} (the file is truncated or corrupt)') from err


def load_json_list(path: str, what: str = 'items') -> list:
    """Read a JSON file whose top level must be a list (of ``what``); errors name the file."""
    items = load_json(path)
    expect(isinstance(items, list), f'{path}: expected a list of {what}')
    return items


def load_pickle(path: str) -> Any:
    """Read a pickle file (upstream's ``refs(unc).p``, ``mask_dict.pkl``); errors name the file.

    Only load pickles from the published datasets: unpickling runs code.
    """
    try:
        with open(path, 'rb') as f:
            return pickle.load(f)
    except FileNotFoundError as err:
        raise DatasetNotFoundError(f'annotation file not found: {path}') from err
    except Exception as err:
        raise AnnotationError(f'cannot unpickle {path}: {type(err).__name__}: {err}') from err


def stable_draw(key: str, n: int) -> int:
    """A draw in ``[0, n)`` fixed by ``key`` (CRC32), for choices upstream makes at random once per sample (an
    option letter, the id a lone region is called by): the same sample gets the same choice in every process."""
    return zlib.crc32(key.encode('utf-8')) % n


def expect(condition: bool, message: str, file: Optional[str] = None):
    """Raise :class:`AnnotationError` with ``message`` unless ``condition`` (an ``assert`` that survives ``-O``)."""
    if not condition:
        raise AnnotationError(message, file)


def expect_text(text: Any, where: str, what: str = 'text', file: Optional[str] = None) -> str:
    """``text`` stripped; :class:`EmptyExpressionError` if it is empty or whitespace only, :class:`AnnotationError`
    if it is not a string. ``where`` (file and item) starts the message."""
    if not isinstance(text, str):
        raise AnnotationError(f'{where}: the {what} is a {type(text).__name__}, not a text: {str(text)[:80]!r}', file)
    stripped = text.strip()
    if not stripped:
        raise EmptyExpressionError(f'{where}: the {what} is empty ({text!r})', file)
    return stripped


# what a problem of ONE annotation item raises while it is parsed: the item is skipped and recorded. Missing files
# (DatasetNotFoundError, a FileNotFoundError) are not in the list: they fail the split.
ITEM_ERRORS = (AnnotationError, MediaError, MaskError, KeyError, IndexError, TypeError, ValueError, AttributeError)


@dataclass
class AnnotationProblem:
    """One annotation item a reader skipped: what (``kind``), where (``file``, ``video``, ``sample``) and why.

    ``message`` is one line that names the file (and the item); ``sample`` is the id the sample would have had
    (``'vidA/1'``), ``video`` the video id where the item belongs to one.
    """
    kind: str
    source: str
    split: str
    file: str
    message: str
    video: Optional[str] = None
    sample: Optional[str] = None

    def __str__(self):
        return self.message

    def to_dict(self) -> dict:
        return asdict(self)


class UniPixelDataset(BaseDataset):
    """Base reader. Subclasses set ``SOURCE``, ``SPLITS`` (split -> files it needs, relative to the data root)
    and implement :meth:`parse`.

    Args:
        data_root: folder of the extracted datasets (upstream's ``data/``); default ``$UNIPIXEL_DATA_ROOT``.
        split: one of ``SPLITS`` (aliases in ``SPLIT_ALIASES``); default ``DEFAULT_SPLIT``.
        pipeline: transforms applied to each :class:`Sample` (e.g. ``[dict(type='LoadSample')]``); empty
            returns annotation-level samples.
        min_frames / max_frames: drop samples whose timeline is shorter / longer (``-1``: no limit; upstream's
            ``--max_video_frames 500``). Videos without listed frames are never dropped.
        serialize_data, lazy_init, indices, test_mode, max_refetch: as in ``mmengine.dataset.BaseDataset``.
        annotation_cache: a folder for a memory-mapped Arrow table of the parsed samples (HF ``datasets``).
            The first run parses the annotation files and writes the table; later runs (and every dataloader
            worker) map it instead of parsing and holding the samples in memory — what the million-sample
            sources (LLaVA-665K, VideoRefer-700K) need. The table is rebuilt when an annotation file changes;
            the items skipped while parsing are stored beside it, so ``problems`` survive a reload.

    Attributes:
        problems: the :class:`AnnotationProblem` s of the annotation items skipped while parsing (each bad item
            loses only itself); a warning summarising them is logged when the split is loaded.
    """

    SOURCE: str = ''
    SPLITS: dict[str, Sequence[str]] = {}
    SPLIT_ALIASES: dict[str, tuple] = {'val': ('valid',), 'valid': ('val',), 'validation': ('valid', 'val')}
    DEFAULT_SPLIT: str = 'train'

    def __init__(self,
                 data_root: Optional[str] = None,
                 split: Optional[str] = None,
                 pipeline: Sequence = (),
                 min_frames: int = -1,
                 max_frames: int = -1,
                 serialize_data: bool = True,
                 lazy_init: bool = False,
                 indices: Optional[Sequence[int]] = None,
                 test_mode: bool = False,
                 max_refetch: int = 100,
                 annotation_cache: Optional[str] = None):
        self.annotation_cache = os.path.expanduser(annotation_cache) if annotation_cache else None
        self._table = None  # the memory-mapped Arrow table when annotation_cache is used
        self.problems: list[AnnotationProblem] = []  # annotation items skipped while parsing (see try_item)
        self.log_problems = True  # log a warning summarising them (``data check`` reports them itself)
        self.split = self.canonical_split(split or self.DEFAULT_SPLIT)
        self.min_frames = min_frames
        self.max_frames = max_frames
        super().__init__(
            ann_file='',
            data_root=resolve_data_root(data_root),
            data_prefix={},
            indices=indices,
            serialize_data=serialize_data,
            pipeline=list(pipeline),
            test_mode=test_mode,
            lazy_init=lazy_init,
            max_refetch=max_refetch)

    @classmethod
    def canonical_split(cls, split: str) -> str:
        """``split`` or the alias of it this dataset uses (``'val'`` / ``'valid'``)."""
        for name in (split, *cls.SPLIT_ALIASES.get(split, ())):
            if name in cls.SPLITS:
                return name
        raise ValueError(f'{cls.__name__} ({cls.SOURCE}) has no split {split!r}; available: {list(cls.SPLITS)}')

    @classmethod
    def required_files(cls, split: str) -> list[str]:
        """Files (relative to the data root) the split needs."""
        return list(cls.SPLITS[cls.canonical_split(split)])

    @classmethod
    def missing_files(cls, data_root: str, split: str) -> list[str]:
        return [p for p in cls.required_files(split) if not os.path.exists(os.path.join(data_root, p))]

    def path(self, *parts: str) -> str:
        """A path under the data root."""
        return os.path.join(self.data_root, *parts)

    # ---- MMEngine BaseDataset hooks -------------------------------------------------------------------------

    def full_init(self):
        """As ``BaseDataset.full_init``, and also record each sample's batch group in ``self.data_types`` before the
        samples are serialized (samplers and :class:`~.hybrid.HybridDataset` read it without unpickling samples)."""
        if self._fully_initialized:
            return
        if self.annotation_cache:
            self._init_from_table()
            self._log_problems()
            return
        self.data_list = self.load_data_list()
        self._log_problems()
        self.data_list = self.filter_data()
        if self._indices is not None:
            self.data_list = self._get_unserialized_subset(self._indices)
        self.data_types = [s.group for s in self.data_list]
        if self.serialize_data:
            if self.data_list:
                self.data_bytes, self.data_address = self._serialize_data()
            else:  # MMEngine cannot serialize an empty list (an empty split, e.g. ViCaS test in some releases)
                self.data_bytes, self.data_address = np.zeros(0, np.uint8), np.zeros(0, np.int64)
                self.data_list.clear()
        self._fully_initialized = True

    # ---- memory-mapped annotation cache (HF datasets / Arrow) ----------------------------------------------------

    def cache_key(self) -> str:
        """Identifies the parsed samples: reader, split, filters and each annotation file's size and mtime."""
        import hashlib
        parts = [f'v{CACHE_VERSION}', type(self).__module__, type(self).__qualname__, self.SOURCE, self.split,
                 str(self.min_frames), str(self.max_frames), os.path.abspath(self.data_root)]
        for rel in self.required_files(self.split):
            path = self.path(rel)
            st = os.stat(path)
            parts.append(f'{rel}:{st.st_size}:{st.st_mtime_ns}')
        return hashlib.sha1('\n'.join(parts).encode()).hexdigest()[:16]

    def cache_path(self) -> str:
        return os.path.join(self.annotation_cache, f'{self.SOURCE or type(self).__name__}-{self.split}-'
                                                   f'{self.cache_key()}.arrow')

    def _init_from_table(self):
        from datasets import Dataset

        missing = self.missing_files(self.data_root, self.split)
        if missing:
            self.load_data_list()  # raises the usual error naming the files
        path = self.cache_path()
        problems = self._read_problems(path) if os.path.exists(path) else None
        if problems is None:  # no table, or a table without its problems file: (re)build both
            self._write_table(path)
            problems = self._read_problems(path)
        self.problems = problems
        table = Dataset.from_file(path)  # memory-mapped: shared by every worker, nothing parsed
        if self._indices is not None:
            indices = [self._indices] if isinstance(self._indices, int) else self._indices
            table = table.select(range(indices) if isinstance(indices, int) else list(indices))
        self._table = table
        self.data_types = list(table['group'])
        self.data_list = []
        self.serialize_data = False
        self._fully_initialized = True

    def _write_table(self, path: str):
        from datasets import Features, Value
        from datasets.arrow_writer import ArrowWriter

        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.data_list = self.load_data_list()
        samples = self.filter_data()
        # the skipped items first, the table second: a table on disk always has its problems file
        problems_tmp = f'{self.problems_path(path)}.{os.getpid()}.tmp'
        with open(problems_tmp, 'w', encoding='utf-8') as f:
            json.dump([p.to_dict() for p in self.problems], f)
        os.replace(problems_tmp, self.problems_path(path))
        tmp = f'{path}.{os.getpid()}.tmp'
        features = Features({'sample': Value('binary'), 'group': Value('string')})
        with ArrowWriter(features=features, path=tmp) as writer:
            for sample in samples:
                writer.write({'sample': pickle.dumps(sample, protocol=pickle.HIGHEST_PROTOCOL), 'group': sample.group})
            writer.finalize()
        os.replace(tmp, path)  # atomic: concurrent processes see a whole table or none
        self.data_list = []

    @staticmethod
    def problems_path(table_path: str) -> str:
        """The JSON file beside a cached table that lists the items skipped when it was built."""
        return f'{table_path[:-len(".arrow")]}.problems.json'

    def _read_problems(self, table_path: str) -> Optional[list[AnnotationProblem]]:
        """The problems stored beside a cached table; ``None`` when they are missing or unreadable (rebuild)."""
        try:
            with open(self.problems_path(table_path), 'r', encoding='utf-8') as f:
                return [AnnotationProblem(**p) for p in json.load(f)]
        except (OSError, ValueError, TypeError):
            return None

    def __len__(self) -> int:
        if not self._fully_initialized:
            self.full_init()
        if self._table is not None:
            return len(self._table)
        return super().__len__()

    def load_data_list(self) -> list[Sample]:
        missing = self.missing_files(self.data_root, self.split)
        if missing:
            raise DatasetNotFoundError(
                f'{self.SOURCE} ({self.split}): missing under {self.data_root}: {", ".join(missing)}. '
                f'Extract the {self.SOURCE} archive of UniPixel-SFT-1M there (see docs/data.md), or run '
                f'`unipixel data check {self.data_root}`.')
        self.problems = []
        samples = []
        for s in self.parse():
            if not isinstance(s, Sample):
                raise TypeError(f'{type(self).__name__}.parse must yield Sample objects, got {type(s).__name__}')
            if self._empty_query(s):
                continue
            samples.append(s)
        return samples

    def _empty_query(self, sample: Sample) -> bool:
        """Skip (and record) a sample whose query text is empty, whatever reader made it (a backstop: readers
        check their texts where they parse them, naming the item more precisely)."""
        queries = ([sample.query] if sample.query is not None else []) + list(sample.meta.get('queries') or [])
        if all(isinstance(q, str) and q.strip() for q in queries):
            return False
        annotation = sample.meta.get('annotation')
        file = annotation if isinstance(annotation, str) else self.path(self.required_files(self.split)[0])
        self.skip(EmptyExpressionError(f'{file}: sample {sample.id}: an expression / query text is empty '
                                       f'({queries!r})'), file, video=sample.meta.get('video'), sample=sample.id)
        return True

    # ---- one bad item loses only itself ---------------------------------------------------------------------------

    def try_item(self, build: Callable, *args, file: str, video: Optional[str] = None,
                 sample: Optional[str] = None, default: Any = None) -> Any:
        """``build(*args)`` (a generator is run to a list); if it raises one of :data:`ITEM_ERRORS`, record the
        problem (:meth:`skip`) and return ``default`` instead, so that the item is skipped and parsing goes on.

        Args:
            file: the annotation file the item is in (named by the problem unless the error names another one).
            video / sample: the video id and the id the sample would have had, for the report.
        """
        try:
            out = build(*args)
            return list(out) if inspect.isgenerator(out) else out
        except ITEM_ERRORS as err:
            self.skip(err, file, video=video, sample=sample)
            return default

    def skip(self, what, file: str, video: Optional[str] = None, sample: Optional[str] = None,
             kind: Optional[str] = None) -> AnnotationProblem:
        """Record that an annotation item is skipped: ``what`` is the error (or a message); the recorded message
        always names the file (and the item, when the error does not)."""
        if isinstance(what, BaseException):
            kind = kind or getattr(what, 'kind', 'malformed_annotation')
            file = getattr(what, 'file', None) or file
            text = str(what)
            if not isinstance(what, AnnotationError):  # a KeyError, TypeError ... of a malformed entry
                item = sample or video
                text = f'{"item " + str(item) + ": " if item is not None else ""}malformed entry ' \
                       f'({type(what).__name__}: {what})'
        else:
            kind, text = kind or 'malformed_annotation', str(what)
        message = text if file in text else f'{file}: {text}'
        problem = AnnotationProblem(kind, self.SOURCE, self.split, file, message,
                                    None if video is None else str(video), None if sample is None else str(sample))
        self.problems.append(problem)
        return problem

    def _log_problems(self):
        if not self.problems or not getattr(self, 'log_problems', True):
            return
        from mmengine.logging import print_log
        kinds = ', '.join(f'{n} {k}' for k, n in Counter(p.kind for p in self.problems).most_common())
        print_log(f'{self.SOURCE} ({self.split}): skipped {len(self.problems)} annotation item(s) with problems '
                  f'({kinds}); the rest of the split loads. First: {self.problems[0].message}. All of them: '
                  f'dataset.problems, or `unipixel data check {self.data_root}`.', logger='current',
                  level=logging.WARNING)

    def filter_data(self) -> list[Sample]:
        if self.min_frames < 0 and self.max_frames < 0:
            return self.data_list

        def keep(sample: Sample) -> bool:
            n = sample.num_frames
            if n is None:
                return True
            return not ((0 <= self.max_frames < n) or (self.min_frames >= 0 and n < self.min_frames))

        return [s for s in self.data_list if keep(s)]

    @force_full_init
    def get_data_info(self, idx: int) -> Sample:
        """The annotation-level :class:`Sample` at ``idx`` (a private copy)."""
        if idx < 0:
            idx += len(self)
        if self._table is not None:
            return pickle.loads(self._table[idx]['sample'])
        if self.serialize_data:
            start = 0 if idx == 0 else self.data_address[idx - 1].item()
            return pickle.loads(memoryview(self.data_bytes[start:self.data_address[idx].item()]))
        return copy.deepcopy(self.data_list[idx])

    def get_subset_(self, indices) -> None:
        if self._table is not None:
            self._table = self._table.select(range(indices) if isinstance(indices, int) else list(indices))
            self.data_types = list(self._table['group'])
            return
        super().get_subset_(indices)
        self.data_types = [self.get_data_info(i).group for i in range(len(self))]

    def get_subset(self, indices) -> 'UniPixelDataset':
        if self._table is not None:
            subset = copy.copy(self)
            subset.get_subset_(indices)
            return subset
        subset = super().get_subset(indices)
        subset.data_types = [subset.get_data_info(i).group for i in range(len(subset))]
        return subset

    def prepare_data(self, idx: int) -> Any:
        return self.pipeline(self.get_data_info(idx))

    # ---- to implement -----------------------------------------------------------------------------------------

    def parse(self) -> Iterable[Sample]:
        """Yield the split's samples (annotation level; masks lazy)."""
        raise NotImplementedError(f'{type(self).__name__} must implement parse()')

    def __repr__(self):
        n = len(self) if self._fully_initialized else '?'
        return f'{type(self).__name__}(source={self.SOURCE!r}, split={self.split!r}, samples={n}, ' \
               f'data_root={self.data_root!r})'
