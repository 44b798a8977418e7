"""Multiple-choice accuracy of VideoRefer-Bench-Q and PixelQA (upstream UniPixel's ``eval_general.py``).

The model answers after the prefill "The best option is (" (PixelQA) or freely ("(B) the dog", "B. ...", "b").
Upstream reads the choice from the answer's first space-separated token, lower-cased, with ``(``, ``)`` and ``.``
removed; a longer token keeps its first character ("Bicycle" -> "b"). A letter outside the options (or nothing)
is a parse failure: it counts as a sample and as wrong, and is reported as failed. Accuracy is
``correct / samples``, overall and per question type (a sample may carry several types).

One deliberate difference: an empty answer (or one starting with a space) makes upstream raise ``IndexError``;
here it is a parse failure.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence, Union


def parse_choice(response: str, num_options: int) -> Optional[str]:
    """The option letter (``'A'``, ``'B'`` ...) that ``response`` picks, or ``None`` when it picks none of the
    ``num_options`` options (upstream's rule, see the module docstring)."""
    if num_options < 1:
        raise ValueError(f'num_options must be >= 1, got {num_options}')
    token = response.lower().split(' ')[0].replace('(', '').replace(')', '').replace('.', '')
    if not token:
        return None
    letter = token[0]
    if letter not in [chr(ord('a') + i) for i in range(num_options)]:
        return None
    return letter.upper()


def answer_letter(answer: str) -> str:
    """The letter of a ground-truth answer: ``'B'``, ``'(B)'`` or ``'(B) the dog'`` -> ``'B'``."""
    text = answer.strip()
    if text.startswith('(') and len(text) >= 3 and text[2] == ')':
        return text[1].upper()
    if len(text) == 1:
        return text.upper()
    raise ValueError(f'cannot read an option letter from the answer {answer!r}: expected "B", "(B)" or "(B) ..."')


@dataclass
class ChoiceTally:
    """Counts of one group of questions: ``samples``, ``failed`` (unparsable answers), ``correct``."""
    samples: int = 0
    failed: int = 0
    correct: int = 0

    @property
    def accuracy(self) -> float:
        """``correct / samples`` (0 for an empty group, as upstream)."""
        return self.correct / self.samples if self.samples else 0.0

    def add(self, other: 'ChoiceTally') -> None:
        self.samples += other.samples
        self.failed += other.failed
        self.correct += other.correct


@dataclass
class ChoiceAccuracy:
    """Overall and per-type tallies (:func:`choice_accuracy`)."""
    overall: ChoiceTally = field(default_factory=ChoiceTally)
    per_type: dict = field(default_factory=dict)

    def as_dict(self, percent: bool = True) -> dict:
        scale = 100.0 if percent else 1.0
        out = {'accuracy': self.overall.accuracy * scale, 'samples': self.overall.samples,
               'failed': self.overall.failed}
        for name in sorted(self.per_type):
            out[f'accuracy/{name}'] = self.per_type[name].accuracy * scale
        return out


def score_choice(response: str, answer: str, num_options: int) -> Optional[bool]:
    """``True`` / ``False`` for a parsed answer, ``None`` for a parse failure."""
    picked = parse_choice(response, num_options)
    if picked is None:
        return None
    return picked == answer_letter(answer)


def choice_accuracy(records: Iterable[dict]) -> ChoiceAccuracy:
    """Accuracy of multiple-choice answers.

    Args:
        records: dicts with ``response`` (the model's text), ``answer`` (letter or "(X) ..."), ``options`` (the
            option list, or ``num_options``) and optionally ``task`` (a type name or a list of them). A record
            without ``response`` is skipped, as upstream skips samples that were never answered.

    Returns:
        :class:`ChoiceAccuracy` with the overall tally and one per type.
    """
    result = ChoiceAccuracy()
    for record in records:
        if 'response' not in record:
            continue
        num_options = record['num_options'] if 'num_options' in record else len(record['options'])
        verdict = score_choice(record['response'], record['answer'], num_options)
        tally = ChoiceTally(1, int(verdict is None), int(verdict is True))
        result.overall.add(tally)
        for name in _task_names(record.get('task')):
            result.per_type.setdefault(name, ChoiceTally()).add(tally)
    return result


def _task_names(task: Union[None, str, Sequence[str], Any]) -> list:
    if task is None:
        return ['unknown']
    if isinstance(task, str):
        return [task]
    return list(task)


__all__ = ['parse_choice', 'answer_letter', 'score_choice', 'choice_accuracy', 'ChoiceTally', 'ChoiceAccuracy']
