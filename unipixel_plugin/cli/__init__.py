"""The ``unipixel`` command, one module per command group:

* :mod:`.inference`: ``info``, ``segment``, ``ask``;
* :mod:`.data`: ``data check``;
* :mod:`.evaluation`: ``leaderboard``;
* :mod:`.tasks`: ``tasks-path``;
* :mod:`.demo`: ``demo`` (the Gradio page; needs the ``demo`` extra).
"""
from __future__ import annotations

import argparse
import logging
import sys


def build_parser() -> argparse.ArgumentParser:
    from unipixel_plugin.cli.data import add_data_commands
    from unipixel_plugin.cli.demo import add_demo_commands
    from unipixel_plugin.cli.evaluation import add_evaluation_commands
    from unipixel_plugin.cli.inference import add_inference_commands
    from unipixel_plugin.cli.tasks import add_tasks_commands

    parser = argparse.ArgumentParser(prog='unipixel', description='UniPixel: pixel-level vision-language model')
    parser.add_argument('-v', '--verbose', action='store_true', help='debug logging')
    sub = parser.add_subparsers(dest='command', required=True)
    add_inference_commands(sub)
    add_tasks_commands(sub)
    add_data_commands(sub)  # `unipixel data check ROOT ...`
    add_evaluation_commands(sub)
    add_demo_commands(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format='%(levelname)s %(message)s')
    try:
        return args.func(args) or 0
    except (OSError, ValueError, RuntimeError) as err:  # OSError: missing files, hub or network failures
        if args.verbose:
            raise
        message = ' '.join(str(err).split())  # one line, whatever the library's message looks like
        print(f'unipixel {args.command}: error: {message}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
