"""Traces: template teacher, agreement filter (a wrong trace is dropped and counted), the
OpenAI-compatible teacher against a local HTTP server, and the stage outputs."""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from deepimagine import io
from deepimagine import params as params_mod
from deepimagine.questions import format_answer, one_hot, parse_decision
from deepimagine.traces import stage, teachers

from fixtures import toy


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


@pytest.fixture()
def openai_server():
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
            prompt = body["messages"][-1]["content"]
            answer = "DECISION: (0.1, 0.8, 0.1)\nREASON: A higher dose lowers it." if "Options" in prompt else "?"
            data = json.dumps({"choices": [{"message": {"role": "assistant", "content": answer}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    server.shutdown()


def test_openai_teacher_against_local_server(openai_server, monkeypatch):
    url, seen = openai_server
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    qs = [q for q in toy.toy_questions(10, seed=4) if len(q.options) == 3][:3]
    teacher = teachers.OpenAITeacher(url, "teacher-model")
    kept, dropped, m = stage.build_traces(qs, teacher)
    assert len(seen) == 3 and seen[0]["path"] == "/v1/chat/completions"
    assert seen[0]["body"]["model"] == "teacher-model" and seen[0]["auth"] == "Bearer test-key"
    assert seen[0]["body"]["messages"][0]["role"] == "system"
    assert m["kept"] == sum(q.answer_index == 1 for q in qs) and m["invalid"] == 0
    assert all(r["teacher"] == "openai" for r in kept)


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
