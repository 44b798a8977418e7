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

Optionally, a *prompt stage* comes first (``prompt_stage_iters``): SAM 2 alone, prompted by the teacher only, with no
LLM forward (no language loss, no regression); it stands in for SAM 2's own pretraining, which upstream starts from:
a few hundred cheap iterations in which the image encoder, the decoder and (on video samples) the memory attention
and memory encoder learn to segment and track the words' objects before the LLM has to find them. The teacher phase
and the hand-over count from its end.

The teacher is training-time only: it is not part of the exported model, which is plain UniPixel.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from unipixel_plugin.prompts import query_of_request
from unipixel_plugin.registry import MODELS
from unipixel_plugin.engine.model import UniPixelModel
from unipixel_plugin.toy.scenes import COLOURS, DIRECTIONS, SHAPES

# every word of the toy's referring expressions but 'the' (unipixel_plugin.toy.scenes.add_expressions)
TOY_WORDS = (*COLOURS, *SHAPES, 'biggest', 'smallest', 'moving', *DIRECTIONS)



@MODELS.register_module()
class ToyUniPixelModel(UniPixelModel):
    """:class:`UniPixelModel` with the toy's prompt teacher (see the module docstring).

    Args:
        words: the vocabulary of the teacher (default: the words of the toy's expressions); others are ignored.
        teacher_iters: iterations with every object prompted by the teacher.
        handover_iters: iterations over which the teacher's share falls to 0.
        distill_weight: weight of the regression of ``seg_head``'s prompts onto the teacher's.
        seed: seeds the teacher's share draws (so that a resumed run draws the same).
        prompt_stage_iters: iterations of the prompt stage (SAM 2 and the teacher alone) before the teacher phase.
        sam2_frames: SAM 2 trains on the first this many frames of each sample (0: all of them); with 1, a video
            sample teaches the LLM the video prompt at about the cost of an image sample (no tracking is trained).
    """

    def __init__(self, *args, words: tuple = TOY_WORDS, teacher_iters: int = 200, handover_iters: int = 200,
                 distill_weight: float = 1.0, seed: int = 0, prompt_stage_iters: int = 0, sam2_frames: int = 0,
                 **kwargs):
        if sam2_frames < 0:
            raise ValueError(f'sam2_frames must be >= 0 (0: every frame), got {sam2_frames}')
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
        self.prompt_stage_iters = int(prompt_stage_iters)
        self.sam2_frames = int(sam2_frames)
        self.distill_weight = float(distill_weight)
        self.register_buffer('step', torch.zeros((), dtype=torch.long))
        self._seed = int(seed)

    def teacher_share(self, step: Optional[int] = None) -> float:
        step = (int(self.step) if step is None else step) - self.prompt_stage_iters
        if step < self.teacher_iters:
            return 1.0
        if self.handover_iters <= 0:
            return 0.0
        return max(0.0, 1.0 - (step - self.teacher_iters) / self.handover_iters)

    def in_prompt_stage(self) -> bool:
        return self.training and int(self.step) < self.prompt_stage_iters

    def loss(self, data: dict) -> dict:
        losses = self.prompt_stage_loss(data) if self.in_prompt_stage() else super().loss(data)
        if self.training:
            self.step += 1
        losses['teacher_share'] = torch.tensor(self.teacher_share())
        return losses

    def prompt_stage_loss(self, data: dict) -> dict:
        """The prompt stage's loss: SAM 2's mask loss with every ``<|seg|>`` object prompted by the teacher, and
        no LLM forward. A batch without mask targets (region questions) gives a zero loss."""
        self.last_batch_size = dict(samples=int(data['input_ids'].size(0)), tokens=0)
        label_masks = data.get('label_mask') or []
        if self.mask_loss is None or not any(m is not None for m in label_masks):
            return {'loss_seg': self.teacher.weight.sum() * 0.0}
        return self._mask_losses(data, label_masks, None)

    def _mask_losses(self, data: dict, label_masks: list, states: Optional[torch.Tensor]) -> dict:
        if self.sam2_frames and self.training:
            n = self.sam2_frames
            data = dict(data, frames=[f[:n] for f in data['frames']])
            label_masks = [None if m is None else m[:n] for m in label_masks]
        return super()._mask_losses(data, label_masks, states)

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
        query = query_of_request(turn)
        if query is None:
            raise ValueError(f'no referring request in the turn before <|seg|>: {turn[-200:]!r}')
        return [self.words[w] for w in query.lower().split() if w in self.words]

    def teacher_prompts(self, input_ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        rows = []
        for position in positions.tolist():
            ids = self.query_words(input_ids, position)
            index = torch.tensor(ids or [0], device=self.teacher.weight.device)
            rows.append(self.teacher(index).sum(0) * (1.0 if ids else 0.0))
        return torch.stack(rows).reshape(len(rows), self.prompt_tokens, self.prompt_dim)

    def seg_prompts(self, data: dict, b: int, positions: torch.Tensor, hidden: Optional[torch.Tensor]):
        if hidden is None:  # the prompt stage: the teacher alone
            return self.teacher_prompts(data['input_ids'][b], positions), {}
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
# the trained toy shipped with the package (HF layout + recipe.json), written by `python -m
# unipixel_plugin.engine.toy_recipe --package` from a run of TOY_CONFIG
PACKAGED_TOY = Path(__file__).resolve().parent.parent / 'assets' / 'toy_model'


def recipe_digest() -> str:
    """Short hash of the toy config (the one shipped in the package's ``.mim/configs``, which ``mim train`` runs):
    a packaged / cached toy trained with another recipe is not served."""
    config = Path(__file__).resolve().parent.parent / '.mim' / 'configs' / TOY_CONFIG
    return hashlib.sha256(config.read_bytes()).hexdigest()[:10]


def packaged_toy() -> Optional[Path]:
    """The trained toy shipped with the package, if it was trained with the current recipe."""
    info = PACKAGED_TOY / 'recipe.json'
    if not info.is_file() or not (PACKAGED_TOY / 'model.safetensors').is_file():
        return None
    if json.loads(info.read_text()).get('config_sha256_10') != recipe_digest():
        logging.getLogger(__name__).warning('the packaged toy model was trained with another version of %s: '
                                            'not using it', TOY_CONFIG)
        return None
    return PACKAGED_TOY


def trained_toy_dir(root: Optional[str] = None) -> Path:
    """Where :func:`ensure_trained_toy` trains the toy when the package has none for the current recipe."""
    from unipixel_plugin.toy.cache import toy_root
    return toy_root(root) / f'trained-toy-{recipe_digest()}'


def train_toy(work_dir, root: Optional[str] = None, threads: Optional[int] = 1, extra_args=()) -> Path:
    """Run the toy config exactly as ``mim train unipixel_plugin unipixel_toy.py --work-dir WORK_DIR`` does (a child
    process, logged to ``WORK_DIR/train.log``); returns the exported model folder ``WORK_DIR/hf_model``."""
    from unipixel_plugin.toy.cache import toy_root

    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env['UNIPIXEL_TOY_ROOT'] = str(toy_root(root))
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    with open(work / 'train.log', 'w') as log:
        done = subprocess.run([sys.executable, '-m', 'unipixel_plugin.engine.runner', TOY_CONFIG, '--work-dir',
                               str(work), *extra_args], env=env, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = (work / 'train.log').read_text()[-3000:]
        raise RuntimeError(f'training the toy failed (exit {done.returncode}); end of {work}/train.log:\n{tail}')
    return work / 'hf_model'


def ensure_trained_toy(root: Optional[str] = None, threads: Optional[int] = 1) -> Path:
    """The trained micro UniPixel (HF layout): the packaged one when it matches the current recipe, else trained
    once into the toy cache (``root``, ``$UNIPIXEL_TOY_ROOT`` or the user cache; several minutes on 2 CPU cores)
    and served from there to every later call, in any process."""
    found = packaged_toy()
    if found is not None:
        return found
    from unipixel_plugin.toy.cache import create_once

    target = trained_toy_dir(root)
    if (target / '.complete').exists():
        return target / 'hf'

    def build(tmp):
        logging.getLogger(__name__).warning('training the toy UniPixel once (%s, a few minutes on 2 CPU cores); '
                                            'log: %s', TOY_CONFIG, tmp / 'work' / 'train.log')
        start = time.time()
        exported = train_toy(tmp / 'work', root, threads)
        shutil.copytree(exported, tmp / 'hf')
        (tmp / 'train_seconds.txt').write_text(f'{time.time() - start:.1f}\n')
        shutil.copy(tmp / 'work' / 'train.log', tmp / 'train.log')
        shutil.rmtree(tmp / 'work')

    create_once(target, build)
    return target / 'hf'


def package_toy(work_dir, seconds: float, command: str, dest=PACKAGED_TOY, threads: Optional[int] = None) -> Path:
    """Copy a finished toy run's exported model to ``dest`` (in a checkout: ``unipixel_plugin/assets/toy_model``)
    with its recipe record (config hash, command, wall time, the first logged losses)."""
    exported = Path(work_dir) / 'hf_model'
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(exported, dest)
    scalars = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))
    losses = []
    if scalars:
        for line in scalars[-1].read_text().splitlines():
            row = json.loads(line)
            if 'loss' in row and row.get('step', 0) <= 100:
                losses.append({k: row[k] for k in ('step', 'loss', 'loss_lm', 'loss_seg') if k in row})
    import torch
    (dest / 'recipe.json').write_text(json.dumps({
        'config': TOY_CONFIG, 'config_sha256_10': recipe_digest(), 'command': command,
        'train_seconds': round(seconds, 1), 'torch': torch.__version__,
        'threads': str(threads) if threads else os.environ.get('OMP_NUM_THREADS'),
        'first_losses': losses}, indent=1) + '\n')
    return dest


def main(argv=None) -> int:
    import argparse
    parser = argparse.ArgumentParser(description='Train the toy UniPixel (configs/unipixel_toy.py) and package it')
    parser.add_argument('--work-dir', default='work_dirs/toy')
    parser.add_argument('--package', metavar='DIR', nargs='?', const='unipixel_plugin/assets/toy_model',
                        help='copy the result there (default: unipixel_plugin/assets/toy_model of the checkout)')
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args(argv)
    start = time.time()
    train_toy(args.work_dir, threads=args.threads)
    seconds = time.time() - start
    print(f'trained the toy in {seconds:.0f} s: {args.work_dir}/hf_model')
    if args.package:
        command = f'python -m unipixel_plugin.engine.toy_recipe --package --threads {args.threads}'
        print('packaged:', package_toy(args.work_dir, seconds, command, args.package, args.threads))
    return 0


if __name__ == '__main__':
    sys.exit(main())

__all__ = ['ToyUniPixelModel', 'TOY_WORDS', 'TOY_CONFIG', 'PACKAGED_TOY', 'ensure_trained_toy', 'train_toy',
           'packaged_toy', 'package_toy', 'trained_toy_dir', 'recipe_digest']
