"""The tiny base model: tokenizer, chat template, build + brief pre-training, save/load."""

import pytest

torch = pytest.importorskip("torch")

from deepimagine.core import io
from deepimagine.core import params as params_mod
from deepimagine.core.base_model import resolve_base_path
from deepimagine.models import stage, tiny
from deepimagine.core.questions import parse_decision, render_messages

from fixtures import toy


def small_params(**model):
    return params_mod.from_dict({"model": {"tiny_hidden_size": 32, "tiny_layers": 2, "tiny_heads": 2,
                                           "tiny_vocab_size": 400, "tiny_pretrain_steps": 40,
                                           "tiny_pretrain_lr": 0.01, "tiny_pretrain_batch_size": 4, **model}})


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    torch.set_num_threads(2)
    out = tmp_path_factory.mktemp("base")
    info = stage.build_tiny(small_params(), toy.toy_questions(60, seed=0), out)
    return out, info


def test_chat_template_renders_chatml_with_generation_markers():
    tok = tiny.train_tokenizer(["hello world DECISION: (0.5, 0.5)"] * 3, 300)
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
    full = tok.apply_chat_template(msgs + [{"role": "assistant", "content": "A"}], tokenize=False)
    assert full.endswith("<|im_start|>assistant\nA<|im_end|>\n")
    # TRL's assistant-only loss: the mask covers exactly the assistant content + <|im_end|>
    enc = tok.apply_chat_template(msgs + [{"role": "assistant", "content": "A"}], tokenize=True,
                                  return_dict=True, return_assistant_tokens_mask=True)
    masked = [t for t, m in zip(enc["input_ids"], enc["assistant_masks"]) if m]
    assert tok.decode(masked) == "A<|im_end|>"
    from trl.chat_template_utils import has_generation_markers
    assert has_generation_markers(tok.chat_template)
    # special tokens are single ids; digits are split one by one
    assert len(tok("<|im_start|>", add_special_tokens=False)["input_ids"]) == 1
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"


def test_uninformative_answers_do_not_depend_on_gold():
    import random
    qs = toy.toy_questions(200, seed=1)
    rng = random.Random(0)
    hits = sum(parse_decision(tiny.uninformative_answer(q, rng), len(q.options)).choice == q.answer_index for q in qs)
    assert all(parse_decision(tiny.uninformative_answer(q, rng), len(q.options)).valid for q in qs)
    assert 0.2 < hits / len(qs) < 0.55   # chance level for 2-3 options, not the gold


def test_build_saves_loadable_qwen35_model(built):
    out, info = built
    from transformers import AutoModelForCausalLM, AutoTokenizer
    assert info["architecture"] == "Qwen3_5ForCausalLM" and info["model_type"] == "qwen3_5_text"
    assert info["layer_types"] == ["full_attention", "full_attention"]
    assert info["pretrain"]["loss_last10"] < info["pretrain"]["loss_first10"] - 1.0
    assert (out / "model.safetensors").exists()
    model = AutoModelForCausalLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    assert type(model).__name__ == "Qwen3_5ForCausalLM"
    assert tok.chat_template == tiny.CHAT_TEMPLATE
    ids = tok.apply_chat_template(render_messages(toy.toy_questions(1)[0]), add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    with torch.no_grad():
        gen = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert gen.shape[1] > ids["input_ids"].shape[1]
    assert resolve_base_path(out) == str(out)


def test_hybrid_layer_types_config():
    tok = tiny.train_tokenizer(["abc def"] * 3, 300)
    cfg = tiny.tiny_config(small_params(tiny_layers=4, tiny_layer_types="hybrid").model, tok)
    assert cfg.layer_types == ["linear_attention"] * 3 + ["full_attention"]


def test_non_tiny_base_records_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stage.run(params_mod.from_dict({"model": {"base": "Qwen/Qwen3.5-9B"}}))
    info = io.read_json("models/base/build.json")
    assert info["base"] == info["model_path"] == "Qwen/Qwen3.5-9B"
    assert resolve_base_path("models/base") == "Qwen/Qwen3.5-9B"
    assert not (tmp_path / "models/base/config.json").exists()
