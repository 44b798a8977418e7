"""Fixtures of the metric tests: the seeded inputs of ``mask_cases.py`` and the stored reference numbers."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def _load_cases():
    spec = importlib.util.spec_from_file_location('evaluation_mask_cases', HERE / 'mask_cases.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def cases():
    return _load_cases()


@pytest.fixture(scope='session')
def reference():
    def load(name: str) -> dict:
        return json.loads((HERE / 'reference' / name).read_text())
    return load


@pytest.fixture(scope='session')
def refvos_paths(tmp_path_factory, cases):
    """The tiny Ref-VOS dataset written twice: predictions as 0/255 PNGs and as 0/1 PNGs."""
    root = tmp_path_factory.mktemp('refvos')
    return {255: cases.refvos_dataset(str(root / 'ds255'), 255), 1: cases.refvos_dataset(str(root / 'ds1'), 1)}
