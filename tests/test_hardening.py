"""Issue 12: the download, the dump, the tables and the baselines survive bad servers, records and artifacts."""
from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from deepimagine.baselines.models import (BASELINES, BaselineLoadError, fit_baseline, load_baseline, make_estimator,
                                          portable, save_baseline)
from deepimagine.baselines.stage import make_encoder
from test_baselines import make_questions, small_params


# ---------------------------------------------------------------- 11: no code from pulled artifacts


class _RunsCode:
    """A pickle payload that would create ``marker`` when unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    d = tmp_path_factory.mktemp("baselines")
    train, test = make_questions(240, 3), make_questions(60, 4, "test")
    hp = small_params().baselines
    encoder = make_encoder(hp).fit(train)
    X = encoder.transform(train)
    models = {name: fit_baseline(name, encoder, X, train, hp, 42) for name in BASELINES}
    for m in models.values():
        save_baseline(m, d)
    return d, models, train, test, encoder, X, hp


@pytest.mark.parametrize("name", BASELINES)
def test_predictions_after_save_and_load_equal_those_before(fitted, name):
    d, models, _, test, _, _, _ = fitted
    before = models[name].predict_proba(test)
    after = load_baseline(name, d).predict_proba(test)
    assert after == before  # exactly: the same parameters, the same arithmetic


@pytest.mark.parametrize("name", ["logistic", "random_forest"])
def test_plain_parameter_models_equal_scikit_learn(fitted, name):
    from deepimagine.baselines.models import _dense_imputed

    _, _, train, test, encoder, X, hp = fitted
    y = np.array([q.answer_index for q in train])
    idx = np.flatnonzero([len(q.options) == 3 for q in train])
    est = make_estimator(name, hp, 42).fit(_dense_imputed(X[idx]), y[idx])
    Xt = _dense_imputed(encoder.transform(test))
    # scikit-learn fits the logistic regression in float32 (the features' dtype); the saved one runs in float64
    atol = 1e-6 if name == "logistic" else 1e-12
    np.testing.assert_allclose(portable(name, est).predict_proba(Xt), est.predict_proba(Xt), rtol=0, atol=atol)


def test_no_pickle_is_written(fitted):
    d = fitted[0]
    assert not [p for p in d.iterdir() if p.suffix in (".joblib", ".pkl", ".pickle")]
    for p in d.glob("*.json"):
        json.loads(p.read_text())  # plain JSON


def test_a_planted_pickle_is_refused_and_runs_nothing(fitted, tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_RunsCode(marker))
    # the old layout: joblib files only
    old = tmp_path / "old"
    old.mkdir()
    (old / "encoder.joblib").write_bytes(payload)
    (old / "logistic.joblib").write_bytes(payload)
    with pytest.raises(BaselineLoadError, match="pickle"):
        load_baseline("logistic", old)
    # the new layout with the encoder replaced by a pickle
    d = tmp_path / "new"
    d.mkdir()
    for p in fitted[0].iterdir():
        if p.is_file():
            (d / p.name).write_bytes(p.read_bytes())
    (d / "encoder.json").write_bytes(payload)
    for name in BASELINES:
        with pytest.raises(BaselineLoadError, match="pickle"):
            load_baseline(name, d)
    assert not marker.exists()


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for p in src.iterdir():
        if p.is_file():
            (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_tampered_artifacts_fail_with_a_clear_error(fitted, tmp_path):
    # a LightGBM text model edited after saving
    d = _copy(fitted[0], tmp_path / "a")
    txt = d / "lightgbm_3.txt"
    txt.write_text(txt.read_text().replace("learning_rate", "learning_rate_x", 1))
    with pytest.raises(BaselineLoadError, match="checksum"):
        load_baseline("lightgbm", d)
    # a tree whose child points back to its root (would loop forever)
    d = _copy(fitted[0], tmp_path / "b")
    meta = json.loads((d / "random_forest.json").read_text())
    tree = meta["families"]["3"]["model"]["trees"][0]
    tree["left"][0] = 0
    (d / "random_forest.json").write_text(json.dumps(meta))
    with pytest.raises(BaselineLoadError, match="not a valid tree"):
        load_baseline("random_forest", d)
    # a coefficient matrix of the wrong shape, and a non-numeric one
    d = _copy(fitted[0], tmp_path / "c")
    meta = json.loads((d / "logistic.json").read_text())
    meta["families"]["3"]["model"]["coef"] = meta["families"]["3"]["model"]["coef"][:1]
    (d / "logistic.json").write_text(json.dumps(meta))
    with pytest.raises(BaselineLoadError, match="coef"):
        load_baseline("logistic", d)
    meta["families"]["3"]["model"]["coef"] = {"__class__": "os.system"}
    (d / "logistic.json").write_text(json.dumps(meta))
    with pytest.raises(BaselineLoadError):
        load_baseline("logistic", d)
