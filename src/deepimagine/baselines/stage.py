"""``deepimagine baselines``: fit logistic regression, random forest and LightGBM on data/pairs/train.jsonl.

Writes ``models/baselines/``: the encoder and fitted models as JSON / LightGBM text, never pickle (see ``core/baseline_model.py``), ``features.json``
(feature names and encoder settings), ``summary.json`` (training counts, fit times, train / benchmark
accuracy) and ``predictions/<benchmark>/<name>.jsonl`` (a probability per option for every benchmark
question: the internal test split and CT Open when ``data/pairs/ct_open.jsonl`` exists).
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path

import numpy as np

from ..core import io
from ..core.baseline_model import BASELINES, save_baseline
from ..core.features import FeatureEncoder
from ..core.io import benchmark_files
from ..core.questions import Question, read_questions
from .fit import fit_baseline

log = logging.getLogger(__name__)

OUT_DIR = io.MODELS_DIR / "baselines"


def make_encoder(hp) -> FeatureEncoder:
    return FeatureEncoder(text_features=hp.text_features, top_n=hp.top_n_categories,
                          top_conditions=hp.top_conditions, tfidf_max_features=hp.tfidf_max_features,
                          embedding_model=hp.embedding_model)


def top_features(model, names: list[str], n: int = 25) -> dict[str, list]:
    """The LightGBM features with the largest total gain, per family: [[name, share of gain], ...]."""
    out = {}
    for k, fam in model.families.items():
        if fam.estimator is None:
            continue
        gain = np.asarray(fam.estimator.feature_importance(importance_type="gain"), float)
        total = gain.sum() or 1.0
        order = np.argsort(-gain)[:n]
        out[str(k)] = [[names[i], round(float(gain[i] / total), 4)] for i in order if gain[i] > 0]
    return out


def train_all(train: list[Question], hp, seed: int, out_dir: Path,
              benchmarks: dict[str, list[Question]]) -> dict:
    """Fit every baseline, save it, predict every benchmark question. Returns the training summary."""
    if not train:
        raise ValueError("no training questions: run the pairs stage first")
    out_dir.mkdir(parents=True, exist_ok=True)
    encoder = make_encoder(hp).fit(train)
    X = encoder.transform(train)
    io.write_json(out_dir / "features.json", {
        "n_features": len(encoder.feature_names), "text_features": hp.text_features,
        "categories_seen": encoder.categories_seen, "feature_names": encoder.feature_names,
    })
    y = np.array([q.answer_index for q in train])
    summary: dict = {
        "n_train": len(train),
        "train_by_family": {str(k): dict(sorted(Counter(int(q.answer_index) for q in train if len(q.options) == k).items()))
                            for k in sorted({len(q.options) for q in train})},
        "train_by_category": dict(sorted(Counter(q.category for q in train).items())),
        "n_features": X.shape[1],
        "benchmarks": {b: len(qs) for b, qs in benchmarks.items()},
        "models": {},
    }
    X_bench = {bench: encoder.transform(qs) for bench, qs in benchmarks.items() if qs}   # encoded once for all
    for name in BASELINES:
        started = time.perf_counter()
        model = fit_baseline(name, encoder, X, train, hp, seed)
        fit_s = time.perf_counter() - started
        save_baseline(model, out_dir)
        train_probs = np.array([np.argmax(p) for p in model.predict_proba(train, X)])
        entry = {"train_acc": float((train_probs == y).mean()), "benchmark_acc": {}}
        for bench, qs in benchmarks.items():
            probs = model.predict_proba(qs, X_bench.get(bench))
            rows = [{"id": q.id, "probs": [round(p, 6) for p in pr], "valid": True, "text": ""}
                    for q, pr in zip(qs, probs)]
            io.write_jsonl(out_dir / "predictions" / bench / f"{name}.jsonl", rows)
            if qs:
                entry["benchmark_acc"][bench] = float(np.mean([int(np.argmax(p)) == q.answer_index
                                                               for q, p in zip(qs, probs)]))
        if name == "lightgbm":
            entry["top_features_gain"] = top_features(model, encoder.feature_names)
        summary["models"][name] = entry
        log.info("baseline %s: fit %.1fs, train acc %.3f, benchmark acc %s", name, fit_s, entry["train_acc"],
                 {b: round(a, 3) for b, a in entry["benchmark_acc"].items()})
    io.write_json(out_dir / "summary.json", summary)
    return summary


def run(params) -> None:
    train = read_questions(io.PAIRS_DIR / "train.jsonl")
    benchmarks = {name: read_questions(path) for name, path in benchmark_files().items()}
    log.info("baselines: %d training questions; benchmarks %s", len(train), {b: len(q) for b, q in benchmarks.items()})
    train_all(train, params.baselines, params.seed, OUT_DIR, benchmarks)
