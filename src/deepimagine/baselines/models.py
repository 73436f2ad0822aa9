"""Logistic regression, random forest and LightGBM over the question features.

Modelling choice: questions have 2 or 3 options whose meaning is fixed per category, and the
categories sharing an option count also share option semantics (2 options: "significant improvement /
endpoint met" vs "not"; 3 options: "higher / better", "lower / worse", "no difference"). So each
baseline is one classifier per option-count family (``n_options`` 2 and 3), trained on the answer
index with the category as a feature; its class probabilities are the option probabilities, no
renormalisation needed. A family with a single class in training falls back to the class prior; a
family absent from training to the uniform distribution (logged).

Saved under ``models/baselines/``: ``encoder.joblib`` (the fitted ``FeatureEncoder``),
``<name>.joblib`` for scikit-learn (``{family: estimator}``), ``lightgbm_<family>.txt`` LightGBM
text models, and ``<name>.json`` (classes and priors per family). ``load_baseline(name, dir)`` reloads.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import joblib
import numpy as np
import scipy.sparse as sp

from ..questions import Question
from .features import FeatureEncoder

log = logging.getLogger(__name__)

BASELINES = ("logistic", "random_forest", "lightgbm")
FAMILIES = (2, 3)


def _dense_imputed(X: sp.csr_matrix) -> sp.csr_matrix:
    """NaN -> 0 (each numeric feature has a missing-indicator column) for the scikit-learn models."""
    X = X.copy()
    X.data[np.isnan(X.data)] = 0.0
    X.eliminate_zeros()
    return X


def make_estimator(name: str, hp: Any, seed: int):
    """A fresh (unfitted) estimator for one family; ``hp`` is ``params.baselines``."""
    if name == "logistic":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import MaxAbsScaler

        return make_pipeline(MaxAbsScaler(), LogisticRegression(C=hp.logistic_C, max_iter=hp.logistic_max_iter,
                                                                random_state=seed))
    if name == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=hp.rf_n_estimators, max_depth=hp.rf_max_depth,
                                      min_samples_leaf=hp.rf_min_samples_leaf, random_state=seed, n_jobs=hp.n_jobs)
    if name == "lightgbm":
        import lightgbm as lgb

        return lgb.LGBMClassifier(n_estimators=hp.lgbm_n_estimators, learning_rate=hp.lgbm_learning_rate,
                                  num_leaves=hp.lgbm_num_leaves, min_child_samples=hp.lgbm_min_child_samples,
                                  subsample=1.0, colsample_bytree=1.0, random_state=seed, n_jobs=hp.n_jobs,
                                  deterministic=True, force_row_wise=True, verbose=-1)
    raise ValueError(f"unknown baseline {name!r} (known: {', '.join(BASELINES)})")


@dataclass
class FamilyModel:
    """One family's classifier (or its fallback distribution)."""
    k: int
    classes: list[int] = field(default_factory=list)   # answer indices the estimator outputs, in column order
    estimator: Any = None                               # sklearn estimator / lightgbm Booster / None
    prior: Optional[list[float]] = None                 # used when estimator is None

    def predict_proba(self, X: sp.csr_matrix, kind: str) -> np.ndarray:
        n = X.shape[0]
        if self.estimator is None:
            prior = self.prior or [1.0 / self.k] * self.k
            return np.tile(np.asarray(prior, float), (n, 1))
        if kind == "lightgbm":
            raw = np.asarray(self.estimator.predict(X), float)
            raw = np.stack([1 - raw, raw], axis=1) if raw.ndim == 1 else raw
        else:
            raw = self.estimator.predict_proba(_dense_imputed(X))
        out = np.zeros((n, self.k))
        for j, c in enumerate(self.classes):
            out[:, c] = raw[:, j]
        return out / out.sum(axis=1, keepdims=True)


@dataclass
class BaselineModel:
    name: str
    encoder: FeatureEncoder
    families: dict[int, FamilyModel]

    def predict_proba(self, questions: list[Question]) -> list[list[float]]:
        """A probability per option for each question (any option count the families cover)."""
        out: list[Optional[list[float]]] = [None] * len(questions)
        if not questions:
            return []
        X = self.encoder.transform(questions)
        by_k: dict[int, list[int]] = {}
        for i, q in enumerate(questions):
            by_k.setdefault(len(q.options), []).append(i)
        for k, idx in by_k.items():
            fam = self.families.get(k)
            if fam is None:
                probs = np.full((len(idx), k), 1.0 / k)
            else:
                probs = fam.predict_proba(X[idx], self.name)
            for row, i in enumerate(idx):
                out[i] = [float(p) for p in probs[row]]
        return out  # type: ignore[return-value]


def fit_baseline(name: str, encoder: FeatureEncoder, X: sp.csr_matrix, questions: list[Question],
                 hp: Any, seed: int) -> BaselineModel:
    """Fit one baseline (all families) on pre-encoded training features ``X`` (rows = ``questions``)."""
    y = np.array([q.answer_index for q in questions])
    k_of = np.array([len(q.options) for q in questions])
    families: dict[int, FamilyModel] = {}
    for k in FAMILIES:
        idx = np.flatnonzero(k_of == k)
        if not len(idx):
            log.warning("%s: no %d-option training questions; those questions get the uniform distribution", name, k)
            continue
        yk = y[idx]
        counts = np.bincount(yk, minlength=k)
        classes = sorted(int(c) for c in np.unique(yk))
        if len(classes) < 2:
            log.warning("%s: %d-option family has one class in training; predicting its prior", name, k)
            families[k] = FamilyModel(k=k, prior=(counts / counts.sum()).tolist())
            continue
        est = make_estimator(name, hp, seed)
        Xk = X[idx]
        est.fit(Xk if name == "lightgbm" else _dense_imputed(Xk), yk)
        if name == "lightgbm":
            families[k] = FamilyModel(k=k, classes=[int(c) for c in est.classes_], estimator=est.booster_)
        else:
            families[k] = FamilyModel(k=k, classes=[int(c) for c in est.classes_], estimator=est)
    return BaselineModel(name=name, encoder=encoder, families=families)


# ---------------------------------------------------------------- persistence


def save_baseline(model: BaselineModel, directory: str | Path) -> list[Path]:
    """Write a fitted baseline (and the shared encoder, if not there yet). Returns the files written."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    written = []
    enc = d / "encoder.joblib"
    joblib.dump(model.encoder, enc)
    written.append(enc)
    meta = {"name": model.name, "families": {}}
    sk = {}
    for k, fam in model.families.items():
        entry: dict = {"k": fam.k, "classes": fam.classes, "prior": fam.prior, "fitted": fam.estimator is not None}
        if fam.estimator is not None:
            if model.name == "lightgbm":
                path = d / f"lightgbm_{k}.txt"
                fam.estimator.save_model(str(path))
                entry["file"] = path.name
                written.append(path)
            else:
                sk[k] = fam.estimator
        meta["families"][str(k)] = entry
    if model.name != "lightgbm":
        path = d / f"{model.name}.joblib"
        joblib.dump(sk, path)
        written.append(path)
    mpath = d / f"{model.name}.json"
    mpath.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    written.append(mpath)
    return written


def load_baseline(name: str, directory: str | Path = "models/baselines") -> BaselineModel:
    """Reload a baseline written by ``save_baseline`` (files this project produced itself)."""
    d = Path(directory)
    meta_path = d / f"{name}.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"no baseline {name!r} in {d} (run `deepimagine baselines`)")
    meta = json.loads(meta_path.read_text())
    encoder: FeatureEncoder = joblib.load(d / "encoder.joblib")
    sk = joblib.load(d / f"{name}.joblib") if name != "lightgbm" else {}
    families = {}
    for key, entry in meta["families"].items():
        k = int(key)
        est = None
        if entry["fitted"]:
            if name == "lightgbm":
                import lightgbm as lgb

                est = lgb.Booster(model_file=str(d / entry["file"]))
            else:
                est = sk[k]
        families[k] = FamilyModel(k=k, classes=entry["classes"], estimator=est, prior=entry["prior"])
    return BaselineModel(name=name, encoder=encoder, families=families)
