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


@pytest.fixture(scope='session')
def lmms_run(tiny_ckpt):
    """``run(tasks, data_root, output_path=None, answer='<|seg|>') -> results``: lmms-eval's ``simple_evaluate`` in
    this process on this package's tasks, with the ``unipixel`` adapter on the tiny checkpoint answering exactly
    ``answer`` (random tiny weights never emit ``<|seg|>``: greedy decoding is forced onto the answer's tokens, then
    ``<|im_end|>``), so by default every answer carries one mask track. One adapter serves the whole session; ``results['samples'][task]`` holds
    the logged samples. ``output_path`` reaches the aggregations as ``args.output_path`` (as ``--output_path``
    does)."""
    import contextlib
    import os
    import sys

    tasks_path = HERE.parents[1] / 'tasks'
    state = {}

    @contextlib.contextmanager
    def environment(**values):
        old = {k: os.environ.get(k) for k in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    @contextlib.contextmanager
    def forced_answer(model, tokenizer, answer):
        """Greedy decoding picks ``answer``'s tokens in turn, then ``<|im_end|>``."""
        forced = tokenizer.encode(answer, add_special_tokens=False) + [tokenizer.convert_tokens_to_ids('<|im_end|>')]
        step = {'n': 0}

        def note(module, args, kwargs):
            ids = kwargs.get('input_ids')
            # generation's first forward reads the whole prompt; the cached steps after it one token each
            step['n'] = 0 if ids is not None and ids.shape[1] > 1 else step['n'] + 1

        def boost(module, args, out):
            out = out.clone()
            out[..., forced[min(step['n'], len(forced) - 1)]] += 1e4
            return out

        handles = [model.register_forward_pre_hook(note, with_kwargs=True), model.lm_head.register_forward_hook(boost)]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def cli_namespace(tasks, output_path):
        """The arguments the lmms-eval CLI would pass on (the aggregations read ``args.output_path``)."""
        from lmms_eval.__main__ import parse_eval_args
        argv = sys.argv
        sys.argv = ['lmms-eval', '--model', 'unipixel', '--tasks', ','.join(tasks), '--log_samples'] + (
            ['--output_path', str(output_path)] if output_path else [])
        try:
            return parse_eval_args()[1]
        finally:
            sys.argv = argv

    def run(tasks, data_root, output_path=None, answer='<|seg|>', **model_args):
        from lmms_eval.evaluator import simple_evaluate
        from lmms_eval.tasks import TaskManager

        from unipixel_plugin.evaluation.lmms.adapter import UniPixelLMM
        settings = dict(device='cpu', min_pixels=3136, max_pixels=12544, max_new_tokens=4, **model_args)
        key = tuple(sorted(settings.items()))
        if key not in state:
            state[key] = UniPixelLMM(pretrained=str(tiny_ckpt), **settings)
        lm = state[key]
        if 'manager' not in state:  # indexing lmms-eval's ~3000 task YAMLs takes seconds: once per session
            state['manager'] = TaskManager(include_path=str(tasks_path))
        with environment(UNIPIXEL_DATA_ROOT=str(data_root), HF_HUB_OFFLINE='1', HF_DATASETS_OFFLINE='1'), \
                forced_answer(lm.predictor.model, lm.predictor.processor.tokenizer, answer):
            return simple_evaluate(model=lm, tasks=list(tasks), task_manager=state['manager'], log_samples=True,
                                   bootstrap_iters=0, cli_args=cli_namespace(tasks, output_path))

    run.adapters = state  # the adapters made so far, by settings (tests may wrap their predictor)
    return run
