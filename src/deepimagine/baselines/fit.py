"""Fitting the baselines: one scikit-learn / LightGBM estimator per option-count family, turned into the
portable model of ``core/baseline_model.py`` (the modelling choice and the saved layout are described there)."""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..core.baseline_model import BASELINES, FAMILIES, BaselineModel, FamilyModel, ForestProba, LinearProba, _dense_imputed
from ..core.features import FeatureEncoder
from ..core.questions import Question

log = logging.getLogger(__name__)


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
        families[k] = FamilyModel(k=k, classes=[int(c) for c in est.classes_], estimator=portable(name, est))
    return BaselineModel(name=name, encoder=encoder, families=families)


def portable(name: str, est):
    """The fitted estimator as what is saved and predicted with: a LightGBM Booster or plain arrays."""
    if name == "lightgbm":
        return est.booster_
    return LinearProba.from_sklearn(est) if name == "logistic" else ForestProba.from_sklearn(est)
