"""``unipixel data check``: presence, counts, and every planted problem reported with its file."""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from unipixel_plugin.data.check import add_data_cli, check_data_root, main


def test_clean_root_reports_presence_and_counts(data_root):
    report = check_data_root(data_root)
    assert report.ok, report.format()
    counts = {(d.dataset, d.split): d.samples for d in report.present}
    assert counts[('mevis', 'train')] == 4 and counts[('mevis', 'valid_u')] == 6
    assert counts[('ref_youtube_vos', 'train')] == 14 and counts[('refcoco', 'testA')] == 1
    assert counts[('videorefer_bench_q', 'test')] == 2 and counts[('groundmore', 'test')] == 2
    absent = {(d.dataset, d.split) for d in report.datasets if not d.present}
    assert ('refclef', 'train') in absent and ('mevis', 'valid') in absent
    assert 'refclef' in report.format() and '[absent]' in report.format()
    # the training sources with their own formats
    assert {name: counts[(name, 'train')] for name in (
        'videorefer_short_caption_ref', 'videorefer_short_caption', 'videorefer_detailed_caption', 'videorefer_qa',
        'videorefer_qa_mem', 'inst_it_image_short_caption_raw_ref', 'inst_it_video_qa_raw',
        'inst_it_video_qa_raw_mem', 'osprey_conversation', 'osprey_pos_neg', 'osprey_detail_description', 'vicas',
        'ade20k', 'cocostuff', 'mapillary', 'ref_sav')} == {
        'videorefer_short_caption_ref': 3, 'videorefer_short_caption': 2, 'videorefer_detailed_caption': 2,
        'videorefer_qa': 3, 'videorefer_qa_mem': 2, 'inst_it_image_short_caption_raw_ref': 2,
        'inst_it_video_qa_raw': 3, 'inst_it_video_qa_raw_mem': 2, 'osprey_conversation': 1, 'osprey_pos_neg': 1,
        'osprey_detail_description': 1, 'vicas': 2, 'ade20k': 1, 'cocostuff': 1, 'mapillary': 1, 'ref_sav': 2}
    assert counts[('vicas', 'val')] == 2 and ('ade20k', 'val') in absent


def planted(root, fx):
    fx.make_mevis(root, 'train')
    fx.make_videorefer_bench_q(root)
    base = os.path.join(root, 'mevis', 'train')
    os.remove(os.path.join(base, 'JPEGImages', 'vidB', '00001.jpg'))  # missing frame
    with open(os.path.join(base, 'meta_expressions.json')) as f:
        meta = json.load(f)
    meta['videos']['vidB']['expressions']['0']['exp'] = '   '  # empty expression: the reader skips vidB/0
    with open(os.path.join(base, 'meta_expressions.json'), 'w') as f:
        json.dump(meta, f)
    with open(os.path.join(base, 'mask_dict.json')) as f:
        masks = json.load(f)
    masks['0'][2] = fx.rle(fx.rect(0, 5, 0, 5, (24, 32)))  # wrong size on vidA frame 2
    masks['1'][1] = {'size': [fx.H, fx.W], 'counts': 'PPPP'}  # malformed RLE on vidA frame 1
    with open(os.path.join(base, 'mask_dict.json'), 'w') as f:
        json.dump(masks, f)
    with open(os.path.join(root, 'videorefer', 'VideoRefer-Bench', 'videos', 'clip.mp4'), 'wb') as f:
        f.write(b'\x00' * 100)  # corrupt video


def test_planted_problems_are_reported_with_files(fresh_root, fx):
    planted(fresh_root, fx)
    report = check_data_root(fresh_root, datasets=['mevis', 'videorefer_bench_q'])
    assert not report.ok
    kinds = Counter_of(report)
    assert kinds['missing_media'] == 1 and kinds['empty_expression'] == 1
    assert kinds['mask_size'] == 2  # anno 0 is used by expressions 0 and 1 of vidA
    assert kinds['malformed_mask'] == 1 and kinds['unreadable_media'] == 1
    text = {p.kind: str(p) for p in report.all_problems}
    assert os.path.join('vidB', '00001.jpg') in text['missing_media'] and '[mevis:vidB/1]' in text['missing_media']
    assert 'frame 2' in text['mask_size'] and '32x24' in text['mask_size'] and 'mask_dict.json' in text['mask_size']
    assert 'clip.mp4' in text['unreadable_media']
    assert '[mevis:vidB/0]' in text['empty_expression'] and 'meta_expressions.json' in text['empty_expression']
    mevis = [d for d in report.datasets if d.dataset == 'mevis' and d.split == 'train'][0]
    assert mevis.samples == 3 and mevis.skipped == 1  # the empty expression loses only itself


def Counter_of(report):
    from collections import Counter
    return Counter(p.kind for p in report.all_problems)


def test_decode_mode_finds_the_same(fresh_root, fx):
    planted(fresh_root, fx)
    report = check_data_root(fresh_root, datasets=['mevis'], splits=['train'], decode=True)
    kinds = Counter_of(report)
    assert kinds['missing_media'] == 1 and kinds['malformed_mask'] == 1 and kinds['mask_size'] == 2


def test_asked_for_but_absent_and_unknown(fresh_root):
    report = check_data_root(fresh_root, datasets=['mevis', 'nonsense'])
    messages = [p.message for p in report.all_problems]
    assert any("unknown dataset 'nonsense'" in m for m in messages)
    assert any('mevis was asked for' in m for m in messages)


def test_malformed_annotation_is_a_problem_not_a_crash(fresh_root, fx):
    fx.make_mevis(fresh_root, 'train')
    with open(os.path.join(fresh_root, 'mevis', 'train', 'meta_expressions.json'), 'w') as f:
        f.write('{broken')
    report = check_data_root(fresh_root, datasets=['mevis'])
    (problem,) = [p for p in report.all_problems if p.kind == 'malformed_annotation']
    assert 'meta_expressions.json' in problem.message


def test_cli_subcommand_and_json(fresh_root, fx, tmp_path, capsys):
    planted(fresh_root, fx)
    parser = argparse.ArgumentParser(prog='unipixel')
    add_data_cli(parser.add_subparsers(dest='command'))
    out = str(tmp_path / 'report.json')
    args = parser.parse_args(['data', 'check', fresh_root, '--datasets', 'mevis', '--json', out])
    assert args.func(args) == 1
    printed = capsys.readouterr().out
    assert 'mevis' in printed and 'missing_media' in printed
    with open(out) as f:
        data = json.load(f)
    assert data['ok'] is False and any(p['kind'] == 'empty_expression' for p in data['problems'])
    assert main([fresh_root, '--datasets', 'nothing_here']) == 1


def test_python_dash_m(data_root):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.run([sys.executable, '-m', 'unipixel_plugin.data.check', data_root, '--datasets', 'refcoco'],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '[present] refcoco' in proc.stdout and '0 problem(s), 0 error(s)' in proc.stdout


@pytest.mark.parametrize('argv', [['--help']])
def test_help(argv, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    assert '--datasets' in capsys.readouterr().out


def test_object_without_any_mask_is_a_warning(fresh_root, fx):
    fx.make_mevis(fresh_root, 'train')
    path = os.path.join(fresh_root, 'mevis', 'train', 'mask_dict.json')
    with open(path) as f:
        masks = json.load(f)
    masks['0'] = [None] * len(masks['0'])  # anno 0 (vidA) never annotated
    with open(path, 'w') as f:
        json.dump(masks, f)
    report = check_data_root(fresh_root, datasets=['mevis'])
    (warning,) = report.all_problems
    assert warning.kind == 'empty_mask' and warning.severity == 'warning' and warning.sample == 'mevis:vidA/0'
    assert report.ok and 'warning' in report.format()


def test_new_formats_planted_problems(fresh_root, fx):
    """JSON mask files (VideoRefer-700K, ViCaS, SA-V masklets), frame-folder items and label maps."""
    fx.make_videorefer_700k(fresh_root)
    fx.make_vicas(fresh_root)
    fx.make_ref_sav(fresh_root, num_frames=13, annotated=3)  # 4 timeline positions, 3 masklet frames
    fx.make_semantic(fresh_root)
    os.remove(os.path.join(fresh_root, fx.VR700K, 'masks_qa', '0.json'))  # used by videorefer_qa and _qa_mem
    fx.dump_json(os.path.join(fresh_root, 'vicas', 'masks', '000123', '0.json'),
                 [[fx.rle(fx.rect(0, 5, 0, 5, (24, 32)))], [None], [None]])  # wrong size on frame 0
    fx.write_label(os.path.join(fresh_root, 'lisa', 'ade20k', 'annotations', 'training', 'ADE_train_00000001.png'),
                   np.zeros((10, 10), np.uint8))  # label map smaller than its image
    report = check_data_root(fresh_root, datasets=['videorefer_qa', 'videorefer_qa_mem', 'vicas', 'ref_sav',
                                                   'ade20k'], splits=['train'])
    by_kind = {}
    for p in report.all_problems:
        by_kind.setdefault(p.kind, []).append(p)
    assert sorted((k, len(v)) for k, v in by_kind.items()) == [('malformed_mask', 2), ('mask_size', 2),
                                                               ('missing_mask', 2)]
    # a missing mask file is reported once per reader, not once per frame and object
    assert {p.dataset for p in by_kind['missing_mask']} == {'videorefer_qa', 'videorefer_qa_mem'}
    assert all(p.path.endswith(os.path.join('masks_qa', '0.json')) for p in by_kind['missing_mask'])
    # the masklet file is one frame short: reported once per object, at the first position it lacks
    assert all(p.dataset == 'ref_sav' and "fails at 3" in p.message and p.message.startswith('frame 3')
               for p in by_kind['malformed_mask'])
    sizes = sorted(str(p) for p in by_kind['mask_size'])
    assert 'ADE_train_00000001.png' in sizes[0] and '10x10' in sizes[0]
    assert '[vicas:000123_0]' in sizes[1] and '32x24' in sizes[1] and os.path.join('000123', '0.json') in sizes[1]
    assert not report.ok and {d.dataset: d.samples for d in report.present} == {
        'videorefer_qa': 3, 'videorefer_qa_mem': 2, 'vicas': 2, 'ref_sav': 2, 'ade20k': 1}
    decoded = check_data_root(fresh_root, datasets=['videorefer_qa', 'vicas', 'ref_sav', 'ade20k'], decode=True)
    assert sorted(p.kind for p in decoded.all_problems) == ['malformed_mask', 'malformed_mask', 'mask_size',
                                                            'mask_size', 'missing_mask']


def test_decode_finds_label_maps_without_classes(fresh_root, fx):
    fx.make_semantic(fresh_root)
    path = os.path.join(fresh_root, 'lisa', 'cocostuff', 'train2017', '000000000001.png')
    fx.write_label(path, fx.semantic_label([0, 96]))  # only classes upstream ignores
    assert check_data_root(fresh_root, datasets=['cocostuff']).ok  # headers only: nothing to see
    report = check_data_root(fresh_root, datasets=['cocostuff'], decode=True)
    (warning, ) = report.all_problems
    assert warning.kind == 'empty_mask' and 'holds no cocostuff class' in warning.message and report.ok
