"""GRPO stage on a throwaway tiny model: starts from an SFT adapter, trains the LoRA only."""
from __future__ import annotations

import json

import pytest
import torch

from deepimagine.core import io
from fixtures.workspace import length_reward, make_workspace, tiny_params

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def sft_workspace(tmp_path_factory):
    """A workspace with a (briefly) trained SFT adapter in models/sft."""
    import os

    from deepimagine.train import sft

    root = make_workspace(tmp_path_factory.mktemp("rl"))
    cwd = os.getcwd()
    os.chdir(root)
    try:
        sft.run(tiny_params(max_steps=2))
    finally:
        os.chdir(cwd)
    return root


def test_grpo_from_sft_adapter_trains_lora_only(sft_workspace, monkeypatch):
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from deepimagine.train import rewards, rl

    monkeypatch.chdir(sft_workspace)
    # A briefly tuned random tiny model never writes a valid DECISION, so the verifiable rewards are all 0
    # and GRPO's advantages vanish. A dense extra reward (text length) gives the groups variance.
    monkeypatch.setitem(rewards.REWARDS, "length", length_reward)
    params = tiny_params()
    params.rl.rewards = ["correctness", "format", "length"]
    params.rl.reward_weights = [1.0, 0.2, 1.0]
    rows, counts = rl.build_prompts(params)
    assert counts == {"source": "approximate", "questions": 16, "prompts": 8, "dose_descents_turned": 0}
    assert {"prompt", "answer_index", "options"} <= set(rows[0])

    # the policy starts from the SFT adapter, and only the adapter's weights are trainable: the LoRA
    # matrices and, with sft.train_embeddings (the default), the adapter's own copy of the embeddings
    policy = rl.load_policy("models/base", io.MODELS_DIR / "sft")
    trainable = [n for n, p in policy.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n or "modules_to_save" in n for n in trainable)
    assert params.sft.train_embeddings == any("embed_tokens.modules_to_save" in n for n in trainable)
    assert not any("original_module" in n for n in trainable)

    rl.run(params)
    out = sft_workspace / "models/rl"
    assert (out / "adapter_config.json").exists()
    info = json.loads((out / "train_info.json").read_text())
    assert info["global_step"] == 2 and info["use_vllm"] is False and info["last_reward"] is not None
    assert 0.0 <= info["clipped_ratio_mean"] <= 1.0          # truncations at max_completion_length, recorded
    metrics = json.loads((sft_workspace / "metrics/rl/metrics.json").read_text())
    assert "reward" in metrics and "mean" in metrics["rewards"]["correctness"]
    assert len((sft_workspace / "metrics/rl/plots/metrics/reward.tsv").read_text().splitlines()) == 1 + 2
    assert not (sft_workspace / "checkpoints/rl").exists()

    sft_w = load_file(sft_workspace / "models/sft/adapter_model.safetensors")
    rl_w = load_file(out / "adapter_model.safetensors")
    assert sft_w.keys() == rl_w.keys()
    assert any(not torch.equal(sft_w[k], rl_w[k]) for k in sft_w), "GRPO left the LoRA weights unchanged"
    # the base weights inside the RL policy are exactly the base model's
    base = AutoModelForCausalLM.from_pretrained("models/base").state_dict()
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained("models/base"), str(out)).state_dict()
    for k, v in tuned.items():
        if "base_layer" in k or "original_module" in k:
            plain = k.replace("base_model.model.", "").replace(".base_layer", "").replace(".original_module", "")
            assert torch.equal(v, base[plain])


def test_grpo_falls_back_to_natural_prompts(tmp_path, monkeypatch):
    from deepimagine.train import rl

    monkeypatch.chdir(tmp_path)
    natural_only = [json.loads(line) for line in open(_train_file())
                    if json.loads(line)["source"] == "natural"][:5]
    io.write_jsonl("data/pairs/train.jsonl", natural_only)
    rows, counts = rl.build_prompts(tiny_params())
    assert counts["source"] == "natural" and counts["prompts"] == 5


def test_reward_weights_must_match_rewards():
    from deepimagine.train import rl

    params = tiny_params()
    params.rl.reward_weights = [1.0]
    with pytest.raises(ValueError, match="reward_weights"):
        rl.grpo_config(params, "unused")


_TRAIN = {}


def _train_file():
    if "path" not in _TRAIN:
        import tempfile
        from pathlib import Path

        from fixtures.workspace import toy_questions

        path = Path(tempfile.mkdtemp()) / "train.jsonl"
        io.write_jsonl(path, [q.to_row() for q in toy_questions(6, "natural")])
        _TRAIN["path"] = path
    return _TRAIN["path"]


def test_enable_thinking_reaches_grpo_prompts(tiny_base_dir):
    """model.enable_thinking goes to TRL's chat_template_kwargs, which renders GRPO's prompts."""
    from transformers import AutoTokenizer
    from trl.data_utils import apply_chat_template

    from deepimagine.train import rl
    from test_generate import THINKING_TEMPLATE

    params = tiny_params()
    assert rl.grpo_config(params, "unused").chat_template_kwargs == {"enable_thinking": False}
    params.model.enable_thinking = True
    kwargs = rl.grpo_config(params, "unused").chat_template_kwargs
    assert kwargs == {"enable_thinking": True}
    tok = AutoTokenizer.from_pretrained(tiny_base_dir)
    tok.chat_template = THINKING_TEMPLATE
    row = {"prompt": [{"role": "user", "content": "q"}]}
    assert apply_chat_template(row, tok, **kwargs)["prompt"].endswith("assistant\n<think>\n")
    assert apply_chat_template(row, tok, enable_thinking=False)["prompt"].endswith("</think>\n\n")
