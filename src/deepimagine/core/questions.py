"""One question format for every source (natural pairs, approximate pairs, CT Open).

A question is stored as one flat JSON Lines / Parquet row so that ``datasets.load_dataset``
reads it without schema conflicts: scalar columns for what every stage filters on, and
``context`` / ``meta`` as JSON strings for the structured trial description.

Prompts are rendered by ``render_messages`` alone; models answer
``DECISION: (p1, p2[, p3])`` then ``REASON: ...`` (CT Open's format), and
``parse_decision`` reads that without ever raising. ``read_questions`` reads a question file.
"""
from __future__ import annotations

import copy
import json
import logging
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional, Sequence

from . import io

log = logging.getLogger(__name__)

SOURCES = ("natural", "approximate", "synthetic", "ct_open")   # synthetic: teacher-imagined steps
KINDS = (
    "arm", "dose", "dose_successive", "outcome_measure", "time_point",           # natural (one trial)
    "geography", "phase", "population", "time_frame", "comparator", "dose_cross",  # approximate (two trials)
    "ct_open",
)
CATEGORIES = ("direction", "superiority", "comparative_effect", "endpoint", "change")

# Canonical option wordings (polarity-free by default). Order is part of the contract.
DIRECTION_OPTIONS = [
    "The result under the changed condition is meaningfully higher.",
    "The result under the changed condition is meaningfully lower.",
    "There is no meaningful difference.",
]
COMPARATIVE_OPTIONS = [
    "The result under the changed condition is significantly higher.",
    "The result under the changed condition is significantly lower.",
    "There is no statistically significant difference.",
]
COMPARATIVE_OPTIONS_IMPROVEMENT = [
    "The changed condition gives a statistically significant improvement.",
    "The changed condition gives a statistically significant worsening.",
    "There is no statistically significant difference.",
]
# The local operator's answer: the change of the result in ordered magnitude bins of the standardised
# change (edges: params ``pairs.change_edges_sd`` in pooled SDs, ``pairs.change_edges_rel`` relative).
CHANGE_OPTIONS = [
    "much lower",
    "lower",
    "about the same",
    "higher",
    "much higher",
]
SUPERIORITY_OPTIONS = [
    "The changed condition achieves a statistically significant improvement over the reference.",
    "The changed condition does not achieve a statistically significant improvement over the reference.",
]


@dataclass
class Question:
    id: str
    source: str                      # natural | approximate | ct_open
    kind: str                        # see KINDS
    category: str                    # see CATEGORIES
    split: str                       # train | test
    nct_ids: list[str]               # anchor trial first; the counterfactual trial second for approximate pairs
    factor: str                      # perturbed factor: arm | dose | outcome_measure | time_point | region | phase | ...
    from_value: str                  # the anchor's value of that factor (human-readable)
    to_value: str                    # the counterfactual's value
    options: list[str]
    answer_index: int
    context: dict = field(default_factory=dict)   # structured trial(s), outcome, anchor result (see README)
    expected_effect: Optional[float] = None       # simulated registry: ground-truth counterfactual - anchor (standardised)
    posted_date: Optional[str] = None             # results first posted (the time-split key), ISO date
    meta: dict = field(default_factory=dict)      # free: p-value, similarity, margin, better direction ...

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"question {self.id}: unknown source {self.source!r}")
        if self.category not in CATEGORIES:
            raise ValueError(f"question {self.id}: unknown category {self.category!r}")
        if not 0 <= self.answer_index < len(self.options):
            raise ValueError(f"question {self.id}: answer_index {self.answer_index} out of range")

    def to_row(self) -> dict:
        row = {name: getattr(self, name) for name in self.__dataclass_fields__}   # shallow: context and meta become JSON
        row["nct_ids"], row["options"] = list(self.nct_ids), list(self.options)
        row["context"] = json.dumps(self.context, sort_keys=True, ensure_ascii=False, default=str)
        row["meta"] = json.dumps(self.meta, sort_keys=True, ensure_ascii=False, default=str)
        return row

    @classmethod
    def from_row(cls, row: dict) -> "Question":
        row = dict(row)
        for key in ("context", "meta"):
            if isinstance(row.get(key), str):
                row[key] = json.loads(row[key]) if row[key] else {}
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in row.items() if k in known})


# ---------------------------------------------------------------- prompts

SYSTEM_PROMPT = ("You are a clinical-trial analyst: predict trial results from mechanisms, one change at a time. "
                 "Answer 'DECISION: (p1, p2, ...)', a probability per option, then 'REASON: ' and a short causal reason.")


def _num_text(x) -> str:
    return f"{x:g}" if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


def format_result(result: dict | None) -> str:
    """'12.3 mg/dL (SD 4.1), n=120' for a posted or imagined result; 'not reported' without a value."""
    if not result or result.get("value") is None:
        return "not reported"
    text = _num_text(result["value"])
    if result.get("unit"):
        text += f" {result['unit']}"
    spread = result.get("spread")
    if isinstance(spread, (int, float)) and result.get("dispersion_type"):
        short = {"STANDARD_DEVIATION": "SD", "STANDARD_ERROR": "SE"}.get(str(result["dispersion_type"]).upper(),
                                                                          str(result["dispersion_type"]))
        text += f" ({short} {spread:g})"
    if result.get("n"):
        text += f", n={_num_text(result['n'])}"
    return text


def format_dose(dose: dict | None) -> str:
    if not dose or dose.get("value") is None:
        return ""
    text = f"{_num_text(dose['value'])} {dose.get('unit') or ''}".strip()
    return text + (f" {dose['frequency']}" if dose.get("frequency") else "")


def dose_ratio(anchor_dose: dict | None, target_dose: dict | None) -> Optional[float]:
    """target / anchor dose of one change when both are posted in one unit (the "x4" a dose step
    shows, so that a model need not compare two numbers in text); None otherwise (placebo, another unit)."""
    try:
        a, t = float(anchor_dose["value"]), float(target_dose["value"])
    except (KeyError, TypeError, ValueError):
        return None
    same_unit = str(anchor_dose.get("unit") or "").lower() == str(target_dose.get("unit") or "").lower()
    return t / a if same_unit and a > 0 and t > 0 and math.isfinite(t / a) else None


def format_ratio(ratio: float) -> str:
    """'x4', 'x0.25', 'x1.5': the dose ratio of a change, to 2 significant figures."""
    return f"x{float(f'{ratio:.2g}'):g}"


def dose_move(ratio: float) -> str:
    """'dose up x4' / 'dose down x0.25': the direction in a word a small model reads at once, then the ratio."""
    return f"dose {'up' if ratio > 1 else 'down' if ratio < 1 else 'same'} {format_ratio(ratio)}"


def format_population(trial: dict) -> str:
    if trial.get("population"):
        return str(trial["population"])
    sex = {"FEMALE": "women", "MALE": "men"}.get(str(trial.get("sex") or "").upper(), "all sexes")
    lo, hi = trial.get("min_age"), trial.get("max_age")
    return f"{sex}, age {_num_text(lo) if lo is not None else '?'}-{_num_text(hi) if hi is not None else '?'}"


def format_arm(arm: dict) -> str:
    """'label [TYPE]: intervention dose' in one line."""
    what = arm.get("intervention") or ", ".join(
        str(i.get("name")) for i in arm.get("interventions") or [] if isinstance(i, dict) and i.get("name"))
    dose = format_dose(arm.get("dose"))
    text = f"{arm.get('label') or ''} [{arm.get('type') or '?'}]"
    if what or dose:
        text += ": " + " ".join(t for t in (what, dose) if t)
    return text


def _trial_lines(trial: dict) -> list[str]:
    lines = []
    if trial.get("conditions"):
        lines.append("condition: " + ", ".join(map(str, trial["conditions"])))
    facts = [f"phase {trial['phase']}" if trial.get("phase") else "",
             "region " + ", ".join(trial["regions"]) if trial.get("regions") else "",
             format_population(trial) if any(trial.get(k) is not None for k in ("population", "sex", "min_age", "max_age"))
             else ""]
    if any(facts):
        lines.append("trial: " + " | ".join(f for f in facts if f))
    return lines


def _outcome_line(out: dict) -> str:
    parts = [out.get("measure") or "", out.get("time_frame") or ""]
    if out.get("better"):
        parts.append(f"{out['better']} is better")
    return "outcome: " + " | ".join(p for p in parts if p)


def render_prompt(q: Question) -> str:
    """The user turn for a question, as compact ``key: value`` lines.

    A *local* question (natural / approximate pairs, and every imagining step) shows the state
    (condition, trial facts, the anchor arm, the outcome, the known result) and the ONE change,
    from -> to, with every field it touches. A *prospective* question (CT Open and its simulated
    twin) shows the target trial without any result of its own; with ``context['rag']`` (the RAG
    control) the retrieved anchor trials' posted results follow."""
    c = q.context or {}
    lines: list[str] = [f"task: {q.category}"]
    trial = c.get("trial") or {}
    if trial.get("title") and (q.source == "ct_open" or not c.get("anchor")):
        lines.append(f"title: {trial['title']}")
    lines += _trial_lines(trial)
    out = c.get("outcome") or {}
    anchor = c.get("anchor") or {}
    if anchor:
        lines.append("arm: " + format_arm(anchor))
    if out:
        lines.append(_outcome_line(out))
    if anchor:
        lines.append("known result: " + format_result(anchor.get("result")))
    if q.factor and q.source != "ct_open":
        target = c.get("target") or {}
        ratio = dose_ratio(anchor.get("dose"), target.get("dose")) if q.factor == "dose" else None
        lines.append(f"change: {q.factor}: {q.from_value} -> {q.to_value}" + (f" ({dose_move(ratio)})" if ratio else ""))
        if target and q.factor in ("arm", "comparator", "dose") and format_arm(target) != format_arm(anchor):
            lines.append("changed arm: " + format_arm(target))
        target_out = c.get("target_outcome") or {}
        if target_out and (target_out.get("measure"), target_out.get("time_frame")) != (out.get("measure"), out.get("time_frame")):
            lines.append("changed " + _outcome_line(target_out))
    for arm in trial.get("arms") or []:
        lines.append("arm: " + format_arm(arm))
    for i, a in enumerate(c.get("rag") or []):
        lines.append(f"similar trial {i + 1}: {a.get('condition') or ''} | {format_arm(a)} | {a.get('measure') or ''}"
                     f" | result {format_result(a.get('result'))}")
    short = SHORT_OPTIONS.get(tuple(q.options))
    if c.get("question") and short is None:       # a local question's change line says it all
        lines.append(f"question: {c['question']}")
    shown = short or q.options
    lines.append("options: " + " | ".join(f"{k + 1}. {shown[i]}" for k, i in enumerate(display_order(q))))
    return "\n".join(lines)


def display_order(q: Question) -> list[int]:
    """The stored option indices in the order the prompt lists them (and a model's DECISION vector
    follows). A local-operator ('change') question on an outcome where lower is better lists its
    bins from much higher to much lower, so that for the model the first bin is always the worst
    change and the last the best: "a higher dose / an active drug moves the result the better way"
    is then one rule for every outcome, not an interaction of the change with the outcome's
    polarity that a small model must learn. Stored options, answers and every probability the
    pipeline passes around stay in value order; ``to_display`` / ``from_display`` convert at the
    model's boundary (its prompt, its training targets, its answers)."""
    n = len(q.options)
    better = ((q.context or {}).get("outcome") or {}).get("better")
    if q.category == "change" and better == "lower":
        return list(range(n - 1, -1, -1))
    return list(range(n))


def to_display(q: Question, values: Sequence) -> list:
    """Per-option values (probabilities, scores) from stored order to the order the prompt lists."""
    return [values[i] for i in display_order(q)]


def from_display(q: Question, values: Sequence) -> list:
    """Per-option values from the prompt's order (a model's DECISION) back to stored order."""
    out = [None] * len(values)
    for k, i in enumerate(display_order(q)):
        out[i] = values[k]
    return out


def display_index(q: Question, index: int) -> int:
    """Where stored option ``index`` stands in the prompt's list (0-based)."""
    return display_order(q).index(index)


# the canonical option sets, as the prompt shows them (the stored options keep their full wording)
SHORT_OPTIONS = {
    tuple(DIRECTION_OPTIONS): ["higher", "lower", "no meaningful difference"],
    tuple(COMPARATIVE_OPTIONS): ["significantly higher", "significantly lower", "no significant difference"],
    tuple(COMPARATIVE_OPTIONS_IMPROVEMENT): ["significant improvement", "significant worsening", "no significant difference"],
    tuple(SUPERIORITY_OPTIONS): ["significant improvement over the reference", "no significant improvement"],
    tuple(CHANGE_OPTIONS): list(CHANGE_OPTIONS),
}


def render_messages(q: Question, system: bool = True) -> list[dict]:
    msgs = [{"role": "system", "content": SYSTEM_PROMPT}] if system else []
    msgs.append({"role": "user", "content": render_prompt(q)})
    return msgs


def format_answer(probs: list[float], reason: str = "") -> str:
    """The canonical completion: the DECISION line, then the REASON."""
    decision = "DECISION: (" + ", ".join(f"{p:.2f}" for p in probs) + ")"
    return decision + "\nREASON: " + (reason.strip() or "-")


def one_hot(n: int, index: int, confidence: float = 1.0) -> list[float]:
    rest = (1.0 - confidence) / (n - 1) if n > 1 else 0.0
    return [confidence if i == index else rest for i in range(n)]


# ---------------------------------------------------------------- parsing

_DECISION_RE = re.compile(r"DECISION\s*[:=]\s*[\(\[]([^\)\]]*)[\)\]]", re.IGNORECASE)
_NUMBER_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?%?")
_THINK_BLOCK_RE = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)
_THINK_OPEN_RE = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE_RE = re.compile(r"</think>", re.IGNORECASE)
_REASON_RE = re.compile(r"REASON\s*:\s*(.*)", re.IGNORECASE | re.DOTALL)
_PLACEHOLDER_RE = re.compile(r"\b[A-Za-z_]+\d")   # the echoed template "(p1, p2, p3)"


def strip_thinking(text: str) -> str:
    """The answer part of a reasoning model's output: closed ``<think>...</think>`` blocks removed;
    text before a stray ``</think>`` dropped (the chat template opened the block in the prompt);
    everything after an unclosed ``<think>`` dropped (the model never finished thinking)."""
    text = _THINK_BLOCK_RE.sub("", text)
    closes = list(_THINK_CLOSE_RE.finditer(text))
    if closes:
        text = text[closes[-1].end():]
    opened = _THINK_OPEN_RE.search(text)
    return text[:opened.start()] if opened else text


@dataclass
class ParsedAnswer:
    valid: bool
    probs: Optional[list[float]]     # normalised to sum 1 when valid
    choice: Optional[int]            # argmax when valid
    reason: str
    error: str = ""


def parse_decision(text: Any, n_options: int) -> ParsedAnswer:
    """Parse the LAST ``DECISION: (p1, ..., pn)`` outside ``<think>...</think>`` (CT Open's official
    evaluation also reads the last one), and the ``REASON: ...`` after it. Never raises; bad input -> invalid."""
    if not isinstance(text, str):
        return ParsedAnswer(False, None, None, "", "not text")
    text = strip_thinking(text)
    matches = list(_DECISION_RE.finditer(text))
    m = matches[-1] if matches else None
    reason_m = (_REASON_RE.search(text, m.end()) if m else None) or _REASON_RE.search(text)
    reason = reason_m.group(1).strip() if reason_m else ""
    if not m:
        return ParsedAnswer(False, None, None, reason, "no DECISION tuple")
    if _PLACEHOLDER_RE.search(m.group(1)):
        return ParsedAnswer(False, None, None, reason, "placeholder scores")
    raw = _NUMBER_RE.findall(m.group(1))
    if len(raw) != n_options:
        return ParsedAnswer(False, None, None, reason, f"expected {n_options} scores, got {len(raw)}")
    try:
        scores = [float(s[:-1]) / 100 if s.endswith("%") else float(s) for s in raw]
    except ValueError:
        return ParsedAnswer(False, None, None, reason, "unreadable score")
    if any(not math.isfinite(s) or s < 0 for s in scores):
        return ParsedAnswer(False, None, None, reason, "negative or non-finite score")
    total = sum(scores)
    if total <= 0:
        return ParsedAnswer(False, None, None, reason, "scores sum to zero")
    probs = [s / total for s in scores]
    return ParsedAnswer(True, probs, max(range(n_options), key=probs.__getitem__), reason)


# ---------------------------------------------------------------- question files


def read_questions(path: str | Path) -> list[Question]:
    """Questions of a JSON Lines file; a row that does not make a valid Question is skipped with its reason."""
    questions, bad = [], 0
    for i, row in enumerate(io.read_jsonl(path)):
        try:
            questions.append(Question.from_row(row))
        except (TypeError, ValueError, KeyError) as e:
            bad += 1
            log.warning("%s line %d: not a valid question (%s); skipped", path, i + 1, e)
    if bad:
        log.warning("%s: %d invalid rows skipped, %d questions read", path, bad, len(questions))
    return questions


def parse_answer(q: Question, text: Any) -> ParsedAnswer:
    """``parse_decision`` of a model's (or teacher's) answer to ``q``'s prompt, in stored option order
    (``display_order``): the DECISION vector follows the prompt's list of options."""
    parsed = parse_decision(text, len(q.options))
    if not parsed.valid:
        return parsed
    probs = from_display(q, parsed.probs)
    return ParsedAnswer(True, probs, display_order(q)[parsed.choice], parsed.reason, parsed.error)


def answer_text(q: Question, probs: Sequence[float], reason: str = "") -> str:
    """``format_answer`` of stored-order ``probs`` as a model answers ``q``: in the prompt's option order."""
    return format_answer(to_display(q, list(probs)), reason)


# factors whose both sides a change question holds (arms; outcomes): asked backwards exactly
# (not an outcome-measure change: the known value is on the first measure's scale)
REVERSIBLE_FACTORS = ("arm", "comparator", "dose", "time_point", "time_frame")


def reversed_change(q: Question) -> Optional[Question]:
    """An operator ('change') question asked backwards: the changed state, with the same known
    result, changed back (to -> from). Its bins mirror the forward ones (much higher <-> much lower),
    so an operator that learned the change answers the two alike, while a bias it has towards one
    bin whatever the change cancels between them (``evaluate.operator_readout: antisymmetric``).
    None when the question is no change question or does not hold both sides of its change (a
    region / population / phase step shows the trial before the change only)."""
    c = q.context or {}
    both_trials = bool(c.get("counterfactual_trial"))
    if q.category != "change" or not c.get("anchor") or not c.get("target") or not (
            q.factor in REVERSIBLE_FACTORS or both_trials):
        return None
    c = copy.deepcopy(c)
    anchor, target = c["anchor"], c["target"]
    c["anchor"] = {**{k: v for k, v in target.items() if k != "result"}, "result": anchor.get("result")}
    c["target"] = {k: v for k, v in anchor.items() if k != "result"}
    if both_trials:
        c["trial"], c["counterfactual_trial"] = c["counterfactual_trial"], c.get("trial") or {}
    if c.get("target_outcome"):
        out, changed = dict(c.get("outcome") or {}), dict(c["target_outcome"])
        for k in ("measure", "time_frame", "time_weeks"):
            out[k], changed[k] = changed.get(k), out.get(k)
        c["outcome"], c["target_outcome"] = out, changed
    n = len(q.options)
    return replace(q, id=f"{q.id}~reversed", from_value=q.to_value, to_value=q.from_value, context=c,
                   answer_index=n - 1 - q.answer_index,
                   expected_effect=None if q.expected_effect is None else -q.expected_effect,
                   meta={**(q.meta or {}), "reversed": True})


def _has_dose(dose: dict | None) -> bool:
    return bool(dose) and dose.get("value") is not None


def is_dose_descent(q: Question) -> bool:
    """A dose change that goes down: to a lower dose of one unit (ratio < 1), or from a dosed arm
    to one without a dose (placebo). False for every other question, and for a change between
    doses of different units (no way is known)."""
    c = q.context or {}
    if q.category != "change" or q.factor != "dose" or not c.get("anchor") or not c.get("target"):
        return False
    a, t = c["anchor"].get("dose"), c["target"].get("dose")
    ratio = dose_ratio(a, t)
    return ratio < 1 if ratio is not None else _has_dose(a) and not _has_dose(t)


def canonical_change(q: Question) -> tuple[Question, bool]:
    """(the question as the operator is asked it, whether it was turned round): a dose descent is
    asked as its climb (``reversed_change``: the lower-dose state, the same known result, the dose
    raised back; bins mirrored), every other question as it is. An operator trained and read this
    way never has to read which way a dose moves, which the tiny operator did not learn from the
    'up' / 'down' word (``sft.canonical_changes``, ``evaluate.operator_readout: canonical``)."""
    if is_dose_descent(q):
        back = reversed_change(q)
        if back is not None:
            return back, True
    return q, False

