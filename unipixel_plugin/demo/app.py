"""The Gradio page (three tabs on :class:`~unipixel_plugin.demo.handlers.DemoHandlers`) and its safe launch.

Safety: the server binds to 127.0.0.1 unless ``allow_remote`` is given; it serves files only from the demo's folders
(uploads = Gradio's cache ``GRADIO_TEMP_DIR``, results, samples; ``allowed_paths`` holds nothing else); it makes no
share link unless ``share=True``; no analytics, no run history, no fonts or scripts from the internet.
"""
from __future__ import annotations

import contextlib
import html
import logging
import os

import gradio as gr

from unipixel_plugin.demo import regions as region_prompts
from unipixel_plugin.demo.handlers import DemoHandlers
from unipixel_plugin.demo.uploads import VIDEO_EXTENSIONS, UploadError
from unipixel_plugin.inference.media import IMAGE_EXTENSIONS, MediaError
from unipixel_plugin.prompts import PROMPT_TYPES

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = ('127.0.0.1', 'localhost', '::1')
FILE_TYPES = list(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)
PIXELQA_OPTIONS = '(A) a red square\n(B) a blue circle\n(C) a green triangle\n(D) a yellow star'


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse to listen beyond this machine unless asked to: the demo has no authentication."""
    if host not in LOOPBACK_HOSTS and not allow_remote:
        raise ValueError(f'--host {host} would let other machines use this demo (it has no login and reads their '
                         'uploads); pass --allow-remote to do so deliberately, or keep the default 127.0.0.1')


@contextlib.contextmanager
def shown_in_page():
    """User errors become a message in the page (``gr.Error``), never a traceback; other failures are logged with
    their traceback on the server and shown as one line."""
    try:
        yield
    except gr.Error:
        raise
    except (UploadError, ValueError, MediaError) as err:
        raise gr.Error(html.escape(str(err)), title='Cannot do that', print_exception=False) from None
    except Exception as err:  # noqa: BLE001 - the page must get a message whatever failed
        logger.exception('demo request failed')
        raise gr.Error(html.escape(f'internal error: {type(err).__name__}: {err} (details in the server log)'),
                       print_exception=False) from None


def _warn(messages) -> None:
    for message in messages:
        gr.Warning(html.escape(message))


def _region_picker(handlers: DemoHandlers, prefix: str, editor: bool):
    """Upload + frame slider + clickable frame + region list, wired to the handlers; returns the components."""
    samples = [[str(handlers.folders.sample('image'))], [str(handlers.folders.sample('video'))]]
    media = gr.File(label='Image or video', file_types=FILE_TYPES, type='filepath', elem_id=f'{prefix}-media')
    gr.Examples(samples, inputs=[media], label='Sample media')
    frame = gr.Slider(0, 1, value=0, step=1, label='Frame (of the sampled frames the model sees)', visible=False,
                      elem_id=f'{prefix}-slider')
    mode = gr.Radio(list(region_prompts.MODES), value=region_prompts.POINT, label='A click adds',
                    elem_id=f'{prefix}-mode')
    image = gr.Image(label='Click on the frame', type='numpy', interactive=False, format='png',
                     elem_id=f'{prefix}-frame')
    listing = gr.Textbox(label='Regions ([k] in the question)', value=region_prompts.describe(None), lines=3,
                         interactive=False, elem_id=f'{prefix}-regions')
    clear = gr.Button('Clear regions', size='sm', elem_id=f'{prefix}-clear')
    painter = None
    if editor:
        with gr.Accordion('Paint masks (one layer per mask; numbered after the clicked regions)', open=False):
            painter = gr.ImageEditor(type='numpy', label='Mask painter', sources=(), layers=True,
                                     elem_id=f'{prefix}-editor')
    state = gr.State(None)
    painted = [painter] if painter is not None else []

    def opened(path):
        if not path:
            return (None, None, gr.update(visible=False, value=0), region_prompts.describe(None),
                    *([None] if painter is not None else []))
        with shown_in_page():
            new, picture = handlers.open_media(path)
        count = new['num_frames']
        slider = gr.update(minimum=0, maximum=max(1, count - 1), value=0, visible=count > 1)
        return (new, picture, slider, region_prompts.describe(new), *([picture] if painter is not None else []))

    def moved(current, t):
        with shown_in_page():
            new, picture = handlers.show_frame(current, t)
        return (new, picture, region_prompts.describe(new), *([picture] if painter is not None else []))

    def clicked(current, how, evt: gr.SelectData):
        with shown_in_page():
            x, y = evt.index[:2]
            return handlers.click(current, how, float(x), float(y))

    def cleared(current):
        with shown_in_page():
            return handlers.clear(current)

    media.change(opened, [media], [state, image, frame, listing, *painted])
    frame.input(moved, [state, frame], [state, image, listing, *painted], trigger_mode='always_last')
    image.select(clicked, [state, mode], [state, image, listing])
    clear.click(cleared, [state], [state, image, listing])
    return state, painter


def build_demo(handlers: DemoHandlers, title: str = 'UniPixel demo') -> gr.Blocks:
    """The page: (1) segmentation, (2) region questions, (3) PixelQA."""
    image_sample, video_sample = (str(handlers.folders.sample(k)) for k in ('image', 'video'))
    forced = handlers.forced_answer or ''
    with gr.Blocks(title=title, analytics_enabled=False) as demo:
        gr.Markdown(f'## {title}\nUniPixel: referring segmentation, region questions and PixelQA on images and '
                    'videos.' + (f'\n\n**{html.escape(handlers.note)}**' if handlers.note else ''))
        with gr.Tabs():
            with gr.Tab('Segment', id='segment'):
                with gr.Row():
                    with gr.Column():
                        seg_media = gr.File(label='Image or video', file_types=FILE_TYPES, type='filepath',
                                            elem_id='seg-media')
                        seg_query = gr.Textbox(label='What to segment (a phrase, a sentence or a question)',
                                               placeholder='the blue circle', elem_id='seg-query')
                        seg_type = gr.Dropdown(['auto', *PROMPT_TYPES], value='auto', label='Phrasing',
                                               info='auto: a text ending in . ? ! is sent as typed, else as a phrase')
                        with gr.Accordion('Teacher-forced answer', open=bool(forced)):
                            seg_forced = gr.Textbox(value=forced, label='Answer to force (empty: the model '
                                                    'generates)', elem_id='seg-forced')
                        seg_run = gr.Button('Segment', variant='primary', elem_id='seg-run')
                        gr.Examples([[image_sample, 'the blue circle'], [image_sample, 'the red square'],
                                     [video_sample, 'the blue circle']], inputs=[seg_media, seg_query])
                    with gr.Column():
                        seg_answer = gr.Textbox(label='Answer', interactive=False, elem_id='seg-answer')
                        seg_overlay = gr.Image(label='Overlay', type='filepath', interactive=False, format='png',
                                               elem_id='seg-overlay')
                        seg_video = gr.Video(label='Overlay video', interactive=False, visible=False,
                                             elem_id='seg-video')
                        seg_files = gr.File(label='Downloads: mask PNGs (zip) and COCO-RLE JSON',
                                            file_count='multiple', interactive=False, elem_id='seg-downloads')
                        seg_status = gr.Markdown(elem_id='seg-status')

                def segment(media, query, phrasing, answer, progress=gr.Progress()):
                    with shown_in_page():
                        for view in handlers.segment(media, query, phrasing, answer, progress=progress):
                            _warn(view.warnings)
                            video = view.video is not None
                            yield (view.answer, gr.update(value=view.overlay, visible=not video),
                                   gr.update(value=view.video, visible=video), view.files or None, view.status)

                seg_run.click(segment, [seg_media, seg_query, seg_type, seg_forced],
                              [seg_answer, seg_overlay, seg_video, seg_files, seg_status],
                              concurrency_id='model')

            with gr.Tab('Region questions', id='regions'):
                with gr.Row():
                    with gr.Column():
                        reg_state, reg_editor = _region_picker(handlers, 'region', editor=True)
                    with gr.Column():
                        reg_question = gr.Textbox(label='Question ([0], [1]... name the regions)',
                                                  placeholder='What is [0]?', elem_id='region-question')
                        with gr.Accordion('Teacher-forced answer', open=False):
                            reg_forced = gr.Textbox(label='Answer to force (empty: the model generates)',
                                                    elem_id='region-forced')
                        reg_run = gr.Button('Ask', variant='primary', elem_id='region-run')
                        gr.Examples([['What is [0]?'], ['What colour is [0]?'], ['Is [0] left of [1]?']],
                                    inputs=[reg_question], label='Questions')
                        reg_answer = gr.Textbox(label='Answer', interactive=False, elem_id='region-answer')
                        reg_overlay = gr.Image(label='Regions asked about', type='numpy', interactive=False,
                                               format='png', elem_id='region-overlay')
                        reg_prompt = gr.Textbox(label='Prompt sent to the model', interactive=False,
                                                elem_id='region-prompt')

                def ask(current, question, editor, answer):
                    with shown_in_page():
                        view = handlers.ask(current, question, editor, answer)
                    _warn(view.warnings)
                    return view.answer, view.overlay, view.prompt

                reg_run.click(ask, [reg_state, reg_question, reg_editor, reg_forced],
                              [reg_answer, reg_overlay, reg_prompt], concurrency_id='model')

            with gr.Tab('PixelQA', id='pixelqa'):
                with gr.Row():
                    with gr.Column():
                        qa_state, _ = _region_picker(handlers, 'pixelqa', editor=False)
                    with gr.Column():
                        qa_question = gr.Textbox(label='Question about the clicked objects [0], [1]...',
                                                 placeholder='What shape is [0]?', elem_id='pixelqa-question')
                        qa_options = gr.Textbox(label='Options, one per line', value=PIXELQA_OPTIONS, lines=4,
                                                elem_id='pixelqa-options')
                        qa_run = gr.Button('Answer (two passes through the memory bank)', variant='primary',
                                           elem_id='pixelqa-run')
                        qa_answer = gr.Textbox(label='Answer (pass 2)', interactive=False, elem_id='pixelqa-answer')
                        qa_localized = gr.Textbox(label='Pass 1: objects localised', interactive=False,
                                                  elem_id='pixelqa-localized')
                        qa_masks = gr.Image(label='Pass 1 masks (what the memory bank holds)', type='filepath',
                                            interactive=False, elem_id='pixelqa-masks')

                def pixelqa(current, question, options, progress=gr.Progress()):
                    with shown_in_page():
                        view = handlers.pixelqa(current, question, options, progress=progress)
                    _warn(view.warnings)
                    return view.answer, view.localized, view.overlay

                qa_run.click(pixelqa, [qa_state, qa_question, qa_options], [qa_answer, qa_localized, qa_masks],
                             concurrency_id='model')
    return demo


def launch_demo(handlers: DemoHandlers, host: str = '127.0.0.1', port: int | None = None,
                allow_remote: bool = False, share: bool = False, prevent_thread_lock: bool = False,
                quiet: bool = False) -> gr.Blocks:
    """Build the page and serve it; returns the launched Blocks (``.close()`` stops it).

    Sets ``GRADIO_TEMP_DIR`` (Gradio's upload cache) and ``GRADIO_EXAMPLES_CACHE`` to the demo's folders for this
    process, before the page is built: Gradio serves those on its own, so they must be ours.
    """
    check_host(host, allow_remote)
    folders = handlers.folders
    os.environ['GRADIO_TEMP_DIR'] = str(folders.uploads)
    os.environ['GRADIO_EXAMPLES_CACHE'] = str(folders.root / 'examples-cache')
    os.environ['GRADIO_ANALYTICS_ENABLED'] = 'False'
    demo = build_demo(handlers)
    demo.queue(default_concurrency_limit=1)
    theme = gr.themes.Default(font=['ui-sans-serif', 'system-ui', 'sans-serif'],
                              font_mono=['ui-monospace', 'monospace'])  # no web fonts: works offline
    demo.launch(server_name=host, server_port=port, share=bool(share), allowed_paths=folders.served(),
                max_file_size=int(handlers.limits.max_upload_mb * 2 ** 20), prevent_thread_lock=prevent_thread_lock,
                quiet=quiet, inbrowser=False, show_error=True, theme=theme, footer_links=[], run_history=False,
                ssr_mode=False, mcp_server=False, pwa=False, enable_monitoring=False)
    return demo


__all__ = ['build_demo', 'launch_demo', 'check_host', 'shown_in_page', 'LOOPBACK_HOSTS']
