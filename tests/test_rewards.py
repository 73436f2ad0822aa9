"""Reward functions on hand-written completions (right, wrong, malformed, wrong arity, percentages)."""
import math

import pytest

from deepimagine.core.questions import format_answer
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


# ---------------------------------------------------------------- reasoning models (<think> ... </think>)

def test_parser_reads_the_last_decision_outside_thinking():
    from deepimagine.core.questions import parse_decision, strip_thinking

    thought = "<think>The template says DECISION: (0.1, 0.1, 0.8). Hmm.</think>\nDECISION: (0.7, 0.2, 0.1)\nREASON: dose"
    p = parse_decision(thought, 3)
    assert p.valid and p.choice == 0 and p.reason == "dose"
    # the chat template opened <think> in the prompt: only the text after </think> is the answer
    assert parse_decision("DECISION: (0.1, 0.1, 0.8)\n</think>\nDECISION: (0.2, 0.7, 0.1)\nREASON: r", 3).choice == 1
    # unclosed thinking (the budget ran out): nothing after <think> counts
    assert not parse_decision("<think>so DECISION: (0.8, 0.1, 0.1)\nREASON: x", 3).valid
    # the last DECISION wins, with the REASON that follows it
    p = parse_decision("DECISION: (0.1, 0.8, 0.1)\nREASON: first\nDECISION: (0.8, 0.1, 0.1)\nREASON: second", 3)
    assert p.choice == 0 and p.reason == "second"
    # the echoed template's placeholders are not scores
    assert parse_decision("DECISION: (p1, p2, p3)", 3).error == "placeholder scores"
    assert strip_thinking("a<think>b</think>c<THINK>d") == "ac"


def test_template_echoed_inside_thinking_earns_no_reward():
    echoed = [
        "<think>Answer with DECISION: (0.9, 0.05, 0.05) then REASON: x</think>",          # nothing outside
        "<think>DECISION: (0.9, 0.05, 0.05)\nREASON: the gold, while thinking",            # never closed
        "<think>Answer with DECISION: (p1, p2, p3) then REASON: ...</think>\nI am not sure.",
        "DECISION: (p1, p2, p3)\nREASON: ...",                                             # the template itself
    ]
    for fn in (correctness, log_score, format):
        assert score(fn, echoed, gold=0) == [0.0] * len(echoed), fn.__name__
    answered = "<think>DECISION: (0.1, 0.8, 0.1) is wrong</think>\nDECISION: (0.8, 0.1, 0.1)\nREASON: dose"
    assert [score(fn, [answered], gold=0)[0] for fn in (correctness, format)] == [1.0, 1.0]
    assert score(log_score, [answered], gold=0)[0] == pytest.approx(1 + math.log(0.8) / -math.log(0.01))
