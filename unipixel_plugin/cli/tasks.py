"""``unipixel tasks-path``: the folder of UniPixel's lmms-eval tasks, for ``lmms-eval --include_path``."""
from __future__ import annotations

from pathlib import Path


def tasks_path() -> Path:
    """The installed task folder (``unipixel_plugin/tasks``, a copy of the repository's ``tasks/``)."""
    return Path(__file__).resolve().parent.parent / 'tasks'


def cmd_tasks_path(args) -> int:
    print(tasks_path())
    return 0


def add_tasks_commands(sub) -> None:
    p = sub.add_parser('tasks-path', help='print the folder of the lmms-eval tasks (for --include_path)')
    p.set_defaults(func=cmd_tasks_path)


__all__ = ['tasks_path', 'add_tasks_commands']
