"""The openai predictor backend (``model.backend: openai``): the Generator interface over any
OpenAI-compatible server, against a local fault-injecting server on 127.0.0.1."""
import threading

import pytest

from deepimagine.core import params as params_mod
from deepimagine.core import generate, openai_client
from deepimagine.core.questions import parse_decision, render_messages

from fixtures import toy
from openai_server import OpenAIServer


def _generator(url, **kw):
    return generate.Generator("served-model", backend="openai", openai_base_url=url, **kw)


def test_generates_through_the_server_concurrently_with_retries(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    qs = [q for q in toy.toy_questions(20, seed=1) if len(q.options) == 3][:6]
    msgs = [render_messages(q) for q in qs]
    with OpenAIServer(faults=[429, 503], delay_s=0.05) as server:
        g = _generator(server.url, openai_concurrency=3, enable_thinking=True)
        g.backend.client.backoff_base_s = 0.01
        outs = g.generate(msgs, max_new_tokens=64, n=2, temperature=0.7, seed=3)
    assert [len(o) for o in outs] == [2] * 6 and all(parse_decision(t, 3).choice == 1 for o in outs for t in o)
    assert server.statuses == {429: 6, 503: 6, 200: 6} and 1 < server.max_in_flight <= 3
    body = server.requests[0]["body"]
    assert body["model"] == "served-model" and body["max_tokens"] == 64 and body["n"] == 2
    assert body["temperature"] == 0.7 and body["seed"] == 3
    assert all(any(r["body"]["messages"] == m for r in server.requests) for m in msgs)   # the chats, unrendered
    assert body["chat_template_kwargs"] == {"enable_thinking": True}
    assert server.requests[0]["auth"] == "Bearer k"
    assert g.counts["generated"] == 12 and g.counts["truncated"] == 0


def test_adapters_are_served_model_names_and_budget_hits_are_counted(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    lock = threading.Lock()
    models = []

    def answer(body):
        with lock:
            models.append(body["model"])
        return ("<think>the dose doubles", "length") if body["model"] == "sft" else ("DECISION: (0.2, 0.8)", "stop")

    msgs = [[{"role": "user", "content": "q"}]]
    with OpenAIServer(answer=answer) as server:
        g = _generator(server.url, openai_chat_template_kwargs=False)
        assert g.generate(msgs, decision_only=True) == [["DECISION: (0.2, 0.8)"]]
        assert g.generate(msgs, adapter="sft") == [["<think>the dose doubles"]]   # vllm serve --lora-modules sft=...
        assert "chat_template_kwargs" not in server.requests[0]["body"]
    assert models == ["served-model", "sft"]
    assert g.counts == {"generated": 2, "hit_limit": 1, "truncated": 1}


def test_score_options_tells_the_user_to_generate():
    g = _generator("http://127.0.0.1:9/v1")
    with pytest.raises(NotImplementedError, match="model.decision: generate"):
        g.score_options([[{"role": "user", "content": "q"}]], [["DECISION: (1, 0)"]])


def test_from_params_and_errors(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    p = params_mod.from_dict({"model": {"backend": "openai", "openai_model": "m", "enable_thinking": True,
                                        "openai_base_url": "http://127.0.0.1:9/v1", "openai_concurrency": 5}})
    g = generate.Generator.from_params(p)
    assert g.backend_name == "openai" and g.backend.client.model == "m" and g.backend.client.concurrency == 5
    assert g.backend.extra == {"chat_template_kwargs": {"enable_thinking": True}}
    with pytest.raises(ValueError, match="openai_model"):
        generate.Generator.from_params(params_mod.from_dict({"model": {"backend": "openai"}}))
    with pytest.raises(params_mod.ParamsError, match="openai_concurrency"):
        params_mod.from_dict({"model": {"openai_concurrency": 0}})
    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    with pytest.raises(ValueError, match="plain http"):
        _generator("http://10.0.0.5:8000/v1")
    with OpenAIServer() as server:
        server.down = True
        g = _generator(server.url)
        g.backend.client.max_retries, g.backend.client.backoff_base_s = 1, 0.01
        with pytest.raises(RuntimeError, match="1 of 1 requests .* failed"):
            g.generate([[{"role": "user", "content": "q"}]])


def test_backoff_is_jittered_exponential_and_honours_retry_after():
    import random

    rng = random.Random(0)
    delays = [[openai_client.backoff_delay(a, 1.0, 60.0, rng=rng) for _ in range(200)] for a in range(8)]
    assert all(0 <= d <= min(60, 2 ** a) for a, ds in enumerate(delays) for d in ds)
    assert max(delays[0]) <= 1 and max(delays[5]) > 16 and len(set(delays[3])) > 100   # grows, and is spread
    assert openai_client.backoff_delay(0, 1.0, 60.0, retry_after="7") == 7.0
    assert openai_client.backoff_delay(0, 1.0, 5.0, retry_after="700") == 5.0
    assert openai_client.message_text({"content": "A", "reasoning_content": "R"}) == "<think>\nR\n</think>\n\nA"
