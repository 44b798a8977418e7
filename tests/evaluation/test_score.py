"""`unipixel score`: procedural prediction folders (perfect, empty, shifted, a missing video, a missing frame)
scored against native MeViS / ReVOS / Ref-DAVIS17 files, checked against scores computed here."""
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unipixel_plugin.masks import encode_rle

H, W, T = 40, 50, 3


def gt_mask(v, t):
    m = np.zeros((H, W), bool)
    m[5 + 2 * v:20 + 2 * v, 8 + 3 * t:24 + 3 * t] = True
    return m


def write_gt(root: Path, kind: str):
    videos, mask_dict = {}, {}
    for v, vid in enumerate(['a/x', 'b']):  # ReVOS-style ids may contain '/'
        exps = {}
        for e in range(2):
            anno = v * 2 + e
            exps[str(e)] = {'exp': 'the thing', 'obj_id': [0], 'anno_id': [anno], 'type_id': e}
            mask_dict[str(anno)] = [encode_rle(gt_mask(v, t)) for t in range(T)]
        videos[vid] = {'expressions': exps, 'frames': [f'{t:05d}' for t in range(T)]}
    if kind == 'mevis':
        folder = root / 'mevis' / 'valid_u'
        folder.mkdir(parents=True)
        (folder / 'meta_expressions.json').write_text(json.dumps({'videos': videos}))
        (folder / 'mask_dict.json').write_text(json.dumps(mask_dict))
    elif kind == 'revos':
        (root / 'revos').mkdir(parents=True)
        (root / 'revos' / 'meta_expressions_valid_.json').write_text(json.dumps({'videos': videos}))
        (root / 'revos' / 'mask_dict.json').write_text(json.dumps(mask_dict))
    else:  # Ref-DAVIS17, VISA layout: mask_dict.pkl keyed by a running index over sorted videos x expression ids
        meta = root / 'ref_davis17' / 'meta_expressions' / 'valid'
        meta.mkdir(parents=True)
        for vid in videos:
            for e in videos[vid]['expressions'].values():
                del e['anno_id'], e['type_id']
        (meta / 'meta_expressions.json').write_text(json.dumps({'videos': videos}))
        running = {}
        k = 0
        for v, vid in sorted(enumerate(['a/x', 'b']), key=lambda x: x[1]):
            for e in sorted(videos[vid]['expressions']):
                running[str(k)] = [encode_rle(gt_mask(v, t)) for t in range(T)]
                k += 1
        (root / 'ref_davis17' / 'valid').mkdir(parents=True)
        with open(root / 'ref_davis17' / 'valid' / 'mask_dict.pkl', 'wb') as f:
            pickle.dump(running, f)


def write_pred(pred: Path, mode: str, skip_video=None, skip_frame=None):
    for v, vid in enumerate(['a/x', 'b']):
        if vid == skip_video:
            continue
        for e in range(2):
            folder = pred / vid / str(e)
            folder.mkdir(parents=True, exist_ok=True)
            for t in range(T):
                if (vid, e, t) == skip_frame:
                    continue
                m = {'perfect': gt_mask(v, t), 'empty': np.zeros((H, W), bool),
                     'shifted': np.roll(gt_mask(v, t), 4, axis=1)}[mode]
                Image.fromarray(m.astype(np.uint8) * 255).save(folder / f'{t:05d}.png')


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


@pytest.mark.parametrize('kind, bench', [('mevis', 'mevis_valid_u'), ('davis', 'ref_davis17')])
def test_perfect_empty_shifted_missing(tmp_path, kind, bench):
    from unipixel_plugin.evaluation.metrics import j_and_f
    from unipixel_plugin.evaluation.scoring import score_folder
    write_gt(tmp_path / 'data', kind)
    results = {}
    for mode in ('perfect', 'empty', 'shifted'):
        write_pred(tmp_path / mode, mode)
        results[mode] = score_folder(bench, str(tmp_path / mode), str(tmp_path / 'data'))
    assert results['perfect']['J'] == 1 and results['perfect']['F'] == 1 and results['perfect']['expressions'] == 4
    assert results['empty']['J'] == 0 and results['empty']['F'] == 0
    shifted_j = np.mean([iou(np.roll(gt_mask(v, t), 4, 1), gt_mask(v, t)) for v in range(2) for t in range(T)])
    assert results['shifted']['J'] == pytest.approx(shifted_j, abs=1e-12)
    shifted_f = np.mean([j_and_f(np.roll(gt_mask(v, t), 4, 1), gt_mask(v, t))[1] for v in range(2) for t in range(T)])
    assert results['shifted']['F'] == pytest.approx(shifted_f, abs=1e-12) and 0 < shifted_f <= 1
    # a missing video scores 0 and counts; a missing frame PNG is an empty mask and is listed
    write_pred(tmp_path / 'holes', 'perfect', skip_video='b', skip_frame=('a/x', 1, 2))
    holes = score_folder(bench, str(tmp_path / 'holes'), str(tmp_path / 'data'))
    assert holes['missing_videos'] == ['b'] and len(holes['missing_frames']) == 1
    assert '00002' in holes['missing_frames'][0]
    # 4 expressions: two of b score 0, a/x/0 scores 1, a/x/1 has J = F = 2/3 (one empty frame of three)
    assert holes['J'] == pytest.approx((1 + 2 / 3) / 4) and holes['F'] == pytest.approx((1 + 2 / 3) / 4)


def test_revos_subsets_and_the_command_line(tmp_path):
    write_gt(tmp_path / 'data', 'revos')
    write_pred(tmp_path / 'pred', 'perfect', skip_video='b')
    out = subprocess.run([sys.executable, '-m', 'unipixel_plugin.cli', 'score', 'revos', str(tmp_path / 'pred'),
                          '--data-root', str(tmp_path / 'data'), '--json', str(tmp_path / 's.json')],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert 'overall' in out.stdout and 'missing videos (scored 0): 1' in out.stdout
    result = json.loads((tmp_path / 's.json').read_text())
    # type 0 (referring): a/x/0 = 1, b/0 = 0; type 1 (reasoning): a/x/1 = 1, b/1 = 0
    assert result['referring']['J&F'] == pytest.approx(0.5) and result['reasoning']['J'] == pytest.approx(0.5)
    assert result['overall']['J&F'] == pytest.approx(0.5)
    from unipixel_plugin.evaluation.leaderboard import read_results
    assert {e.protocol for e in read_results(tmp_path / 's.json', 'toy')} == {'referring', 'reasoning', 'overall'}


def test_missing_ground_truth_names_the_file(tmp_path):
    from unipixel_plugin.evaluation.scoring import score_folder
    (tmp_path / 'pred').mkdir()
    with pytest.raises(FileNotFoundError, match='meta_expressions.json not found'):
        score_folder('mevis_valid_u', str(tmp_path / 'pred'), str(tmp_path))
