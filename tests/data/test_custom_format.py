"""The generic reader for users' own data (docs/custom_data.md): every item kind, bad items lose only themselves."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from unipixel_plugin.data import HybridDataset, load_sample
from unipixel_plugin.data.formats import CustomDataset
from unipixel_plugin.data.pipeline import sample_rng
from unipixel_plugin.masks import encode_rle

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def write_custom(root, split='train'):
    """An image with two squares, three frames with a moving square, and one item of every kind (plus bad ones)."""
    media = root / 'custom' / 'media'
    media.mkdir(parents=True)
    image = np.zeros((64, 80, 3), np.uint8)
    left, right = np.zeros((64, 80), bool), np.zeros((64, 80), bool)
    left[10:30, 5:25], right[30:50, 50:70] = True, True
    image[left], image[right] = (220, 40, 40), (40, 40, 220)
    Image.fromarray(image).save(media / 'squares.jpg')
    Image.fromarray(right.astype(np.uint8) * 255).save(media / 'right.png')
    frames, track = [], []
    for t in range(3):
        frame, mask = np.zeros((48, 48, 3), np.uint8), np.zeros((48, 48), bool)
        mask[10:22, 5 + 8 * t:17 + 8 * t] = True
        frame[mask] = (40, 200, 40)
        Image.fromarray(frame).save(media / f'f{t}.jpg')
        frames.append(f'media/f{t}.jpg')
        track.append(encode_rle(mask))
    items = [
        {'id': 'seg', 'media': 'media/squares.jpg', 'query': 'the red square', 'masks': [encode_rle(left)]},
        {'id': 'seg-png', 'media': 'media/squares.jpg', 'query': 'Which square is blue?', 'query_type': 'question',
         'answer': 'The right one', 'masks': ['media/right.png']},
        {'id': 'region', 'media': 'media/squares.jpg', 'question': 'What colour is [1]?', 'answer': 'Blue.',
         'masks': [encode_rle(left), 'media/right.png']},
        {'id': 'point', 'media': 'media/squares.jpg', 'question': 'What colour is [0]?', 'answer': 'Red.',
         'masks': [encode_rle(left)], 'prompt': 'point'},
        {'id': 'video', 'media': frames, 'query': 'the green square moving right', 'masks': [track]},
        {'id': 'chat', 'media': 'media/squares.jpg', 'question': 'How many squares are there?', 'answer': 'Two.'},
        {'id': 'bad-mask', 'media': 'media/squares.jpg', 'query': 'the cat', 'masks': ['media/missing.png']},
        {'id': 'bad-frames', 'media': frames, 'query': 'the square', 'masks': [track[:2]]},
        {'id': 'bad-prompt', 'media': 'media/squares.jpg', 'question': 'What is [0]?', 'answer': 'A square.',
         'masks': [encode_rle(left)], 'prompt': 'scribble'},
    ]
    lines = [json.dumps(i) for i in items] + ['{"id": "broken", "media": ']
    (root / 'custom' / f'{split}.jsonl').write_text('\n'.join(lines) + '\n')
    return left, right


def test_every_item_kind_and_bad_items_lose_only_themselves(tmp_path):
    left, right = write_custom(tmp_path)
    ds = CustomDataset(data_root=str(tmp_path), split='train')
    kinds = {s.id: s.data_type for s in (ds[i] for i in range(len(ds)))}
    assert kinds == {'seg': 'seg_image', 'seg-png': 'seg_image', 'region': 'region_image', 'point': 'ref_point',
                     'video': 'seg_video', 'chat': 'multimodal'}
    problems = {p.sample: p.message for p in ds.problems}
    assert set(problems) == {'bad-mask', 'bad-frames', 'bad-prompt', '9'}
    assert 'missing.png not found' in problems['bad-mask'] and 'list of 3 per-frame entries' in problems['bad-frames']
    assert 'line 10 is not valid JSON' in problems['9'] and "'scribble'" in problems['bad-prompt']
    assert all('train.jsonl' in p.file for p in ds.problems)

    by_id = {ds[i].id: ds[i] for i in range(len(ds))}
    seg = load_sample(by_id['seg'], sample_rng(0), num_frames=1)
    assert seg.conversation == [{'role': 'user', 'content': 'Please segment the red square in this image.'},
                                {'role': 'assistant', 'content': 'Sure, it is <|seg|>.'}]
    assert np.array_equal(seg.masks[0, 0], left)
    png = load_sample(by_id['seg-png'], sample_rng(0), num_frames=1)
    assert png.conversation[1]['content'] == 'The right one <|seg|>.' and np.array_equal(png.masks[0, 0], right)
    region = load_sample(by_id['region'], sample_rng(0), num_frames=1)
    assert region.masks.shape[:2] == (2, 1) and np.array_equal(region.masks[1, 0], right)
    point = load_sample(by_id['point'], sample_rng(0), num_frames=1)
    assert point.conversation[0]['content'] == 'What colour is [0] <|ref|>?'
    x, y = point.prompts[0].coords[0]
    assert point.prompts[0].kind == 'point' and left[int(y), int(x)]  # a point on the region's mask
    video = load_sample(by_id['video'], sample_rng(0), num_frames=3, sample_type='uniform')
    assert video.frames.shape[0] == 3 and [int(m.sum()) for m in video.masks[0]] == [144, 144, 144]
    assert video.masks[0, 2, 15, 25] and not video.masks[0, 0, 15, 25]  # the square moved right


def test_any_annotation_file_and_a_training_mixture(tmp_path):
    write_custom(tmp_path, split='mine')
    ds = CustomDataset(ann_file=str(tmp_path / 'custom' / 'mine.jsonl'))
    assert len(ds) == 6 and ds.data_root == str(tmp_path / 'custom')
    hybrid = HybridDataset(datasets=[dict(type='CustomDataset', ann_file=str(tmp_path / 'custom' / 'mine.jsonl'))],
                           num_frames=2, seed=0)
    assert len(hybrid) == 6
    kinds = {hybrid[i].data_type for i in range(len(hybrid))}
    # the training mixture draws point or box for prompted samples, 50/50 as upstream
    assert kinds >= {'seg_image', 'seg_video', 'region_image', 'multimodal'} and kinds & {'ref_point', 'ref_box'}
    with pytest.raises(FileNotFoundError, match='nothing.jsonl'):
        CustomDataset(ann_file=str(tmp_path / 'nothing.jsonl'))


def test_data_check_reports_each_bad_item(tmp_path):
    write_custom(tmp_path)
    out = subprocess.run([sys.executable, '-m', 'unipixel_plugin.cli', 'data', 'check', str(tmp_path), '--datasets',
                          'custom'], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    text = out.stdout + out.stderr
    assert 'custom' in text and 'missing.png' in text and 'bad-frames' in text, text[-2000:]


@pytest.mark.slow
def test_the_tiny_config_trains_on_a_custom_folder(tmp_path, toy_root):
    write_custom(tmp_path / 'data')
    work = tmp_path / 'work'
    cmd = [sys.executable, '-m', 'unipixel_plugin.engine.train', 'unipixel_tiny_cpu_seg.py', '--work-dir', str(work),
           '--cfg-options', 'train_dataloader.dataset.datasets.0.type=CustomDataset',
           f'train_dataloader.dataset.datasets.0.data_root={tmp_path / "data"}', 'train_cfg.max_iters=4',
           'default_hooks.logger.interval=1', 'train_dataloader.batch_size=1', 'train_dataloader.sampler.batch_size=1']
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, PYTHONPATH=ROOT, UNIPIXEL_TOY_ROOT=str(toy_root)))
    logs = out.stdout + out.stderr
    assert out.returncode == 0, logs[-3000:]
    assert 'Iter(train) [4/4]' in logs and 'custom' in logs
    assert 'skipped' in logs.lower() or 'problem' in logs.lower()  # the bad items are reported, not fatal
