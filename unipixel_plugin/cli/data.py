"""``unipixel data check ROOT``: which datasets are under a data root, how many samples, and every problem."""
from __future__ import annotations


def add_data_commands(sub) -> None:
    from unipixel_plugin.data.check import add_data_cli
    add_data_cli(sub)


__all__ = ['add_data_commands']
