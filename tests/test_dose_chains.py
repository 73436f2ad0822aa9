"""The dose-chain check: every successive dose step of the local benchmark is imagined (the stratified
sample holds only a few ladders), and whole chains are scored for monotonicity in the true direction."""
from __future__ import annotations

from deepimagine.evaluate.prediction import Prediction
from deepimagine.evaluate.stage import dose_chain_questions, dose_chain_recovery
from deepimagine.core.params import default_params
from deepimagine.core.operator import change_bin
from deepimagine.core.questions import CHANGE_OPTIONS, DIRECTION_OPTIONS, Question

EDGES = [-0.6, -0.15, 0.15, 0.6]


def _step(chain: str, step: int, effect: float, kind: str = "dose_successive", category: str = "change") -> Question:
    if category == "change":
        options, answer = list(CHANGE_OPTIONS), change_bin(effect, EDGES)
    else:
        options, answer = list(DIRECTION_OPTIONS), 0 if effect > 0.2 else 1 if effect < -0.2 else 2
    arm = lambda d: {"label": f"Drugx {d} mg", "type": "EXPERIMENTAL", "intervention": "Drugx",  # noqa: E731
                     "dose": {"value": d, "unit": "mg"}}
    return Question(id=f"{chain}-{step}-{category}", source="natural", kind=kind, category=category, split="test",
                    nct_ids=["NCT1"], factor="dose", from_value=f"{step + 1} mg", to_value=f"{step + 2} mg",
                    options=options, answer_index=answer, expected_effect=effect,
                    context={"outcome": {"measure": "HbA1c", "better": "higher"},
                             "anchor": {**arm(step + 1), "result": {"value": 1.0}}, "target": arm(step + 2)},
                    meta={"chain_id": chain, "step": step, "edges": EDGES})


class Fixed:
    """Answers every question with one option (index), or with the true direction (None)."""

    def __init__(self, index=None):
        self.index = index

    def predict(self, qs):
        out = []
        for q in qs:
            k = q.answer_index if self.index is None else self.index
            n = len(q.options)
            out.append(Prediction(q.id, [0.8 if i == k else 0.2 / (n - 1) for i in range(n)], True))
        return out


def test_dose_chains_scored_whole_for_imagine_and_controls_only():
    ladder_up = [_step("a", i, 0.5) for i in range(3)]          # true response rises at every step
    ladder_down = [_step("b", i, -0.4) for i in range(4)]       # ... falls at every step
    # the same steps asked as direction questions (a wider margin) are not read as the chain
    others = [_step("c", 0, 0.5, kind="dose"), _step("x", 0, 0.5, kind="arm"), _step("a", 0, 0.5, category="direction")]
    questions = ladder_up + ladder_down + others
    chain_qs = dose_chain_questions(questions)
    climbs = [q.id for q in ladder_up + ladder_down]
    assert [q.id for q in chain_qs] == climbs + [f"{i}~reversed" for i in climbs]   # each ladder also walked down
    back = {q.id: q for q in chain_qs}["a-1-change~reversed"]
    assert back.meta["chain_id"] == "a/down" and back.meta["step"] == -1 and back.expected_effect == -0.5
    assert (back.from_value, back.to_value) == ("3 mg", "2 mg") and back.answer_index == 4 - ladder_up[1].answer_index

    class Wrong(Fixed):   # right on the first ladder, one wrong step ("much higher") on the second
        def predict(self, qs):
            return [Prediction(q.id, [0.0, 0.0, 0.1, 0.1, 0.8] if q.id == "b-2-change" else p.probs, True)
                    for q, p in zip(qs, Fixed().predict(qs))]

    predictors = {"sft/imagine": Fixed(), "rl/imagine": Wrong(), "retrieval": Fixed(2), "sft/direct": Fixed(0)}
    out = dose_chain_recovery(questions, predictors, default_params())
    assert set(out) == {"sft/imagine", "rl/imagine", "retrieval"}          # direct modes are not imagining
    t = {name: r["transitivity"] for name, r in out.items()}
    assert t["sft/imagine"]["chains"] == 4 and t["sft/imagine"]["true_direction_chain_rate"] == 1.0
    assert t["rl/imagine"]["true_direction_chain_rate"] == 0.75 and t["rl/imagine"]["monotone_chain_rate"] == 0.75
    down = out["rl/imagine"]["by_direction"]
    assert down["up"]["transitivity"]["true_direction_chain_rate"] == 0.5      # the wrong step is on a climb
    assert down["down"]["transitivity"]["true_direction_chain_rate"] == 1.0
    assert t["retrieval"]["true_direction_chain_rate"] == 0.0           # "no change" everywhere moves nowhere
    assert out["sft/imagine"]["monotonicity"]["n"] == 14


def test_an_operator_blind_to_the_way_of_a_dose_change_passes_the_climb_and_fails_the_descent():
    """Every benchmark ladder climbs; an operator that answers every dose change 'much higher' (the
    better way here) reads each climb right and each descent wrong."""
    ladders = [_step("a", i, 0.5) for i in range(3)] + [_step("b", i, 0.3) for i in range(2)]
    out = dose_chain_recovery(ladders, {"sft/imagine": Fixed(4), "oracle": Fixed()}, default_params())
    blind = out["sft/imagine"]["by_direction"]
    assert blind["up"]["transitivity"]["true_direction_chain_rate"] == 1.0
    assert blind["down"]["transitivity"]["true_direction_chain_rate"] == 0.0
    assert out["sft/imagine"]["transitivity"]["true_direction_chain_rate"] == 0.5
    assert out["oracle"]["transitivity"]["true_direction_chain_rate"] == 1.0
