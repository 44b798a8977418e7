"""One bad annotation item loses only itself: the readers skip and record it, ``data check`` names it, the rest loads.

The planted root holds, in MeViS ``train``: an anno_id with masks for 5 frames of a 6-frame video (expression
vidA/1), an empty expression (vidB/0) and a truncated JPEG (vidB/00002.jpg, used by vidB/1); in ReVOS ``train``: an
expression naming an anno_id missing from ``mask_dict.json`` (MOSE/vidM/1). MeViS ``valid_u`` and ReVOS ``valid``
are untouched.
"""
import json
import os
import pickle

import numpy as np
import pytest

from unipixel_plugin.data import AnnotationError, HybridDataset
from unipixel_plugin.data.check import check_data_root, main
from unipixel_plugin.data.formats.refvos import MeViSDataset, RefDAVIS17Dataset, ReVOSDataset
from unipixel_plugin.data.mask_parts import decode_object


def edit_json(path, change):
    with open(path) as f:
        data = json.load(f)
    change(data)
    with open(path, 'w') as f:
        json.dump(data, f)


def plant(root, fx):
    fx.make_mevis(root, 'train')
    fx.make_mevis(root, 'valid_u')
    fx.make_revos(root)
    mevis = os.path.join(root, 'mevis', 'train')

    def short_masks(masks):
        masks['1'] = masks['1'][:-1]  # anno 1 (vidA, 6 frames, only expression vidA/1 uses it): 5 masks

    edit_json(os.path.join(mevis, 'mask_dict.json'), short_masks)

    def empty_expression(meta):
        meta['videos']['vidB']['expressions']['0']['exp'] = ' \t '

    edit_json(os.path.join(mevis, 'meta_expressions.json'), empty_expression)
    frame = os.path.join(mevis, 'JPEGImages', 'vidB', '00002.jpg')
    with open(frame, 'rb') as f:
        data = f.read()
    with open(frame, 'wb') as f:
        f.write(data[:-2])  # only the end-of-image marker is gone: the header still reads

    def missing_anno_id(meta):
        meta['videos']['MOSE/vidM']['expressions']['1']['anno_id'] = [99]

    edit_json(os.path.join(root, 'revos', 'meta_expressions_train_.json'), missing_anno_id)


@pytest.fixture
def planted_root(fresh_root, fx):
    plant(fresh_root, fx)
    return fresh_root


def problems_by_sample(report):
    return {p.sample: p for p in report.all_problems}


def test_check_names_each_planted_problem_by_file_and_id(planted_root):
    report = check_data_root(planted_root, datasets=['mevis', 'revos'])
    assert not report.ok
    found = problems_by_sample(report)
    assert sorted(found) == ['mevis:vidA/1', 'mevis:vidB/0', 'mevis:vidB/1', 'revos:MOSE/vidM/1']
    assert len(report.all_problems) == 4

    short = found['mevis:vidA/1']
    assert (short.kind, short.dataset, short.split) == ('malformed_annotation', 'mevis', 'train')
    assert short.path.endswith(os.path.join('mevis', 'train', 'mask_dict.json'))
    assert 'anno_id 1' in short.message and 'masks for 5 frames but the video lists 6 frames' in short.message
    assert 'expression vidA/1' in short.message

    empty = found['mevis:vidB/0']
    assert (empty.kind, empty.split) == ('empty_expression', 'train')
    assert empty.path.endswith(os.path.join('mevis', 'train', 'meta_expressions.json'))
    assert 'expression vidB/0' in empty.message and 'empty' in empty.message

    truncated = found['mevis:vidB/1']
    assert truncated.kind == 'truncated_media'
    assert truncated.path.endswith(os.path.join('JPEGImages', 'vidB', '00002.jpg'))
    assert 'end-of-image marker (FFD9)' in truncated.message and 'decoding' not in truncated.message

    missing = found['revos:MOSE/vidM/1']
    assert (missing.kind, missing.dataset, missing.split) == ('malformed_annotation', 'revos', 'train')
    assert missing.path.endswith(os.path.join('revos', 'mask_dict.json'))
    assert 'anno_id 99' in missing.message and 'no entry' in missing.message
    assert 'meta_expressions_train_.json' in missing.message and 'expression MOSE/vidM/1' in missing.message

    # each problem is one printed line naming the file and the video / expression
    lines = report.format().splitlines()
    for p in report.all_problems:
        (line, ) = [ln for ln in lines if f'[{p.sample}]' in ln]
        assert os.path.basename(p.path) in line and p.kind in line

    # the rest of each split still loads and is checked
    counts = {(d.dataset, d.split): (d.samples, d.skipped) for d in report.present}
    assert counts == {('mevis', 'train'): (2, 2), ('mevis', 'valid_u'): (6, 0), ('revos', 'train'): (3, 1),
                      ('revos', 'valid'): (4, 0)}
    assert '2 samples  2 item(s) skipped' in report.format()


def test_decode_decodes_the_truncated_jpeg(planted_root):
    report = check_data_root(planted_root, datasets=['mevis'], splits=['train'], decode=True)
    found = problems_by_sample(report)
    assert sorted(found) == ['mevis:vidA/1', 'mevis:vidB/0', 'mevis:vidB/1']
    truncated = found['mevis:vidB/1']
    assert truncated.kind == 'truncated_media' and 'decoding it fails' in truncated.message
    assert os.path.join('vidB', '00002.jpg') in truncated.message


def test_other_samples_are_still_checked(planted_root, fx):
    """A problem found by the checker in a good sample of a split with skipped items is still found."""
    os.remove(os.path.join(planted_root, 'mevis', 'train', 'JPEGImages', 'vidA', '00003.jpg'))
    report = check_data_root(planted_root, datasets=['mevis'], splits=['train'])
    missing = [p for p in report.all_problems if p.kind == 'missing_media']
    assert len(missing) == 1 and missing[0].sample == 'mevis:vidA/0' and '00003.jpg' in missing[0].message
    assert len(report.all_problems) == 4


def test_splits_load_with_the_good_samples_intact(planted_root, data_root, fx):
    mevis = MeViSDataset(data_root=planted_root, split='train')
    assert [s.id for s in mevis] == ['vidA/0', 'vidB/1']  # 4 expressions - 2 bad ones
    assert sorted((p.kind, p.video, p.sample) for p in mevis.problems) == [
        ('empty_expression', 'vidB', 'vidB/0'), ('malformed_annotation', 'vidA', 'vidA/1')]
    revos = ReVOSDataset(data_root=planted_root, split='train')
    assert [s.id for s in revos] == ['TAO/train/vidT/0', 'TAO/train/vidT/1', 'MOSE/vidM/0']
    assert [p.sample for p in revos.problems] == ['MOSE/vidM/1']
    assert len(MeViSDataset(data_root=planted_root, split='valid_u')) == 6
    assert len(ReVOSDataset(data_root=planted_root, split='valid')) == 4

    # the kept samples are those of the clean fixture
    for planted, cls in ((mevis, MeViSDataset), (revos, ReVOSDataset)):
        clean = {s.id: s for s in cls(data_root=data_root, split='train')}
        for s in planted:
            ref = clean[s.id]
            assert s.conversation == ref.conversation and s.query == ref.query and s.meta['obj_id'] == \
                ref.meta['obj_id']
            assert [os.path.relpath(p, planted_root) for p in s.media] == \
                [os.path.relpath(p, data_root) for p in ref.media]
            positions = range(len(s.objects[0].frames))
            assert np.array_equal(decode_object(s.objects[0], positions, (fx.H, fx.W)),
                                  decode_object(ref.objects[0], positions, (fx.H, fx.W)))


def test_training_mixture_and_annotation_cache_see_the_same(planted_root, tmp_path, monkeypatch):
    mix = HybridDataset('mevis:2,revos', data_root=planted_root, num_frames=2)
    assert len(mix) == 2 * 2 + 3
    assert sorted((p.source, p.split, p.sample) for p in mix.problems) == [
        ('mevis', 'train', 'vidA/1'), ('mevis', 'train', 'vidB/0'), ('revos', 'train', 'MOSE/vidM/1')]
    assert mix[0].frames.shape[0] == 2

    plain = MeViSDataset(data_root=planted_root, split='train')
    cached = MeViSDataset(data_root=planted_root, split='train', annotation_cache=str(tmp_path))
    assert [cached[i].key for i in range(len(cached))] == [s.key for s in plain]
    assert cached.problems == plain.problems
    assert len([f for f in os.listdir(tmp_path) if f.endswith('.problems.json')]) == 1

    def no_parsing(self):
        raise AssertionError('the annotation files were parsed again')

    monkeypatch.setattr(MeViSDataset, 'parse', no_parsing)
    again = MeViSDataset(data_root=planted_root, split='train', annotation_cache=str(tmp_path))
    assert len(again) == 2 and again.problems == plain.problems  # the skipped items survive the reload


def test_a_source_whose_items_are_all_bad_says_why(fresh_root, fx):
    fx.make_revos(fresh_root)

    def all_missing(meta):
        for video in meta['videos'].values():
            for exp in video['expressions'].values():
                exp['anno_id'] = [99]

    edit_json(os.path.join(fresh_root, 'revos', 'meta_expressions_train_.json'), all_missing)
    assert len(ReVOSDataset(data_root=fresh_root, split='train')) == 0
    with pytest.raises(ValueError, match=r'revos\) is empty: all 4 of its annotation items were skipped, the first '
                       r'because .*mask_dict\.json: anno_id 99'):
        HybridDataset('revos', data_root=fresh_root)


def test_a_broken_file_still_fails_its_splits(fresh_root, fx):
    fx.make_mevis(fresh_root, 'train')
    fx.make_revos(fresh_root)
    with open(os.path.join(fresh_root, 'revos', 'mask_dict.json'), 'w') as f:
        json.dump([], f)  # wrong top-level structure: a list, not a dict of anno_id -> masks
    with pytest.raises(AnnotationError, match=r'revos.mask_dict\.json: expected a dict'):
        ReVOSDataset(data_root=fresh_root, split='train')
    report = check_data_root(fresh_root, datasets=['mevis', 'revos'])
    broken = {(p.dataset, p.split) for p in report.all_problems}
    assert broken == {('revos', 'train'), ('revos', 'valid')}
    assert all('mask_dict.json' in p.message for p in report.all_problems)
    assert {(d.dataset, d.split): d.samples for d in report.present}[('mevis', 'train')] == 4


def test_a_malformed_video_entry_loses_only_its_expressions(fresh_root, fx):
    fx.make_mevis(fresh_root, 'train')
    edit_json(os.path.join(fresh_root, 'mevis', 'train', 'meta_expressions.json'),
              lambda meta: meta['videos']['vidA'].pop('frames'))
    ds = MeViSDataset(data_root=fresh_root, split='train')
    assert [s.id for s in ds] == ['vidB/0', 'vidB/1']
    (problem, ) = fx.skipped(ds, r'meta_expressions\.json: video vidA: expected \{"frames"')
    assert problem.video == 'vidA' and problem.sample is None


def test_visa_layout_skips_one_expression(fresh_root, fx):
    fx.make_visa(fresh_root, 'ref_davis17')
    path = os.path.join(fresh_root, 'ref_davis17', 'train', 'mask_dict.pkl')
    with open(path, 'rb') as f:
        masks = pickle.load(f)
    masks['4'] = masks['4'][:1]  # running index 4 = vid_a/2: masks for 1 of its 2 frames
    with open(path, 'wb') as f:
        pickle.dump(masks, f)
    ds = RefDAVIS17Dataset(data_root=fresh_root, split='train')
    assert len(ds) == 13 and 'vid_a/2' not in {s.id for s in ds}
    (problem, ) = fx.skipped(ds, r'mask_dict\.pkl\[4\]: anno_id 4 \(named by expression vid_a/2 of .*\) has masks '
                             r'for 1 frames but the video lists 2')
    assert problem.file == path


def test_cli_exit_codes(planted_root, capsys):
    assert main([planted_root, '--datasets', 'mevis', 'revos']) == 1
    out = capsys.readouterr().out
    assert '[mevis:vidA/1]' in out and '[revos:MOSE/vidM/1]' in out and 'truncated_media' in out
    assert main([planted_root, '--datasets', 'mevis', '--splits', 'valid_u']) == 0  # the untouched split


def test_a_folder_without_any_known_dataset(tmp_path, fx, capsys):
    empty = tmp_path / 'empty'
    (empty / 'some_folder').mkdir(parents=True)
    assert main([str(empty)]) == 1
    out = capsys.readouterr().out
    assert f'no known dataset found under {empty}' in out and 'mevis/train/meta_expressions.json' in out
    assert '[absent]' not in out  # what was looked for is said once, not as a list of every split
    report = check_data_root(str(empty))
    assert not report.ok and [p.kind for p in report.all_problems] == ['dataset_missing']

    # a root given one folder too high: the message points to the folder that holds the datasets
    fx.make_mevis(str(tmp_path / 'parent' / 'data'), 'train')
    (problem, ) = check_data_root(str(tmp_path / 'parent')).all_problems
    assert 'no known dataset' in problem.message and os.path.join('parent', 'data') + ' holds mevis/train' in \
        problem.message
