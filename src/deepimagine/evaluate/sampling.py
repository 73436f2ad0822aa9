"""The deterministic, category-stratified question sample every predictor of a benchmark is scored on."""
from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from typing import Optional

from ..core.questions import Question


def stratified_sample(questions: list[Question], size: Optional[int], seed: int) -> list[Question]:
    """A deterministic sample of ``size`` questions, allocated to categories in proportion (largest
    remainder, at least one per category when size allows), ordered by a seeded hash of the id within
    each category. Returned in the input order. ``None`` or a size >= the set returns all questions."""
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

    chosen = {q.id for c in cats for q in sorted(by_cat[c], key=key)[:alloc[c]]}
    return [q for q in questions if q.id in chosen]
