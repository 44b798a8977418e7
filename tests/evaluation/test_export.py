"""`unipixel export` on hand-written samples files: the masks land where `unipixel score` reads them, and bad
files say what is wrong."""
import json

import pytest

from unipixel_plugin.evaluation.export import export_samples, task_of
from unipixel_plugin.evaluation.scoring import score_predictions
from unipixel_plugin.masks import decode_rle


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    from unipixel_plugin.toy.scenes import write_scenes
    return write_scenes(tmp_path_factory.mktemp('scenes'), num_images=2, num_videos=0, seed=7, split='valid_u',
                        expressions_per_object=1)


def write_samples(path, answers):
    path.write_text(''.join(json.dumps({'doc_id': i, 'filtered_resps': [a]}) + '\n' for i, a in answers))
    return path


def test_a_perfect_answer_and_a_text_answer_score_as_expected(root, tmp_path):
    from unipixel_plugin.evaluation.lmms.refer_segmentation import build_docs
    docs = build_docs('refcoco', 'val', str(root))
    gt = json.loads(docs[0]['gt'])
    answer = json.dumps({'answer': 'Sure, it is <|seg|>.', 'masks': [[gt]], 'frame_indices': [0]})
    samples = write_samples(tmp_path / '20261202_samples_unipixel_refcoco_val.jsonl',
                            [(0, answer), (1, 'no mask here')])
    written = export_samples(str(samples), str(tmp_path / 'pred'), str(root))
    assert written['kind'] == 'refcoco' and written['predictions'] == 2 and written['empty'] == 1
    result = score_predictions('refcoco', str(tmp_path / 'pred'), str(root))
    a, b = decode_rle(gt).sum(), decode_rle(json.loads(docs[1]['gt'])).sum()
    missing = sum(decode_rle(json.loads(d['gt'])).sum() for d in docs[2:])
    assert result['cIoU'] == pytest.approx(a / (a + b + missing))
    assert len(result['missing_predictions']) == len(docs) - 2


def test_bad_files_name_what_is_wrong(root, tmp_path):
    with pytest.raises(ValueError, match='give the task with --task'):
        task_of(str(tmp_path / 'answers.jsonl'))
    samples = write_samples(tmp_path / 'x_samples_unipixel_refcoco_val.jsonl', [(999, '')])
    with pytest.raises(ValueError, match=r'sample 0: doc_id 999 is not a document of unipixel_refcoco_val'):
        export_samples(str(samples), str(tmp_path / 'pred'), str(root))
    broken = tmp_path / 'y_samples_unipixel_refcoco_val.jsonl'
    broken.write_text('{"doc_id": 0}\n{not json\n')
    with pytest.raises(ValueError, match=r'y_samples_unipixel_refcoco_val.jsonl, line 2: not a JSON sample'):
        export_samples(str(broken), str(tmp_path / 'pred'), str(root))
    with pytest.raises(ValueError, match="not one of this package's mask tasks"):
        export_samples(str(write_samples(tmp_path / 'z_samples_mmmu_val.jsonl', [(0, '')])), str(tmp_path / 'p'),
                       str(root))
