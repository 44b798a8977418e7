"""Peak memory and seconds per tracked frame of `unipixel segment --sam2-frames all` on long videos.

Each run is the real command (a subprocess, as a user starts it) on a procedurally drawn 320x240 MP4 of a moving
circle: teacher-forced answer (so a mask track is always decoded), SAM 2 on every frame, MP4 overlay, a mask PNG and
an RLE per frame. The toy checkpoint (micro SAM 2: Hiera-T at 128 px) keeps the 6000-frame run short. Prints, per
length, the child's peak RSS and wall time, then the ratios against the shortest run of the same process:

    python benchmarks/bench_streaming.py                 # 60 and 600 frames
    python benchmarks/bench_streaming.py --frames 60 600 6000
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

MEASURE = '''
import resource, subprocess, sys, json
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": proc.returncode, "err": proc.stderr[-2000:],
                  "rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
'''


def write_video(path: Path, frames: int) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 25, (320, 240))
    for t in range(frames):
        image = np.full((240, 320, 3), 30, np.uint8)
        cv2.circle(image, (int(60 + 200 * (t % 100) / 100), 120), 30, (40, 40, 220), -1)
        writer.write(image)
    writer.release()


def run(checkpoint: str, video: Path, out: Path) -> dict:
    exe = Path(sys.executable).parent / 'unipixel'
    cmd = [str(exe)] if exe.exists() else [sys.executable, '-m', 'unipixel_plugin.cli']
    cmd += ['segment', str(video), 'red circle', '--answer', 'Sure, it is <|seg|>.', '--sam2-frames', 'all',
            '--video-format', 'mp4', '--checkpoint', checkpoint, '--output', str(out), '--quiet']
    start = time.perf_counter()
    result = json.loads(subprocess.run([sys.executable, '-c', MEASURE, *cmd], capture_output=True,
                                       text=True, check=True).stdout)
    result['seconds'] = time.perf_counter() - start
    if result['rc'] != 0:
        raise SystemExit(f'unipixel segment failed on {video}:\n{result["err"]}')
    record = json.loads((out / f'{video.stem}.json').read_text())
    result['tracked'] = len(record['frame_indices'])
    result['non_empty'] = sum(1 for r in record['objects'][0]['rle'] if r['counts'] not in ('', None))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, nargs='+', default=[60, 600])
    parser.add_argument('--checkpoint', default=None, help='default: the toy checkpoint (128 px SAM 2)')
    args = parser.parse_args()
    from unipixel_plugin.toy.cache import ensure_toy_checkpoint
    checkpoint = args.checkpoint or str(ensure_toy_checkpoint())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sorted(args.frames):
            video = Path(tmp) / f'clip{n}.mp4'
            write_video(video, n)
            row = run(checkpoint, video, Path(tmp) / f'out{n}')
            assert row['tracked'] == n, row
            row['frames'] = n
            rows.append(row)
            print(f'{n:6d} frames: peak RSS {row["rss_mb"]:7.0f} MB, {row["seconds"]:7.1f} s '
                  f'({row["seconds"] / n:.3f} s/frame incl. start-up)', flush=True)
    base = rows[0]
    for row in rows[1:]:
        marginal = (row['seconds'] - base['seconds']) / (row['frames'] - base['frames'])
        print(f'{row["frames"]} vs {base["frames"]} frames: peak RSS ratio {row["rss_mb"] / base["rss_mb"]:.2f}, '
              f'marginal {marginal:.3f} s/frame vs {base["seconds"] / base["frames"]:.3f} s/frame at '
              f'{base["frames"]} (start-up included there)')


if __name__ == '__main__':
    main()
