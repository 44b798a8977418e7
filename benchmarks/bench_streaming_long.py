"""Peak memory and seconds per tracked frame of SAM 2 on every frame of a long video, on the three user paths:

* ``cli``: ``unipixel segment clip.mp4 "red circle" --answer "Sure, it is <|seg|>." --sam2-frames all`` (the real
  command as a user starts it; MP4 overlay, a mask PNG and an RLE per frame);
* ``batch``: ``UniPixelPredictor(..., sam2_frames='all').segment_batch([clip], ['the red circle'], answer=...)``;
* ``batch-unbounded`` (for comparison): the same with ``keep_memories=None``, SAM 2 keeping every frame's image
  features and outputs (what the batch API did before it streamed);
* ``adapter``: the lmms-eval adapter (``UniPixelLMM``, ``sam2_frames=all``) answering one video document with
  generation (its JSON answer holds the masks as COCO RLE per frame).

The model is the trained toy (``unipixel_plugin/assets/toy_model``: micro SAM 2 at 128 px), the video a procedurally
drawn 160x120 MPEG-4 clip of a red circle swinging left and right, which the toy tracks. Every run is a fresh
process (peak RSS = its ``ru_maxrss``); for ``batch`` and ``adapter`` the time is that of the call alone (the model
loaded), for ``cli`` the command's wall time (start-up included; the marginal s/frame between two lengths removes
it). Ratios are against the shortest run of the same path in this script:

    OMP_NUM_THREADS=1 python benchmarks/bench_streaming_long.py                      # 60 and 600 frames, 3 paths
    OMP_NUM_THREADS=1 python benchmarks/bench_streaming_long.py --frames 60 600 6000 --paths batch adapter
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ANSWER = 'Sure, it is <|seg|>.'

CHILD = r'''
import json, resource, sys, time
mode, checkpoint, video, out = sys.argv[1:5]
from unipixel_plugin.toy.model import LLM_PIXELS
row = {}
if mode == 'cli':
    import subprocess
    exe = sys.argv[5:]
    start = time.perf_counter()
    proc = subprocess.run(exe + ['segment', video, 'red circle', '--answer', %(answer)r, '--sam2-frames', 'all',
                                 '--video-format', 'mp4', '--checkpoint', checkpoint, '--output', out, '--quiet'],
                          capture_output=True, text=True)
    row['seconds'] = time.perf_counter() - start
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    import pathlib
    record = json.loads((pathlib.Path(out) / (pathlib.Path(video).stem + '.json')).read_text())
    tracks = [o['rle'] for o in record['objects']]
    row['rss_mb'] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
elif mode in ('batch', 'batch-unbounded'):
    from unipixel_plugin.inference import UniPixelPredictor
    extra = dict(keep_memories=None, mask_format='rle') if mode == 'batch-unbounded' else {}
    predictor = UniPixelPredictor.from_pretrained(checkpoint, device='cpu', dtype='float32', sam2_frames='all',
                                                  min_pixels=LLM_PIXELS, max_pixels=LLM_PIXELS, **extra)
    row['rss_loaded_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    [result] = predictor.segment_batch([video], ['the red circle'], answer=%(answer)r)
    row['seconds'] = time.perf_counter() - start
    tracks = [result.masks.rle(i) for i in range(len(result.masks))]
    row['rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
else:
    from lmms_eval.api.instance import Instance
    from unipixel_plugin.evaluation.lmms.adapter import UniPixelLMM
    lmm = UniPixelLMM(pretrained=checkpoint, device='cpu', dtype='float32', max_new_tokens=12,
                      min_pixels=LLM_PIXELS, max_pixels=LLM_PIXELS)
    lmm.task_dict = {'bench': {'test': [{'video': video}]}}
    def to_messages(doc):
        return [{'role': 'user', 'content': [{'type': 'video', 'url': doc['video']},
                                             {'type': 'text', 'text': 'Please segment the red circle in this video.'}]}]
    request = Instance(request_type='generate_until', arguments=('', to_messages, {'max_new_tokens': 12}, 0, 'bench',
                                                                  'test'), idx=0,
                       metadata={'task': 'bench', 'doc_id': 0, 'repeats': 1})
    row['rss_loaded_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    [answer] = lmm.generate_until([request])
    row['seconds'] = time.perf_counter() - start
    tracks = json.loads(answer)['masks']
    row['rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
row['objects'] = len(tracks)
row['tracked'] = len(tracks[0]) if tracks else 0
row['non_empty'] = sum(1 for r in tracks[0] if r['counts'] not in ('', None)) if tracks else 0
print('RESULT ' + json.dumps(row))
''' % {'answer': ANSWER}


def write_video(path: Path, frames: int, width: int = 160, height: int = 120) -> None:
    """A red circle (radius 20) swinging between x = 70 and 90 every 40 frames (what the toy tracks)."""
    import av
    import cv2
    import numpy as np
    container = av.open(str(path), 'w')
    stream = container.add_stream('mpeg4', rate=25)
    stream.width, stream.height, stream.pix_fmt = width, height, 'yuv420p'
    stream.options = {'qscale': '2'}
    for t in range(frames):
        phase = (t % 40) / 40
        x = int(70 + 20 * (2 * phase if phase < 0.5 else 2 - 2 * phase))
        image = np.full((height, width, 3), 30, np.uint8)
        cv2.circle(image, (x, height // 2), 20, (220, 45, 45), -1)
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format='rgb24')):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


def measure(mode: str, checkpoint: str, video: Path, out: Path) -> dict:
    exe = Path(sys.executable).parent / 'unipixel'
    cli = [str(exe)] if exe.exists() else [sys.executable, '-m', 'unipixel_plugin.cli']
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, '-c', CHILD, mode, checkpoint, str(video), str(out), *cli],
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f'{mode} on {video} failed:\n{proc.stderr[-3000:]}')
    line = [x for x in proc.stdout.splitlines() if x.startswith('RESULT ')][-1]
    row = json.loads(line[len('RESULT '):])
    row['process_seconds'] = time.perf_counter() - start
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, nargs='+', default=[60, 600])
    parser.add_argument('--paths', nargs='+', choices=('cli', 'batch', 'adapter', 'batch-unbounded'),
                        default=['cli', 'batch', 'adapter'],
                        help='batch-unbounded: the batch path with keep_memories=None (every frame\'s SAM 2 features '
                             'and outputs kept, as before streaming), for comparison')
    parser.add_argument('--checkpoint', default=None, help='default: the trained toy shipped with the package')
    parser.add_argument('--json', default=None, help='also write the rows to this JSON file')
    args = parser.parse_args()
    from unipixel_plugin.engine.toy_recipe import ensure_trained_toy
    checkpoint = args.checkpoint or str(ensure_trained_toy())
    print(f'checkpoint {checkpoint}; OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS")}', flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        videos = {}
        for n in sorted(args.frames):
            videos[n] = Path(tmp) / f'clip{n}.mp4'
            write_video(videos[n], n)
        for mode in args.paths:
            base = None
            for n in sorted(args.frames):
                row = measure(mode, checkpoint, videos[n], Path(tmp) / f'{mode}{n}')
                assert row['tracked'] == n, row
                row.update(path=mode, frames=n)
                rows.append(row)
                line = (f'{mode:8s} {n:6d} frames: peak RSS {row["rss_mb"]:7.0f} MB, {row["seconds"]:8.1f} s '
                        f'({row["seconds"] / n:.4f} s/frame), {row["objects"]} track(s), first non-empty on '
                        f'{row["non_empty"]}/{n} frames')
                if base is None:
                    base = row
                else:
                    marginal = (row['seconds'] - base['seconds']) / (n - base['frames'])
                    line += (f'; vs {base["frames"]}: RSS x{row["rss_mb"] / base["rss_mb"]:.2f}, s/frame '
                             f'x{(row["seconds"] / n) / (base["seconds"] / base["frames"]):.2f}, marginal '
                             f'{marginal:.4f} s/frame')
                print(line, flush=True)
                if args.json:
                    Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == '__main__':
    main()
