"""``deepimagine traces``: a reasoning trace per training question, kept only when it agrees.

Writes ``data/traces/traces.jsonl`` (kept traces only: ``question_id``, ``teacher``, ``completion``,
``agrees`` (always true there), ``basis``, ``kind``), ``data/traces/dropped.jsonl`` (disagreeing
or invalid traces with the reason) and ``metrics/traces.json`` (counts that reconcile:
considered = kept + dropped + invalid; ``invalid_by_reason``, of which ``truncated``: the teacher hit
``traces.max_tokens`` without a DECISION; ``resumed``: traces read back from the openai teacher's
resume file in ``data/.traces_partial/``).
"""
from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from pathlib import Path

from ..core import io
from ..core.questions import Question
from .imagined import imagined_questions
from .teachers import GeneratorTeacher, OpenAITeacher, TemplateTeacher, check_trace

log = logging.getLogger(__name__)

TRAIN_FILE = io.PAIRS_DIR / "train.jsonl"
TRACES_FILE = io.TRACES_DIR / "traces.jsonl"
DROPPED_FILE = io.TRACES_DIR / "dropped.jsonl"
IMAGINED_FILE = io.TRACES_DIR / "imagined.jsonl"     # teacher-imagined operator steps (synthetic questions)
CALIBRATION_FILE = io.CALIBRATION_FILE   # more such steps, never trained on: the operator's calibration (evaluate)
CELLS_FILE = io.PAIRS_DIR / "cells.parquet"
METRICS_FILE = io.METRICS_DIR / "traces.json"
PARTIAL_DIR = Path("data/.traces_partial")   # the openai teacher's resume files (outside the DVC output)
INVALID_WARN_RATE = 0.1


def select_questions(questions: list[Question], max_traces: int | None, seed: int) -> list[Question]:
    """Deterministic cap: sort by id, sample ``max_traces`` with ``seed``, keep id order."""
    qs = sorted(questions, key=lambda q: q.id)
    if max_traces is not None and len(qs) > max_traces:
        qs = sorted(random.Random(seed).sample(qs, max_traces), key=lambda q: q.id)
    return qs


def make_teacher(params, truth: dict | None):
    t = params.traces
    if t.teacher == "template":
        return TemplateTeacher(truth, margin=t.template_margin_direction,
                               significance_margin=t.template_margin_significance)
    if t.teacher == "openai":
        return OpenAITeacher(t.openai_base_url, t.openai_model, timeout_s=t.timeout_s, max_tokens=t.max_tokens,
                             max_retries=t.max_retries, concurrency=t.concurrency,
                             enable_thinking=params.model.enable_thinking,
                             chat_template_kwargs=t.openai_chat_template_kwargs, work_dir=PARTIAL_DIR)
    if t.teacher == "vllm":
        if not t.vllm_model:
            raise ValueError("traces.teacher 'vllm' needs traces.vllm_model (a Hub id or local path)")
        backend = "auto" if params.model.backend == "openai" else params.model.backend
        return GeneratorTeacher(t.vllm_model, backend=backend, dtype=params.model.dtype, max_new_tokens=t.max_tokens,
                                enable_thinking=params.model.enable_thinking)
    raise ValueError(f"unknown traces.teacher {t.teacher!r}")


def build_traces(questions: list[Question], teacher) -> tuple[list[dict], list[dict], dict]:
    """Run the teacher and the agreement filter. Returns (kept rows, dropped rows, metrics)."""
    completions = teacher.complete(questions)
    basis = getattr(teacher, "basis", {})
    finish = getattr(teacher, "finish_reasons", {})
    kept, dropped = [], []
    counts: Counter = Counter()
    invalid_by_reason: Counter = Counter()
    by_kind: dict[str, Counter] = defaultdict(Counter)
    for q, text in zip(questions, completions):
        checked = check_trace(q, text)
        if checked.status == "invalid":
            if finish.get(q.id) == "length":
                checked.error = f"truncated (hit the token budget; {checked.error})"
            invalid_by_reason[checked.error] += 1
        counts[checked.status] += 1
        by_kind[q.kind][checked.status] += 1
        row = {"question_id": q.id, "teacher": teacher.name, "completion": text, "kind": q.kind,
               "basis": basis.get(q.id, "model"), "agrees": checked.status == "kept"}
        if checked.status == "kept":
            kept.append(row)
        else:
            dropped.append({**row, "status": checked.status, "choice": checked.choice,
                            "answer_index": q.answer_index, "error": checked.error})
    n = len(questions)
    metrics = {"teacher": teacher.name, "considered": n, "kept": counts["kept"], "dropped": counts["dropped"],
               "invalid": counts["invalid"], "kept_rate": counts["kept"] / n if n else None,
               "invalid_by_reason": dict(sorted(invalid_by_reason.items())),
               "truncated": sum(v for k, v in invalid_by_reason.items() if k.startswith("truncated")),
               "resumed": getattr(teacher, "resumed", 0),
               "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
               "basis": dict(Counter(r["basis"] for r in kept))}
    assert metrics["kept"] + metrics["dropped"] + metrics["invalid"] == n
    if n and metrics["invalid"] / n > INVALID_WARN_RATE:
        log.warning("traces: %d of %d teacher answers are invalid %s; questions without a kept trace get a "
                    "gold-answer SFT target (raise traces.max_tokens if they are truncated)",
                    metrics["invalid"], n, metrics["invalid_by_reason"])
    return kept, dropped, metrics


def _read_cells(path: Path) -> list[dict]:
    if not path.exists():
        log.warning("%s missing: no imagined steps", path)
        return []
    import pandas as pd

    return pd.read_parquet(path).to_dict("records")


def run(params) -> None:
    if not TRAIN_FILE.exists():
        raise FileNotFoundError(f"{TRAIN_FILE} not found: run the 'pairs' stage first")
    questions = [Question.from_row(r) for r in io.read_jsonl(TRAIN_FILE)]
    selected = select_questions(questions, params.traces.max_traces, params.seed)
    truth = io.read_json(io.TRUTH_FILE) if Path(io.TRUTH_FILE).exists() else None
    teacher = make_teacher(params, truth)
    kept, dropped, metrics = build_traces(selected, teacher)
    metrics["train_questions"] = len(questions)
    imagined, calibration, metrics["imagined"] = imagined_questions(
        _read_cells(CELLS_FILE), truth, teacher, params.traces.imagined_paths, params.seed,
        params.pairs.change_edges_sd, params.pairs.change_edges_rel, params.evaluate.imagine_order,
        params.traces.calibration_paths)
    io.write_jsonl(IMAGINED_FILE, (q.to_row() for q in imagined))
    io.write_jsonl(CALIBRATION_FILE, (q.to_row() for q in calibration))
    io.write_jsonl(TRACES_FILE, kept)
    io.write_jsonl(DROPPED_FILE, dropped)
    io.write_json(METRICS_FILE, metrics)
    log.info("traces (%s): %d considered, %d kept, %d dropped, %d invalid", metrics["teacher"],
             metrics["considered"], metrics["kept"], metrics["dropped"], metrics["invalid"])
