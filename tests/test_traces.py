"""Traces: template teacher, agreement filter (a wrong trace is dropped and counted), the
OpenAI-compatible teacher against a local HTTP server, and the stage outputs."""
import json
import threading

import pytest

from deepimagine.core import io
from deepimagine.core import params as params_mod
from deepimagine.core.questions import format_answer, one_hot, parse_decision
from deepimagine.traces import stage, teachers

from fixtures import toy
from openai_server import OpenAIServer


def test_template_trace_is_short_and_follows_mechanism():
    q = toy.toy_questions(1, seed=1)[0]
    text, basis = teachers.template_trace(q)
    parsed = parse_decision(text, len(q.options))
    assert parsed.valid and basis == "mechanism"
    assert q.from_value in parsed.reason and q.to_value in parsed.reason and "Emax" in parsed.reason
    assert len(parsed.reason.split(". ")) <= 3 and len(text) < 400
    # the decision comes from expected_effect, not from the gold answer
    flipped = toy.toy_questions(1, seed=1)[0]
    flipped.expected_effect = -flipped.expected_effect
    assert teachers.template_trace(flipped)[0] != text


def test_template_uses_truth_mechanism_text():
    q = toy.toy_questions(1, seed=1)[0]
    truth = {"world": {"drugs": {"d1": {"name": "Metformin", "mechanism_class": "biguanide"}}},
             "studies": {q.nct_ids[0]: {"arms": {q.context["target"]["label"]: {"drug": "d1"}}}}}
    text, _ = teachers.template_trace(q, truth)
    assert "Metformin (biguanide)" in text


def test_rationalized_without_expected_effect():
    q = toy.toy_questions(1, seed=2)[0]
    q.expected_effect = None
    text, basis = teachers.template_trace(q)
    assert basis == "rationalized" and parse_decision(text, len(q.options)).choice == q.answer_index


class WrongTeacher:
    """Answers every question with the wrong option; one answer unparseable."""
    name = "wrong"

    def complete(self, questions):
        out = [format_answer(one_hot(len(q.options), (q.answer_index + 1) % len(q.options), 0.9), "wrong")
               for q in questions]
        out[0] = "I cannot decide."
        return out


def test_agreement_filter_drops_and_counts():
    qs = toy.toy_questions(5, seed=3)
    kept, dropped, m = stage.build_traces(qs, WrongTeacher())
    assert kept == [] and m["kept"] == 0 and m["dropped"] == 4 and m["invalid"] == 1
    assert {d["status"] for d in dropped} == {"dropped", "invalid"}
    kept, dropped, m = stage.build_traces(qs, teachers.TemplateTeacher())
    assert m["kept"] + m["dropped"] + m["invalid"] == 5
    assert all(parse_decision(r["completion"], 3).choice == q.answer_index
               for r in kept for q in qs if q.id == r["question_id"] and len(q.options) == 3)


def _three_option_questions(n=3, seed=4):
    return [q for q in toy.toy_questions(4 * n, seed=seed) if len(q.options) == 3][:n]


def test_openai_teacher_against_local_server(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    qs = _three_option_questions()
    with OpenAIServer() as server:
        teacher = teachers.OpenAITeacher(server.url, "teacher-model", max_tokens=77, enable_thinking=True)
        kept, dropped, m = stage.build_traces(qs, teacher)
    seen = server.requests
    assert len(seen) == 3 and seen[0]["path"] == "/v1/chat/completions"
    assert seen[0]["body"]["model"] == "teacher-model" and seen[0]["auth"] == "Bearer test-key"
    assert seen[0]["body"]["messages"][0]["role"] == "system"
    assert seen[0]["body"]["max_tokens"] == 77
    assert seen[0]["body"]["chat_template_kwargs"] == {"enable_thinking": True}   # model.enable_thinking reaches it
    assert m["kept"] == sum(q.answer_index == 1 for q in qs) and m["invalid"] == 0
    assert all(r["teacher"] == "openai" for r in kept)


def test_openai_teacher_retries_429_and_500_concurrently(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    qs = _three_option_questions(8, seed=5)
    with OpenAIServer(faults=[429, 500], delay_s=0.05) as server:
        teacher = teachers.OpenAITeacher(server.url, "m", concurrency=4, backoff_base_s=0.01,
                                         chat_template_kwargs=False, work_dir=tmp_path)
        texts = teacher.complete(qs)
    assert len(texts) == 8 and all(parse_decision(t, 3).valid for t in texts)
    assert server.statuses == {429: 8, 500: 8, 200: 8}          # every chat failed twice, then succeeded
    assert 1 < server.max_in_flight <= 4                        # concurrent, never above traces.concurrency
    assert "chat_template_kwargs" not in server.requests[0]["body"] and server.requests[0]["auth"] is None


def test_openai_teacher_gives_up_on_bad_requests_and_persistent_errors(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    qs = _three_option_questions(2)
    with OpenAIServer(faults=[400]) as server:
        with pytest.raises(RuntimeError, match="HTTP 400"):
            teachers.OpenAITeacher(server.url, "m", backoff_base_s=0.01).complete(qs)
        assert server.statuses[400] == 2 and len(server.requests) == 2     # a 400 is not retried
    with OpenAIServer(faults=[500] * 10) as server:
        with pytest.raises(RuntimeError, match="gave up after 3 attempts"):
            teachers.OpenAITeacher(server.url, "m", max_retries=2, backoff_base_s=0.01).complete(qs[:1])


def test_interrupted_teacher_run_resumes(tmp_path, monkeypatch):
    """The server goes down mid-run: completed traces are kept in the work file; the rerun asks only
    for the rest, and its result equals an uninterrupted run's."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    qs = _three_option_questions(6, seed=6)
    answers = {q.id: format_answer(one_hot(3, i % 3, 0.7), f"reason {i}") for i, q in enumerate(qs)}

    per_prompt = {teachers.teacher_messages(q)[-1]["content"]: answers[q.id] for q in qs}

    def answer(body):
        return per_prompt[body["messages"][-1]["content"]]

    with OpenAIServer(answer=answer) as server:
        reference = teachers.OpenAITeacher(server.url, "m").complete(qs)
    work = tmp_path / "partial"
    with OpenAIServer(answer=answer) as server:
        teacher = teachers.OpenAITeacher(server.url, "m", concurrency=1, max_retries=0, work_dir=work)
        first = teacher.complete(qs[:4])          # four traces complete ...
        server.down = True                        # ... then the server goes down
        with pytest.raises(RuntimeError, match="4 completed traces are saved .* rerun to resume"):
            teacher.complete(qs)
        server.down = False
        before = len(server.requests)
        again = teachers.OpenAITeacher(server.url, "m", concurrency=3, work_dir=work)
        resumed = again.complete(qs)
        asked = [r["body"]["messages"][-1]["content"] for r in server.requests[before:]]
    assert resumed == reference and first == reference[:4]
    assert again.resumed == 4 and len(asked) == 2
    assert set(asked) == {teachers.teacher_messages(q)[-1]["content"] for q in qs[4:]}
    files = list(work.glob("openai-*.jsonl"))
    assert len(files) == 1 and len(files[0].read_text().splitlines()) == 6
    # a half-written last line (killed mid-write) is ignored; a changed prompt is asked again
    with files[0].open("a") as f:
        f.write('{"question_id": "cut')
    qs[0].to_value = "a changed value"
    per_prompt[teachers.teacher_messages(qs[0])[-1]["content"]] = answers[qs[0].id]
    with OpenAIServer(answer=answer) as server:
        third = teachers.OpenAITeacher(server.url, "m", work_dir=work)
        assert third.complete(qs) == reference and third.resumed == 5 and len(server.requests) == 1
    # the cut line did not swallow the row written after it
    assert teachers.ResumeFile(files[0]).get(qs[0].id, teachers._sha(teachers.teacher_messages(qs[0])))
    # another configuration (here the token budget) never reuses these traces; another URL does
    assert teachers.OpenAITeacher("http://127.0.0.1:9/v1", "m", max_tokens=99, work_dir=work).resume_path() != files[0]
    assert teachers.OpenAITeacher("http://127.0.0.1:9/v1", "m", work_dir=work).resume_path() == files[0]


def test_truncated_and_invalid_traces_counted_by_reason(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    qs = _three_option_questions(4, seed=7)
    replies = iter([("<think>the dose doubles, so", "length"),          # budget hit while thinking
                    ("<think>echo DECISION: (0.1, 0.8, 0.1)", "length"), # a template inside unfinished thinking
                    ("DECISION: (0.5, 0.5)\nREASON: two", "stop"),      # wrong arity
                    ("I cannot tell.", "stop")])
    lock = threading.Lock()

    def answer(body):
        with lock:
            return next(replies)

    with OpenAIServer(answer=answer) as server:
        kept, dropped, m = stage.build_traces(qs, teachers.OpenAITeacher(server.url, "m", concurrency=1))
    assert m["invalid"] == 4 and m["truncated"] == 2 and kept == []
    assert m["invalid_by_reason"] == {"expected 3 scores, got 2": 1, "no DECISION tuple": 1,
                                      "truncated (hit the token budget; no DECISION tuple)": 2}


def test_server_reasoning_is_kept_as_think_block(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    qs = _three_option_questions(1)
    with OpenAIServer(reasoning="Doubling the dose moves up the Emax curve.") as server:
        text = teachers.OpenAITeacher(server.url, "m").complete(qs)[0]
    assert text.startswith("<think>\nDoubling the dose") and parse_decision(text, 3).choice == 1


def test_api_key_never_sent_over_plain_http_to_remote_hosts(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    with pytest.raises(ValueError, match="plain http"):
        teachers.OpenAITeacher("http://example.org/v1", "m")
    teachers.OpenAITeacher("https://example.org/v1", "m")      # https: fine (nothing is sent yet)
    teachers.OpenAITeacher("http://localhost:8000/v1", "m")     # loopback: fine
    monkeypatch.delenv("OPENAI_API_KEY")
    teachers.OpenAITeacher("http://example.org/v1", "m")        # no key, nothing to leak


def test_stage_writes_outputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    qs = toy.toy_questions(30, seed=5)
    io.write_jsonl("data/pairs/train.jsonl", [q.to_row() for q in qs])
    stage.run(params_mod.from_dict({"traces": {"max_traces": 20}}))
    m = io.read_json("metrics/traces.json")
    kept = list(io.read_jsonl("data/traces/traces.jsonl"))
    dropped = list(io.read_jsonl("data/traces/dropped.jsonl"))
    assert m["considered"] == 20 == len(kept) + len(dropped) and m["train_questions"] == 30
    assert all(r["agrees"] for r in kept) and len(kept) == m["kept"]
    first = (tmp_path / "data/traces/traces.jsonl").read_bytes()
    stage.run(params_mod.from_dict({"traces": {"max_traces": 20}}))
    assert (tmp_path / "data/traces/traces.jsonl").read_bytes() == first   # deterministic


def test_calibration_paths_are_never_training_paths():
    from deepimagine.traces.imagined import split_paths

    def cell(n, o=1, g="A"):
        return {"nct_id": f"NCT{n}", "outcome_id": o, "group_id": g}

    pairs = [(cell(1), cell(2)), (cell(3), cell(4)), (cell(1), cell(2)), (cell(5), cell(6)), (cell(5), cell(6)),
             (cell(3), cell(4), ), (cell(7), cell(8))]
    train, cal = split_paths(pairs, 2)
    assert train == pairs[:2]
    assert cal == [(cell(5), cell(6)), (cell(7), cell(8))]     # repeats of training paths and of each other dropped
