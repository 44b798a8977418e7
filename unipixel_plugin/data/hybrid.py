"""The training mixture: many sources, each repeated by its factor, loaded reproducibly and never crashing.

``HybridDataset(datasets=['revos:5', 'mevis:5', ...])`` takes upstream's ``--datasets`` syntax (``name:repeat``,
see :data:`STAGE_MIXTURES`), or dataset configs / instances. Index ``i`` of the mixture maps to a source and to
``i mod len(source)`` in it, exactly as upstream concatenates repeated sources.

Every item is :func:`~.pipeline.load_sample` seeded by ``(seed, epoch, index, attempt)``: the same seed gives the
same frames, objects and prompts whatever the worker count. Referring / memory samples get a point or a box
prompt: exactly half of each source's prompted samples are points (upstream's split), seeded.

Annotation items a source skipped while parsing (one bad expression loses only itself) are listed in
:attr:`HybridDataset.problems`. A sample that fails when it is loaded (missing media, corrupt video, malformed or
empty mask ...) is logged with its id, counted in :attr:`HybridDataset.failures`, and replaced by another sample of
the same source and batch group; the replacement carries the failed ids in ``sample.meta['replaced']`` so that the
main process can count failures that happened in dataloader workers (the collate function sums them).
"""
from __future__ import annotations

import logging
from collections import Counter
from typing import Optional, Sequence, Union

import numpy as np
from mmengine.dist import get_dist_info
from mmengine.logging import print_log
from torch.utils.data import Dataset, Sampler

from ..registry import DATA_SAMPLERS, DATASETS
from .pipeline import load_sample, sample_rng
from .schema import Sample
from .visual_prompts import assign_prompt_types

# Per-source repeat factors of upstream's training stages (scripts/launch_3b.sh; launch_7b.sh uses the same mixture).
STAGE_MIXTURES = {
    1: 'videorefer_short_caption_ref,inst_it_image_short_caption_raw_ref',
    2: 'refcoco:5,refcoco+:5,refcocog:5,refclef:5,ref_youtube_vos:3',
    3: ('revos:5,mevis:5,lvvis:3,ref_youtube_vos:5,ref_davis17:10,ref_sav:3,groundmore:3,vicas:3,reason_seg:10,'
        'ade20k:3,cocostuff:3,mapillary:3,paco_lvis:3,pascal_part:3,refcoco:10,refcoco+:10,refcocog:10,refclef:10,'
        'videorefer_detailed_caption:5,videorefer_qa:5,inst_it_video_qa_raw:5,osprey_conversation:5,'
        'osprey_detail_description:5,osprey_pos_neg:5,videorefer_qa_mem:3,inst_it_video_qa_raw_mem:3,'
        'llava_instruct_665k_videogpt_plus_576k'),
}


def parse_mixture(spec: Union[str, Sequence[str]]) -> list[tuple[str, int]]:
    """``'revos:5,mevis:5,lvvis'`` (or a list of such items) -> ``[('revos', 5), ('mevis', 5), ('lvvis', 1)]``."""
    items = spec.split(',') if isinstance(spec, str) else list(spec)
    out = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        name, _, repeat = item.partition(':')
        try:
            out.append((name, int(repeat) if repeat else 1))
        except ValueError as err:
            raise ValueError(f'bad mixture item {item!r}: expected "name" or "name:repeat" with an int repeat') \
                from err
    return out


def needs_prompt(data_type: str) -> bool:
    """Whether samples of this type are prompted with points / boxes (``<|ref|>``)."""
    return data_type.startswith('ref_') or data_type.startswith('mem_')


@DATASETS.register_module()
class HybridDataset(Dataset):
    """A seeded, fault-tolerant mixture of UniPixel sources.

    Args:
        datasets: sources: ``'name'`` / ``'name:repeat'`` strings (registry names, e.g. ``'refcoco+:10'``), a
            single comma-separated string, configs ``dict(type=..., repeat=N, ...)`` or built datasets.
        repeats: repeat factors for ``datasets`` given as configs / instances (default 1 each).
        data_root: passed to sources built from names / configs that do not set one.
        split: split for sources given by name.
        num_frames, sample_type: frame sampling (upstream training: 8, ``'random'``).
        max_objects, max_turns: objects / turns kept per sample (upstream: 5 / 3).
        box_noise, box_noise_bound, prompt_space: box prompt noise (SAM: 0.1, 20 px of 768).
        point_ratio: share of prompted samples that get a point (upstream: exactly half).
        seed: seeds everything; same seed, same samples.
        max_retries: replacements tried before giving up on an index.
        on_size_mismatch: ``'resize'`` masks that disagree with their frames (upstream) or ``'error'``.
        num_threads: decord threads per video.
        annotation_cache: folder for the sources' memory-mapped annotation tables (see
            :class:`~.base.UniPixelDataset`), passed to sources built from names / configs that do not set one.
    """

    def __init__(self,
                 datasets: Union[str, Sequence],
                 repeats: Optional[Sequence[int]] = None,
                 data_root: Optional[str] = None,
                 split: str = 'train',
                 num_frames: int = 8,
                 sample_type: str = 'random',
                 max_objects: int = 5,
                 max_turns: int = 3,
                 box_noise: float = 0.1,
                 box_noise_bound: float = 20.0,
                 prompt_space: Optional[int] = 768,
                 point_ratio: float = 0.5,
                 seed: int = 0,
                 max_retries: int = 10,
                 on_size_mismatch: str = 'resize',
                 num_threads: int = 1,
                 annotation_cache: Optional[str] = None):
        super().__init__()
        self.seed = seed
        self.epoch = 0
        self.max_retries = max_retries
        self.point_ratio = point_ratio
        self.load_cfg = dict(num_frames=num_frames, sample_type=sample_type, max_objects=max_objects,
                             max_turns=max_turns, box_noise=box_noise, box_noise_bound=box_noise_bound,
                             prompt_space=prompt_space, on_size_mismatch=on_size_mismatch, num_threads=num_threads)
        self.datasets, self.repeats = self._build(datasets, repeats, data_root, split, annotation_cache)
        self._index()
        self.failures: Counter = Counter()  # source -> failed loads in this process
        self.failure_log: list[tuple[str, str]] = []  # (sample key, error), last 1000 in this process

    # ---- construction -----------------------------------------------------------------------------------------

    @staticmethod
    def _build(datasets, repeats, data_root, split, annotation_cache=None):
        if isinstance(datasets, str):
            datasets = parse_mixture(datasets)
        built, reps = [], []
        for i, item in enumerate(datasets):
            repeat = 1 if repeats is None else repeats[i]
            if isinstance(item, str):
                (name, repeat), = parse_mixture(item)
                item = dict(type=name, split=split)
            if isinstance(item, tuple):
                name, repeat = item
                item = dict(type=name, split=split)
            if isinstance(item, dict):
                cfg = dict(item)
                repeat = cfg.pop('repeat', repeat)
                if data_root is not None:
                    cfg.setdefault('data_root', data_root)
                if annotation_cache is not None:
                    cfg.setdefault('annotation_cache', annotation_cache)
                item = DATASETS.build(cfg)
            if len(item) == 0:
                problems = getattr(item, 'problems', [])
                why = f': all {len(problems)} of its annotation items were skipped, the first because ' \
                      f'{problems[0].message}' if problems else ''
                raise ValueError(f'source {i} ({_source_name(item)}) is empty{why}; remove it from the mixture')
            if repeat < 1:
                raise ValueError(f'repeat factor of {_source_name(item)} must be >= 1, got {repeat}')
            built.append(item)
            reps.append(int(repeat))
        if not built:
            raise ValueError('HybridDataset needs at least one source')
        return built, reps

    def _index(self):
        """Offsets, per-sample batch groups, prompt assignment and the pools used for replacement."""
        self.offsets = np.cumsum([0] + [len(d) * r for d, r in zip(self.datasets, self.repeats)])
        self.prompt_types: list[Optional[list[Optional[str]]]] = []
        self.local_groups: list[list[str]] = []
        for d_i, dataset in enumerate(self.datasets):
            types = getattr(dataset, 'data_types', None)
            if types is None:
                types = [dataset[i].group for i in range(len(dataset))]
            types = list(types)
            prompted = [i for i, t in enumerate(types) if needs_prompt(t.split('/')[0])]
            kinds: Optional[list[Optional[str]]] = None
            if prompted:
                kinds = [None] * len(types)
                assigned = assign_prompt_types(len(prompted), sample_rng(self.seed, 'prompts', d_i), self.point_ratio)
                for i, kind in zip(prompted, assigned):
                    kinds[i] = kind
                    types[i] = _group(types[i].split('/')[0], kind)
            self.prompt_types.append(kinds)
            self.local_groups.append(types)
        self._pools: dict[tuple[int, str], np.ndarray] = {}
        for d_i, groups in enumerate(self.local_groups):
            for g in set(groups):
                self._pools[(d_i, g)] = np.array([i for i, x in enumerate(groups) if x == g])

    # ---- mapping ----------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def locate(self, idx: int) -> tuple[int, int]:
        """``(source position, index in that source)`` of mixture index ``idx``."""
        if not 0 <= idx < len(self):
            raise IndexError(f'index {idx} out of range for a mixture of {len(self)} samples')
        d_i = int(np.searchsorted(self.offsets, idx, side='right') - 1)
        return d_i, (idx - int(self.offsets[d_i])) % len(self.datasets[d_i])

    @property
    def data_types(self) -> list[str]:
        """Batch group of every mixture index (what :class:`DataTypeGroupedSampler` groups by)."""
        return [g for groups, r in zip(self.local_groups, self.repeats) for _ in range(r) for g in groups]

    def set_epoch(self, epoch: int):
        """Reseed per epoch (call it in the process that owns the dataset, e.g. before creating workers)."""
        self.epoch = epoch

    # ---- loading ----------------------------------------------------------------------------------------------

    def _annotation(self, d_i: int, local: int) -> Sample:
        sample = self.datasets[d_i][local]
        if not isinstance(sample, Sample):
            raise TypeError(f'source {_source_name(self.datasets[d_i])} returned {type(sample).__name__}, expected an '
                            'annotation-level Sample (give HybridDataset sources without a pipeline)')
        kinds = self.prompt_types[d_i]
        if kinds is not None and kinds[local] is not None:
            kind = kinds[local]
            data_type = f'ref_{kind}' if sample.data_type.startswith('ref_') else sample.data_type
            sample = sample.replace(data_type=data_type, prompt_type=kind)
        return sample

    def __getitem__(self, idx: int) -> Sample:
        replaced: list[str] = []
        original = idx
        for attempt in range(self.max_retries + 1):
            d_i, local = self.locate(idx)
            key = f'{_source_name(self.datasets[d_i])}#{local}'
            try:
                sample = self._annotation(d_i, local)
                key = sample.key
                rng = sample_rng(self.seed, self.epoch, original, attempt)
                loaded = load_sample(sample, rng, **self.load_cfg)
                loaded.meta = dict(loaded.meta, mixture_index=idx, replaced=replaced)
                return loaded
            except Exception as err:  # any bad sample is replaced, never fatal
                self._record_failure(d_i, key, idx, err)
                replaced.append(key)
                idx = self._replacement(d_i, local, original, attempt)
        raise RuntimeError(f'HybridDataset: {self.max_retries + 1} samples failed in a row starting at index '
                           f'{original}: {replaced}; see the warnings above for each error')

    def _record_failure(self, d_i: int, key: str, idx: int, err: Exception):
        source = _source_name(self.datasets[d_i])
        self.failures[source] += 1
        self.failure_log.append((key, f'{type(err).__name__}: {err}'))
        del self.failure_log[:-1000]
        print_log(f'bad sample {key} (mixture index {idx}): {type(err).__name__}: {err}; replacing it with '
                  f'another sample of {source}', logger='current', level=logging.WARNING)

    def _replacement(self, d_i: int, local: int, original: int, attempt: int) -> int:
        """Another index of the same source and batch group (the whole source if the group has one sample)."""
        pool = self._pools[(d_i, self.local_groups[d_i][local])]
        if len(pool) < 2:
            pool = np.arange(len(self.datasets[d_i]))
        rng = sample_rng(self.seed, self.epoch, original, attempt, 'replace')
        choice = int(pool[rng.integers(len(pool))])
        return int(self.offsets[d_i]) + choice

    @property
    def problems(self) -> list:
        """The annotation items every source skipped while parsing (:class:`~.base.AnnotationProblem`, each naming
        its source, split, file and item): what the readers did not load, as opposed to :attr:`failures`."""
        return [p for dataset in self.datasets for p in getattr(dataset, 'problems', [])]

    @property
    def num_failures(self) -> int:
        """Failed loads in this process (workers keep their own; count ``meta['replaced']`` across them)."""
        return sum(self.failures.values())

    # ---- reporting --------------------------------------------------------------------------------------------

    def summary(self) -> list[dict]:
        """Per source: name, repeat, samples after repeat, share of the mixture (upstream's start-up table)."""
        total = len(self)
        rows = []
        for dataset, repeat in zip(self.datasets, self.repeats):
            n = len(dataset) * repeat
            rows.append({'source': _source_name(dataset), 'repeat': repeat, 'samples': n,
                         'ratio': round(n / total, 5)})
        return rows

    def __repr__(self):
        lines = [f'{type(self).__name__}({len(self)} samples, seed={self.seed})']
        lines += [f'  {r["source"]:<40} x{r["repeat"]:<3} {r["samples"]:>9}  {r["ratio"]:.4f}' for r in self.summary()]
        return '\n'.join(lines)


def _group(data_type: str, prompt_type: Optional[str]) -> str:
    if data_type.startswith('ref_'):
        return f'ref_{prompt_type}'
    return f'{data_type}/{prompt_type}' if prompt_type else data_type


def _source_name(dataset) -> str:
    return getattr(dataset, 'SOURCE', None) or type(dataset).__name__


@DATA_SAMPLERS.register_module()
class DataTypeGroupedSampler(Sampler):
    """Shuffles a dataset so that every batch holds one batch group (data type), as upstream trains.

    Indices of each group are shuffled and cut into global batches of ``batch_size * world_size`` (a group's last
    incomplete batch is dropped, as upstream); the global batches are shuffled; each rank takes its
    ``batch_size`` slice of every global batch. Seeded by ``seed + epoch``.

    Args:
        dataset: anything with ``data_types`` (one group per index), e.g. :class:`HybridDataset`.
        batch_size: per-rank batch size.
        seed: base seed (default 0).
    """

    def __init__(self, dataset, batch_size: int, seed: Optional[int] = None, shuffle: bool = True):
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        self.data_types = list(dataset.data_types)
        self.batch_size = batch_size
        self.seed = 0 if seed is None else seed
        self.shuffle = shuffle
        self.rank, self.world_size = get_dist_info()
        self.epoch = 0

    def _global_batches(self) -> list[list[int]]:
        rng = np.random.default_rng(self.seed + self.epoch)
        size = self.batch_size * self.world_size
        groups: dict[str, list[int]] = {}
        for i, t in enumerate(self.data_types):  # insertion order: deterministic
            groups.setdefault(t, []).append(i)
        batches = []
        for members in groups.values():
            members = np.asarray(members)
            if self.shuffle:
                members = members[rng.permutation(len(members))]
            batches += [members[i:i + size].tolist() for i in range(0, len(members) - size + 1, size)]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def __iter__(self):
        lo, hi = self.rank * self.batch_size, (self.rank + 1) * self.batch_size
        for batch in self._global_batches():
            yield from batch[lo:hi]

    def __len__(self) -> int:
        size = self.batch_size * self.world_size
        counts = Counter(self.data_types)
        return sum(n // size for n in counts.values()) * self.batch_size

    def set_epoch(self, epoch: int):
        self.epoch = epoch
