"""The memory-mapped annotation cache (HF datasets / Arrow): same samples, no re-parsing, rebuilt on change."""
import os

import pytest

from unipixel_plugin.data.formats.refvos import MeViSDataset


def test_cached_reader_gives_the_same_samples_without_parsing_again(data_root, tmp_path, monkeypatch):
    plain = MeViSDataset(data_root=data_root, split='train')
    cached = MeViSDataset(data_root=data_root, split='train', annotation_cache=str(tmp_path))
    assert len(cached) == len(plain) == 4
    assert [cached[i].key for i in range(4)] == [plain[i].key for i in range(4)]
    assert cached[2].conversation == plain[2].conversation and cached.data_types == plain.data_types
    tables = [f for f in os.listdir(tmp_path) if f.endswith('.arrow')]
    assert len(tables) == 1 and tables[0].startswith('mevis-train-')

    def no_parsing(self):
        raise AssertionError('the annotation files were parsed again')
    monkeypatch.setattr(MeViSDataset, 'parse', no_parsing)
    again = MeViSDataset(data_root=data_root, split='train', annotation_cache=str(tmp_path))
    assert len(again) == 4 and again[3].key == plain[3].key
    subset = again.get_subset([1, 3])
    assert [subset[i].key for i in range(2)] == [plain[1].key, plain[3].key]


def test_changed_annotations_rebuild_the_table(fresh_root, fx, tmp_path):
    fx.make_mevis(fresh_root)
    first = MeViSDataset(data_root=fresh_root, split='train', annotation_cache=str(tmp_path))
    assert len(first) == 4
    first_table = first.cache_path()
    meta = os.path.join(fresh_root, 'mevis', 'train', 'meta_expressions.json')
    stat = os.stat(meta)
    os.utime(meta, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = MeViSDataset(data_root=fresh_root, split='train', annotation_cache=str(tmp_path))
    assert second.cache_path() != first_table and len(second) == 4
    assert len([f for f in os.listdir(tmp_path) if f.endswith('.arrow')]) == 2


def test_missing_files_still_name_them_with_a_cache(fresh_root, tmp_path):
    from unipixel_plugin.data import DatasetNotFoundError
    with pytest.raises(DatasetNotFoundError, match='meta_expressions.json'):
        len(MeViSDataset(data_root=fresh_root, split='train', annotation_cache=str(tmp_path)))


def test_hybrid_mixture_passes_the_cache_to_its_sources(data_root, tmp_path):
    from unipixel_plugin.data import HybridDataset
    mix = HybridDataset('mevis:2', data_root=data_root, annotation_cache=str(tmp_path), num_frames=2)
    assert len(mix) == 8 and mix.datasets[0]._table is not None
    assert mix[0].frames.shape[0] == 2
