"""Temperature scaling of likelihood decisions: the pure fit on synthetic scores with a known
temperature, and an LLM predictor that calibrates once per model on training questions."""
from __future__ import annotations

import math
import random

import pytest

from deepimagine.evaluate.llm import (LLMPredictor, fit_bias_temperature, fit_temperature, likelihood_answer, mean_nll,
                                      option_probs)
from deepimagine.core.questions import parse_decision


def test_option_probs_temper_without_changing_the_order():
    lp = [-1.0, -3.0, -2.5]
    p1 = option_probs(lp)
    assert sum(p1) == pytest.approx(1.0)
    assert p1[0] == pytest.approx(math.exp(-1) / sum(math.exp(x) for x in lp))
    for t in (0.3, 2.0, 50.0):
        pt = option_probs(lp, t)
        assert sorted(range(3), key=pt.__getitem__) == sorted(range(3), key=p1.__getitem__)
    assert max(option_probs(lp, 50.0)) < max(p1) < max(option_probs(lp, 0.3))
    parsed = parse_decision(likelihood_answer(lp, 4.0), 3)
    assert parsed.valid and parsed.probs == pytest.approx(option_probs(lp, 4.0), abs=1e-5)


@pytest.mark.parametrize("true_t", [0.5, 3.0, 12.0])
def test_fit_recovers_a_known_temperature(true_t):
    """Answers drawn from softmax(logits / T*): the fitted T is close to T*, and no worse in NLL."""
    rng = random.Random(int(true_t * 10))
    scores, answers = [], []
    for _ in range(3000):
        logits = [rng.gauss(0, 4) for _ in range(rng.choice([2, 3]))]
        p = option_probs(logits, true_t)
        scores.append(logits)
        answers.append(rng.choices(range(len(p)), weights=p)[0])
    t = fit_temperature(scores, answers)
    assert t == pytest.approx(true_t, rel=0.15)
    nll = mean_nll(scores, answers, t)
    assert nll <= mean_nll(scores, answers, 1.0) + 1e-9
    assert nll <= min(mean_nll(scores, answers, t * f) for f in (0.8, 1.25)) + 1e-9


def test_fit_handles_degenerate_input():
    assert fit_temperature([], []) == 1.0
    # always right with a wide margin: the sharpest temperature in range wins
    t = fit_temperature([[0.0, -5.0]] * 20, [0] * 20)
    assert t < 0.06


def test_llm_predictor_calibrates_once_per_model(tiny_base_dir, tmp_path):
    import shutil

    from deepimagine.core import params as params_mod
    from deepimagine.evaluate import llm
    from fixtures import toy

    models = tmp_path / "models"
    shutil.copytree(tiny_base_dir, models / "base")
    train, test = toy.toy_questions(40, seed=1), toy.toy_questions(12, seed=2, split="test")

    def predictor(n_cal, mode="direct"):
        p = params_mod.from_dict({"evaluate": {"calibration_questions": n_cal}, "model": {"decision": "likelihood"}})
        return llm.LLMPredictor(p, "base", mode, models_dir=models, train=train,
                                calibration_file=tmp_path / "no_calibration_steps.jsonl")

    llm._TEMPERATURES.clear()
    plain = predictor(0).predict(test)
    assert predictor(0).temperature_scaling() == {"temperature": 1.0, "operator_temperature": 1.0, "operator_bias": None,
                                                  "operator_groups": {}, "questions": 0}
    calibrated_predictor = predictor(16)
    calibrated = calibrated_predictor.predict(test)
    cal = calibrated_predictor.temperature_scaling()
    # toy questions hold no operator ('change') question: only the other temperature is fitted
    assert cal["questions"] == 16 and cal["temperature"] > 0 and cal["fits"]["operator"]["questions"] == 0
    assert cal["operator_temperature"] == 1.0
    assert cal["fits"]["other"]["nll"] <= cal["fits"]["other"]["nll_at_1"] + 1e-9
    # the answers are the option likelihoods under that one temperature (plain softmax when off)
    scores = calibrated_predictor.option_scores(test)
    for a, b, s in zip(plain, calibrated, scores):
        assert a.probs == pytest.approx(option_probs(s), abs=1e-5)
        assert b.probs == pytest.approx(option_probs(s, cal["temperature"]), abs=1e-5)
    # the imagine mode of the same model reuses the fitted temperature (no second fit)
    assert predictor(16, "imagine").temperature_scaling() is cal


def test_evaluate_records_the_temperature(tiny_base_dir, tmp_path):
    """The evaluate stage with a calibrated LLM predictor: plots, report and per-predictor detail."""
    import json
    import shutil

    from deepimagine.core import params as params_mod
    from deepimagine.evaluate import llm
    from deepimagine.evaluate.stage import evaluate_all
    from fixtures import toy

    models = tmp_path / "models"
    shutil.copytree(tiny_base_dir, models / "base")
    train, test = toy.toy_questions(40, seed=1), toy.toy_questions(12, seed=2, split="test")
    p = params_mod.from_dict({"evaluate": {"calibration_questions": 8, "bootstrap": 20, "max_llm_questions": None},
                              "model": {"decision": "likelihood"}})
    llm._TEMPERATURES.clear()
    predictor = llm.LLMPredictor(p, "base", "direct", models_dir=models, train=train,
                                 calibration_file=tmp_path / "no_calibration_steps.jsonl")
    evaluate_all(p, train, {"test": test}, {"base/direct": predictor}, metrics_dir=tmp_path / "metrics")
    detail = json.loads((tmp_path / "metrics/predictions/test/base_direct.json").read_text())
    assert detail["temperature_scaling"]["questions"] == 8
    assert isinstance(detail["calibration"], list)             # the reliability bins keep their key
    assert "Likelihood temperature per model, fitted on 8 training questions" in (tmp_path / "metrics/report.md").read_text()


def test_bias_and_temperature_correct_a_shifted_prior():
    """A model with no signal (noise scores) asked steps that are mostly 'about the same': temperature
    alone can only flatten it to uniform; the biases recover the steps' prior, and the NLL drops."""
    rng = random.Random(3)
    prior = [0.05, 0.15, 0.6, 0.15, 0.05]
    answers = rng.choices(range(5), weights=prior, k=600)
    scores = [[rng.gauss(0, 0.1) for _ in range(5)] for _ in answers]
    t, bias = fit_bias_temperature(scores, answers)
    assert bias[2] == 0.0 and len(bias) == 5
    mean_p = [sum(option_probs(s, t, bias)[i] for s in scores) / len(scores) for i in range(5)]
    empirical = [answers.count(i) / len(answers) for i in range(5)]
    assert mean_p == pytest.approx(empirical, abs=0.03)
    nll = -sum(math.log(option_probs(s, t, bias)[a]) for s, a in zip(scores, answers)) / len(answers)
    assert nll < mean_nll(scores, answers, fit_temperature(scores, answers)) - 0.1


def test_operator_steps_use_their_factor_groups_calibration():
    from deepimagine.core.questions import CHANGE_OPTIONS, Question

    def q(factor):
        return Question(id=factor, source="synthetic", kind="arm", category="change", split="train", nct_ids=["N"],
                        factor=factor, from_value="a", to_value="b", options=list(CHANGE_OPTIONS), answer_index=2)

    ts = {"operator_temperature": 2.0, "operator_bias": [0, 0, 0, 0, 0],
          "operator_groups": {"retrieved/arm": {"temperature": 3.0, "bias": [1, 1, 0, 1, 1]},
                              "local/arm": {"temperature": 0.5, "bias": [0, 0, 0, 0, 0]}}}
    assert LLMPredictor.operator_calibration(q("arm"), ts) == (3.0, [1, 1, 0, 1, 1])       # synthetic: retrieved
    assert LLMPredictor.operator_calibration(q("region"), ts) == (2.0, [0, 0, 0, 0, 0])   # no context fit: pooled
    local = q("arm")
    local.meta = {"calibration": "local"}                 # a step of a local question's walk from its own anchor
    assert LLMPredictor.operator_calibration(local, ts) == (0.5, [0, 0, 0, 0, 0])


def test_arm_steps_with_a_placebo_are_calibrated_apart_from_drug_to_drug_steps():
    """A step to or from a placebo ('Matching Placebo' as natural pairs name it, 'placebo' as
    chains do) takes the 'arm_placebo' fit; a drug -> drug step the 'arm' fit; other factors keep
    their group."""
    from deepimagine.core.questions import CHANGE_OPTIONS, Question
    from deepimagine.evaluate.llm import calibration_group

    def q(factor, a, b):
        return Question(id=f"{a}-{b}", source="synthetic", kind="arm", category="change", split="train", nct_ids=["N"],
                        factor=factor, from_value=a, to_value=b, options=list(CHANGE_OPTIONS), answer_index=2)

    assert calibration_group(q("arm", "Zumimiplumab 150 mg", "Piraveplumab 300 mg")) == "arm"
    assert calibration_group(q("arm", "placebo", "Piraveplumab 300 mg")) == "arm_placebo"
    assert calibration_group(q("arm", "Sotaratamine 28 mg", "Matching Placebo")) == "arm_placebo"
    assert calibration_group(q("dose", "1 mg", "2 mg")) == "dose"
    assert calibration_group(q("region", "Europe", "Asia")) == "context"
    ts = {"operator_temperature": 2.0, "operator_bias": [0, 0, 0, 0, 0],
          "operator_groups": {"retrieved/arm": {"temperature": 3.0, "bias": [1, 1, 0, 1, 1]},
                              "retrieved/arm_placebo": {"temperature": 1.0, "bias": [2, 0, 0, 0, 2]}}}
    assert LLMPredictor.operator_calibration(q("arm", "a", "b"), ts) == (3.0, [1, 1, 0, 1, 1])
    assert LLMPredictor.operator_calibration(q("arm", "placebo", "b"), ts) == (1.0, [2, 0, 0, 0, 2])


def test_the_antisymmetric_and_canonical_readouts_of_a_change(tiny_base_dir, tmp_path):
    """``evaluate.operator_readout: antisymmetric`` on the real tiny model: an arm / dose change scores
    each bin as the mean of its forward log-likelihood and the mirrored bin's backward one; a change
    that cannot be asked backwards (region step) and other questions keep their forward scores.
    ``canonical``: a dose descent scores as its climb's mirror, everything else as forward."""
    import shutil

    from deepimagine.core import params as params_mod
    from deepimagine.core.questions import CHANGE_OPTIONS, Question, reversed_change
    from deepimagine.evaluate import llm
    from fixtures import toy

    models = tmp_path / "models"
    shutil.copytree(tiny_base_dir, models / "base")

    def change(i, factor, d0, d1):
        arm = lambda d: {"label": f"A{d}", "type": "EXPERIMENTAL", "intervention": "Drugx",  # noqa: E731
                         "dose": {"value": d, "unit": "mg"}}
        return Question(id=f"c{i}", source="natural", kind="dose", category="change", split="test", nct_ids=["N"],
                        factor=factor, from_value=f"{d0} mg", to_value=f"{d1} mg", options=list(CHANGE_OPTIONS),
                        answer_index=i % 5, context={"outcome": {"measure": "HbA1c", "better": "lower"},
                                                     "anchor": {**arm(d0), "result": {"value": -1.0 - i}},
                                                     "target": arm(d1)})

    qs = [change(0, "dose", 10, 40), change(1, "arm", 40, 10), change(2, "region", 10, 10)] + toy.toy_questions(
        3, seed=5, split="test")

    def predictor(readout):
        p = params_mod.from_dict({"evaluate": {"calibration_questions": 0, "operator_readout": readout},
                                  "model": {"decision": "likelihood"}})
        return llm.LLMPredictor(p, "base", "direct", models_dir=models, calibration_file=tmp_path / "none.jsonl")

    forward, both, canonical = predictor("forward"), predictor("antisymmetric"), predictor("canonical")
    f, a = forward.option_scores(qs), both.option_scores(qs)
    backward = forward.option_scores([reversed_change(q) for q in qs[:2]])
    for k in range(2):
        assert a[k] == pytest.approx([(x + y) / 2 for x, y in zip(f[k], reversed(backward[k]))], abs=1e-4)
        assert a[k] != pytest.approx(f[k], abs=1e-4)
    for k in range(2, len(qs)):
        assert a[k] == pytest.approx(f[k], abs=1e-4)
    # canonical: the dose climb (qs[0]) and every non-dose question as asked; a dose descent as its climb, mirrored
    down = change(5, "dose", 40, 10)
    c = canonical.option_scores(qs + [down])
    for k in range(len(qs)):
        assert c[k] == pytest.approx(f[k], abs=1e-4)
    climb = forward.option_scores([reversed_change(down)])[0]
    assert c[-1] == pytest.approx(list(reversed(climb)), abs=1e-4)
    assert c[-1] != pytest.approx(forward.option_scores([down])[0], abs=1e-4)
