"""``deepimagine evaluate``: score every predictor on every benchmark with the same metrics.

Benchmarks: 'test' (data/pairs/test.jsonl), 'prospective' and 'ct_open' (data/pairs/<name>.jsonl,
when present). The scored question set is chosen once per benchmark: all questions, or, when LLM
predictors are present and ``evaluate.max_llm_questions`` (``max_llm_questions_local`` for 'test')
is smaller than the benchmark, a deterministic sample stratified by category; every predictor is scored on that same set. The non-LLM predictors are then
also scored on the whole benchmark, reported as '<benchmark>_full'.

Outputs (JSON written directly rather than through dvclive, whose fixed layout does not match
dvc.yaml's declared paths):
  metrics/eval.json                                   headline numbers ({benchmark: {predictor: {...}}})
  metrics/predictions/<benchmark>/<predictor>.json    all metrics, CIs, calibration, confusion, breakdowns
  metrics/predictions/<benchmark>/<predictor>.jsonl   predictions (id, probs, valid, text)
  metrics/predictions/<benchmark>/<predictor>.answers.{pkl,json}  CT Open answers in its official form (export.py)
  metrics/plots/...                                   see plots.py
  metrics/report.md                                   predictor x category table (also printed)
  metrics/mechanism.json                              mechanism recovery on simulated dose questions
  metrics/comparisons.json                            paired bootstrap differences (evaluate.comparisons)
  metrics/headline.json                               per benchmark: the method, its best control, the best baseline
                                                      and their paired differences (report.headline_summary)
  metrics/operators.json, metrics/plots/data/operator*  operator probes against the true mechanism (probes.py)
  metrics/report.html                                 the static trajectory report (report_html.py)
"""
from __future__ import annotations

import hashlib
import logging
import math
import shutil
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Optional

from ..core import io
from ..core.io import benchmark_files
from ..core.questions import Question, read_questions, reversed_change
from . import probes, report_html
from .export import export_answers
from .mechanism import mechanism_recovery
from .metrics import paired_difference, score
from .plots import safe_name, write_plots
from .prediction import Prediction
from .predictors import Predictor, is_llm, make_predictors
from .report import headline, headline_pairs, headline_summary, render_report
from .sampling import stratified_sample

log = logging.getLogger(__name__)

EVAL_FILE = io.METRICS_DIR / "eval.json"
PREDICTIONS_DIR = io.METRICS_DIR / "predictions"
PLOTS_DIR = io.METRICS_DIR / "plots"
REPORT_FILE = io.METRICS_DIR / "report.md"


def align(questions: list[Question], predictions: list[Prediction], name: str) -> list[Prediction]:
    """Predictions in question order; a question the predictor did not answer counts as invalid."""
    by_id = {p.id: p for p in predictions}
    missing = [q.id for q in questions if q.id not in by_id]
    if missing:
        log.warning("%s: no prediction for %d questions (e.g. %s); scored as invalid", name, len(missing), missing[:3])
    return [by_id.get(q.id) or Prediction(q.id, None, False, "") for q in questions]


def trial_of(q: Question) -> str:
    """The trial a question is about (its first NCT id; its own id when it names none): the unit the
    bootstrap resamples with ``evaluate.bootstrap_unit: trial``."""
    return q.nct_ids[0] if q.nct_ids else q.id


def bootstrap_clusters(questions: list[Question], unit: str) -> Optional[list[str]]:
    """What the bootstrap resamples: each question's trial (``unit`` 'trial'), or None (questions)."""
    return [trial_of(q) for q in questions] if unit == "trial" else None


def score_predictions(questions: list[Question], preds: list[Prediction], ece_bins: int, bootstrap: int,
                      seed: int, unit: str = "question") -> dict:
    return score([p.probs for p in preds], [p.valid for p in preds], [q.answer_index for q in questions],
                 [q.category for q in questions], [len(q.options) for q in questions],
                 kinds=[q.kind for q in questions], factors=[q.factor or "none" for q in questions],
                 ece_bins=ece_bins, bootstrap=bootstrap, seed=seed, clusters=bootstrap_clusters(questions, unit))


def evaluate_benchmark(questions: list[Question], predictors: dict[str, Predictor], ev, seed: int
                       ) -> tuple[dict[str, dict], dict[str, list[Prediction]]]:
    """Score each predictor on ``questions``. Returns ({predictor: metrics}, {predictor: predictions})."""
    results, predictions = {}, {}
    for name, predictor in predictors.items():
        started = time.perf_counter()
        before = Counter(getattr(predictor, "counts", None) or {})
        preds = align(questions, predictor.predict(questions), name)
        results[name] = score_predictions(questions, preds, ev.ece_bins, ev.bootstrap, seed, ev.bootstrap_unit)
        if getattr(predictor, "counts", None) is not None:  # e.g. imagine-mode fallbacks, for this benchmark only
            results[name]["predictor_counts"] = dict(Counter(predictor.counts) - before)
        if hasattr(predictor, "temperature_scaling"):  # LLM likelihood decisions: the fitted temperature
            results[name]["temperature_scaling"] = predictor.temperature_scaling()
        predictions[name] = preds
        log.info("%s: n=%d bacc=%.3f f1=%.3f ce=%.3f invalid=%.3f (%.1fs)", name, len(questions),
                 results[name]["overall_bacc"], results[name]["overall_f1"], results[name]["overall_ce"],
                 results[name]["invalid_rate"], time.perf_counter() - started)
    return results, predictions


def compare(questions: list[Question], predictions: dict[str, list[Prediction]], comparisons: list[str],
            bootstrap: int, seed: int, unit: str = "question") -> dict[str, dict]:
    """Paired differences "A vs B" for the comparisons whose two predictors both ran, as flat scalars
    (``bacc_diff``, ``bacc_lo``, ``bacc_hi``, ``bacc_p_a_better``, likewise f1 and ce) for dvc metrics;
    ``unit`` (``evaluate.bootstrap_unit``) is what the bootstrap resamples: 'trial' or 'question'."""
    out = {}
    clusters = bootstrap_clusters(questions, unit)
    gold = [q.answer_index for q in questions]
    cats = [q.category for q in questions]
    n_opts = [len(q.options) for q in questions]
    for comp in comparisons:
        a, b = (s.strip() for s in comp.split(" vs "))
        if a not in predictions or b not in predictions:
            log.info("comparison %r skipped: %s did not run", comp, a if a not in predictions else b)
            continue
        pa, pb = predictions[a], predictions[b]
        d = paired_difference([p.probs for p in pa], [p.valid for p in pa], [p.probs for p in pb],
                              [p.valid for p in pb], gold, cats, n_opts, bootstrap=bootstrap, seed=seed,
                              clusters=clusters)
        row: dict = {"n": d["n"], "n_trials": len({trial_of(q) for q in questions})}
        for m in ("bacc", "f1", "ce"):
            row |= {f"{m}_diff": d[m]["diff"], f"{m}_lo": d[m]["ci"][0], f"{m}_hi": d[m]["ci"][1],
                    f"{m}_p_a_better": d[m]["p_a_better"]}
        out[f"{a} vs {b}"] = row
    return out


def dose_chain_questions(questions: list[Question]) -> list[Question]:
    """Every successive dose step of a local benchmark: each dose ladder of a trial asked level by level
    (``meta.chain_id``, ``meta.step``), so that whole dose-response chains can be checked. A step is
    asked in several categories; the chain is read on its operator question (``change``: the bins of
    the standardised change, whose 'about the same' band is the truth's band), one per step. The
    direction question's 'no meaningful difference' margin is wider than that band, and the
    superiority / comparative-effect questions ask about significance, not direction: on those even
    the oracle reads a small true change as 'none' (0.79 of chains in the true direction, 1.0 here).

    Each ladder is also walked DOWN (``reversed_change`` of every step, chain ``<id>/down``, steps in
    reverse order): the benchmark's ladders all climb, so an operator that answers every dose change
    with 'the better way' would pass the climb and fail the descent."""
    up = [q for q in questions if q.kind == "dose_successive" and q.category == "change"
          and (q.meta or {}).get("chain_id") is not None]
    down = []
    for q in up:
        r = reversed_change(q)
        if r is not None:
            r.meta = {**r.meta, "chain_id": f"{q.meta['chain_id']}/down", "step": -int(q.meta.get("step", 0))}
            down.append(r)
    return up + down


def dose_chain_recovery(questions: list[Question], predictors: dict[str, Predictor], params) -> dict[str, dict]:
    """Mechanism recovery on ALL the local benchmark's dose ladders (the stratified sample holds a
    few), climbed and descended, for the imagining predictors and the no-model controls: are imagined
    dose-response chains monotone in the true direction (``transitivity.true_direction_chain_rate``)?
    ``by_direction`` holds the climbs (``up``) and the descents (``down``) apart."""
    qs = dose_chain_questions(questions)
    chosen = {n: p for n, p in predictors.items() if n.endswith("/imagine") or n in ("retrieval", "prior", "oracle")}
    if not qs or not chosen:
        return {}
    log.info("dose chains: %d steps of %d ladders (up and down), predictors %s", len(qs),
             len({q.meta["chain_id"] for q in qs}), sorted(chosen))
    _, predictions = evaluate_benchmark(qs, chosen, params.evaluate, params.seed)
    band = params.pairs.change_edges_sd[2]
    out = {}
    for name in chosen:
        res = {**mechanism_recovery(qs, predictions[name], margin=band), "margin_sd": band, "by_direction": {}}
        for way in ("up", "down"):
            part = [q for q in qs if str(q.meta["chain_id"]).endswith("/down") == (way == "down")]
            if part:
                res["by_direction"][way] = mechanism_recovery(part, predictions[name], margin=band)
        out[name] = res
    return out


def evaluate_all(params, train: list[Question], benchmarks: dict[str, list[Question]],
                 predictors: dict[str, Predictor], metrics_dir: Path = io.METRICS_DIR,
                 cells_path: Path = io.PAIRS_DIR / "cells.parquet", truth_path: Path = io.TRUTH_FILE
                 ) -> dict[str, dict[str, dict]]:
    """Score everything, write eval.json, headline.json, per-predictor detail and predictions, plots,
    the operator probes (cells_path: the held-out states; truth_path: the simulated truth, if any),
    report.md and report.html."""
    ev = params.evaluate
    has_llm = any(is_llm(n) for n in predictors)
    all_results: dict[str, dict[str, dict]] = {}
    mechanism: dict[str, dict[str, dict]] = {}
    comparisons: dict[str, dict[str, dict]] = {}
    notes: dict[str, str] = {}
    scored_sets: dict[str, list[Question]] = {}
    scored_preds: dict[str, dict[str, list[Prediction]]] = {}
    summary_diffs: dict[str, dict[str, dict]] = {}
    for bench, questions in benchmarks.items():
        if not questions:
            log.warning("benchmark %s has no questions; skipped", bench)
            continue
        scored = (stratified_sample(questions, ev.sample_size(bench), params.seed,
                                    bootstrap_clusters(questions, ev.bootstrap_unit))
                  if has_llm else questions)
        runs = [(bench, scored, predictors)]
        if len(scored) < len(questions):
            knob = "max_llm_questions_local" if bench == "test" and ev.max_llm_questions_local else "max_llm_questions"
            notes[bench] = (f"Stratified sample of {len(scored)} of {len(questions)} questions "
                            f"(evaluate.{knob}), the same for every predictor.")
            full_preds = {n: p for n, p in predictors.items() if not is_llm(n)}
            if full_preds:
                runs.append((f"{bench}_full", questions, full_preds))
                notes[f"{bench}_full"] = f"All {len(questions)} questions, non-LLM predictors only."
        for name, qs, preds in runs:
            log.info("benchmark %s: %d questions, %d predictors", name, len(qs), len(preds))
            results, predictions = evaluate_benchmark(qs, preds, ev, params.seed)
            all_results[name] = results
            if any(q.expected_effect is not None for q in qs):  # simulated ground truth available
                # only true effects beyond the operator's "about the same" band have a direction to recover
                band = params.pairs.change_edges_sd[2]
                mechanism[name] = {pred: {**mechanism_recovery(qs, predictions[pred], margin=band), "margin_sd": band}
                                   for pred in results}
            if comp := compare(qs, predictions, ev.comparisons, ev.bootstrap, params.seed, ev.bootstrap_unit):
                comparisons[name] = comp
            summary_diffs[name] = compare(qs, predictions, headline_pairs(results), ev.bootstrap, params.seed,
                                          ev.bootstrap_unit)
            scored_sets[name], scored_preds[name] = qs, predictions
            for pred, res in results.items():
                stem = metrics_dir / "predictions" / name / safe_name(pred)
                io.write_json(stem.with_suffix(".json"), res | {"predictor": pred, "benchmark": name})
                io.write_jsonl(stem.with_suffix(".jsonl"), [p.to_row() for p in predictions[pred]])
            export_answers(qs, predictions, metrics_dir / "predictions" / name)  # CT Open's official answer form
            write_plots(name, results, metrics_dir / "plots")
    if ev.dose_chains and has_llm and "test" in benchmarks:
        mechanism["dose_chains"] = dose_chain_recovery(benchmarks["test"], predictors, params)
    io.write_json(metrics_dir / "eval.json", headline(all_results))
    io.write_json(metrics_dir / "mechanism.json", mechanism)
    io.write_json(metrics_dir / "comparisons.json", comparisons)
    summary = headline_summary(all_results, summary_diffs)
    io.write_json(metrics_dir / "headline.json", summary)
    try:   # the probes read the operators through their public code; a failure must not lose the evaluation
        operators = probes.probes(params, predictors, cells_path=cells_path, truth_path=truth_path)
    except Exception as e:  # noqa: BLE001
        log.exception("operator probes failed")
        operators = {"error": f"{type(e).__name__}: {e}", "models": {}, "points": {}}
    probes.write_probe_outputs(operators, metrics_dir)
    report_html.write_report_html(metrics_dir / "report.html", all_results, comparisons, notes, operators,
                                  scored_sets, scored_preds, summary, seed=params.seed)
    report = render_report(all_results, notes, comparisons)
    with io.atomic_path(metrics_dir / "report.md") as tmp:
        tmp.write_text(report + "\n", encoding="utf-8")
    print(report)
    return all_results


def run(params) -> None:
    train = read_questions(io.PAIRS_DIR / "train.jsonl")
    benchmarks = {name: read_questions(path) for name, path in benchmark_files().items()}
    predictors = make_predictors(params, train)
    if not predictors:
        raise RuntimeError("no predictor available: check evaluate.predictors and that the baselines stage ran")
    for d in (PREDICTIONS_DIR, PLOTS_DIR):  # wholly this stage's outputs: no stale predictor files
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    evaluate_all(params, train, benchmarks, predictors)
