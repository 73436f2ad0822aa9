"""CT Open (JSON Lines) -> Questions (source 'ct_open', kind 'ct_open', split 'test').

One item per line: ``nct_id``, ``endpoint`` {measure, description, timeFrame, outcome_type},
``brief_title``, ``arms`` [{label, type, description, interventions}], ``meta_label``,
``list_of_tuples``, ``listed_arms`` and ``questions`` [{index, category, options, answer,
answer_index}]. Options and answer_index are kept exactly; a malformed line or question is
counted with its reason, never fatal.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Iterator

from ..questions import CATEGORIES, Question

log = logging.getLogger(__name__)


def _arm(arm: dict) -> dict:
    interventions = []
    for iv in arm.get("interventions") or []:
        if isinstance(iv, dict):
            interventions.append({k: iv.get(k) for k in ("type", "name", "description", "otherNames") if k in iv})
    if not interventions:
        interventions = [{"name": n} for n in arm.get("interventionNames") or [] if isinstance(n, str)]
    return {"label": arm.get("label"), "type": arm.get("type"), "description": arm.get("description"),
            "interventions": interventions}


def _question_text(category: str, item: dict) -> str:
    measure = (item.get("endpoint") or {}).get("measure") or "this endpoint"
    listed = [a.get("label") for a in item.get("listed_arms") or [] if isinstance(a, dict)]
    if category == "endpoint" and listed:
        return f"Considering the arms {', '.join(map(str, listed))}: did any of them meet the endpoint '{measure}'?"
    if category == "superiority":
        return f"Did the study arm achieve a statistically significant improvement on '{measure}' over the reference arm?"
    if category == "comparative_effect":
        return f"How do the study arms compare on '{measure}'?"
    return f"What did the trial show for the endpoint '{measure}'?"


def item_questions(item: dict, line_no: int, counts: Counter) -> Iterator[Question]:
    """The questions of one CT Open item (malformed questions counted in ``counts``)."""
    nct = item.get("nct_id")
    if not isinstance(nct, str) or not nct:
        counts["item_missing_nct_id"] += 1
        return
    questions = item.get("questions")
    if not isinstance(questions, list) or not questions:
        counts["item_without_questions"] += 1
        return
    endpoint = item.get("endpoint") if isinstance(item.get("endpoint"), dict) else {}
    arms = [_arm(a) for a in item.get("arms") or [] if isinstance(a, dict)]
    trial = {"nct_id": nct, "title": item.get("brief_title") or "", "arms": arms}
    outcome = {"measure": endpoint.get("measure"), "description": endpoint.get("description"),
               "time_frame": endpoint.get("timeFrame"), "outcome_type": endpoint.get("outcome_type")}
    tuples = item.get("list_of_tuples") or []
    one = tuples[0] if len(tuples) == 1 and isinstance(tuples[0], (list, tuple)) and len(tuples[0]) == 3 else None
    for pos, q in enumerate(questions):
        if not isinstance(q, dict):
            counts["question_not_an_object"] += 1
            continue
        category, options, answer_index = q.get("category"), q.get("options"), q.get("answer_index")
        if category not in CATEGORIES:
            counts["question_unknown_category"] += 1
            continue
        if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) for o in options):
            counts["question_bad_options"] += 1
            continue
        if isinstance(answer_index, bool) or not isinstance(answer_index, int) or not 0 <= answer_index < len(options):
            counts["question_bad_answer_index"] += 1
            continue
        if q.get("answer") is not None and q.get("answer") != options[answer_index]:
            counts["question_answer_text_mismatch"] += 1   # kept: answer_index is authoritative
        index = q.get("index", pos)
        yield Question(
            id=f"ctopen-{nct}-L{line_no}-Q{index}",
            source="ct_open", kind="ct_open", category=category, split="test", nct_ids=[nct],
            factor="arm" if one else "", from_value=str(one[2]) if one else "", to_value=str(one[0]) if one else "",
            options=list(options), answer_index=answer_index,
            context={"trial": trial, "outcome": outcome, "question": _question_text(category, item),
                     "listed_arms": [_arm(a) for a in item.get("listed_arms") or [] if isinstance(a, dict)] or None},
            meta={"meta_label": item.get("meta_label"), "list_of_tuples": tuples, "line": line_no,
                  "question_index": index, "answer": q.get("answer")},
        )
        counts["questions"] += 1


def import_ct_open(path: str | Path) -> tuple[list[Question], dict]:
    """All questions of a CT Open file, in file order, and counts (items, questions, malformed by reason)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: CT Open file not found (params.pairs.ct_open_path)")
    counts: Counter = Counter()
    out: list[Question] = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                counts["line_not_json"] += 1
                continue
            if not isinstance(item, dict):
                counts["line_not_an_object"] += 1
                continue
            counts["items"] += 1
            out.extend(item_questions(item, line_no, counts))
    log.info("CT Open %s: %s", path, dict(counts))
    return out, dict(sorted(counts.items()))
