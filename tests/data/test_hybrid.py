"""The training mixture: repeat factors, seeding, point/box split, bad-sample replacement, grouped batches, collate."""
import os
from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from unipixel_plugin.data import (
    STAGE_MIXTURES,
    DataTypeGroupedSampler,
    HybridDataset,
    MaskPart,
    ObjectMasks,
    Sample,
    parse_mixture,
    unipixel_collate,
)
from unipixel_plugin.registry import DATA_SAMPLERS, DATASETS, FUNCTIONS


class ListSource(Dataset):
    """An in-memory source of annotation-level samples (what every reader returns without a pipeline)."""

    def __init__(self, samples, name):
        self.samples, self.SOURCE = samples, name

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


def ref_source(fx, folder, n=10, name='refsrc'):
    paths = fx.write_frames(folder, 4)
    obj = ObjectMasks([[MaskPart('rle', fx.rle(fx.rect(10, 30, 10, 40)))]] * 4, object_id=0)
    return ListSource([Sample(id=str(i), source=name, data_type='ref_point', media_type='frames', media=paths,
                              conversation=[{'role': 'user', 'content': 'What is <|ref|>?'},
                                            {'role': 'assistant', 'content': 'A box.'}], objects=[obj])
                       for i in range(n)], name)


def test_parse_mixture_and_upstream_stage_3():
    assert parse_mixture('revos:5,mevis, refcoco+:10') == [('revos', 5), ('mevis', 1), ('refcoco+', 10)]
    stage3 = dict(parse_mixture(STAGE_MIXTURES[3]))
    assert len(stage3) == 27 and stage3['ref_davis17'] == 10 and stage3['reason_seg'] == 10
    assert stage3['llava_instruct_665k_videogpt_plus_576k'] == 1 and stage3['videorefer_qa_mem'] == 3
    assert dict(parse_mixture(STAGE_MIXTURES[2])) == {'refcoco': 5, 'refcoco+': 5, 'refcocog': 5, 'refclef': 5,
                                                      'ref_youtube_vos': 3}
    with pytest.raises(ValueError, match='name:repeat'):
        parse_mixture('mevis:x')


def test_repeat_factors_set_the_proportions(data_root):
    mix = HybridDataset(['mevis:3', 'ref_youtube_vos'], data_root=data_root, num_frames=2)
    assert len(mix) == 4 * 3 + 14
    rows = {r['source']: r for r in mix.summary()}
    assert rows['mevis']['samples'] == 12 and rows['ref_youtube_vos']['repeat'] == 1
    assert rows['mevis']['ratio'] == pytest.approx(12 / 26, abs=1e-5)
    # index i of a repeated source maps to i mod len(source)
    assert [mix.locate(i) for i in (0, 3, 4, 11, 12, 25)] == [(0, 0), (0, 3), (0, 0), (0, 3), (1, 0), (1, 13)]
    drawn = Counter(mix[int(i)].source for i in np.random.default_rng(0).integers(len(mix), size=400))
    assert drawn['mevis'] / 400 == pytest.approx(12 / 26, abs=0.08)


def test_same_seed_same_samples(data_root):
    def run(seed):
        mix = HybridDataset(['mevis:2', 'ref_youtube_vos'], data_root=data_root, num_frames=2, seed=seed)
        return [(mix[i].key, tuple(mix[i].sampled)) for i in range(len(mix))]

    assert run(0) == run(0)
    assert run(0) != run(1)


def test_point_box_split_and_prompts(fx, tmp_path):
    mix = HybridDataset([ref_source(fx, str(tmp_path / 'f'), n=10)], num_frames=2, seed=0)
    types = mix.data_types
    assert types.count('ref_point') == 5 and types.count('ref_box') == 5
    for i in range(len(mix)):
        s = mix[i]
        assert s.data_type == types[i] and s.prompt_type == types[i][4:]
        (prompt,) = s.prompts
        if s.prompt_type == 'point':
            x, y = prompt.coords[0]
            assert prompt.labels.tolist() == [1] and 10 <= x < 40 and 10 <= y < 30
        else:
            assert prompt.labels.tolist() == [2, 3] and prompt.coords.shape == (2, 2)
            np.testing.assert_allclose(prompt.coords, [[10, 10], [39, 29]], atol=20 * fx.W / 768 + 1e-4)
    again = HybridDataset([ref_source(fx, str(tmp_path / 'f'), n=10)], num_frames=2, seed=0)
    assert again.data_types == types


def test_bad_samples_are_logged_counted_and_replaced(fresh_root, fx):
    fx.make_mevis(fresh_root, 'train')
    os.remove(os.path.join(fresh_root, 'mevis', 'train', 'JPEGImages', 'vidB', '00001.jpg'))
    mix = HybridDataset(['mevis'], data_root=fresh_root, num_frames=-1, seed=0)
    bad = [i for i in range(len(mix)) if mix.datasets[0][mix.locate(i)[1]].meta['video'] == 'vidB']
    assert len(bad) == 2
    out = [mix[i] for i in range(len(mix))]
    assert all(s.meta['video'] == 'vidA' for s in out)
    assert mix.num_failures >= 2 and mix.failures['mevis'] == mix.num_failures
    replaced = [s.meta['replaced'] for s in out]
    assert all(r and r[0].startswith('mevis:vidB/') for i, r in enumerate(replaced) if i in bad)
    assert mix.failure_log[0][0].startswith('mevis:vidB/') and '00001.jpg' in mix.failure_log[0][1]
    assert unipixel_collate(out)['num_replaced'] == sum(len(r) for r in replaced)


def test_all_bad_gives_up_with_the_ids(fresh_root, fx):
    fx.make_mevis(fresh_root, 'train')
    for vid in ('vidA', 'vidB'):
        os.remove(os.path.join(fresh_root, 'mevis', 'train', 'JPEGImages', vid, '00000.jpg'))
    mix = HybridDataset(['mevis'], data_root=fresh_root, num_frames=-1, max_retries=3)
    with pytest.raises(RuntimeError, match=r'4 samples failed in a row.*mevis:vid'):
        mix[0]
    assert mix.num_failures == 4


def test_grouped_sampler_batches_hold_one_type(data_root, fx, tmp_path):
    mix = HybridDataset(['mevis:2', dict(type='reason_seg', split='val', repeat=3),
                         ref_source(fx, str(tmp_path / 'f'), n=8)], data_root=data_root, num_frames=2)
    sampler = DataTypeGroupedSampler(mix, batch_size=2, seed=0)
    order = list(sampler)
    assert len(order) == len(sampler) == 8 + 6 + 8
    types = mix.data_types
    batches = [order[i:i + 2] for i in range(0, len(order), 2)]
    assert all(len({types[i] for i in b}) == 1 for b in batches)
    assert list(DataTypeGroupedSampler(mix, batch_size=2, seed=0)) == order
    sampler.set_epoch(1)
    assert list(sampler) != order
    assert DATA_SAMPLERS.get('DataTypeGroupedSampler') is DataTypeGroupedSampler


def test_dataloader_with_workers_and_registry_collate(data_root):
    mix = DATASETS.build(dict(type='HybridDataset', datasets=['mevis:2'], data_root=data_root, num_frames=3))
    collate = FUNCTIONS.get('unipixel_collate')
    loader = DataLoader(mix, batch_size=2, num_workers=2, collate_fn=collate,
                        sampler=DataTypeGroupedSampler(mix, batch_size=2))
    batches = list(loader)
    assert len(batches) == 4
    batch = batches[0]
    assert batch['frames'][0].dtype == torch.uint8 and batch['frames'][0].shape == (3, 48, 64, 3)
    assert batch['masks'][0].dtype == torch.bool and batch['masks'][0].shape[:2] == (1, 3)
    assert batch['frame_sizes'] == [(48, 64), (48, 64)] and batch['num_replaced'] == 0
    assert batch['conversations'][0][1]['content'] == 'Sure, it is <|seg|>.'
    assert sorted(k for b in batches for k in b['ids']) == sorted(2 * [s.key for s in mix.datasets[0]])


def test_collate_rejects_garbage():
    with pytest.raises(ValueError, match='empty batch'):
        unipixel_collate([])
    with pytest.raises(TypeError, match='Sample objects'):
        unipixel_collate([{'a': 1}])


def test_mmengine_runner_builds_the_dataloader(data_root):
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    cfg = dict(batch_size=2, num_workers=0,
               dataset=dict(type='HybridDataset', datasets=['mevis:2'], data_root=data_root, num_frames=3),
               sampler=dict(type='DataTypeGroupedSampler', batch_size=2),
               collate_fn=dict(type='unipixel_plugin.unipixel_collate'))
    with DefaultScope.overwrite_default_scope('unipixel_plugin'):
        loader = Runner.build_dataloader(cfg, seed=3)
    assert isinstance(loader.dataset, HybridDataset) and loader.sampler.seed == 3
    batch = next(iter(loader))
    assert len(batch['ids']) == 2 and batch['frames'][0].shape[0] == 3


def test_every_source_of_the_stage_mixtures_has_a_reader():
    from unipixel_plugin.data import READERS
    names = [name for spec in STAGE_MIXTURES.values() for name, _ in parse_mixture(spec)]
    assert len(names) == 2 + 5 + 27
    unresolved = [n for n in names if n not in READERS or DATASETS.get(n) is not READERS[n]]
    assert unresolved == []
    assert all(READERS[n].SOURCE == n and 'train' in READERS[n].SPLITS for n in names)


def test_stage_1_mixture_loads_with_prompts(data_root, fx):
    """Upstream's stage 1 (VideoRefer short captions + Inst-IT image captions, point / box prompts)."""
    mix = HybridDataset(STAGE_MIXTURES[1], data_root=data_root, num_frames=8, seed=0)
    assert len(mix) == 3 + 2
    assert sorted(mix.data_types) == ['ref_box'] * 3 + ['ref_point'] * 2  # half of each source, rounded down
    for i in range(len(mix)):
        s = mix[i]
        (prompt, ) = s.prompts
        assert s.data_type == f'ref_{s.prompt_type}' and prompt.kind == s.prompt_type and not s.meta['replaced']
        assert s.masks[0, prompt.frame].any() and s.conversation[0]['content'].count('<|ref|>') == 1
        if s.source == 'videorefer_short_caption_ref':
            assert s.prompt_frame in s.sampled and prompt.frame == s.sampled.index(s.prompt_frame)
    batch = unipixel_collate([mix[i] for i in range(len(mix))])
    assert batch['num_replaced'] == 0 and [len(p) for p in batch['prompts']] == [1] * 5
