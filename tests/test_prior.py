"""The ``prior`` control: every imagining step answered with its (kind, factor group) bin frequencies."""
from __future__ import annotations

import pytest

from deepimagine.core import io
from deepimagine.evaluate.prior import PriorPredictor, bin_frequencies
from deepimagine.evaluate.llm import RetrievalPredictor
from deepimagine.core.params import default_params
from deepimagine.core.semantics import SUP_NO, SUP_YES
from deepimagine.core.questions import CHANGE_OPTIONS, Question, parse_decision


def _change(factor: str, answer: int, i: int = 0) -> Question:
    return Question(id=f"c{factor}{answer}{i}", source="synthetic", kind="arm", category="change", split="train",
                    nct_ids=["NCT1", "NCT2"], factor=factor, from_value="a", to_value="b",
                    options=list(CHANGE_OPTIONS), answer_index=answer)


def test_bin_frequencies_by_group_smoothed_and_pooled():
    pool = [_change("dose", 3)] * 3 + [_change("dose", 2)] + [_change("region", 2)] * 2
    f = bin_frequencies(pool)
    assert f["dose"] == pytest.approx([0.5 / 6.5, 0.5 / 6.5, 1.5 / 6.5, 3.5 / 6.5, 0.5 / 6.5])
    assert f["context"][2] == pytest.approx(2.5 / 4.5)            # region belongs to the context group
    assert f[None][2] == pytest.approx(3.5 / 8.5) and sum(f[None]) == pytest.approx(1.0)


def _state(**kw):
    base = {"nct_id": "NCT9", "intervention": "drugx", "intervention_name": "Drugx", "is_placebo": False,
            "arm_type": "EXPERIMENTAL", "arm_label": "Drugx 20 mg", "dose_value": 20.0, "dose_value_mg": 20.0,
            "dose_unit": "mg", "regions": ["Europe"], "sex": "ALL", "phase": "PHASE2", "time_weeks": 12.0,
            "time_frame": "12 weeks", "conditions": ["T2D"], "measure": "HbA1c change", "unit": "%"}
    return {**base, **kw}


def _question() -> Question:
    """Drug vs placebo; the drug arm's anchor ran 10 mg (one dose step), the placebo arm's matches."""
    pbo = dict(is_placebo=True, intervention=None, intervention_name=None, dose_value=None, dose_value_mg=None,
               arm_type="PLACEBO_COMPARATOR", arm_label="Placebo")
    anchor = {"value": 0.15, "sd": 1.0, "n": 100, "better": "higher", "score": 5.0, "nct_id": "NCT5"}
    a, b = "Drugx 20 mg", "Placebo"
    return Question(id="q1", source="ct_open", kind="ct_open", category="superiority", split="test",
                    nct_ids=["NCT9"], factor="arm", from_value=b, to_value=a,
                    options=[SUP_YES.format(a=a, b=b), SUP_NO.format(a=a, b=b)], answer_index=0,
                    context={"trial": {"nct_id": "NCT9", "arms": []}, "outcome": {"measure": "HbA1c change"},
                             "arm_states": {a: _state(), b: _state(**pbo)},
                             "anchors": {"arms": {a: [{**_state(dose_value=10.0, dose_value_mg=10.0), **anchor}],
                                                  b: [{**_state(**pbo), **anchor, "value": 0.0}]}}},
                    meta={"list_of_tuples": [[a, "?", b]]})


def test_prior_steps_follow_their_group_and_move_the_answer(tmp_path):
    params = default_params()
    cal = tmp_path / "calibration.jsonl"
    io.write_jsonl(cal, [_change("dose", 4, i).to_row() for i in range(50)])     # retrieved dose steps: much higher
    train = [_change("dose", 2, i) for i in range(50)]                            # local ones: about the same
    prior = PriorPredictor(params, train, calibration_file=cal)
    step = _change("dose", 0)
    step.meta = {"calibration": "retrieved"}
    assert max(range(5), key=prior.step_probs(step).__getitem__) == 4
    step.meta = {"calibration": "local"}
    assert max(range(5), key=prior.step_probs(step).__getitem__) == 2
    assert parse_decision(prior.ask([step])[0], 5).valid
    q = _question()
    [with_prior] = prior.predict([q])
    [retrieval] = RetrievalPredictor(params).predict([q])
    assert prior.counts["steps"] == 1                 # the drug arm's one dose step, asked of the prior
    # the anchor drug arm is only 0.15 SD above placebo: not significant for retrieval; the prior's
    # "much higher" dose step makes significance likely
    assert retrieval.probs[0] < 0.5 < with_prior.probs[0]
