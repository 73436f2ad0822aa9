"""CT Open's official metric: hand-computed values, and the same numbers as CT Open's scoring
(tests/third_party/ct_open/reference.py) on exported answers for the Winter 2025 questions."""
from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

from deepimagine.evaluate import metrics as M
from deepimagine.evaluate.export import (answer_records, decision_text, export_answers, official_answers,
                                         official_key)
from deepimagine.evaluate.predictors import Prediction
from deepimagine.evaluate.report import headline
from deepimagine.pairs.ct_open import import_ct_open, load_restricted_pickle
from deepimagine.core.questions import Question
from third_party.ct_open.reference import evaluate_run, read_probs

from test_ct_open import WINTER_PICKLE

# 3-option comparative effect: 3-way argmax 0, 0, 2, 1, 0 for gold 0, 1, 2, 2, 0
CMP_PROBS = [[0.6, 0.3, 0.1], [0.5, 0.2, 0.3], [0.2, 0.2, 0.6], [0.1, 0.5, 0.4], [0.7, 0.2, 0.1]]
CMP_GOLD = [0, 1, 2, 2, 0]
# superiority: argmax 0, 1, 1, 1 for gold 0, 0, 1, 1 ; endpoint: argmax 0, 0, 1 for gold 0, 1, 1
SUP_PROBS, SUP_GOLD = [[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.4, 0.6]], [0, 0, 1, 1]
END_PROBS, END_GOLD = [[0.8, 0.2], [0.6, 0.4], [0.1, 0.9]], [0, 1, 1]


def _score(with_direction: bool = False):
    probs, gold = CMP_PROBS + SUP_PROBS + END_PROBS, CMP_GOLD + SUP_GOLD + END_GOLD
    cats = ["comparative_effect"] * 5 + ["superiority"] * 4 + ["endpoint"] * 3
    k = [3] * 5 + [2] * 7
    if with_direction:  # same vectors, project-only 3-option category: scored 3-way
        probs, gold, cats, k = probs + CMP_PROBS, gold + CMP_GOLD, cats + ["direction"] * 5, k + [3] * 5
    return M.score(probs, [True] * len(gold), gold, cats, k, bootstrap=50, seed=0)


def test_three_way_category_collapsed_by_hand():
    r = _score()
    c = r["categories"]["comparative_effect"]
    # collapsed gold: sig, sig, none, none, sig ; collapsed prediction: sig, sig, none, sig, sig
    assert c["bacc"] == pytest.approx((1 + 1 / 2) / 2)                 # recall sig 3/3, none 1/2
    assert c["f1"] == pytest.approx((6 / 7 + 2 / 3) / 2)               # sig: tp 3 fp 1 ; none: tp 1 fn 1
    assert c["acc"] == pytest.approx(4 / 5)
    assert c["ce"] == pytest.approx(-np.mean(np.log([0.6, 0.2, 0.6, 0.4, 0.7])))  # CE stays 3-way
    assert c["class_counts"] == [3, 2]
    t = r["categories"][M.THREE_WAY]
    assert t["bacc"] == pytest.approx((1 + 0 + 1 / 2) / 3)             # recalls of options 0, 1, 2
    assert t["f1"] == pytest.approx((4 / 5 + 0 + 2 / 3) / 3)
    assert t["ce"] == pytest.approx(c["ce"]) and t["class_counts"] == [2, 1, 2]
    sup, end = r["categories"]["superiority"], r["categories"]["endpoint"]
    assert sup["bacc"] == pytest.approx(0.75) and sup["f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert end["bacc"] == pytest.approx(0.75) and end["f1"] == pytest.approx((2 / 3 + 2 / 3) / 2)
    # overall = mean of the three categories with the collapsed figures; the 3-way view is not in it
    assert r["overall_bacc"] == pytest.approx((0.75 + 0.75 + 0.75) / 3)
    assert r["overall_f1"] == pytest.approx(((6 / 7 + 2 / 3) / 2 + (2 / 3 + 0.8) / 2 + 2 / 3) / 3)
    assert r["overall_ce"] == pytest.approx((c["ce"] + sup["ce"] + end["ce"]) / 3)
    assert {"comparative_effect.bacc", f"{M.THREE_WAY}.bacc", "overall_bacc"} <= set(r["ci"])
    assert np.asarray(r["confusion"]["comparative_effect"]).tolist() == [[3, 0, 0], [1, 1, 0]]


def test_direction_stays_three_way_and_in_the_overall():
    r = _score(with_direction=True)
    d = r["categories"]["direction"]
    assert d["bacc"] == pytest.approx(0.5) and d["f1"] == pytest.approx((4 / 5 + 0 + 2 / 3) / 3)
    assert "direction_3way" not in r["categories"]
    assert r["overall_bacc"] == pytest.approx((0.75 * 3 + 0.5) / 4)


def test_probabilities_clipped_at_1e12_as_ct_open():
    r = M.score([[1.0, 0.0], [0.0, 1.0]], [True, True], [1, 1], ["superiority"] * 2, [2, 2])
    p = 1e-12 / (1 + 1e-12)                              # clip, then renormalise
    assert r["overall_ce"] == pytest.approx((-math.log(p) - math.log(1 / (1 + 1e-12))) / 2, rel=1e-12)
    assert read_probs("DECISION: (1, 0)")[1] == pytest.approx(p, rel=1e-12)


def test_paired_difference_uses_the_official_overall():
    probs, gold = CMP_PROBS + SUP_PROBS + END_PROBS, CMP_GOLD + SUP_GOLD + END_GOLD
    cats, k = ["comparative_effect"] * 5 + ["superiority"] * 4 + ["endpoint"] * 3, [3] * 5 + [2] * 7
    flat = [[1.0] * n for n in k]                         # uniform: every prediction option 0
    d = M.paired_difference(probs, [True] * 12, flat, [True] * 12, gold, cats, k, bootstrap=0)
    a, b = M.score(probs, [True] * 12, gold, cats, k), M.score(flat, [True] * 12, gold, cats, k)
    for m in ("bacc", "f1", "ce"):
        assert d[m]["diff"] == pytest.approx(a[f"overall_{m}"] - b[f"overall_{m}"])
    # option 0 collapses to "significant": the collapsed comparative BAcc of `flat` is 1/2, not 1/3
    assert b["categories"]["comparative_effect"]["bacc"] == pytest.approx(0.5)


def test_headline_holds_official_categories():
    h = headline({"ct_open": {"p": _score()}})["ct_open"]["p"]
    assert set(h["categories"]) == {"comparative_effect", "superiority", "endpoint"}
    assert h["categories"]["comparative_effect"]["bacc"] == pytest.approx(0.75, abs=1e-4)
    assert h["overall_bacc"] == pytest.approx(0.75, abs=1e-4)


def test_decision_text_round_trips_exactly():
    text, ok = decision_text([0.1, 1 / 3, 2e-13], True, 3)
    assert ok and [float(x) for x in text[len("DECISION: ("):-1].split(", ")] == [0.1, 1 / 3, 2e-13]
    assert decision_text(None, False, 2) == ("DECISION: (1.0, 1.0)", False)
    assert decision_text([float("nan"), 1.0], True, 2)[1] is False
    assert decision_text([0.5, 0.5], True, 3)[1] is False  # wrong length


# ---------------------------------------------------------------- against CT Open's own scoring


def _synthetic_predictions(questions: list[Question], seed: int = 2) -> list[Prediction]:
    """Fixed predictions: Dirichlet scores, every 7th one-hot (exercises the 1e-12 clip), unnormalised."""
    rng = np.random.default_rng(seed)
    out = []
    for i, q in enumerate(questions):
        k = len(q.options)
        p = rng.dirichlet([0.7] * k) * rng.uniform(0.5, 10)
        if i % 7 == 0:
            p = np.eye(k)[rng.integers(k)] * 3
        out.append(Prediction(q.id, p.tolist(), True))
    return out


@pytest.mark.skipif(not WINTER_PICKLE.exists(), reason="../shared CT Open Winter 2025 pickle not available")
def test_exported_answers_scored_by_ct_open_match_score(tmp_path):
    questions, _ = import_ct_open(WINTER_PICKLE)
    preds = _synthetic_predictions(questions)
    counts = export_answers(questions, {"synthetic/direct": preds}, tmp_path)
    assert counts == {"synthetic/direct": {"exported": 605, "invalid_as_uniform": 0, "without_official_key": 0}}
    # the pickle is plain builtins (our restricted unpickler reads it); the JSON holds the same answers
    answers = load_restricted_pickle(tmp_path / "synthetic_direct.answers.pkl")
    records = json.loads((tmp_path / "synthetic_direct.answers.json").read_text())
    assert answers == official_answers(questions, preds)[0]
    assert records == answer_records(answers)
    benchmark = load_restricted_pickle(WINTER_PICKLE)
    assert {k[:2] for k in answers} == set(benchmark) and len(answers) == 605

    ours = M.score([p.probs for p in preds], [True] * 605, [q.answer_index for q in questions],
                   [q.category for q in questions], [len(q.options) for q in questions])
    names = {"Endpoint": "endpoint", "Superiority": "superiority", "ComparativeEffect": "comparative_effect"}
    official = evaluate_run(answers, benchmark)
    for theirs, mine in names.items():
        got = ours["categories"][mine]
        assert got["bacc"] == pytest.approx(official[theirs]["Weighted_Accuracy"], abs=1e-4)
        assert got["f1"] == pytest.approx(official[theirs]["Macro-F1"], abs=1e-4)
        assert got["ce"] == pytest.approx(official[theirs]["Cross_Entropy"], abs=1e-4)
    assert ours["overall_bacc"] == pytest.approx(official["overall"]["Weighted_Accuracy"], abs=1e-4)
    assert ours["overall_f1"] == pytest.approx(official["overall"]["Macro-F1"], abs=1e-4)
    assert ours["overall_ce"] == pytest.approx(official["overall"]["Cross_Entropy"], abs=1e-4)
    # the collapse matters on these predictions (else the test above could not tell the rules apart)
    as_written = evaluate_run(answers, benchmark, collapse_3way=False)["ComparativeEffect"]
    for m in ("Weighted_Accuracy", "Macro-F1"):
        assert abs(as_written[m] - official["ComparativeEffect"][m]) > 0.05
    # ... and the uncollapsed figures are ours under comparative_effect_3way
    assert ours["categories"][M.THREE_WAY]["bacc"] == pytest.approx(as_written["Weighted_Accuracy"], abs=1e-4)
    assert ours["categories"][M.THREE_WAY]["f1"] == pytest.approx(as_written["Macro-F1"], abs=1e-4)


def test_export_skips_questions_without_official_key_and_refuses_duplicates(tmp_path):
    base = dict(source="ct_open", kind="ct_open", category="superiority", split="test", nct_ids=["NCT1"],
                factor="", from_value="", to_value="", options=["a", "b"], answer_index=0)
    keyed = Question(id="q1", meta={"nct_id": "NCT1", "endpoint_key": "{'measure': 'm'}", "question_index": 0}, **base)
    bare = Question(id="q2", **base)
    preds = [Prediction("q1", [0.25, 0.75], True), Prediction("q2", None, False)]
    answers, counts = official_answers([keyed, bare], preds)
    assert answers == {("NCT1", "{'measure': 'm'}", 0): "DECISION: (0.25, 0.75)"}
    assert counts == {"exported": 1, "invalid_as_uniform": 0, "without_official_key": 1}
    assert official_key(bare) is None
    assert export_answers([bare], {"p": [preds[1]]}, tmp_path) == {} and not list(tmp_path.iterdir())
    twin = Question(id="q3", meta=dict(keyed.meta), **base)
    with pytest.raises(ValueError, match="twice"):
        official_answers([keyed, twin], [preds[0], Prediction("q3", [1, 0], True)])
    with pytest.raises(ValueError, match="aligned"):
        official_answers([keyed], [preds[1]])
    # the pickle is a dict of plain builtins, readable by pickle itself
    export_answers([keyed], {"m/x": [preds[0]]}, tmp_path)
    assert pickle.loads((tmp_path / "m_x.answers.pkl").read_bytes()) == answers
