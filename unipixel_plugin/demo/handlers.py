"""What the demo's buttons do, without Gradio: each handler takes plain values and returns a view dataclass.

* :meth:`DemoHandlers.segment`: referring / reasoning segmentation; a generator (videos stream through
  :meth:`UniPixelPredictor.segment_stream` and yield a preview every few frames);
* :meth:`DemoHandlers.open_media`, :meth:`~DemoHandlers.show_frame`, :meth:`~DemoHandlers.click`: the frame a user
  clicks region prompts on;
* :meth:`DemoHandlers.ask`: a question about clicked points / boxes and painted masks;
* :meth:`DemoHandlers.pixelqa`: a multiple-choice question answered in upstream's two passes through the object
  memory bank (:class:`~unipixel_plugin.inference.Conversation`).

Wrong input raises :class:`~unipixel_plugin.demo.uploads.UploadError` or ValueError with a message for the user;
``app.py`` shows it in the page. Soft problems travel in each view's ``warnings``.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from unipixel_plugin.demo import regions as region_prompts
from unipixel_plugin.demo.playback import PlayableVideo, source_fps
from unipixel_plugin.demo.uploads import DemoFolders, DemoLimits, UploadError, check_upload
from unipixel_plugin.inference import Conversation, UniPixelPredictor, load_media
from unipixel_plugin.inference.media import frame_reader
from unipixel_plugin.inference.outputs import StreamingOutputs, overlay, save_frames, write_outputs
from unipixel_plugin.masks import resize_mask
from unipixel_plugin.prompts import BEST_OPTION_PREFIX, PROMPT_TYPES, guess_prompt_type, segmentation_prompt

NO_MASK = 'The answer has no <|seg|> token, so nothing was segmented.'


@dataclass
class SegmentView:
    """Tab 1's outputs. ``overlay``: a PNG (the image's result, or a video's latest frame while tracking);
    ``video``: the browser-playable overlay video; ``files``: mask PNGs zipped and the COCO-RLE JSON record."""
    answer: str
    overlay: str | None = None
    video: str | None = None
    files: list[str] = field(default_factory=list)
    status: str = ''
    record: dict | None = None
    done: bool = True
    warnings: list[str] = field(default_factory=list)


@dataclass
class RegionView:
    """Tab 2's outputs: the answer and the frame with the prompts (and any masks of the answer) drawn."""
    answer: str
    overlay: np.ndarray | None
    prompt: str = ''
    warnings: list[str] = field(default_factory=list)


@dataclass
class PixelQAView:
    """Tab 3's outputs: pass 1's localisation (text, masks drawn), pass 2's answer."""
    answer: str
    localized: str
    overlay: str | None
    object_ids: list[int] = field(default_factory=list)
    mask_areas: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _no_progress(*_args, **_kwargs):
    return None


class DemoHandlers:
    """The demo's verbs on one loaded predictor (one request at a time: the model is not re-entrant).

    Args:
        predictor: the loaded :class:`UniPixelPredictor`.
        folders: where uploads are checked from and results written (:class:`DemoFolders`).
        limits: upload size / frame limits (:class:`DemoLimits`).
        forced_answer: the answer tab 1 and the region tab prefill as teacher-forced (``unipixel demo --answer``;
            a random-weight model rarely emits ``<|seg|>`` by itself); None: the model generates.
        note: a line shown on overlays and in the page (e.g. that the model is the toy).
        preview_every: while a video is tracked, yield its latest overlay frame every this many frames.
    """

    def __init__(self, predictor: UniPixelPredictor, folders: DemoFolders, limits: DemoLimits = DemoLimits(),
                 forced_answer: str | None = None, note: str | None = None, preview_every: int = 8):
        self.predictor = predictor
        self.folders = folders
        self.limits = limits
        self.forced_answer = forced_answer
        self.note = note
        self.preview_every = max(1, preview_every)
        self._model_lock = threading.Lock()
        self._media_cache: OrderedDict[str, object] = OrderedDict()
        self._media_lock = threading.Lock()

    # ------------------------------------------------------------------ tab 1: segmentation
    def segment(self, media, query: str, prompt_type: str = 'auto', answer: str = '',
                progress: Callable = _no_progress) -> Iterator[SegmentView]:
        """Segment what ``query`` describes in an image or video; yields views, the last one with the downloads.

        ``prompt_type``: ``'auto'`` (a text ending in . ? ! is sent as typed, anything else as a referring phrase)
        or one of :data:`~unipixel_plugin.prompts.PROMPT_TYPES`. ``answer``: teacher-force this reply ('' generates).
        """
        kind = check_upload(media, self.limits)
        if not query or not query.strip():
            raise ValueError('the query is empty: type what to segment, e.g. "the blue circle"')
        if prompt_type == 'auto':
            prompt_type = guess_prompt_type(query)
        if prompt_type not in PROMPT_TYPES:
            raise ValueError(f'unknown prompt type {prompt_type!r}; choose auto or one of {", ".join(PROMPT_TYPES)}')
        answer = answer.strip() or None if answer else None
        out_dir = self._request_dir()
        stem = Path(media).stem
        if kind == 'image':
            progress(0.1, desc='UniPixel: reading the image and answering')
            with self._model_lock:
                result = self.predictor.segment(str(media), query, answer=answer, prompt_type=prompt_type)
            record = write_outputs(result, out_dir, self._caption(result.text))
            view = SegmentView(result.text, record['overlay'], None, self._downloads(out_dir, stem), record=record,
                               status=self._status(len(result.masks), 1))
            if not result.masks:
                view.warnings.append(NO_MASK)
            yield view
            return
        yield from self._segment_video(str(media), query, prompt_type, answer, out_dir, stem, progress)

    def _segment_video(self, media: str, query: str, prompt_type: str, answer, out_dir: Path, stem: str,
                       progress: Callable) -> Iterator[SegmentView]:
        """Every frame through SAM 2 (the predictor's streaming path): per frame the mask PNGs, their RLEs and an
        overlay frame of a browser-playable video are written as it comes, so memory stays flat with the length."""
        read, total = frame_reader(media)
        fps = source_fps(media)
        progress(0.0, desc=f'UniPixel: answering from {self.predictor.sample_frames} sampled frames')
        writer, video, text, count = None, None, None, 0
        try:
            with self._model_lock:
                for frame_idx, masks, text in self.predictor.segment_stream(media, query, answer=answer,
                                                                            prompt_type=prompt_type, progress=False):
                    if writer is None:
                        writer = StreamingOutputs(out_dir, stem, self._caption(text), total, fps=fps,
                                                  video_format=None)
                        video = PlayableVideo(out_dir, f'{stem}_overlay', fps)
                    picture = writer.add(frame_idx, read(frame_idx), masks)
                    video.write(picture)
                    count += 1
                    progress(count / total, desc=f'SAM 2 tracking: frame {count}/{total}')
                    if count % self.preview_every == 1 or count == total:
                        preview = out_dir / f'preview_{frame_idx:05d}.png'
                        save_frames(str(preview), [picture])
                        yield SegmentView(text, str(preview), status=f'tracking: frame {count} of {total}',
                                          done=False)
        finally:
            if video is not None:
                video.close()
        if writer is None:
            yield SegmentView(text or '', status='nothing to track', warnings=[NO_MASK])
            return
        h, w = read(0).shape[:2]
        record = writer.close({'source': Path(media).name, 'kind': 'video', 'answer': text, 'size': [h, w],
                               'prompt': segmentation_prompt(query, prompt_type, 'video'), 'overlay': video.path})
        for preview in out_dir.glob('preview_*.png'):
            preview.unlink()
        yield SegmentView(text, None, video.path, self._downloads(out_dir, stem), record=record,
                          status=self._status(len(record['objects']), len(record['frame_indices'])))

    # ------------------------------------------------------------------ region prompts on a frame
    def open_media(self, media) -> tuple[dict, np.ndarray]:
        """A fresh region state for an upload and its first frame to click on."""
        kind = check_upload(media, self.limits)
        loaded = self._media(str(media))
        state = region_prompts.new_state(str(media), kind, loaded.size, loaded.indices)
        return state, region_prompts.draw(loaded.frames[0], state)

    def show_frame(self, state: dict | None, frame: int) -> tuple[dict | None, np.ndarray | None]:
        """Move to sampled frame ``frame`` (the prompts drawn are that frame's)."""
        if state is None:
            return None, None
        frame = int(frame)
        if not 0 <= frame < state['num_frames']:
            raise ValueError(f'frame {frame} is not one of the {state["num_frames"]} sampled frames')
        state = dict(state, frame=frame, corner=None)
        return state, region_prompts.draw(self._media(state['media']).frames[frame], state)

    def click(self, state: dict | None, mode: str, x: float, y: float) -> tuple[dict, np.ndarray, str]:
        """Add a point, or a box corner, at pixel ``(x, y)`` of the current frame."""
        state = region_prompts.add_click(state, mode, x, y)
        return state, self._frame_with_prompts(state), region_prompts.describe(state)

    def clear(self, state: dict | None) -> tuple[dict | None, np.ndarray | None, str]:
        if state is None:
            return None, None, region_prompts.describe(None)
        state = dict(state, regions=[], corner=None)
        return state, self._frame_with_prompts(state), region_prompts.describe(state)

    # ------------------------------------------------------------------ tab 2: region questions
    def ask(self, state: dict | None, question: str, editor=None, answer: str = '') -> RegionView:
        """Answer ``question`` about the clicked regions ``[0]``, ``[1]``... and the painted masks (numbered after
        them); ``editor``: a ``gr.ImageEditor`` value whose non-empty layers are one mask each."""
        if state is None:
            raise ValueError('upload an image or a video first, then click the regions to ask about')
        if not question or not question.strip():
            raise ValueError('the question is empty: ask something about [0], e.g. "What is [0]?"')
        for r in state['regions']:
            for x, y in ([r['point']] if 'point' in r else [r['box'][:2], r['box'][2:]]):
                region_prompts.check_inside(state, x, y)
        masks = editor_masks(editor, tuple(state['size']))
        regions = region_prompts.prompt_objects(state)
        if not regions and not masks:
            raise ValueError('no region to ask about: click a point, two box corners, or paint a mask first')
        with self._model_lock:
            result = self.predictor.ask(state['media'], question, regions, masks=masks, mask_frame=state['frame'],
                                        answer=answer.strip() or None if answer else None)
        t = state['frame']
        shown = [np.zeros(tuple(state['size']), bool)] * len(regions) + list(masks) + [m[t] for m in result.masks]
        picture = overlay(self._media(state['media']).frames[t], shown)
        warnings = [] if result.text.strip() else ['the model gave an empty answer']
        return RegionView(result.text, region_prompts.draw(picture, state), result.prompt, warnings)

    # ------------------------------------------------------------------ tab 3: PixelQA
    def pixelqa(self, state: dict | None, question: str, options: str,
                progress: Callable = _no_progress) -> PixelQAView:
        """Upstream's PixelQA: pass 1 localises the clicked objects (``[id] <|seg|>``, masks into the memory bank),
        pass 2 answers the multiple-choice question with those objects as ``<|mem|>`` tokens."""
        if state is None:
            raise ValueError('upload an image or a video first, then click the objects the question is about')
        if not question or not question.strip():
            raise ValueError('the question is empty: ask about the clicked objects, e.g. "What is [0] doing?"')
        choices = [line.strip() for line in (options or '').splitlines() if line.strip()]
        if len(choices) < 2:
            raise ValueError('give at least two options, one per line, e.g. "(A) moving left"')
        regions = region_prompts.prompt_objects(state)
        if not regions:
            raise ValueError('no object to ask about: click a point or two box corners on the frame first')
        with self._model_lock:
            conv = Conversation(self.predictor, self._media(state['media']))
            progress(0.2, desc='pass 1: localising the objects')
            ids = conv.localize(question, regions, choices)
            located = conv.history[-1]
            progress(0.6, desc='pass 2: answering with the remembered objects')
            result = conv.ask(question, objects=ids, options=choices)
        out_dir = self._request_dir()
        frames = conv.media.frames
        pictures = [overlay(frame, [conv.bank[i].masks[t].numpy() for i in ids],
                            labels=[f'[{i}]' for i in ids]) for t, frame in enumerate(frames)]
        path = save_frames(str(out_dir / ('pixelqa_masks.png' if len(pictures) == 1 else 'pixelqa_masks.gif')),
                           pictures)
        areas = [int(conv.bank[i].masks.sum()) for i in ids]
        warnings = [f'object [{i}] got an empty mask in pass 1' for i, a in zip(ids, areas) if a == 0]
        return PixelQAView(BEST_OPTION_PREFIX + result.text, located.text, path, ids, areas, warnings)

    # ------------------------------------------------------------------ internals
    def _media(self, path: str):
        """The sampled frames of ``path`` (the few most recent kept: slider moves must not re-decode a video)."""
        with self._media_lock:
            if path in self._media_cache:
                self._media_cache.move_to_end(path)
                return self._media_cache[path]
        media = load_media(path, self.predictor.sample_frames)
        with self._media_lock:
            self._media_cache[path] = media
            while len(self._media_cache) > 4:
                self._media_cache.popitem(last=False)
        return media

    def _frame_with_prompts(self, state: dict) -> np.ndarray:
        return region_prompts.draw(self._media(state['media']).frames[state['frame']], state)

    def _request_dir(self) -> Path:
        path = self.folders.outputs / f'{time.strftime("%Y%m%d-%H%M%S")}-{uuid.uuid4().hex[:8]}'
        path.mkdir(parents=True)
        return path

    def _caption(self, text: str) -> str:
        return f'{self.note}: {text}' if self.note else text

    @staticmethod
    def _status(objects: int, frames: int) -> str:
        return f'{objects} object(s) over {frames} frame(s)'

    @staticmethod
    def _downloads(out_dir: Path, stem: str) -> list[str]:
        """The mask PNGs zipped (``<stem>_masks.zip``) and the JSON record with COCO RLE masks."""
        archive = out_dir / f'{stem}_masks.zip'
        with zipfile.ZipFile(archive, 'w', compression=zipfile.ZIP_DEFLATED) as zf:
            for png in sorted(out_dir.glob(f'{stem}_obj*_frame*.png')):
                zf.write(png, png.name)
        record = out_dir / f'{stem}.json'
        json.loads(record.read_text())  # written by the outputs module; fail here, not in the user's reader
        return [str(archive), str(record)]


def editor_masks(editor, size: tuple[int, int]) -> list[np.ndarray]:
    """The painted masks of a ``gr.ImageEditor`` value (``{'background', 'layers', 'composite'}``): one ``(H, W)``
    bool mask per layer that has paint, at the media's ``size``."""
    if not editor:
        return []
    masks = []
    for layer in editor.get('layers') or []:
        if layer is None:
            continue
        layer = np.asarray(layer)
        painted = layer[..., 3] > 0 if layer.ndim == 3 and layer.shape[-1] == 4 else layer.reshape(
            layer.shape[:2] + (-1, )).any(-1)
        if painted.any():
            masks.append(resize_mask(painted, size))
    return masks


__all__ = ['DemoHandlers', 'SegmentView', 'RegionView', 'PixelQAView', 'editor_masks', 'NO_MASK', 'UploadError']
