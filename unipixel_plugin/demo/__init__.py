"""``unipixel demo``: a local Gradio page on any UniPixel checkpoint (the official ones, an export, the toy).

* :mod:`.handlers`: what the buttons do, callable without a browser (the tests call them directly);
* :mod:`.regions`: point / box prompts clicked on a frame; :mod:`.uploads`: upload checks, limits and folders;
* :mod:`.playback`: overlay videos a browser can play; :mod:`.app`: the page and its safe launch.

Needs the ``demo`` extra (``pip install 'unipixel_plugin[demo]'``: gradio). Importing this package is light;
:mod:`.app` imports gradio.
"""
from unipixel_plugin.demo.handlers import DemoHandlers, PixelQAView, RegionView, SegmentView
from unipixel_plugin.demo.uploads import DemoFolders, DemoLimits, UploadError

__all__ = ['DemoHandlers', 'DemoFolders', 'DemoLimits', 'UploadError', 'SegmentView', 'RegionView', 'PixelQAView']
