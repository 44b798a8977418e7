"""``unipixel demo``: serve the Gradio page (unipixel_plugin.demo) on a checkpoint, on this machine by default."""
from __future__ import annotations

import logging

from unipixel_plugin.prompts import SEG_ANSWER

logger = logging.getLogger('unipixel')


def add_demo_commands(sub) -> None:
    p = sub.add_parser('demo', help='serve an interactive web demo (Gradio) on 127.0.0.1')
    p.add_argument('--checkpoint', default=None,
                   help='checkpoint dir or hub id (default: the tiny toy model built offline)')
    p.add_argument('--host', default='127.0.0.1', help='address to listen on (default: this machine only)')
    p.add_argument('--port', type=int, default=7860)
    p.add_argument('--allow-remote', action='store_true',
                   help='allow a --host other than 127.0.0.1/localhost (the demo has no login)')
    p.add_argument('--share', action='store_true', help="make a public gradio.live link (off unless given)")
    p.add_argument('--workdir', default=None,
                   help='folder for uploads and results, the only one served (default: a fresh temporary folder)')
    p.add_argument('--max-upload-mb', type=float, default=200.0, help='largest upload accepted')
    p.add_argument('--max-frames', type=int, default=900, help='longest video accepted, in frames')
    p.add_argument('--sample-frames', type=int, default=16, help='video frames the LLM sees (upstream: 16)')
    p.add_argument('--max-new-tokens', type=int, default=64)
    p.add_argument('--answer', default=None,
                   help='prefill the page\'s teacher-forced answer (e.g. "' + SEG_ANSWER.replace('%', '%%') + '"); '
                   'default: the model generates')
    p.add_argument('--device', default='auto')
    p.add_argument('--dtype', default='auto', help='auto (fp32 on CPU, checkpoint dtype on GPU), bf16, fp32')
    p.add_argument('--quiet', action='store_true', help='no progress bars in the terminal')
    p.set_defaults(func=cmd_demo, sam2_frames='sampled')


def cmd_demo(args) -> int:
    try:
        from unipixel_plugin.demo.app import check_host, launch_demo
    except ImportError as err:
        raise RuntimeError(f'the demo needs gradio ({err}): pip install "unipixel_plugin[demo]"') from err
    check_host(args.host, args.allow_remote)  # before minutes of model loading
    from unipixel_plugin.cli.inference import DEMO_NOTE, _load_predictor
    from unipixel_plugin.demo import DemoFolders, DemoHandlers, DemoLimits
    predictor, toy = _load_predictor(args)
    folders = DemoFolders.create(args.workdir)
    handlers = DemoHandlers(predictor, folders, DemoLimits(args.max_upload_mb, args.max_frames),
                            forced_answer=args.answer, note=DEMO_NOTE if toy else None)
    logger.info('serving http://%s:%d (uploads and results under %s)', args.host, args.port, folders.root)
    launch_demo(handlers, host=args.host, port=args.port, allow_remote=args.allow_remote, share=args.share)
    return 0


__all__ = ['add_demo_commands', 'cmd_demo']
