"""Reward functions on hand-written completions (right, wrong, malformed, wrong arity, percentages)."""
import math

import pytest

from deepimagine.questions import format_answer
from deepimagine.train.rewards import REWARDS, correctness, format, get_rewards, log_score

OPTS3 = ["higher", "lower", "no difference"]
OPTS2 = ["superior", "not superior"]


def score(fn, texts, gold, opts=OPTS3):
    return fn(completions=texts, answer_index=[gold] * len(texts), options=[opts] * len(texts))


def test_correctness_right_wrong_malformed_arity():
    texts = [
        "DECISION: (0.7, 0.2, 0.1)\nREASON: higher dose, more effect",  # right
        "DECISION: (0.1, 0.8, 0.1)\nREASON: tolerance",                   # wrong
        "I think it goes up.",                                            # malformed
        "DECISION: (0.9, 0.1)\nREASON: two scores for three options",      # wrong arity
        "DECISION: (0.4, 0.4, 0.2)\nREASON: tie",                          # tie on the gold: not correct
        "DECISION: (70%, 20%, 10%)\nREASON: percentages",                  # percentages are fine
    ]
    assert score(correctness, texts, gold=0) == [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]


def test_log_score_is_monotone_in_gold_probability_and_bounded():
    texts = [format_answer([p, (1 - p) / 2, (1 - p) / 2], "r") for p in (1.0, 0.8, 0.5, 0.2, 0.0)]
    values = score(log_score, texts, gold=0)
    assert values[0] == pytest.approx(1.0)
    assert values[-1] == pytest.approx(0.0)
    assert all(a > b for a, b in zip(values, values[1:]))
    assert values[2] == pytest.approx(1 + math.log(0.5) / -math.log(0.01))
    assert score(log_score, ["garbage", "DECISION: (1, 0)\nREASON: x"], gold=0) == [0.0, 0.0]
    # percentages are normalised like probabilities
    assert score(log_score, ["DECISION: (50%, 25%, 25%)\nREASON: x"], gold=0)[0] == pytest.approx(values[2])


def test_format_requires_right_arity_then_reason():
    texts = [
        "DECISION: (0.6, 0.4)\nREASON: plausible",     # ok
        "DECISION: (0.6, 0.4)",                        # no reason
        "REASON: first\nDECISION: (0.6, 0.4)",         # reason before the decision
        "DECISION: (0.6, 0.3, 0.1)\nREASON: arity",    # wrong arity
        "DECISION: (0, 0)\nREASON: zero",              # unparseable scores
        "",
    ]
    assert score(format, texts, gold=1, opts=OPTS2) == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_conversational_completions_and_registry():
    conv = [[{"role": "assistant", "content": "DECISION: (0.1, 0.9)\nREASON: x"}]]
    kwargs = dict(completions=conv, answer_index=[1], options=[OPTS2], prompts=[[]], trainer_state=None)
    assert [fn(**kwargs)[0] for fn in get_rewards(["correctness", "format"])] == [1.0, 1.0]
    assert set(REWARDS) >= {"correctness", "log_score", "format"}
    with pytest.raises(ValueError, match="unknown reward"):
        get_rewards(["correctness", "nope"])
