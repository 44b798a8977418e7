"""How this package's lmms-eval tasks get their documents: the task YAML loads a one-row placeholder file (lmms-eval
needs a ``dataset_path``) and its ``process_docs`` hook replaces the rows by documents built from the benchmark's
native files with the project's dataset readers, under ``$UNIPIXEL_DATA_ROOT``."""
from __future__ import annotations

import os
from typing import Callable


def process_docs_hook(build_docs: Callable[[str, str, str | None], list[dict]], dataset: str, split: str):
    """A ``process_docs`` function for one benchmark split: ``build_docs(dataset, split, data_root)`` -> rows."""
    def process_docs(placeholder):
        import datasets
        return datasets.Dataset.from_list(build_docs(dataset, split, os.environ.get('UNIPIXEL_DATA_ROOT')))
    return process_docs


__all__ = ['process_docs_hook']
