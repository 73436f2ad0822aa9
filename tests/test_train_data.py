"""SFT rows: traces are preferred under the example cap, and the counts reconcile."""
from deepimagine.core.questions import format_answer, one_hot, parse_decision
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


def test_balanced_operator_selection_weighs_each_source_alike():
    """1,000 natural and 100 synthetic operator questions, a cap of 200: balanced by (source, bin),
    the 100 synthetic ones fill about half the cap instead of about a tenth."""
    from collections import Counter

    from deepimagine.core.questions import CHANGE_OPTIONS, Question
    from deepimagine.train.data import operator_first

    def q(i, source):
        return Question(id=f"{source}{i}", source=source, kind="arm", category="change", split="train", nct_ids=["N"],
                        factor="arm", from_value="a", to_value="b", options=list(CHANGE_OPTIONS), answer_index=i % 5)

    pool = [q(i, "natural") for i in range(1000)] + [q(i, "synthetic") for i in range(100)]
    share = Counter(x.source for x in operator_first(pool, 200, seed=0, balance=True))["synthetic"] / 200
    assert 0.35 < share <= 0.5
    plain = Counter(x.source for x in operator_first(pool, 200, seed=0, balance=False))["synthetic"] / 200
    assert plain < 0.2


def test_factor_weights_shift_the_operator_selection_and_default_to_none():
    """sft.factor_weights: 500 arm and 500 region operator questions, a cap of 200: arm weighted 4
    and region 0.25 fill ~16 times as much of the cap as region does; no weights (the default {})
    select exactly what the plain balanced selection does."""
    from collections import Counter

    from deepimagine.core.questions import CHANGE_OPTIONS, Question
    from deepimagine.train.data import operator_first

    def q(i, factor):
        return Question(id=f"{factor}{i}", source="synthetic", kind=factor, category="change", split="train",
                        nct_ids=["N"], factor=factor, from_value="a", to_value="b", options=list(CHANGE_OPTIONS),
                        answer_index=i % 5)

    pool = [q(i, "arm") for i in range(500)] + [q(i, "region") for i in range(500)]
    weighted = Counter(x.factor for x in operator_first(pool, 200, 0, True, {"arm": 4.0, "region": 0.25}))
    assert weighted["arm"] + weighted["region"] == 200 and weighted["arm"] > 180
    even = Counter(x.factor for x in operator_first(pool, 200, 0, True, {}))
    assert 70 < even["arm"] < 130
    assert [x.id for x in operator_first(pool, 200, 0, True, {})] == [x.id for x in operator_first(pool, 200, 0, True)]


def test_model_system_prompt_reaches_sft_and_grpo_prompts_and_evaluation(monkeypatch, tmp_path):
    """``model.system_prompt``: SFT rows, GRPO prompts and the evaluated prompts open with the
    system prompt, or start at the user turn; the question itself is the same."""
    import deepimagine.evaluate.llm as llm
    from deepimagine.core import params as P
    from deepimagine.core.questions import SYSTEM_PROMPT
    from deepimagine.train.data import rl_rows

    q = toy_questions(1, seed=5)[0]
    with_sys, without = sft_rows([q], {}).rows[0]["prompt"], sft_rows([q], {}, system=False).rows[0]["prompt"]
    assert with_sys[0] == {"role": "system", "content": SYSTEM_PROMPT} and without == with_sys[1:]
    assert [m["role"] for m in rl_rows([q], system=False)[0]["prompt"]] == ["user"]
    seen = {}

    class Recorder:   # what the evaluation renders for the model
        def score_options(self, msgs, conts, adapter=None):
            seen[flag] = msgs[0]
            return [[0.0] * len(c) for c in conts]

    monkeypatch.setattr(llm, "get_generator", lambda *a, **k: Recorder())
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "config.json").write_text("{}")   # a base to resolve; the recorder stands in for it
    for flag in (True, False):
        params = P.load("params.yaml", overrides=[f"model.system_prompt={str(flag).lower()}"])
        llm.LLMPredictor(params, "base", "direct", models_dir=tmp_path)._option_scores([q])
    assert seen[True][0]["role"] == "system" and seen[False] == seen[True][1:]
