"""Training sets for SFT and GRPO, built from question rows and teacher traces.

SFT examples are conversational prompt-completion rows
(``{"prompt": render_messages(q), "completion": [{"role": "assistant", "content": ...}]}``) so that
TRL puts the loss on the completion only. The completion is the question's agreeing teacher trace,
re-rendered by ``format_answer`` with a shortened reason (the DECISION line first), or, for a
question without one, a gold-answer target built here.
"""
from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from ..core import io
from ..core.questions import (Question, answer_text, canonical_change, display_index, display_order, one_hot, parse_answer,
                              render_messages)

log = logging.getLogger(__name__)

TRAIN_FILE = io.PAIRS_DIR / "train.jsonl"
TRACES_FILE = io.TRACES_DIR / "traces.jsonl"
GOLD_CONFIDENCE = 0.8


def load_questions(path: str | Path = TRAIN_FILE, source: Optional[str] = None) -> list[Question]:
    """Question rows of ``path`` (optionally only one ``source``), in file order."""
    rows = (Question.from_row(r) for r in io.read_jsonl(path))
    return [q for q in rows if source is None or q.source == source]


def load_traces(path: str | Path = TRACES_FILE) -> dict[str, str]:
    """Question id -> completion of its first agreeing trace (rows of the traces stage:
    ``question_id``, ``completion``, ``agrees``). A missing file means no traces."""
    path = Path(path)
    if not path.exists():
        log.warning("no traces file at %s: every SFT target is built from the gold answer", path)
        return {}
    traces: dict[str, str] = {}
    for row in io.read_jsonl(path):
        if row.get("agrees") and isinstance(row.get("completion"), str):
            traces.setdefault(str(row["question_id"]), row["completion"])
    return traces


def shorten(text: str, max_chars: int) -> str:
    """``text`` cut at a word boundary to at most ``max_chars`` characters (0 = no limit)."""
    text = " ".join(text.split())
    if max_chars <= 0 or len(text) <= max_chars:
        return text
    cut = text[:max_chars].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + " ..."


def gold_reason(q: Question) -> str:
    """A short reason for a gold-answer target: the correct option in words."""
    return q.options[q.answer_index]


def gold_completion(q: Question, max_reason_chars: int = 0, confidence: float = GOLD_CONFIDENCE) -> str:
    return answer_text(q, one_hot(len(q.options), q.answer_index, confidence), shorten(gold_reason(q), max_reason_chars))


def trace_completion(q: Question, trace: str, max_reason_chars: int = 0) -> Optional[str]:
    """The trace re-rendered canonically (DECISION first, short REASON), or None when it does not
    parse or does not pick the gold option (an 'agreeing' trace that disagrees is not trusted)."""
    parsed = parse_answer(q, trace)
    if not parsed.valid or parsed.choice != q.answer_index:
        return None
    return answer_text(q, parsed.probs, shorten(parsed.reason or gold_reason(q), max_reason_chars))


def operator_first(questions: list[Question], cap: Optional[int], seed: int, balance: bool = False,
                   factor_weights: Optional[dict[str, float]] = None) -> list[Question]:
    """Under a ``cap``, the local-operator ('change') questions first, every one when the cap allows,
    then a seeded sample of the others; file order kept within each group. With ``balance``, the
    operator questions are sampled with weights 1 / (count of their (source, answer bin)), so the
    rare 'much lower' / 'much higher' changes are not drowned by 'about the same', and the
    teacher-imagined cross-trial steps (source 'synthetic', what an imagining chain asks) weigh as
    much as the within-trial natural pairs however many of either there are. ``factor_weights``
    (``sft.factor_weights``) multiplies an operator question's weight by its factor's entry
    (absent: 1), e.g. more drug changes and fewer context steps."""
    if cap is None or len(questions) <= cap:
        return list(questions)
    rng = random.Random(seed)
    ops = [q for q in questions if q.category == "change"]
    rest = [q for q in questions if q.category != "change"]
    if len(ops) >= cap:
        if balance or factor_weights:
            freq = Counter((q.source, q.answer_index) for q in ops) if balance else Counter()
            weights = factor_weights or {}
            # weighted sampling without replacement (Efraimidis-Spirakis keys u^(1/w)),
            # w = factor weight / count of the question's (source, answer bin)
            keyed = sorted(ops, key=lambda q: -rng.random() ** (freq.get((q.source, q.answer_index), 1)
                                                                / weights.get(q.factor, 1.0)))
            keep = set(id(q) for q in keyed[:cap])
        else:
            keep = set(id(q) for q in rng.sample(ops, cap))
        return [q for q in ops if id(q) in keep]
    picked = set(id(q) for q in rng.sample(rest, cap - len(ops)))
    return ops + [q for q in rest if id(q) in picked]


def canonical_questions(questions: Iterable[Question], enabled: bool = True) -> tuple[list[Question], int]:
    """(the questions with every dose descent turned into its climb, how many were turned), when
    ``enabled`` (``sft.canonical_changes``), so that training asks what ``evaluate.operator_readout:
    canonical`` asks. A turned question gets a new id (``~reversed``), so a teacher trace of the
    original direction is never paired with it (its target is the gold answer)."""
    if not enabled:
        return list(questions), 0
    out, turned = [], 0
    for q in questions:
        q, flipped = canonical_change(q)
        out.append(q)
        turned += flipped
    return out, turned


@dataclass
class SftData:
    rows: list[dict]
    counts: dict = field(default_factory=dict)


def sft_rows(questions: Iterable[Question], traces: dict[str, str], max_reason_chars: int = 0,
             max_examples: Optional[int] = None, seed: int = 0, system: bool = True) -> SftData:
    """Prompt-completion rows for SFT (prompts with the system prompt when ``system``:
    ``model.system_prompt``); ``counts`` reconciles questions -> from trace / from gold.
    Under a ``max_examples`` cap, questions with a trace are taken first (seeded sample within each group)."""
    questions = list(questions)
    if max_examples is not None and len(questions) > max_examples:
        rng = random.Random(seed)
        traced = [q for q in questions if q.id in traces]
        untraced = [q for q in questions if q.id not in traces]
        picked = rng.sample(traced, min(len(traced), max_examples))
        picked += rng.sample(untraced, max_examples - len(picked))
        order = {q.id: i for i, q in enumerate(questions)}
        questions = sorted(picked, key=lambda q: order[q.id])
    rows, n_trace, n_bad_trace = [], 0, 0
    for q in questions:
        completion = None
        if q.id in traces:
            completion = trace_completion(q, traces[q.id], max_reason_chars)
            n_bad_trace += completion is None
        n_trace += completion is not None
        if completion is None:
            completion = gold_completion(q, max_reason_chars)
        rows.append({
            "id": q.id,
            "category": q.category,
            "factor": q.factor,
            "prompt": render_messages(q, system),
            "completion": [{"role": "assistant", "content": completion}],
        })
    counts = {"questions": len(questions), "from_trace": n_trace, "from_gold": len(rows) - n_trace,
              "traces_rejected": n_bad_trace}
    return SftData(rows, counts)


def rl_rows(questions: Iterable[Question], max_prompts: Optional[int] = None, seed: int = 0,
            system: bool = True) -> list[dict]:
    """Prompt rows for GRPO; ``answer_index`` and ``options`` reach the reward functions as kwargs, in
    the prompt's option order (``display_order``), which the completions' DECISION follows."""
    questions = list(questions)
    if max_prompts is not None and len(questions) > max_prompts:
        questions = random.Random(seed).sample(questions, max_prompts)
    return [{"id": q.id, "category": q.category, "prompt": render_messages(q, system),
             "answer_index": display_index(q, q.answer_index), "options": [q.options[i] for i in display_order(q)]}
            for q in questions]
