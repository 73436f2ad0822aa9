"""Mechanism recovery on the simulated registry (what each option means: ``core/semantics.py``).

``mechanism_recovery(questions, predictions)`` checks whether predicted directions follow the
ground-truth dose-response (``expected_effect``) and are transitive along successive chains.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Optional, Sequence

from ..core.questions import Question
from ..core.semantics import direction_probs, sign_of_effect

DOSE_KINDS = ("dose", "dose_successive", "dose_cross")


def _predicted_direction(q: Question, pred: Any) -> Optional[str]:
    probs = getattr(pred, "probs", None)
    if not getattr(pred, "valid", False) or probs is None:
        return None
    dist = direction_probs(q, probs)
    if dist is None:
        return None
    return max(("up", "down", "none"), key=dist.__getitem__)


def mechanism_recovery(questions: Sequence[Question], predictions: Sequence[Any], margin: float = 0.0) -> dict:
    """Agreement of predicted directions with the simulated mechanisms.

    * monotonicity: on dose questions with a non-null ``expected_effect`` whose magnitude exceeds
      ``margin``, the share whose predicted direction (argmax of up/down/none) equals its sign;
    * transitivity: within each chain (``meta.chain_id``, ordered by ``meta.step``; step i asks
      level i -> level i+1 of one factor), consecutive steps whose true signs agree (a<b and b<c,
      hence a<c) should be predicted with the same sign, so that the model's implied ordering is
      transitive: ``pair_rate`` is the share of such predicted step pairs that agree;
      ``monotone_chain_rate`` the share of chains with a monotone true response whose predicted
      moving directions are all one sign.
    Predictions are matched by ``id``; missing/invalid ones count as 'invalid', not as errors."""
    by_id = {p.id: p for p in predictions}
    mono = {"n": 0, "agree": 0, "invalid": 0}
    per_kind: dict[str, dict[str, int]] = defaultdict(lambda: {"n": 0, "agree": 0})
    chains: dict[str, list[tuple[int, str, Optional[str]]]] = defaultdict(list)
    for q in questions:
        pred = by_id.get(q.id)
        direction = _predicted_direction(q, pred) if pred is not None else None
        truth = sign_of_effect(q.expected_effect, margin)
        if q.kind in DOSE_KINDS and truth is not None and truth != "none":
            mono["n"] += 1
            per_kind[q.kind]["n"] += 1
            if direction is None:
                mono["invalid"] += 1
            elif direction == truth:
                mono["agree"] += 1
                per_kind[q.kind]["agree"] += 1
        chain = (q.meta or {}).get("chain_id")
        if chain is not None and direction is not None:
            chains[str(chain)].append((int((q.meta or {}).get("step", 0)), direction, truth))
    trans = {"pairs": 0, "consistent": 0, "chains": 0, "monotone_chains": 0, "true_direction_chains": 0}
    for steps in chains.values():
        steps.sort(key=lambda t: t[0])
        if len(steps) < 2:
            continue
        true_moving = {t for _, _, t in steps if t not in (None, "none")}
        if len(true_moving) == 1 and all(t not in (None, "none") for _, _, t in steps):
            # a strictly monotone true response along the chain: is every imagined step in its direction?
            trans["chains"] += 1
            moving = {d for _, d, _ in steps if d != "none"}
            trans["monotone_chains"] += int(len(moving) <= 1)
            trans["true_direction_chains"] += int(all(d == t for _, d, t in steps))
        for (_, da, ta), (_, db, tb) in zip(steps, steps[1:]):
            if ta is None or ta == "none" or ta != tb:
                continue
            trans["pairs"] += 1
            trans["consistent"] += int(da == db == ta)
    rate = lambda k, n: (k / n) if n else None  # noqa: E731
    return {
        "monotonicity": {**mono, "rate": rate(mono["agree"], mono["n"])},
        "monotonicity_by_kind": {k: {**v, "rate": rate(v["agree"], v["n"])} for k, v in sorted(per_kind.items())},
        "transitivity": {**trans, "pair_rate": rate(trans["consistent"], trans["pairs"]),
                         "monotone_chain_rate": rate(trans["monotone_chains"], trans["chains"]),
                         "true_direction_chain_rate": rate(trans["true_direction_chains"], trans["chains"])},
    }
