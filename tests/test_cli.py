"""The `unipixel` command, started the way users start it (the installed console script)."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow


def unipixel(*args, env=None, cwd=None):
    exe = Path(sys.executable).parent / 'unipixel'
    cmd = [str(exe)] if exe.exists() else [sys.executable, '-m', 'unipixel_plugin.cli']
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=full_env, cwd=cwd, timeout=900)


def moving_square_video(path, frames):
    """A 90x60 mp4 (mp4v, which decord and PyAV read) of a red square moving right."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 8, (90, 60))
    for t in range(frames):
        frame = np.full((60, 90, 3), 20, np.uint8)
        frame[10:30, 5 + 5 * t:25 + 5 * t] = (30, 30, 220)
        writer.write(frame)
    writer.release()
    return path


def test_info_describes_the_checkpoint(tiny_ckpt):
    out = unipixel('info', str(tiny_ckpt), '--json')
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info['model_type'] == 'pixel_qwen2_5_vl' and info['sam2_image_size'] == 256
    assert info['token_ids'] == {'ref': 282, 'seg': 283, 'mem': 284, 'video_pad': 273, 'image_pad': 272}
    assert info['parameters']['SAM 2'] > 30_000_000 and info['dtype']['SAM 2'] == 'float32'
    assert info['tie_word_embeddings'] is True


def test_default_segment_runs_the_trained_toy_on_the_bundled_sample(tmp_path):
    """README's first command: the toy model (shipped with the package) segments what it is asked, from generation."""
    import cv2
    circle = np.zeros((120, 160), np.uint8)
    cv2.circle(circle, (115, 80), 18, 1, -1)  # scripts/make_sample_media.py, frame 0
    out = unipixel('segment', '--output', str(tmp_path / 'out'), env={'UNIPIXEL_TOY_ROOT': str(tmp_path / 'cache')})
    assert out.returncode == 0, out.stderr
    assert 'TOY model' in out.stdout
    record = json.loads((tmp_path / 'out' / 'sample.json').read_text())
    assert '<|seg|>' in record['answer'] and len(record['objects']) == 1
    picture = np.asarray(Image.open(tmp_path / 'out' / 'sample_overlay.png'))
    assert picture.shape == (120, 160, 3)
    assert (tmp_path / 'out' / 'sample_obj0_frame00000.png').exists()
    from unipixel_plugin.toy import sample_media
    out = unipixel('segment', str(sample_media('image')), 'the blue circle', '--output', str(tmp_path / 'blue'),
                   env={'UNIPIXEL_TOY_ROOT': str(tmp_path / 'cache')})
    assert out.returncode == 0, out.stderr
    mask = np.asarray(Image.open(tmp_path / 'blue' / 'sample_obj0_frame00000.png')) > 0
    inter, union = (mask & circle.astype(bool)).sum(), (mask | circle.astype(bool)).sum()
    assert inter / union >= 0.5, inter / union


def test_segment_video_writes_gif_and_per_frame_masks(tiny_ckpt, tmp_path):
    video = moving_square_video(tmp_path / 'clip.mp4', 6)
    out = unipixel('segment', str(video), 'red square', '--checkpoint', str(tiny_ckpt), '--answer',
                   'Sure, it is <|seg|>.', '--output', str(tmp_path / 'out'), '--sample-frames', '4')
    assert 'SAM 2 propagation' in out.stderr  # progress bar over the video frames
    assert out.returncode == 0, out.stderr
    files = sorted(p.name for p in (tmp_path / 'out').iterdir())
    assert 'clip_overlay.gif' in files and len([f for f in files if f.startswith('clip_obj0_frame')]) == 4
    gif = Image.open(tmp_path / 'out' / 'clip_overlay.gif')
    assert gif.n_frames == 4


def test_ask_with_point_box_and_mask(tiny_ckpt, tmp_path):
    image = np.full((60, 90, 3), 40, np.uint8)
    Image.fromarray(image).save(tmp_path / 'photo.png')
    mask = np.zeros((60, 90), np.uint8)
    mask[5:20, 5:20] = 255
    Image.fromarray(mask).save(tmp_path / 'm.png')
    out = unipixel('ask', str(tmp_path / 'photo.png'), 'What are these?', '--point', '10,10', '--box',
                   '20,20,60,50', '--mask', str(tmp_path / 'm.png'), '--checkpoint', str(tiny_ckpt),
                   '--output', str(tmp_path / 'out'), '--max-new-tokens', '3')
    assert out.returncode == 0, out.stderr
    record = json.loads((tmp_path / 'out' / 'photo.json').read_text())
    assert record['prompt'].count('<|ref|>') == 2 and record['prompt'].count('<|mem|>') == 1


def test_bad_inputs_give_one_clear_line(tiny_ckpt, tmp_path):
    out = unipixel('segment', str(tmp_path / 'nope.mp4'), 'dog', '--checkpoint', str(tiny_ckpt))
    assert out.returncode == 2 and 'nope.mp4' in out.stderr and 'Traceback' not in out.stderr
    Image.fromarray(np.zeros((60, 90, 3), np.uint8)).save(tmp_path / 'p.png')
    out = unipixel('ask', str(tmp_path / 'p.png'), 'What?', '--point', '500,10', '--checkpoint', str(tiny_ckpt))
    assert out.returncode == 2 and 'outside the 90x60 frame' in out.stderr
    out = unipixel('ask', str(tmp_path / 'p.png'), 'What?', '--point', '5', '--checkpoint', str(tiny_ckpt))
    assert out.returncode == 2 and '--point x,y' in out.stderr


def test_tasks_path_points_at_the_installed_task_folder():
    out = unipixel('tasks-path')
    assert out.returncode == 0 and Path(out.stdout.strip()).name == 'tasks'




def test_data_check_is_wired_into_the_command(tmp_path):
    out = unipixel('data', 'check', str(tmp_path), '--json', str(tmp_path / 'report.json'))
    assert out.returncode == 1, out.stderr
    assert f'no known dataset found under {tmp_path}' in out.stdout and 'mevis' in out.stdout
    assert (tmp_path / 'report.json').exists()


def test_video_overlay_as_mp4(tiny_ckpt, tmp_path):
    frames = tmp_path / 'frames'
    frames.mkdir()
    for t in range(4):
        Image.fromarray(np.full((60, 90, 3), 30 * t, np.uint8)).save(frames / f'{t:05d}.jpg')
    out = unipixel('segment', str(frames), 'dark frame', '--checkpoint', str(tiny_ckpt), '--answer', 'It is <|seg|>.',
                   '--video-format', 'mp4', '--quiet', '--output', str(tmp_path / 'out'))
    assert out.returncode == 0, out.stderr
    assert 'SAM 2 propagation' not in out.stderr
    video = cv2.VideoCapture(str(tmp_path / 'out' / 'frames_overlay.mp4'))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 4


def test_segment_every_frame_with_sam2_frames_all(tiny_ckpt, tmp_path):
    video = moving_square_video(tmp_path / 'long.mp4', 7)
    out = unipixel('segment', str(video), 'red square', '--checkpoint', str(tiny_ckpt), '--answer',
                   'Sure, it is <|seg|>.', '--sample-frames', '4', '--sam2-frames', 'all', '--quiet',
                   '--output', str(tmp_path / 'out'))
    assert out.returncode == 0, out.stderr
    record = json.loads((tmp_path / 'out' / 'long.json').read_text())
    assert record['frame_indices'] == list(range(7)) and len(record['objects'][0]['rle']) == 7
    assert Image.open(tmp_path / 'out' / 'long_overlay.gif').n_frames == 7


def test_bad_media_and_empty_prompts_fail_before_any_model_loads(tmp_path):
    start = time.time()
    out = unipixel('segment', str(tmp_path / 'nope.png'), 'the dog', '--checkpoint', str(tmp_path / 'no-model'))
    assert out.returncode == 2 and 'nope.png: no such image' in out.stderr and 'Traceback' not in out.stderr
    empty = tmp_path / 'empty.mp4'
    empty.write_bytes(b'')
    out = unipixel('ask', str(empty), 'What is [0]?', '--point', '1,1', '--checkpoint', str(tmp_path / 'no-model'))
    assert out.returncode == 2 and 'empty.mp4: the file is empty' in out.stderr
    out = unipixel('segment', str(empty), '  ')
    assert out.returncode == 2 and 'give a QUERY' in out.stderr
    assert time.time() - start < 120  # three commands, none of which built or loaded a model


def test_a_checkpoint_that_cannot_load_is_one_line(tmp_path):
    (tmp_path / 'ckpt').mkdir()
    out = unipixel('segment', '--checkpoint', str(tmp_path / 'ckpt'), '--quiet')
    assert out.returncode == 2 and 'Traceback' not in out.stderr
    assert len([line for line in out.stderr.splitlines() if line.startswith('unipixel segment: error')]) == 1


def test_sam2_all_frames_streams_pngs_rle_and_an_mp4(toy_ckpt, tmp_path):
    moving_square_video(tmp_path / 'long.mp4', 10)
    out = unipixel('segment', str(tmp_path / 'long.mp4'), 'red square', '--answer', 'Sure, it is <|seg|>.',
                   '--sam2-frames', 'all', '--video-format', 'mp4', '--checkpoint', str(toy_ckpt),
                   '--output', str(tmp_path / 'out'), '--quiet')
    assert out.returncode == 0, out.stderr
    assert 'streamed' in out.stdout
    record = json.loads((tmp_path / 'out' / 'long.json').read_text())
    assert record['frame_indices'] == list(range(10)) and len(record['objects'][0]['rle']) == 10
    assert len(list((tmp_path / 'out').glob('long_obj0_frame*.png'))) == 10
    video = cv2.VideoCapture(str(tmp_path / 'out' / 'long_overlay.mp4'))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 10


def test_streamed_gif_overlays_are_subsampled_with_a_note(tmp_path):
    from unipixel_plugin.inference.outputs import StreamingOutputs
    writer = StreamingOutputs(tmp_path, 'v', 'caption', total_frames=30, video_format='gif', gif_max_frames=10)
    assert 'every 3th frame' in writer.note
    frame = np.zeros((60, 90, 3), np.uint8)
    for t in range(30):
        mask = np.zeros((1, 60, 90), bool)
        mask[0, 30:40, 2 * t:2 * t + 5] = True  # every frame differs (GIF writers merge identical frames)
        writer.add(t, frame, mask)
    record = writer.close({'answer': 'a'})
    assert Image.open(record['overlay']).n_frames == 10 and len(record['objects'][0]['rle']) == 30

