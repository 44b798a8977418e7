"""The one sample schema every UniPixel dataset reader yields.

A :class:`Sample` is cheap to build, pickle and store: media are paths and masks are *lazy* references
(:class:`MaskPart`: COCO RLE, COCO polygons, LabelMe-style shapes or PNG files) that :mod:`.mask_parts` decodes on
demand. :func:`unipixel_plugin.data.pipeline.load_sample` fills the decoded fields (``frames``, ``masks``,
``prompts``) for the frames it samples.

Timeline: every sample refers to an ordered list of frames, its *timeline*. For an image it is one frame; for a
frame folder it is ``media`` itself; for a video file it is ``frame_indices`` (frame numbers in the file; ``None``
means every frame of the file, or every ``frame_stride``-th frame). Masks are aligned with the timeline:
``objects[o].frames[t]`` annotates timeline frame ``t``. Where the timeline is a whole video file, whose length is
only known once the file is opened, an object can instead list the positions it annotates (``positions``: sparse)
or give one ``'json'`` part that annotates every position (``track``: the position goes into its key path).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

# Every value ``Sample.data_type`` may take; batches hold one data type each (upstream trains that way).
DATA_TYPES = (
    'seg_image',  # referring / reasoning / semantic segmentation of an image: answer holds <|seg|>
    'seg_video',  # the same on a video
    'ref_point',  # region understanding from a point prompt (<|ref|>)
    'ref_box',  # region understanding from a box prompt (<|ref|>)
    'region_image',  # region understanding from a mask prompt (<|mem|>, memory pre-filling), image
    'region_video',  # the same on a video
    'mem_image',  # object memory bank: <|ref|> prompts answered with <|seg|>, image
    'mem_video',  # the same on a video
    'multimodal',  # plain image/video instruction data
    'text',  # text-only instruction data
)

MEDIA_TYPES = ('image', 'frames', 'video', 'none')
PROMPT_TYPES = ('point', 'box')
MASK_KINDS = ('rle', 'polygons', 'shapes', 'png', 'json')

# in the key path of a track's 'json' part (ObjectMasks.track), the element that stands for the timeline position
POSITION = '<t>'

# How the text of a segmentation request is phrased, as upstream distinguishes it (it picks the template from it).
QUERY_TYPES = ('query', 'sentence', 'explanatory', 'question', 'description')


@dataclass(slots=True)
class MaskPart:
    """One lazily decoded piece of a mask on one frame; an object's mask on a frame is the union of its parts.

    Attributes:
        kind: ``'rle'`` (``data`` is a COCO RLE dict, compressed string or uncompressed list ``counts``),
            ``'polygons'`` (``data`` is a list of flat COCO polygons ``[x0, y0, x1, y1, ...]``; ``size`` needed),
            ``'shapes'`` (``data`` is a list of LabelMe-style ``{'label', 'points': [[x, y], ...]}``; ``values``
            are the labels to keep; drawn like LISA does, larger shapes first), ``'png'`` (``data`` is the
            path of an index/label PNG; ``values`` are the pixel values that belong to the object, ``None``
            meaning any non-zero pixel), or ``'json'`` (``data`` is the path of a JSON mask file, read when the
            mask is decoded; ``values`` is the key path — dict keys and list indices — of the entry, which is a
            COCO RLE, ``null`` (no mask), a flat polygon, or a list of such entries whose union is the mask:
            upstream's per-sample mask files of VideoRefer-700K, ViCaS and SA-V).
        data: see ``kind``.
        size: ``(height, width)`` of the annotated frame where the format does not carry it.
        values: see ``kind``.
        source: file the annotation was read from, so that errors can name it.
    """
    kind: str
    data: Any
    size: Optional[tuple[int, int]] = None
    values: Optional[tuple] = None
    source: Optional[str] = None


@dataclass(slots=True)
class ObjectMasks:
    """Lazy masks of one object over the sample's timeline.

    Three forms:

    * dense (the default): ``frames[t]`` annotates timeline position ``t``; ``len(frames)`` is the timeline length;
    * sparse (``positions`` set): ``frames[i]`` annotates timeline position ``positions[i]`` and every other position
      has no mask; for timelines whose length is only known once the video is opened (VideoRefer-700K samples
      annotated on one frame of a whole video);
    * track (``track`` set, ``frames`` empty): one ``'json'`` part annotates every position; its key path
      (``values``) holds :data:`POSITION` where the timeline position goes (SA-V masklets:
      ``('masklet', POSITION, object_index)``).

    Attributes:
        frames: dense: one entry per timeline frame; sparse: one entry per position in ``positions``. An entry is a
            list of :class:`MaskPart` (union) or ``None`` when the object is not annotated (absent) there.
        object_id: the object's id in the source annotation (anno id, ``<objectN>`` number, class id ...).
        name: optional category / part name.
        positions: sparse form: the timeline positions ``frames`` annotates (ascending).
        track: track form: the ``'json'`` part, with :data:`POSITION` in its key path.
    """
    frames: list[Optional[list[MaskPart]]] = field(default_factory=list)
    object_id: Any = None
    name: Optional[str] = None
    positions: Optional[list[int]] = None
    track: Optional[MaskPart] = None

    def __post_init__(self):
        if self.positions is not None:
            if self.track is not None:
                raise ValueError(f'object {self.object_id!r}: give positions (sparse) or a track, not both')
            if len(self.positions) != len(self.frames):
                raise ValueError(f'object {self.object_id!r}: {len(self.positions)} positions but '
                                 f'{len(self.frames)} frame entries')
            if any(p < 0 for p in self.positions) or list(self.positions) != sorted(set(self.positions)):
                raise ValueError(f'object {self.object_id!r}: positions must be ascending, distinct and >= 0, '
                                 f'got {list(self.positions)[:10]}')
        if self.track is not None:
            values = tuple(self.track.values or ())
            if self.track.kind != 'json' or values.count(POSITION) != 1 or self.frames:
                raise ValueError(f'object {self.object_id!r}: a track is one "json" part whose key path holds '
                                 f'POSITION once, with no frame entries; got kind {self.track.kind!r}, key path '
                                 f'{values}')

    @property
    def is_dense(self) -> bool:
        return self.positions is None and self.track is None

    @property
    def num_frames(self) -> Optional[int]:
        """Timeline length the masks cover (dense form), else ``None`` (any length)."""
        return len(self.frames) if self.is_dense else None

    def parts(self, t: int) -> Optional[list[MaskPart]]:
        """The parts annotating timeline position ``t`` (``None``: not annotated).

        Raises:
            IndexError: a dense object has no entry for ``t``.
        """
        if self.track is not None:
            part = self.track
            key = tuple(t if k == POSITION else k for k in part.values)
            return [MaskPart(part.kind, part.data, part.size, key, part.source)]
        if self.positions is not None:
            for i, p in enumerate(self.positions):
                if p == t:
                    return self.frames[i]
            return None
        if not 0 <= t < len(self.frames):
            raise IndexError(f'object {self.object_id!r} has masks for {len(self.frames)} frames, frame {t} was '
                             'requested (annotation and media disagree)')
        return self.frames[t]

    def annotated_frames(self) -> Optional[list[int]]:
        """Timeline positions where the object has at least one mask part (``None`` for a track: all of them)."""
        if self.track is not None:
            return None
        if self.positions is not None:
            return [p for p, parts in zip(self.positions, self.frames) if parts]
        return [t for t, parts in enumerate(self.frames) if parts]

    def has_masks(self) -> bool:
        """Whether any mask part is given (a track always counts)."""
        return self.track is not None or any(self.frames)


@dataclass
class VisualPrompt:
    """A point or box prompt for one object, in pixel coordinates of the original frame.

    Attributes:
        kind: ``'point'`` or ``'box'``.
        coords: float array ``(1, 2)`` for a point or ``(2, 2)`` for a box (top-left, bottom-right), as ``(x, y)``.
        labels: int array ``(1,)`` = ``[1]`` (positive point) or ``(2,)`` = ``[2, 3]`` (box corners), SAM's labels.
        frame: position of the prompted frame in the *sampled* frames.
    """
    kind: str
    coords: np.ndarray
    labels: np.ndarray
    frame: int


@dataclass
class Sample:
    """One sample of any UniPixel source, before or after loading.

    Annotation fields (set by the readers):
        id: unique within its source (e.g. ``'<video>/<expression id>'``).
        source: the dataset it comes from (``'mevis'``, ``'refcoco+'`` ...).
        data_type: one of :data:`DATA_TYPES`.
        media_type: ``'image'``, ``'frames'`` (a list of frame files), ``'video'`` (one video file) or ``'none'``.
        media: the image path, the frame paths, or the video path (one element).
        frame_indices: for ``'video'`` media, the frame numbers in the file that form the timeline (``None``: all,
            or every ``frame_stride``-th).
        conversation: turns ``[{'role': 'user' | 'assistant', 'content': str}]`` in the canonical (evaluation)
            phrasing; ``<|seg|>``, ``<|ref|>`` and ``<|mem|>`` appear as text. Region markers of the source
            (``<region>``, ``<objectN>``) are kept as they are: turning them into tokens needs the sampled frames.
        query / query_type: the raw expression and how it is phrased (:data:`QUERY_TYPES`) for segmentation
            samples, so that a training pipeline can re-phrase it with other templates.
        objects: lazy per-object masks over the timeline (:class:`ObjectMasks`).
        ignore: lazy masks of regions excluded from scoring (ReasonSeg ``ignore`` polygons), or ``None``.
        boxes: per-object ground-truth boxes ``[x0, y0, x1, y1]`` in pixels where the source gives them.
        points: per-object ``[x, y]`` points where the source gives them.
        prompt_type: ``'point'`` / ``'box'`` for samples that need visual prompts, else ``None``.
        prompt_frame: timeline position the source designates for prompting (VideoRefer ``frame_idx``), or ``None``.
        options / answer: multiple-choice options and the answer (VideoRefer-Bench-Q: ``answer`` is the letter).
        task: sub-task / question type (ReVOS ``'referring'``/``'reasoning'``, VideoRefer type, GroundMoRe type).
        meta: anything else of the source worth keeping (ids, original sizes ...), JSON-friendly values. Keys
            that :func:`~unipixel_plugin.data.pipeline.load_sample` acts on: ``turn_objects`` (objects of each
            turn), ``all_frames`` (read the whole timeline, whatever ``num_frames``: upstream's Inst-IT),
            ``single_frame_prob`` (probability of keeping the masks of one frame only: upstream's Inst-IT region
            samples), ``label_map`` (semantic segmentation: the classes come from a label PNG when loading).
        frame_stride: for ``'video'`` media without ``frame_indices``: the timeline is frames ``0, s, 2s, ...`` of
            the file (upstream's ``load_frames_with_stride``; SA-V videos at 24 fps are annotated at 6 fps: 4).

    Loaded fields (set by :func:`unipixel_plugin.data.pipeline.load_sample`):
        sampled: timeline positions of the loaded frames, ``(T,)``.
        frames: ``uint8`` array ``(T, H, W, 3)`` (RGB).
        masks: ``bool`` array ``(O, T, H, W)`` for the kept objects (``O`` may be 0).
        ignore_mask: ``bool`` array ``(T, H, W)`` or ``None``.
        kept_objects: indices into ``objects`` of the ``O`` kept objects.
        prompts: one :class:`VisualPrompt` per kept object when ``prompt_type`` is set, else ``None``.
    """
    id: str
    source: str
    data_type: str
    media_type: str = 'none'
    media: list[str] = field(default_factory=list)
    frame_indices: Optional[list[int]] = None
    conversation: list[dict] = field(default_factory=list)
    query: Optional[str] = None
    query_type: Optional[str] = None
    objects: list[ObjectMasks] = field(default_factory=list)
    ignore: Optional[ObjectMasks] = None
    boxes: Optional[list[list[float]]] = None
    points: Optional[list[list[float]]] = None
    prompt_type: Optional[str] = None
    prompt_frame: Optional[int] = None
    options: Optional[list[str]] = None
    answer: Optional[str] = None
    task: Optional[str] = None
    meta: dict = field(default_factory=dict)
    frame_stride: int = 1
    # loaded
    sampled: Optional[list[int]] = None
    frames: Optional[np.ndarray] = None
    masks: Optional[np.ndarray] = None
    ignore_mask: Optional[np.ndarray] = None
    kept_objects: Optional[list[int]] = None
    prompts: Optional[list[VisualPrompt]] = None

    def __post_init__(self):
        if self.data_type not in DATA_TYPES:
            raise ValueError(f'Sample {self.id!r} of {self.source!r}: unknown data_type {self.data_type!r}; '
                             f'expected one of {DATA_TYPES}')
        if self.media_type not in MEDIA_TYPES:
            raise ValueError(f'Sample {self.id!r} of {self.source!r}: unknown media_type {self.media_type!r}; '
                             f'expected one of {MEDIA_TYPES}')
        if not isinstance(self.frame_stride, int) or self.frame_stride < 1:
            raise ValueError(f'Sample {self.id!r} of {self.source!r}: frame_stride must be an int >= 1, got '
                             f'{self.frame_stride!r}')
        if self.prompt_type is not None and self.prompt_type not in PROMPT_TYPES:
            raise ValueError(f'Sample {self.id!r} of {self.source!r}: unknown prompt_type {self.prompt_type!r}; '
                             f'expected one of {PROMPT_TYPES} or None')

    @property
    def key(self) -> str:
        """``'<source>:<id>'``, unique across sources; used in logs and error messages."""
        return f'{self.source}:{self.id}'

    @property
    def group(self) -> str:
        """Batch group: the data type, plus the prompt type where the data type does not already say it."""
        if self.prompt_type and not self.data_type.endswith(self.prompt_type):
            return f'{self.data_type}/{self.prompt_type}'
        return self.data_type

    @property
    def num_frames(self) -> Optional[int]:
        """Length of the timeline, or ``None`` for a video whose frames are not listed (all frames of the file)."""
        if self.media_type == 'image':
            return 1
        if self.media_type == 'frames':
            return len(self.media)
        if self.media_type == 'video':
            return None if self.frame_indices is None else len(self.frame_indices)
        return 0

    @property
    def is_loaded(self) -> bool:
        return self.frames is not None or (self.media_type == 'none' and self.sampled is not None)

    def replace(self, **changes) -> 'Sample':
        """A shallow copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)
