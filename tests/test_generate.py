"""Generation backends: transformers (greedy deterministic, seeded sampling, decision-only stop);
the vLLM backend module imports without vLLM and is exercised only with CUDA."""
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from deepimagine.models import generate
from deepimagine.questions import render_messages

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
            "from deepimagine.models.generate import VllmBackend\n"
            "assert isinstance(VllmBackend, type), VllmBackend\n"
            "print('vllm' in sys.modules and sys.modules['vllm'] is not None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"importing deepimagine.models.generate failed without vLLM:\n{out.stderr}"
    assert out.stdout.strip() == "False", "deepimagine.models.generate imported vllm at module level"


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
    from deepimagine.questions import parse_decision

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
