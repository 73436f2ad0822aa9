"""Generation backends: transformers (greedy deterministic, seeded sampling, decision-only stop);
the vLLM backend module imports without vLLM and is exercised only with CUDA."""
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from deepimagine.core import generate
from deepimagine.core.questions import render_messages, render_prompt

from fixtures import toy


@pytest.fixture(scope="module")
def model_dir(tiny_base_dir):
    return str(tiny_base_dir)


def test_greedy_is_deterministic_and_batch_invariant(model_dir):
    g = generate.Generator(model_dir, backend="transformers", batch_size=4)
    msgs = [render_messages(q) for q in toy.toy_questions(6, seed=2)]
    a = g.generate(msgs, max_new_tokens=12)
    b = g.generate(msgs, max_new_tokens=12)
    assert a == b and len(a) == 6 and all(len(x) == 1 for x in a)
    singles = [g.generate([m], max_new_tokens=12)[0] for m in msgs[:2]]
    assert singles == a[:2]   # left padding does not change greedy outputs


def test_sampling_is_seeded(model_dir):
    g = generate.Generator(model_dir, backend="transformers")
    msgs = [render_messages(q) for q in toy.toy_questions(2, seed=3)]
    s1 = g.generate(msgs, max_new_tokens=12, temperature=1.0, n=3, seed=7)
    s2 = g.generate(msgs, max_new_tokens=12, temperature=1.0, n=3, seed=7)
    s3 = g.generate(msgs, max_new_tokens=12, temperature=1.0, n=3, seed=8)
    assert s1 == s2 and all(len(x) == 3 for x in s1)
    assert s1 != s3


def test_truncate_at_stop_and_decision_only():
    text = "DECISION: (0.2, 0.8)\nREASON: because"
    assert generate.truncate_at_stop(text, None, True) == "DECISION: (0.2, 0.8)"
    assert generate.truncate_at_stop(text, ["\n"], False) == "DECISION: (0.2, 0.8)"
    assert generate.truncate_at_stop("no decision yet", None, True) == "no decision yet"


def test_backend_choice_and_missing_adapter(model_dir, tmp_path):
    assert generate.choose_backend("transformers") == "transformers"
    if not torch.cuda.is_available():
        assert generate.choose_backend("auto") == "transformers"
        with pytest.raises(RuntimeError):
            generate.choose_backend("vllm")
    with pytest.raises(ValueError):
        generate.choose_backend("tgi")
    with pytest.raises(FileNotFoundError):
        generate.Generator(model_dir, adapter_path=str(tmp_path), backend="transformers")


def test_peft_adapter_is_applied(model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    peft_model.save_pretrained(tmp_path / "adapter")
    msgs = [render_messages(q) for q in toy.toy_questions(3, seed=4)]
    plain = generate.Generator(model_dir, backend="transformers").generate(msgs, max_new_tokens=10)
    tuned = generate.Generator(model_dir, str(tmp_path / "adapter"), backend="transformers").generate(msgs, max_new_tokens=10)
    assert plain != tuned


def test_vllm_backend_module_imports_lazily():
    """Importing the generation module (and its vLLM backend class) must not import vLLM: a fresh
    interpreter, where an import of vllm would fail loudly, proves it."""
    code = ("import sys; sys.modules['vllm'] = None\n"      # any `import vllm` now raises ImportError
            "from deepimagine.core.generate import VllmBackend\n"
            "assert isinstance(VllmBackend, type), VllmBackend\n"
            "print('vllm' in sys.modules and sys.modules['vllm'] is not None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"importing deepimagine.core.generate failed without vLLM:\n{out.stderr}"
    assert out.stdout.strip() == "False", "deepimagine.core.generate imported vllm at module level"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_vllm_backend_generates(model_dir):
    pytest.importorskip("vllm")
    g = generate.Generator(model_dir, backend="vllm")
    msgs = [render_messages(q) for q in toy.toy_questions(2, seed=5)]
    assert g.generate(msgs, max_new_tokens=8) == g.generate(msgs, max_new_tokens=8)


def test_likelihood_scores_match_a_manual_forward_pass(model_dir):
    """score_options sums the continuation's token log-probs after the chat prompt, batch-invariantly."""
    g = generate.Generator(model_dir, backend="transformers", batch_size=2)
    qs = toy.toy_questions(3, seed=5)
    from deepimagine.evaluate.llm import decision_candidates, likelihood_answer
    from deepimagine.core.questions import parse_decision

    cands = [decision_candidates(len(q.options)) for q in qs]
    scores = g.score_options([render_messages(q) for q in qs], cands)
    assert [len(s) for s in scores] == [len(c) for c in cands]
    assert all(s < 0 for row in scores for s in row)
    # manual: one sequence, full forward, sum log p of the continuation tokens
    tok, model = g.backend.tokenizer, g.backend.model
    prompt = g.render(render_messages(qs[0]))
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    c_ids = tok(cands[0][1], add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=torch.tensor([p_ids + c_ids])).logits[0].float(), -1)
    manual = sum(float(logp[len(p_ids) - 1 + k, t]) for k, t in enumerate(c_ids))
    assert abs(manual - scores[0][1]) < 1e-3
    assert g.score_options([render_messages(qs[0])], [cands[0]])[0] == pytest.approx(scores[0], abs=1e-4)
    # the answer built from the scores is a valid DECISION whose argmax is the most likely option
    parsed = parse_decision(likelihood_answer(scores[0]), len(cands[0]))
    assert parsed.valid and parsed.choice == max(range(len(cands[0])), key=scores[0].__getitem__)


def test_prefix_cached_scoring_equals_one_pass_per_pair(model_dir):
    """The cached path (prompt once, continuations on its KV cache) gives the per-pair log-probs,
    with prompts of different lengths and option counts in one padded batch."""
    g = generate.Generator(model_dir, backend="transformers", batch_size=3)
    from deepimagine.evaluate.llm import decision_candidates

    qs = toy.toy_questions(7, seed=11)
    prompts = [g.render(render_messages(q), thinking=False) for q in qs]
    cands = [decision_candidates(2 + i % 4) for i in range(len(qs))]   # 2..5 options
    assert g.backend._full_attention_only()
    assert generate.shared_prefix([g.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]) > 20  # the system prompt
    cached = g.backend.score_cached(prompts, cands)
    pairs = g.backend.score_pairs(prompts, cands)
    assert [len(r) for r in cached] == [len(c) for c in cands]
    assert cached == [pytest.approx(r, abs=1e-4) for r in pairs]


# ---------------------------------------------------------------- one engine, several adapters

def _adapter(model_dir, out, seed):
    """A LoRA adapter with random (non-zero) B weights: its outputs differ from the base's."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=16, target_modules="all-linear",
                                                  init_lora_weights=False))
    peft_model.save_pretrained(out)
    return str(out)


@pytest.fixture(scope="module")
def two_adapters(model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    return {"a": _adapter(model_dir, root / "a", 1), "b": _adapter(model_dir, root / "b", 2)}


def _flat(rows):
    return [x for row in rows for x in row]


def _close(x, y, tol=1e-4):
    return len(x) == len(y) and _flat(x) == pytest.approx(_flat(y), abs=tol)


def test_one_generator_serves_base_and_every_adapter(model_dir, two_adapters):
    from deepimagine.evaluate.llm import decision_candidates

    qs = toy.toy_questions(3, seed=6)
    msgs, cands = [render_messages(q) for q in qs], [decision_candidates(len(q.options)) for q in qs]
    multi = generate.Generator(model_dir, adapters=two_adapters, backend="transformers", batch_size=2)
    scores = {name: multi.score_options(msgs, cands, adapter=name) for name in ("a", "b", "base")}
    scores["none"] = multi.score_options(msgs, cands)            # no default adapter: the base
    texts = {name: multi.generate(msgs, max_new_tokens=8, adapter=name) for name in ("a", "b", "base")}
    assert scores["none"] == scores["base"]
    flat = {k: _flat(v) for k, v in scores.items()}
    for x, y in (("a", "b"), ("a", "base"), ("b", "base")):
        assert max(abs(u - v) for u, v in zip(flat[x], flat[y])) > 1e-3, (x, y)
    # each equals a generator holding only that adapter (or none), whatever was active before
    for name, path in two_adapters.items():
        single = generate.Generator(model_dir, adapters={name: path}, backend="transformers", batch_size=2)
        assert _close(single.score_options(msgs, cands, adapter=name), scores[name])
        assert single.generate(msgs, max_new_tokens=8, adapter=name) == texts[name]
        old = generate.Generator(model_dir, path, backend="transformers", batch_size=2)   # the old single-adapter form
        assert _close(old.score_options(msgs, cands), scores[name])
        assert _close(old.score_options(msgs, cands, adapter="base"), scores["base"])
    plain = generate.Generator(model_dir, backend="transformers", batch_size=2)
    assert _close(plain.score_options(msgs, cands), scores["base"])
    assert plain.generate(msgs, max_new_tokens=8) == texts["base"]
    assert _close(multi.score_options(msgs, cands, adapter="a"), scores["a"], 1e-5)  # switching back
    with pytest.raises(KeyError, match="unknown adapter 'c'"):
        multi.score_options(msgs, cands, adapter="c")


def test_merged_copies_score_as_the_peft_model(model_dir, two_adapters, monkeypatch):
    """The tiny model holds a merged copy per adapter; a large one switches adapters in one PEFT
    model. Both give the same scores and generations (forced here by moving the size threshold)."""
    from deepimagine.evaluate.llm import decision_candidates

    qs = toy.toy_questions(3, seed=7)
    msgs, cands = [render_messages(q) for q in qs], [decision_candidates(len(q.options)) for q in qs]
    merged = generate.Generator(model_dir, adapters=two_adapters, backend="transformers", batch_size=2)
    assert set(merged.backend.merged) == {None, "a", "b"}
    monkeypatch.setattr(generate, "MERGE_ADAPTERS_BELOW_PARAMS", 0)
    peft = generate.Generator(model_dir, adapters=two_adapters, backend="transformers", batch_size=2)
    assert not peft.backend.merged
    for name in ("b", "a", "base", "a"):
        assert _close(merged.score_options(msgs, cands, adapter=name), peft.score_options(msgs, cands, adapter=name), 1e-4)
        assert merged.generate(msgs, max_new_tokens=8, adapter=name) == peft.generate(msgs, max_new_tokens=8, adapter=name)


def test_adapter_arguments_and_vllm_rank_buckets(model_dir, tmp_path):
    assert generate.normalize_adapters("x/y") == {"default": "x/y"}
    assert generate.normalize_adapters(None, adapter_path="x/y") == {"default": "x/y"}
    assert generate.normalize_adapters(None) == {}
    with pytest.raises(ValueError, match="reserved"):
        generate.normalize_adapters({"base": "x"})
    with pytest.raises(ValueError, match="not both"):
        generate.normalize_adapters({"a": "x"}, adapter_path="y")
    with pytest.raises(FileNotFoundError, match="adapter 'b'"):
        generate.Generator(model_dir, adapters={"b": str(tmp_path)}, backend="transformers")
    assert [generate.lora_rank_bucket(r) for r in (1, 4, 16, 17, 64, 300)] == [1, 8, 16, 32, 64, 320]
    with pytest.raises(ValueError):
        generate.lora_rank_bucket(1024)


# ---------------------------------------------------------------- thinking and budgets

THINKING_TEMPLATE = (  # Qwen3.5's generation prompt: an open <think>, or an empty closed block without thinking
    "{%- for m in messages %}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}"
    "{%- else %}{{- '<think>\\n' }}{%- endif %}{%- endif %}")


def test_enable_thinking_reaches_generation_but_not_likelihood_scoring(model_dir):
    from deepimagine.evaluate.llm import decision_candidates

    q = toy.toy_questions(1, seed=7)[0]
    msgs, cands = [render_messages(q)], [decision_candidates(len(q.options))]
    on = generate.Generator(model_dir, backend="transformers", enable_thinking=True)
    off = generate.Generator(model_dir, backend="transformers")
    for g in (on, off):
        g.tokenizer.chat_template = THINKING_TEMPLATE
    assert on.render(msgs[0]).endswith("assistant\n<think>\n")
    assert off.render(msgs[0]).endswith("<think>\n\n</think>\n\n")
    # scoring puts the candidate where a non-thinking answer starts, thinking on or off
    expected = on.backend.score([off.render(msgs[0])], cands)
    assert _close(on.score_options(msgs, cands), expected, 1e-5)
    inside = on.backend.score([on.render(msgs[0])], cands)
    assert max(abs(a - b) for a, b in zip(inside[0], expected[0])) > 1e-5   # beyond the 1e-5 agreement above


def test_truncations_are_counted(model_dir):
    g = generate.Generator(model_dir, backend="transformers")
    msgs = [render_messages(q) for q in toy.toy_questions(4, seed=8)]
    outs = g.generate(msgs, max_new_tokens=2)
    assert g.counts["generated"] == 4
    # two tokens cannot hold a DECISION tuple: every completion that did not stop is a truncation
    assert g.counts["truncated"] == g.counts["hit_limit"] == sum(len(o[0]) > 0 for o in outs) > 0
    before = dict(g.counts)
    # a DECISION inside unfinished thinking is a truncation; one after </think> is not; a stopped one is not
    g.count([[("<think>DECISION: (0.5, 0.5)", True), ("</think>DECISION: (0.5, 0.5)", True), ("x", False)]], 8)
    assert {k: g.counts[k] - before[k] for k in before} == {"generated": 3, "hit_limit": 2, "truncated": 1}


def test_decision_only_ignores_decisions_inside_thinking():
    text = "<think>DECISION: (0.1, 0.9) maybe</think>\nDECISION: (0.7, 0.3)\nREASON: r"
    assert generate.truncate_at_stop(text, None, True) == text[:text.index("\nREASON")]
    assert generate.truncate_at_stop("<think>DECISION: (0.1, 0.9)", None, True) == "<think>DECISION: (0.1, 0.9)"
    assert not generate.decision_done("<think>DECISION: (0.1, 0.9)") and generate.decision_done(text)


def test_shared_prefix_leaves_each_prompt_a_token_and_skips_short_ones():
    assert generate.shared_prefix([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 11]]) == 9
    assert generate.shared_prefix([list(range(12)), list(range(12))]) == 11    # identical: one token left
    assert generate.shared_prefix([[1, 2, 3, 9], [1, 2, 3, 8]]) == 0            # 3 shared: below the minimum
    assert generate.shared_prefix([[5] * 20, [6] * 20]) == 0 and generate.shared_prefix([]) == 0


def test_prefix_cached_scoring_without_a_shared_prefix_equals_one_pass_per_pair(model_dir):
    """Prompts that share no first tokens take the plain batched path: the same log-probs."""
    g = generate.Generator(model_dir, backend="transformers", batch_size=2)
    from deepimagine.evaluate.llm import decision_candidates

    qs = toy.toy_questions(4, seed=3)
    prompts = [("x " * i) + render_prompt(q) for i, q in enumerate(qs)]   # different first tokens
    assert generate.shared_prefix([g.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]) == 0
    cands = [decision_candidates(3) for _ in qs]
    assert g.backend.score_cached(prompts, cands) == [pytest.approx(r, abs=1e-4) for r in g.backend.score_pairs(prompts, cands)]
