"""CT Open answers in the official form, for CT Open's ``evaluations/evaluation.py`` or a challenge cycle.

For each predictor, ``{(nct_id, endpoint string, question index): "DECISION: (p1, p2[, p3])"}``, the
key parts exactly as in CT Open's benchmark dict (kept in each question's meta by pairs/ct_open.py):
  metrics/predictions/<benchmark>/<predictor>.answers.pkl    the dict, a pickle of plain builtins
                                                             (output for CT Open's script; never loaded here)
  metrics/predictions/<benchmark>/<predictor>.answers.json   the same as a list of records
The scores are written with ``repr`` so that CT Open's ``ast.literal_eval`` reads back the exact
floats the project scored. An invalid (unparseable) answer is written as a uniform decision: the
project scores it as uniform for CE but as wrong for accuracy, while CT Open's script (which raises
on an unparseable answer) would read a uniform tuple as option 0; ``invalid_as_uniform`` counts them.
"""
from __future__ import annotations

import json
import math
import pickle
from pathlib import Path
from typing import Optional, Sequence

from ..core import io
from ..core.questions import Question
from .plots import safe_name
from .predictors import Prediction

OfficialKey = tuple[str, str, int]


def official_key(q: Question) -> Optional[OfficialKey]:
    """(nct_id, endpoint string, question index) of a CT Open question; None when it lacks one."""
    meta = q.meta or {}
    nct, endpoint, index = meta.get("nct_id"), meta.get("endpoint_key"), meta.get("question_index")
    if isinstance(nct, str) and isinstance(endpoint, str) and isinstance(index, int) and not isinstance(index, bool):
        return nct, endpoint, index
    return None


def _usable(probs: Optional[Sequence[float]], n_options: int) -> bool:
    """The same validity rule as metrics.prepare: n finite, non-negative scores with a positive sum."""
    if probs is None or len(probs) != n_options:
        return False
    try:
        values = [float(p) for p in probs]
    except (TypeError, ValueError):
        return False
    return all(math.isfinite(v) and v >= 0 for v in values) and sum(values) > 0


def decision_text(probs: Optional[Sequence[float]], valid: bool, n_options: int) -> tuple[str, bool]:
    """-> ("DECISION: (...)", is_valid); uniform scores when the answer is not usable."""
    ok = bool(valid) and _usable(probs, n_options)
    values = [float(p) for p in probs] if ok else [1.0] * n_options
    return "DECISION: (" + ", ".join(repr(v) for v in values) + ")", ok


def official_answers(questions: Sequence[Question], predictions: Sequence[Prediction]) -> tuple[dict, dict]:
    """-> ({official key: answer text}, counts). ``predictions`` aligned with ``questions``; questions
    without an official key are skipped (counted); a repeated key is an error."""
    if len(questions) != len(predictions):
        raise ValueError("questions and predictions must be aligned (same length)")
    answers: dict[OfficialKey, str] = {}
    counts = {"exported": 0, "invalid_as_uniform": 0, "without_official_key": 0}
    for q, p in zip(questions, predictions):
        if p.id != q.id:
            raise ValueError(f"prediction {p.id} is not aligned with question {q.id}")
        key = official_key(q)
        if key is None:
            counts["without_official_key"] += 1
            continue
        if key in answers:
            raise ValueError(f"question {q.id}: official key {key[0]!r}, question {key[2]} appears twice")
        answers[key], ok = decision_text(p.probs, p.valid, len(q.options))
        counts["exported"] += 1
        counts["invalid_as_uniform"] += not ok
    return answers, counts


def answer_records(answers: dict) -> list[dict]:
    """The answers dict as JSON records (tuple keys are not JSON)."""
    return [{"nct_id": k[0], "endpoint": k[1], "question_index": k[2], "answer": v} for k, v in answers.items()]


def write_answers(stem: Path, answers: dict) -> tuple[Path, Path]:
    """<stem>.answers.pkl (dict of str/int tuples -> str, protocol 4) and <stem>.answers.json."""
    pkl, js = stem.parent / f"{stem.name}.answers.pkl", stem.parent / f"{stem.name}.answers.json"
    with io.atomic_path(pkl) as tmp:
        tmp.write_bytes(pickle.dumps(dict(answers), protocol=4))
    with io.atomic_path(js) as tmp:
        tmp.write_text(json.dumps(answer_records(answers), ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    return pkl, js


def export_answers(questions: Sequence[Question], predictions: dict[str, Sequence[Prediction]],
                   out_dir: Path) -> dict[str, dict]:
    """Write every predictor's official answers under ``out_dir`` when the questions carry official
    keys (CT Open); returns {predictor: counts}, empty when no question has a key."""
    if not any(official_key(q) for q in questions):
        return {}
    out = {}
    for name, preds in predictions.items():
        answers, counts = official_answers(questions, preds)
        write_answers(Path(out_dir) / safe_name(name), answers)
        out[name] = counts
    return out
