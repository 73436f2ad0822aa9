"""The one question format: row round trip, prompt rendering, and the answer parser on bad outputs."""
from __future__ import annotations

import json
import math

import pytest

from deepimagine.core.questions import (DIRECTION_OPTIONS, SUPERIORITY_OPTIONS, Question, format_answer, one_hot,
                                        parse_decision, render_messages, render_prompt)


def _q(**kw) -> Question:
    base = dict(id="q1", source="natural", kind="dose", category="direction", split="train", nct_ids=["NCT1"],
                factor="dose", from_value="10 mg", to_value="25 mg", options=list(DIRECTION_OPTIONS), answer_index=1,
                context={"trial": {"title": "T", "conditions": ["c"]}, "outcome": {"measure": "HbA1c", "time_frame": "Week 12"},
                         "anchor": {"label": "Drugx 10 mg", "result": {"value": -0.5, "unit": "%", "spread": 1.0,
                                                                       "dispersion_type": "SD", "n": 100}},
                         "question": "How would HbA1c change?"},
                meta={"p_value": 0.01})
    base.update(kw)
    return Question(**base)


def test_row_round_trip_and_validation():
    q = _q()
    row = q.to_row()
    assert isinstance(row["context"], str) and isinstance(row["meta"], str)
    assert Question.from_row(json.loads(json.dumps(row))) == q
    with pytest.raises(ValueError):
        _q(answer_index=3)
    with pytest.raises(ValueError):
        _q(source="other")
    with pytest.raises(ValueError):
        _q(category="guess")


def test_prompt_mentions_change_result_and_options():
    q = _q()
    text = render_prompt(q)
    assert "change: dose: 10 mg -> 25 mg" in text
    assert "known result: -0.5 % (SD 1), n=100" in text
    # canonical options are shown short, in order; the free-text question is left out (the change says it)
    assert "options: 1. higher | 2. lower | 3. no meaningful difference" in text and "question:" not in text
    ct = render_prompt(_q(source="ct_open", options=["Arm A wins.", "Arm A does not win."]))
    assert "question: How would HbA1c change?" in ct and "1. Arm A wins. | 2. Arm A does not win." in ct
    assert "change:" not in ct
    msgs = render_messages(q)
    assert [m["role"] for m in msgs] == ["system", "user"] and render_messages(q, system=False)[0]["role"] == "user"


def test_format_then_parse():
    text = format_answer([0.1, 0.7, 0.2], "lower dose, less effect")
    p = parse_decision(text, 3)
    assert p.valid and p.choice == 1 and p.probs == pytest.approx([0.1, 0.7, 0.2]) and p.reason == "lower dose, less effect"
    assert one_hot(3, 2, 0.8) == pytest.approx([0.1, 0.1, 0.8])


@pytest.mark.parametrize("text, n, error", [
    ("DECISION: (0.2, 0.8", 2, "no DECISION tuple"),                       # truncated
    ("I think the answer is the first option.", 2, "no DECISION tuple"),  # missing DECISION
    ("DECISION: (0.2, 0.3, 0.5)", 2, "expected 2 scores, got 3"),          # wrong arity
    ("DECISION: (0.9)", 3, "expected 3 scores, got 1"),
    ("DECISION: (-0.2, 1.2)", 2, "negative or non-finite score"),          # negative
    ("DECISION: (0, 0)", 2, "scores sum to zero"),
    ("DECISION: (NaN, 0.5)", 2, "expected 2 scores, got 1"),              # NaN is not a number token
    ("DECISION: ()", 3, "expected 3 scores, got 0"),
    ("", 2, "no DECISION tuple"),
])
def test_malformed_outputs_are_invalid(text, n, error):
    p = parse_decision(text, n)
    assert not p.valid and p.probs is None and p.choice is None and p.error == error


@pytest.mark.parametrize("value", [None, 3, 0.5, ["DECISION: (1, 0)"], {"DECISION": 1}, b"DECISION: (1, 0)"])
def test_non_string_input(value):
    p = parse_decision(value, 2)
    assert not p.valid and p.error == "not text"


def test_percentages_normalised():
    p = parse_decision("DECISION: (20%, 30%, 50%)\nREASON: because", 3)
    assert p.valid and p.probs == pytest.approx([0.2, 0.3, 0.5]) and p.choice == 2 and p.reason == "because"
    p = parse_decision("DECISION: (2, 6, 2)", 3)      # unnormalised scores are normalised
    assert p.valid and p.probs == pytest.approx([0.2, 0.6, 0.2])


def test_extra_text_and_variants():
    text = "Let me think. The dose is higher so...\nDecision = [0.70, 0.30]\nReason: more drug, more effect\nthanks"
    p = parse_decision(text, 2)
    assert p.valid and p.choice == 0 and p.probs == pytest.approx([0.7, 0.3])
    assert p.reason.startswith("more drug")
    # the last DECISION wins (as CT Open's evaluation reads it); an exponent is a number
    p = parse_decision("DECISION: (1, 0) DECISION: (1e-1, 9e-1)", 2)
    assert p.valid and p.choice == 1
    assert math.isclose(sum(p.probs), 1.0)
    # superiority has two options
    p = parse_decision(format_answer([0.9, 0.1]), len(SUPERIORITY_OPTIONS))
    assert p.valid and p.choice == 0 and p.reason == "-"


def _dose_change(anchor_dose, target_dose, factor="dose"):
    from deepimagine.core.questions import CHANGE_OPTIONS

    arm = lambda d: {"label": "A", "type": "EXPERIMENTAL", "intervention": "Drugx", "dose": d}  # noqa: E731
    return Question(id="q", source="natural", kind="dose", category="change", split="train", nct_ids=["N"],
                    factor=factor, from_value="a", to_value="b", options=list(CHANGE_OPTIONS), answer_index=2,
                    context={"anchor": {**arm(anchor_dose), "result": {"value": 1.0}}, "target": arm(target_dose)})


@pytest.mark.parametrize("anchor, target, shown", [
    ({"value": 10, "unit": "mg"}, {"value": 40, "unit": "mg"}, "(dose up x4)"),
    ({"value": 40, "unit": "mg"}, {"value": 10, "unit": "MG"}, "(dose down x0.25)"),
    ({"value": 3, "unit": "mg/kg"}, {"value": 10, "unit": "mg/kg"}, "(dose up x3.3)"),
    ({"value": 10, "unit": "mg"}, {"value": 10, "unit": "mg"}, "(dose same x1)"),
    ({"value": 10, "unit": "mg"}, {"value": 2, "unit": "mg/kg"}, None),     # another unit: no ratio
    (None, {"value": 10, "unit": "mg"}, None),                             # from placebo
    ({"value": 0, "unit": "mg"}, {"value": 10, "unit": "mg"}, None),
])
def test_a_dose_change_shows_its_ratio(anchor, target, shown):
    """A dose step says which way and how many times the dose changes, so the operator need not compare
    numbers in text: a word for the way (up / down) and the ratio."""
    from deepimagine.core.questions import render_prompt

    line = next(x for x in render_prompt(_dose_change(anchor, target)).splitlines() if x.startswith("change:"))
    assert line.endswith(shown) if shown else "(dose " not in line
    other = render_prompt(_dose_change(anchor, target, factor="arm"))   # an arm change compares two drugs: no ratio
    assert "(dose " not in next(x for x in other.splitlines() if x.startswith("change:"))


def _change_question(better, category="change", answer=4):
    from deepimagine.core.questions import CHANGE_OPTIONS

    options = list(CHANGE_OPTIONS) if category == "change" else list(DIRECTION_OPTIONS)
    return Question(id="c", source="natural", kind="dose", category=category, split="train", nct_ids=["N"],
                    factor="dose", from_value="10 mg", to_value="40 mg", options=options, answer_index=answer % len(options),
                    context={"outcome": {"measure": "HbA1c", "better": better},
                             "anchor": {"label": "A", "result": {"value": 1.0}}})


def test_a_lower_is_better_change_lists_its_bins_from_worst_to_best():
    """display_order: on an outcome where lower is better the operator's bins are listed much higher
    -> much lower (worst -> best), so 'better' sits at the same end for every outcome; the stored
    options and answer keep value order, and the model's DECISION is converted at its boundary."""
    from deepimagine.core.questions import answer_text, display_index, display_order, parse_answer, render_prompt

    low = _change_question("lower")
    assert display_order(low) == [4, 3, 2, 1, 0] and display_index(low, 4) == 0
    assert render_prompt(low).splitlines()[-1] == \
        "options: 1. much higher | 2. higher | 3. about the same | 4. lower | 5. much lower"
    for same in (_change_question("higher"), _change_question(None), _change_question("lower", "direction")):
        assert display_order(same) == list(range(len(same.options)))
    # the model answers in the prompt's order: its first option is stored option 4 (much higher, the worst here)
    parsed = parse_answer(low, "DECISION: (0.6, 0.1, 0.1, 0.1, 0.1)\nREASON: more drug")
    assert parsed.valid and parsed.choice == 4 and parsed.probs == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.6])
    assert answer_text(low, one_hot(5, 4, 0.8), "x").startswith("DECISION: (0.80, 0.05, 0.05, 0.05, 0.05)")
    stored = [0.05, 0.1, 0.2, 0.25, 0.4]
    assert parse_answer(low, answer_text(low, stored, "r")).probs == pytest.approx(stored)
    assert not parse_answer(low, "no decision").valid


def test_training_targets_and_rewards_follow_the_displayed_order():
    """SFT's gold completion and GRPO's answer index are in the prompt's order."""
    from deepimagine.train.data import gold_completion, rl_rows

    low = _change_question("lower", answer=4)                  # much higher: the worst change here, listed first
    assert gold_completion(low).startswith("DECISION: (0.80,")
    row = rl_rows([low])[0]
    assert row["answer_index"] == 0 and row["options"][0] == "much higher"
    high = _change_question("higher", answer=4)
    assert gold_completion(high).startswith("DECISION: (0.05, 0.05, 0.05, 0.05, 0.80)")
    assert rl_rows([high])[0]["answer_index"] == 4


def test_a_change_asked_backwards_swaps_its_two_sides_and_mirrors_its_bins():
    """``reversed_change``: the changed arm with the same known result, changed back; twice is the
    original prompt; a step that shows one side only (region, no counterfactual trial) has none."""
    from deepimagine.core.questions import reversed_change, render_prompt

    q = _dose_change({"value": 10, "unit": "mg"}, {"value": 40, "unit": "mg"})
    q.answer_index, q.expected_effect = 4, 0.7
    back = reversed_change(q)
    lines = render_prompt(back).splitlines()
    change = next(x for x in lines if x.startswith("change:"))
    assert change == "change: dose: b -> a (dose down x0.25)"
    assert "known result: 1" in lines and "arm: A [EXPERIMENTAL]: Drugx 40 mg" in lines
    assert "changed arm: A [EXPERIMENTAL]: Drugx 10 mg" in lines
    assert (back.answer_index, back.expected_effect, back.meta["reversed"]) == (0, -0.7, True)
    assert render_prompt(reversed_change(back)) == render_prompt(q)
    assert q.context["anchor"]["dose"]["value"] == 10                        # the original is untouched
    # an outcome (time point) change swaps the two outcomes, the known value stays
    t = _dose_change({"value": 10, "unit": "mg"}, {"value": 10, "unit": "mg"}, factor="time_point")
    t.context["outcome"] = {"measure": "HbA1c", "time_frame": "Week 12", "better": "lower"}
    t.context["target_outcome"] = {"measure": "HbA1c", "time_frame": "Week 24"}
    tb = render_prompt(reversed_change(t))
    assert "outcome: HbA1c | Week 24 | lower is better" in tb and "changed outcome: HbA1c | Week 12" in tb
    assert reversed_change(_dose_change(None, None, factor="region")) is None
    assert reversed_change(_dose_change(None, None, factor="outcome_measure")) is None
    assert reversed_change(Question(**{**q.__dict__, "category": "direction", "options": ["a", "b", "c"],
                                       "answer_index": 0})) is None


@pytest.mark.parametrize("anchor, target, descent", [
    ({"value": 40, "unit": "mg"}, {"value": 10, "unit": "mg"}, True),       # x0.25
    ({"value": 10, "unit": "mg"}, {"value": 40, "unit": "mg"}, False),      # a climb
    ({"value": 10, "unit": "mg"}, {"value": 10, "unit": "mg"}, False),      # the same dose
    ({"value": 10, "unit": "mg"}, None, True),                             # to placebo
    (None, {"value": 10, "unit": "mg"}, False),                            # from placebo
    ({"value": 10, "unit": "mg"}, {"value": 2, "unit": "mg/kg"}, False),   # another unit: no way known
])
def test_a_dose_descent_is_asked_as_its_climb(anchor, target, descent):
    """``canonical_change``: a change down a dose becomes its reversal (the lower-dose state with the
    same known result, the dose raised back; the answer mirrored), so a canonical operator only ever
    reads climbs; every other question is asked as it is."""
    from deepimagine.core.questions import canonical_change, is_dose_descent, render_prompt

    q = _dose_change(anchor, target)
    q.answer_index = 1                                            # lower
    asked, flipped = canonical_change(q)
    assert is_dose_descent(q) is descent and flipped is descent
    if not descent:
        assert asked is q
        return
    assert (asked.answer_index, asked.from_value, asked.to_value) == (3, "b", "a")
    assert asked.context["anchor"]["dose"] == target and asked.context["target"]["dose"] == anchor
    assert asked.context["anchor"]["result"] == {"value": 1.0}            # the known result stays
    assert not is_dose_descent(asked) and canonical_change(asked)[0] is asked
    if target:
        assert "(dose up x4)" in render_prompt(asked)


def test_only_a_dose_change_question_can_be_a_descent():
    from deepimagine.core.questions import canonical_change, is_dose_descent

    down = ({"value": 40, "unit": "mg"}, {"value": 10, "unit": "mg"})
    for q in (_dose_change(*down, factor="arm"), _dose_change(*down, factor="time_point"),
              Question(**{**_dose_change(*down).__dict__, "category": "direction", "options": ["a", "b", "c"],
                          "answer_index": 0})):
        assert not is_dose_descent(q) and canonical_change(q) == (q, False)


def test_canonical_training_data_holds_no_dose_descent_and_no_trace_of_the_other_way():
    """``sft.canonical_changes``: ``canonical_questions`` turns each descent into its climb and counts
    them; a teacher trace written for the descent is not used for its climb (gold target instead)."""
    from deepimagine.core.questions import is_dose_descent
    from deepimagine.train.data import canonical_questions, sft_rows

    down = _dose_change({"value": 40, "unit": "mg"}, {"value": 10, "unit": "mg"})
    down.answer_index = 0                                          # much lower (outcome polarity unknown)
    up = _dose_change({"value": 10, "unit": "mg"}, {"value": 40, "unit": "mg"})
    up.id = "up"
    turned, n = canonical_questions([down, up])
    assert n == 1 and [q.id for q in turned] == ["q~reversed", "up"] and not any(map(is_dose_descent, turned))
    assert turned[0].answer_index == 4
    built = sft_rows(turned, {"q": "DECISION: (0.80, 0.05, 0.05, 0.05, 0.05)\nREASON: less drug"})
    assert built.counts["from_trace"] == 0
    assert built.rows[0]["completion"][0]["content"].startswith("DECISION: (0.05, 0.05, 0.05, 0.05, 0.80)")
