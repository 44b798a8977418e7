"""What the demo accepts and where it keeps files: upload checks (type, size, frames, decodability) and its folders.

Gradio serves only what is under the demo's folders (:class:`DemoFolders`): uploads (Gradio's cache,
``GRADIO_TEMP_DIR``), results and the bundled samples. Everything a handler reads from a user goes through
:func:`check_upload` first, so a bad file becomes one message in the page instead of a traceback.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from unipixel_plugin.inference.media import IMAGE_EXTENSIONS, MediaError
from unipixel_plugin.toy import sample_media

# containers decord / PyAV read; anything else is refused before decoding is tried
VIDEO_EXTENSIONS = ('.mp4', '.m4v', '.mov', '.avi', '.mkv', '.webm')


class UploadError(ValueError):
    """A file the demo cannot use; the message is shown to the user as it is."""


@dataclass(frozen=True)
class DemoLimits:
    """What one request may ask of the machine.

    Args:
        max_upload_mb: largest accepted upload (also Gradio's ``max_file_size``).
        max_frames: longest accepted video, in frames (SAM 2 tracks every one of them).

    The frames the LLM sees (and region prompts are clicked on) are the predictor's ``sample_frames``.
    """
    max_upload_mb: float = 200.0
    max_frames: int = 900


@dataclass(frozen=True)
class DemoFolders:
    """The only folders the demo's server reads from: ``uploads`` (Gradio's cache), ``outputs``, ``samples``."""
    root: Path

    @property
    def uploads(self) -> Path:
        return self.root / 'uploads'

    @property
    def outputs(self) -> Path:
        return self.root / 'outputs'

    @property
    def samples(self) -> Path:
        return self.root / 'samples'

    @classmethod
    def create(cls, root: str | os.PathLike | None = None) -> DemoFolders:
        """Make the folders (``root``: a fresh temporary folder when None) and copy the bundled samples in, so that
        the page's examples are served from the demo's own folder and nothing else."""
        root = Path(root) if root else Path(tempfile.mkdtemp(prefix='unipixel-demo-'))
        folders = cls(root.resolve())
        for path in (folders.uploads, folders.outputs, folders.samples):
            path.mkdir(parents=True, exist_ok=True)
        for kind in ('image', 'video'):
            source = sample_media(kind)
            target = folders.samples / source.name
            if not target.exists():
                shutil.copyfile(source, target)
        return folders

    def sample(self, kind: str) -> Path:
        return self.samples / sample_media(kind).name

    def served(self) -> list[str]:
        """``allowed_paths`` for Gradio: results and samples (uploads are served as Gradio's own cache)."""
        return [str(self.outputs), str(self.samples)]


def media_kind(path: str) -> str:
    """``'image'`` or ``'video'`` by extension; UploadError for anything else."""
    ext = Path(path).suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        return 'image'
    if ext in VIDEO_EXTENSIONS:
        return 'video'
    raise UploadError(f'{Path(path).name}: unsupported file type {ext or "(no extension)"!r}; upload an image '
                      f'({", ".join(IMAGE_EXTENSIONS)}) or a video ({", ".join(VIDEO_EXTENSIONS)})')


def check_upload(path, limits: DemoLimits) -> str:
    """Refuse a missing, unsupported, too large, undecodable or too long upload; return its kind.

    The checks decode one frame (an image fully), so a corrupt file is caught here, not inside the model.
    """
    if path is None or (isinstance(path, str) and not path.strip()):
        raise UploadError('no image or video given: upload one (or pick an example below)')
    path = os.fspath(path)
    name = Path(path).name
    if not os.path.isfile(path):
        raise UploadError(f'{name}: the upload is gone (the server was restarted?); upload it again')
    kind = media_kind(path)
    size_mb = os.path.getsize(path) / 2 ** 20
    if size_mb > limits.max_upload_mb:
        raise UploadError(f'{name} is {size_mb:.1f} MB; this demo accepts at most {limits.max_upload_mb:g} MB '
                          '(--max-upload-mb)')
    if size_mb == 0:
        raise UploadError(f'{name}: the file is empty')
    try:
        if kind == 'image':
            from unipixel_plugin.data.media import read_image
            read_image(path)
            return kind
        from unipixel_plugin.inference.media import frame_reader
        read, total = frame_reader(path)
        if total > limits.max_frames:
            raise UploadError(f'{name} has {total} frames; this demo tracks at most {limits.max_frames} '
                              '(--max-frames): trim the video')
        read(0)
    except (MediaError, OSError) as err:
        message = str(err).replace(path, name)
        raise UploadError(f'{name} cannot be decoded as {"an image" if kind == "image" else "a video"} '
                          f'({message}); is the file complete?') from err
    return kind


__all__ = ['DemoFolders', 'DemoLimits', 'UploadError', 'VIDEO_EXTENSIONS', 'check_upload', 'media_kind']
