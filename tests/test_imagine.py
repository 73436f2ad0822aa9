"""Successive imagining (path construction, retrieval without leakage, sign composition, option
mapping) and mechanism recovery metrics, on hand-built questions and cells."""
import json

import pytest

from deepimagine.evaluate import imagine as im
from deepimagine.evaluate.mechanism import direction_probs, mechanism_recovery, options_from_direction
from deepimagine.questions import (COMPARATIVE_OPTIONS_IMPROVEMENT, DIRECTION_OPTIONS, SUPERIORITY_OPTIONS,
                                   format_answer)

from fixtures import toy

try:
    from deepimagine.evaluate.predictors import Prediction
except ImportError:  # pragma: no cover
    from deepimagine.evaluate.llm import Prediction


def test_build_path_changes_one_factor_at_a_time():
    start = {"intervention": "metformin", "dose_value": 10.0, "dose_value_mg": 10.0, "regions": ["Europe"],
             "sex": "ALL", "phase": "PHASE2", "time_weeks": 12, "time_frame": "12 weeks", "arm_label": "M 10"}
    target = {**start, "dose_value": 40.0, "dose_value_mg": 40.0, "regions": ["East Asia"], "time_weeks": 24,
              "time_frame": "24 weeks", "arm_label": "M 40"}
    path = im.build_path(start, target)
    assert [s.factor for s in path] == ["dose", "region", "time_frame"]
    assert path[0].after["dose_value_mg"] == 40.0 and path[0].after["regions"] == ["Europe"]
    assert path[1].after["regions"] == ["East Asia"] and path[1].after["time_weeks"] == 12
    assert all(im.factor_key(path[-1].after, f) == im.factor_key(target, f) for f in im.FACTOR_ORDER)
    assert im.build_path(target, target) == []
    # unknown values never make a step; a new intervention carries its dose
    other = {**target, "intervention": "sitagliptin", "dose_value_mg": 100.0, "phase": None}
    assert [s.factor for s in im.build_path(start, other)] == ["intervention", "region", "time_frame"]


def test_retrieval_is_train_only_same_measure_and_ranked():
    cells = toy.toy_cells(12)
    pool = im._train_pool(cells)
    assert pool and all(r["split"] == "train" for r in pool)
    q = toy.toy_questions(1, seed=3, split="test")[0]
    starts = im.retrieve_anchors(q, pool, 3)
    assert len(starts) == 3
    test_ncts = {c["nct_id"] for c in cells if c["split"] == "test"}
    assert not {s["nct_id"] for s in starts} & test_ncts
    assert all(s["measure_norm"] == q.context["outcome"]["measure"].lower() for s in starts)
    assert starts[0]["intervention"] == q.context["target"]["intervention"]
    assert im.retrieve_anchors(q, pool, 3) == starts   # deterministic


def test_compose_signs():
    up = {"up": 1.0, "down": 0.0, "none": 0.0}
    half = {"up": 0.5, "down": 0.5, "none": 0.0}
    assert im.compose_signs(0, [up, up]) == {"up": 1.0, "down": 0.0, "none": 0.0}
    assert im.compose_signs(-1, [up]) == {"up": 0.0, "down": 0.0, "none": 1.0}
    d = im.compose_signs(0, [half, half])
    assert d["up"] == pytest.approx(0.25) and d["down"] == pytest.approx(0.25) and d["none"] == pytest.approx(0.5)
    assert im.bridge_sign(2.0, 1.0, 0.5) == 1 and im.bridge_sign(1.2, 1.0, 0.5) == 0


def test_option_mapping_direction_superiority_improvement():
    q = toy.toy_questions(1)[0]
    dist = {"up": 0.6, "down": 0.3, "none": 0.1}
    q.options = list(DIRECTION_OPTIONS)
    assert options_from_direction(q, dist) == [0.6, 0.3, 0.1]
    q.options, q.meta["better"] = list(SUPERIORITY_OPTIONS), "lower"
    assert options_from_direction(q, dist) == pytest.approx([0.3, 0.7])
    q.options = list(COMPARATIVE_OPTIONS_IMPROVEMENT)
    assert options_from_direction(q, dist) == [0.3, 0.6, 0.1]   # improvement = lower
    assert direction_probs(q, [0.3, 0.6, 0.1]) == dist
    q.options = ["a", "b"]
    assert options_from_direction(q, dist) is None and im.fallback_reason(q) == "options_not_directional"


def test_imagine_end_to_end_with_scripted_model():
    q = toy.toy_questions(1, seed=3, split="test")[0]
    q.options, q.answer_index = list(DIRECTION_OPTIONS), 0
    pool = im._train_pool(toy.toy_cells(12))
    asked = []

    def ask(batch):   # a model that always says "higher"; step prompts must be well-formed questions
        asked.extend(batch)
        return [format_answer([0.8, 0.1, 0.1], "up") for _ in batch]

    probs, traj, counts = im.imagine([q], pool, ask, k=3)
    assert counts["paths"] == 3 and counts["steps"] == len(asked) > 0 and counts["invalid_steps"] == 0
    assert all(s.category == "direction" and s.meta["imagined"] for s in asked)
    later = [s for s in asked if s.id.endswith("step1")]
    assert all("(imagined)" in s.context["anchor"]["label"] for s in later)
    assert probs[q.id] is not None and sum(probs[q.id]) == pytest.approx(1.0)
    assert len(traj[q.id]["paths"]) == 3 and json.dumps(traj)
    # all steps "up" and every bridge >= 0 -> "higher" must dominate
    if all(p["bridge"] >= 0 for p in traj[q.id]["paths"]):
        assert probs[q.id][0] > 0.5

    def garbage(batch):
        return ["no idea"] * len(batch)

    probs, _, counts = im.imagine([q], pool, garbage, k=2)
    assert probs[q.id] is None and counts["invalid_questions"] == 1


def test_fallback_reasons():
    q = toy.toy_questions(1)[0]
    assert im.fallback_reason(q) is None
    q2 = toy.toy_questions(1)[0]
    q2.context["anchor"]["result"] = None
    assert im.fallback_reason(q2) == "no_anchor_result"
    q3 = toy.toy_questions(1)[0]
    q3.context["target"] = dict(q3.context["anchor"])
    assert im.fallback_reason(q3) == "no_imaginable_step"


def _pred(q, up, down, none):
    return Prediction(q.id, options_from_direction(q, {"up": up, "down": down, "none": none}), True, "")


def test_mechanism_recovery_monotonicity_and_transitivity():
    qs = [q for q in toy.toy_questions(30, seed=7) if q.category == "direction"]
    for i, q in enumerate(qs):          # three-step chains with a monotone truth
        q.meta["chain_id"], q.meta["step"] = f"c{i // 3}", i % 3
        q.expected_effect = -1.0 if (i // 3) % 2 else 1.0
    right = [_pred(q, 0.8, 0.1, 0.1) if q.expected_effect > 0 else _pred(q, 0.1, 0.8, 0.1) for q in qs]
    m = mechanism_recovery(qs, right)
    assert m["monotonicity"]["rate"] == 1.0 and m["monotonicity"]["n"] == len(qs)
    assert m["transitivity"]["pair_rate"] == 1.0 and m["transitivity"]["monotone_chain_rate"] == 1.0
    wrong = list(right)
    wrong[1] = _pred(qs[1], 0.1, 0.8, 0.1) if qs[1].expected_effect > 0 else _pred(qs[1], 0.8, 0.1, 0.1)
    wrong[0] = Prediction(qs[0].id, None, False, "garbage")
    m2 = mechanism_recovery(qs, wrong)
    assert m2["monotonicity"]["agree"] == len(qs) - 2 and m2["monotonicity"]["invalid"] == 1
    assert m2["transitivity"]["pair_rate"] < 1.0 and m2["transitivity"]["monotone_chain_rate"] < 1.0
