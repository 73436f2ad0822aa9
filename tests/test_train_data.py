"""SFT rows: traces are preferred under the example cap, and the counts reconcile."""
from deepimagine.questions import format_answer, one_hot, parse_decision
from deepimagine.train.data import sft_rows

from fixtures.toy import toy_questions


def test_traced_questions_are_taken_first_under_the_cap():
    qs = toy_questions(60, seed=3)
    traced = qs[::6]  # 10 questions with an agreeing trace
    traces = {q.id: format_answer(one_hot(len(q.options), q.answer_index, 0.7), "because") for q in traced}
    data = sft_rows(qs, traces, max_examples=20, seed=0)
    ids = {r["id"] for r in data.rows}
    assert {q.id for q in traced} <= ids and len(ids) == 20
    assert data.counts == {"questions": 20, "from_trace": 10, "from_gold": 10, "traces_rejected": 0}


def test_disagreeing_trace_falls_back_to_the_gold_answer():
    q = toy_questions(1, seed=4)[0]
    wrong = (q.answer_index + 1) % len(q.options)
    data = sft_rows([q], {q.id: format_answer(one_hot(len(q.options), wrong, 0.9), "wrong")})
    assert data.counts["traces_rejected"] == 1 and data.counts["from_gold"] == 1
    parsed = parse_decision(data.rows[0]["completion"][0]["content"], len(q.options))
    assert parsed.choice == q.answer_index
