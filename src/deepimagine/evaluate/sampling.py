"""The deterministic, category-stratified question sample every predictor of a benchmark is scored on."""
from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from typing import Optional, Sequence

from ..core.questions import Question


def stratified_sample(questions: list[Question], size: Optional[int], seed: int,
                      clusters: Optional[Sequence[str]] = None) -> list[Question]:
    """A deterministic sample of ``size`` questions, allocated to categories in proportion (largest
    remainder, at least one per category when size allows), ordered by a seeded hash of the id within
    each category. Returned in the input order. ``None`` or a size >= the set returns all questions.

    ``clusters`` (one per question, e.g. its trial): within a category the sample takes every
    cluster's first question (hash order) before any cluster's second, and so on, so it spreads over
    as many clusters as it can. A cluster bootstrap's CI then narrows with the sample (more trials,
    fewer per trial) instead of resting on the few trials that ask the most questions."""
    if size is None or size >= len(questions):
        return list(questions)
    if size <= 0:
        raise ValueError("max_llm_questions must be positive (or null for all)")
    by_cat: dict[str, list[Question]] = defaultdict(list)
    for q in questions:
        by_cat[q.category].append(q)
    cats = sorted(by_cat)
    exact = {c: size * len(by_cat[c]) / len(questions) for c in cats}
    alloc = {c: min(len(by_cat[c]), max(1 if size >= len(cats) else 0, math.floor(exact[c]))) for c in cats}
    for c in sorted(cats, key=lambda c: (exact[c] - math.floor(exact[c]), c), reverse=True):
        if sum(alloc.values()) >= size:
            break
        if alloc[c] < len(by_cat[c]):
            alloc[c] += 1
    while sum(alloc.values()) > size:  # the at-least-one floor can overshoot: trim the largest
        c = max(cats, key=lambda c: alloc[c])
        alloc[c] -= 1

    def key(q: Question) -> str:
        return hashlib.sha256(f"{seed}:{q.id}".encode()).hexdigest()

    rank: dict[str, int] = {}  # a question's place among its cluster's questions of its category
    if clusters is not None:
        if len(clusters) != len(questions):
            raise ValueError(f"{len(clusters)} clusters for {len(questions)} questions")
        cluster_of = {q.id: c for q, c in zip(questions, clusters)}
        for c in cats:
            seen: dict[str, int] = defaultdict(int)
            for q in sorted(by_cat[c], key=key):
                rank[q.id] = seen[cluster_of[q.id]]
                seen[cluster_of[q.id]] += 1

    def order(q: Question) -> tuple[int, str]:
        return rank.get(q.id, 0), key(q)

    chosen = {q.id for c in cats for q in sorted(by_cat[c], key=order)[:alloc[c]]}
    return [q for q in questions if q.id in chosen]
