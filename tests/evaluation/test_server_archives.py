"""MeViS valid and Ref-YouTube-VOS valid (masks hidden, scored by the official servers): the tasks' aggregation writes
the archive each server takes, checked member by member and pixel by pixel, and says where it is."""
import argparse
import io
import json
import logging
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unipixel_plugin.masks import encode_rle

H, W = 24, 32
TASKS = Path(__file__).resolve().parents[2] / 'tasks'
VIDEOS = {'v0': ['0', '1'], 'v1': ['0']}  # expression ids per video


def frame_names(dataset):
    # Ref-YouTube-VOS valid keeps every 5th frame of the 30 fps video; MeViS numbers them in order
    return [f'{5 * t:05d}' for t in range(3)] if dataset == 'ref_youtube_vos' else [f'{t:05d}' for t in range(3)]


def write_split(root: Path, dataset: str):
    meta_file = {'mevis': root / 'mevis' / 'valid' / 'meta_expressions.json',
                 'ref_youtube_vos': root / 'ref_youtube_vos' / 'meta_expressions' / 'valid' / 'meta_expressions.json'}
    frames_dir = {'mevis': root / 'mevis' / 'valid' / 'JPEGImages',
                  'ref_youtube_vos': root / 'ref_youtube_vos' / 'valid' / 'JPEGImages'}
    videos = {}
    for vid, exps in VIDEOS.items():
        (frames_dir[dataset] / vid).mkdir(parents=True)
        for name in frame_names(dataset):
            Image.fromarray(np.full((H, W, 3), 60, np.uint8)).save(frames_dir[dataset] / vid / f'{name}.jpg')
        # the hidden splits list no anno_id (MeViS) and no obj_id (Ref-YouTube-VOS)
        videos[vid] = {'expressions': {e: {'exp': f'the thing number {e}'} for e in exps},
                       'frames': frame_names(dataset)}
    meta_file[dataset].parent.mkdir(parents=True, exist_ok=True)
    meta_file[dataset].write_text(json.dumps({'videos': videos}))


@pytest.fixture(scope='module')
def server_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('server_root')
    write_split(root, 'mevis')
    write_split(root, 'ref_youtube_vos')
    return root


def track(seed: int) -> list[np.ndarray]:
    """Three distinct masks (one per frame) for one expression."""
    rng = np.random.default_rng(seed)
    return [rng.random((H, W)) < 0.3 for _ in range(3)]


def member_mask(archive: zipfile.ZipFile, name: str) -> np.ndarray:
    image = Image.open(io.BytesIO(archive.read(name)))
    assert image.mode == 'L' and image.size == (W, H)
    values = np.asarray(image)
    assert set(np.unique(values)) <= {0, 255}
    return values == 255


@pytest.mark.parametrize('dataset, prefix', [('mevis', ''), ('ref_youtube_vos', 'Annotations/')])
def test_archive_layout_and_pixels(server_root, tmp_path, caplog, dataset, prefix):
    from unipixel_plugin.evaluation.lmms import refer_video_segmentation as task
    docs = task.build_docs(dataset, 'valid', str(server_root))
    assert [(d['video_id'], d['exp_id']) for d in docs] == [('v0', '0'), ('v0', '1'), ('v1', '0')]
    assert all(d['gt'] == '' for d in docs) and json.loads(docs[0]['frames']) == frame_names(dataset)
    masks = {i: track(i) for i in range(2)}
    answers = [json.dumps({'answer': 'Sure, it is <|seg|>.', 'frame_indices': [0, 1, 2],
                           'masks': [[encode_rle(m) for m in masks[i]]]}) for i in range(2)]
    answers.append('I do not see it.')  # a text answer: the expression is archived with empty masks
    items = [task.process_results_submission(d, [a])['archived_expressions'] for d, a in zip(docs, answers)]
    with caplog.at_level(logging.WARNING):
        count = task.aggregate_submission(items[::-1], args=argparse.Namespace(output_path=str(tmp_path)))
    assert count == 3
    path = tmp_path / 'submissions' / f'unipixel_{dataset}_valid.zip'
    assert f'archive for the official server is {path}' in caplog.text and 'no public ground truth' in caplog.text
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert sorted(names) == sorted(f'{prefix}{v}/{e}/{f}.png' for v, exps in VIDEOS.items() for e in exps
                                       for f in frame_names(dataset))
        for (vid, exp), expected in ((('v0', '0'), masks[0]), (('v0', '1'), masks[1]),
                                     (('v1', '0'), [np.zeros((H, W), bool)] * 3)):
            for name, mask in zip(frame_names(dataset), expected):
                assert (member_mask(archive, f'{prefix}{vid}/{exp}/{name}.png') == mask).all()
    assert not (tmp_path / 'submissions' / f'unipixel_{dataset}_valid.zip.part').exists()


def test_write_submission_refuses_a_short_track(tmp_path):
    from unipixel_plugin.evaluation.submission import write_submission
    with pytest.raises(ValueError, match='v0/0 has 3 frames but 2 masks'):
        write_submission('mevis', [('v0', '0', ['a', 'b', 'c'], [np.zeros((2, 2), bool)] * 2)],
                         str(tmp_path / 's.zip'))
    assert not (tmp_path / 's.zip').exists()


def test_yamls_load(server_root, monkeypatch):
    monkeypatch.setenv('UNIPIXEL_DATA_ROOT', str(server_root))
    from lmms_eval.tasks import TaskManager
    manager = TaskManager(include_path=str(TASKS))
    tasks = manager.load_task_or_group(['unipixel_mevis_valid', 'unipixel_ref_youtube_vos_valid'])
    assert [len(list(t.test_docs())) for t in tasks.values()] == [3, 3]


@pytest.mark.slow
def test_lmms_eval_run_writes_the_archives_of_its_answers(server_root, lmms_run, tmp_path, caplog):
    from unipixel_plugin.evaluation.lmms.documents import answer_record
    from unipixel_plugin.evaluation.lmms.refer_video_segmentation import build_docs
    from unipixel_plugin.masks import decode_rle
    tasks = ['unipixel_mevis_valid', 'unipixel_ref_youtube_vos_valid']
    with caplog.at_level(logging.WARNING):
        out = lmms_run(tasks, server_root, output_path=tmp_path / 'out')
    for task, dataset, prefix in zip(tasks, ('mevis', 'ref_youtube_vos'), ('', 'Annotations/')):
        assert out['results'][task]['archived_expressions,none'] == 3
        path = tmp_path / 'out' / 'submissions' / f'{task}.zip'
        assert str(path) in caplog.text
        docs = build_docs(dataset, 'valid', str(server_root))
        with zipfile.ZipFile(path) as archive:
            assert len(archive.namelist()) == 3 * 3
            for sample in out['samples'][task]:
                doc = docs[sample['doc_id']]
                record = answer_record(sample['filtered_resps'][0])
                assert record['frame_indices'] == [0, 1, 2]  # SAM 2 tracked every frame of the folder
                for t, name in enumerate(frame_names(dataset)):
                    expected = decode_rle(record['masks'][0][t])
                    got = member_mask(archive, f'{prefix}{doc["video_id"]}/{doc["exp_id"]}/{name}.png')
                    assert (got == expected).all()
