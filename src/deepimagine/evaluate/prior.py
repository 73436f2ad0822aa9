"""The ``prior`` control: successive imagining with an operator that knows nothing about the step.

Every step is answered with the bin frequencies of its kind and factor group in the calibration pool
the trained operators are calibrated on (``LLMPredictor.operator_calibration``): a walk from a
retrieved anchor with the teacher-imagined calibration steps (``data/traces/calibration.jsonl``), a
local walk from the question's own anchor with the training change questions. It is what a
calibrated operator with no signal would answer, carried through the same anchors, paths, mixture and
comparison as imagine mode. ``<model>/imagine`` minus ``prior`` is therefore what the model's reading
of each step adds; ``prior`` minus ``retrieval`` is what honest step uncertainty alone does.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Optional, Sequence

from ..core import io
from ..core.questions import Question, format_answer
from ..core.states import FACTOR_GROUP
from .prediction import Prediction

SMOOTHING = 0.5       # added to every bin count (no bin is impossible)


def bin_frequencies(pool: Sequence[Question]) -> dict[Optional[str], list[float]]:
    """Factor group -> smoothed answer-bin frequencies of the pool's change questions; None -> all groups."""
    counts: dict[Optional[str], Counter] = defaultdict(Counter)
    width = 0
    for q in pool:
        if q.category != "change":
            continue
        width = max(width, len(q.options))
        counts[FACTOR_GROUP.get(q.factor)][q.answer_index] += 1
        counts[None][q.answer_index] += 1
    out = {}
    for group, c in counts.items():
        total = sum(c.values()) + SMOOTHING * width
        out[group] = [(c[i] + SMOOTHING) / total for i in range(width)]
    return out


class PriorPredictor:
    """``prior``: imagine mode whose every step gets its (kind, factor group) prior over the bins."""

    name = "prior"

    def __init__(self, params, train: Sequence[Question], calibration_file: Path = io.CALIBRATION_FILE):
        self.params = params
        steps = [Question.from_row(r) for r in io.read_jsonl(calibration_file)] if calibration_file.exists() else []
        local = [q for q in train if q.category == "change"]
        self.frequencies = {"local": bin_frequencies(local), "retrieved": bin_frequencies(steps or local)}
        self.counts: Counter = Counter()
        self.trajectories: dict[str, dict] = {}

    def step_probs(self, q: Question) -> list[float]:
        kind = (q.meta or {}).get("calibration") or "local"
        freq = self.frequencies[kind]
        probs = freq.get(FACTOR_GROUP.get(q.factor)) or freq.get(None)
        if probs is None or len(probs) != len(q.options):
            return [1.0 / len(q.options)] * len(q.options)
        return probs

    def ask(self, batch: Sequence[Question]) -> list[str]:
        return [format_answer(self.step_probs(q), "the factor group's prior over the bins") for q in batch]

    def predict(self, questions: Sequence[Question]) -> list[Prediction]:
        from .imagine import answer_or_uniform, imagine
        from .llm import imagine_settings

        settings = imagine_settings(self.params)
        return answer_or_uniform(list(questions), lambda qs: imagine(qs, self.ask, settings), self.counts,
                                 self.trajectories)
