"""The toy's training recipe: a prompt teacher that stands in for the pretrained parts the real recipe starts from.

Upstream trains UniPixel from a pretrained SAM 2 (whose decoder already follows prompts) and a pretrained Qwen2.5-VL
(whose states already carry what a sentence means). The micro toy starts from random weights, and there the two
parts cannot find each other: SAM 2 learns to follow a prompt only once prompts differ, and the LLM's state before
``<|seg|>`` learns to differ only once SAM 2 follows it (docs/toy_research.md). :class:`ToyUniPixelModel` breaks that
loop with a *prompt teacher*: a learnt embedding per word of the referring expression (its bag of words).

* For the first ``teacher_iters`` iterations SAM 2 is prompted by the teacher (the expression's words), so it learns
  to segment "red", "circle", "biggest" ... while the LLM's ``seg_head`` output is regressed onto the teacher's
  prompt (mean squared error, the teacher detached): the LLM learns to say, at ``<|seg|>``, which words it was asked.
* Over the next ``handover_iters`` the share of objects prompted by the teacher falls linearly to 0; from then on
  SAM 2 sees the LLM's prompts only, as at inference, and everything trains on the mask loss (the regression stays
  with weight ``distill_weight``).

The teacher is training-time only: it is not part of the exported model, which is plain UniPixel.
"""
from __future__ import annotations

import re
from typing import Optional

import torch
from torch import nn

from unipixel_plugin.registry import MODELS
from unipixel_plugin.engine.model import UniPixelModel
from unipixel_plugin.toy.scenes import COLOURS, DIRECTIONS, SHAPES

# every word of the toy's referring expressions but 'the' (unipixel_plugin.toy.scenes.add_expressions)
TOY_WORDS = (*COLOURS, *SHAPES, 'biggest', 'smallest', 'moving', *DIRECTIONS)

# the referring request of every toy path ("Please segment the {query} in this {image|video}.")
_REQUEST = re.compile(r'Please segment the (.+?) in this (?:image|video)\.')


@MODELS.register_module()
class ToyUniPixelModel(UniPixelModel):
    """:class:`UniPixelModel` with the toy's prompt teacher (see the module docstring).

    Args:
        words: the vocabulary of the teacher (default: the words of the toy's expressions); others are ignored.
        teacher_iters: iterations with every object prompted by the teacher.
        handover_iters: iterations over which the teacher's share falls to 0.
        distill_weight: weight of the regression of ``seg_head``'s prompts onto the teacher's.
        seed: seeds the teacher's share draws (so that a resumed run draws the same).
    """

    def __init__(self, *args, words: tuple = TOY_WORDS, teacher_iters: int = 200, handover_iters: int = 200,
                 distill_weight: float = 1.0, seed: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        if not words:
            raise ValueError('ToyUniPixelModel needs the teacher vocabulary (words=...)')
        head = self.hf_model.seg_head
        self.words = {w: i for i, w in enumerate(words)}
        self.prompt_tokens = int(head.hidden_tokens)
        self.prompt_dim = int(head[-1].out_features) // self.prompt_tokens
        self.teacher = nn.Embedding(len(words), self.prompt_tokens * self.prompt_dim)
        nn.init.normal_(self.teacher.weight, std=1.0)
        self.teacher_iters, self.handover_iters = int(teacher_iters), int(handover_iters)
        self.distill_weight = float(distill_weight)
        self.register_buffer('step', torch.zeros((), dtype=torch.long))
        self._seed = int(seed)

    def teacher_share(self, step: Optional[int] = None) -> float:
        step = int(self.step) if step is None else step
        if step < self.teacher_iters:
            return 1.0
        if self.handover_iters <= 0:
            return 0.0
        return max(0.0, 1.0 - (step - self.teacher_iters) / self.handover_iters)

    def loss(self, data: dict) -> dict:
        losses = super().loss(data)
        if self.training:
            self.step += 1
        losses['teacher_share'] = torch.tensor(self.teacher_share())
        return losses

    def parse_losses(self, losses: dict):
        share = losses.pop('teacher_share', None)
        parsed, log_vars = super().parse_losses(losses)
        if share is not None:
            log_vars['teacher_share'] = float(share)
        return parsed, log_vars

    def query_words(self, input_ids: torch.Tensor, position: int) -> list[int]:
        """Teacher word ids of the referring expression of the user turn that ``position``'s ``<|seg|>`` answers."""
        tokenizer = self.data_preprocessor.processor.tokenizer
        text = tokenizer.decode(input_ids[:position + 1].tolist(), skip_special_tokens=False)
        turn = text.rsplit('<|im_start|>user', 1)[-1]
        found = _REQUEST.search(turn)
        if not found:
            raise ValueError(f'no referring request in the turn before <|seg|>: {turn[-200:]!r}')
        return [self.words[w] for w in found.group(1).lower().split() if w in self.words]

    def teacher_prompts(self, input_ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        rows = []
        for position in positions.tolist():
            ids = self.query_words(input_ids, position)
            index = torch.tensor(ids or [0], device=self.teacher.weight.device)
            rows.append(self.teacher(index).sum(0) * (1.0 if ids else 0.0))
        return torch.stack(rows).reshape(len(rows), self.prompt_tokens, self.prompt_dim)

    def seg_prompts(self, data: dict, b: int, positions: torch.Tensor, hidden: torch.Tensor):
        if not self.training:
            return hidden, {}
        target = self.teacher_prompts(data['input_ids'][b], positions).to(hidden.dtype)
        distill = (hidden - target.detach()).pow(2).mean()
        share = self.teacher_share()
        if share > 0:
            generator = torch.Generator().manual_seed(self._seed * 1_000_003 + int(self.step) * 101 + b)
            use = (torch.rand(hidden.size(0), generator=generator) < share).to(hidden.device)
            hidden = torch.where(use[:, None, None], target, hidden)
        return hidden, {'loss': self.distill_weight * distill, 'distill': distill.detach()}

    def state_dict(self, *args, **kwargs):
        """With the teacher's step kept even when only trainable parameters are saved (exact resume)."""
        state = super().state_dict(*args, **kwargs)
        prefix = kwargs.get('prefix', args[1] if len(args) > 1 else '')
        state[prefix + 'step'] = self.step.detach().clone()
        return state



TOY_CONFIG = 'unipixel_toy.py'


def trained_toy_dir(root: Optional[str] = None) -> 'Path':
    """Where :func:`ensure_trained_toy` keeps the trained toy: one folder per version of the toy config (a change
    to the recipe trains a new one)."""
    import hashlib
    from pathlib import Path

    from unipixel_plugin.engine.runner import resolve_config
    from unipixel_plugin.toy.cache import toy_root
    digest = hashlib.sha256(Path(resolve_config(TOY_CONFIG)).read_bytes()).hexdigest()[:10]
    return toy_root(root) / f'trained-toy-{digest}'


def ensure_trained_toy(root: Optional[str] = None, threads: Optional[int] = None) -> 'Path':
    """The trained micro UniPixel (HF layout, exported by the toy config's run), trained on first use.

    The first call runs ``configs/unipixel_toy.py`` exactly as ``mim train unipixel_plugin unipixel_toy.py`` does
    (in a child process; several minutes on 2 CPU cores, logged to ``train.log`` beside the model) and keeps the
    exported model and the run's log; later calls, in any process, return it at once. ``root``: the toy root
    (``$UNIPIXEL_TOY_ROOT`` / the user cache by default).
    """
    import logging
    import os
    import shutil
    import subprocess
    import sys
    import time

    from unipixel_plugin.toy.cache import create_once, toy_root

    target = trained_toy_dir(root)
    if (target / '.complete').exists():
        return target / 'hf'
    logger = logging.getLogger(__name__)

    def build(tmp):
        work = tmp / 'work'
        env = dict(os.environ)
        env['UNIPIXEL_TOY_ROOT'] = str(toy_root(root))
        if threads:
            env['OMP_NUM_THREADS'] = str(threads)
        logger.warning('training the toy UniPixel once (%s; a few minutes on 2 CPU cores), log: %s',
                       TOY_CONFIG, tmp / 'train.log')
        start = time.time()
        with open(tmp / 'train.log', 'w') as log:
            done = subprocess.run([sys.executable, '-m', 'unipixel_plugin.engine.runner', TOY_CONFIG,
                                   '--work-dir', str(work)], env=env, stdout=log, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            tail = (tmp / 'train.log').read_text()[-3000:]
            raise RuntimeError(f'training the toy failed (exit {done.returncode}); end of its log:\n{tail}')
        shutil.copytree(work / 'hf_model', tmp / 'hf')
        (tmp / 'train_seconds.txt').write_text(f'{time.time() - start:.1f}\n')
        shutil.rmtree(work)

    create_once(target, build)
    return target / 'hf'


__all__ = ['ToyUniPixelModel', 'TOY_WORDS', 'TOY_CONFIG', 'ensure_trained_toy', 'trained_toy_dir']
