"""Verifiable rewards for GRPO (open-r1 style): small functions in a registry.

Each reward is ``fn(completions, **kwargs) -> list[float]``. TRL's ``GRPOTrainer`` passes the
dataset columns as keyword lists aligned with ``completions`` (here ``answer_index`` and
``options``), plus extras (``prompts``, ``trainer_state`` ...) that a reward may ignore.
A completion is either a string or, for conversational prompts, a list of messages.
Parsing never raises: an unparseable answer scores 0. Every reward reads the answer outside
``<think>...</think>`` (``questions.parse_decision``), so a template echoed while thinking earns nothing.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable, Sequence

from ..core.questions import parse_decision, strip_thinking

RewardFn = Callable[..., list[float]]

LOG_SCORE_FLOOR = 0.01  # probabilities below this are clipped: log_score spans [log 0.01, 0] -> [0, 1]
_DECISION_THEN_REASON = re.compile(r"DECISION\s*[:=]\s*[\(\[][^\)\]]*[\)\]].*?REASON\s*:\s*\S", re.IGNORECASE | re.DOTALL)


def completion_text(completion: Any) -> str:
    """The answer text of a completion: a string, or the assistant message(s) of a conversation."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    if isinstance(completion, (list, tuple)):
        return "".join(completion_text(m) for m in completion
                       if not isinstance(m, dict) or m.get("role", "assistant") == "assistant")
    return ""


def _n_options(options: Any, i: int) -> int:
    opts = options[i] if options is not None else None
    if isinstance(opts, int):  # a column holding the option count directly
        return opts
    if not isinstance(opts, (list, tuple)) or not opts:
        raise ValueError("rewards need the 'options' column (the list of options of each question)")
    return len(opts)


def _gold_probability(text: str, n: int, gold: int) -> float | None:
    """The normalised probability the answer puts on the gold option, or None when unparseable."""
    parsed = parse_decision(text, n)
    return parsed.probs[gold] if parsed.valid else None


def correctness(completions: Sequence[Any], answer_index: Sequence[int], options: Sequence[Any],
                **_: Any) -> list[float]:
    """1 when the gold option strictly has the highest probability (ties score 0), else 0."""
    out = []
    for i, c in enumerate(completions):
        parsed = parse_decision(completion_text(c), _n_options(options, i))
        if not parsed.valid:
            out.append(0.0)
            continue
        gold = int(answer_index[i])
        best_other = max((p for j, p in enumerate(parsed.probs) if j != gold), default=-1.0)
        out.append(1.0 if parsed.probs[gold] > best_other else 0.0)
    return out


def log_score(completions: Sequence[Any], answer_index: Sequence[int], options: Sequence[Any],
              **_: Any) -> list[float]:
    """Rescaled log probability of the gold option: log(max(p, 0.01)) mapped from [log 0.01, 0] to [0, 1].

    A proper scoring rule (rewards calibrated confidence); an invalid answer scores 0, the same as
    putting at most 1% on the truth.
    """
    floor = math.log(LOG_SCORE_FLOOR)
    out = []
    for i, c in enumerate(completions):
        p = _gold_probability(completion_text(c), _n_options(options, i), int(answer_index[i]))
        out.append(0.0 if p is None else (math.log(max(p, LOG_SCORE_FLOOR)) - floor) / -floor)
    return out


def format(completions: Sequence[Any], options: Sequence[Any], **_: Any) -> list[float]:  # noqa: A001
    """1 for a parseable DECISION with one score per option followed by a non-empty REASON, else 0."""
    out = []
    for i, c in enumerate(completions):
        text = completion_text(c)
        ok = (parse_decision(text, _n_options(options, i)).valid
              and _DECISION_THEN_REASON.search(strip_thinking(text)) is not None)
        out.append(1.0 if ok else 0.0)
    return out


REWARDS: dict[str, RewardFn] = {
    "correctness": correctness,
    "log_score": log_score,
    "format": format,
}


def get_rewards(names: Sequence[str]) -> list[RewardFn]:
    """Reward functions by name, in order; an unknown name is a clear error."""
    unknown = [n for n in names if n not in REWARDS]
    if unknown:
        raise ValueError(f"unknown reward(s) {unknown}; known: {sorted(REWARDS)}")
    return [REWARDS[n] for n in names]
