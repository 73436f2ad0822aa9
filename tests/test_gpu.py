"""CUDA checks: SFT and GRPO steps on the GPU (bf16), transformers generation and likelihood scoring
on the GPU against the CPU. Skipped without CUDA; run on a GPU machine with ``pytest -m gpu tests``.
The vLLM backend's own test is in test_generate.py (it also needs the ``gpu`` extra)."""
from __future__ import annotations

import json

import pytest
import torch

from deepimagine.core import io
from fixtures.workspace import length_reward, make_workspace, tiny_params

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("gpu"))


def _lora_and_base(adapter_dir, base_dir="models/base"):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), str(adapter_dir))
    state = tuned.state_dict()
    return {k: v for k, v in state.items() if "lora_B" in k}, state


def test_sft_step_on_gpu_trains_lora_only(workspace, monkeypatch):
    from transformers import AutoModelForCausalLM

    from deepimagine.train import common, sft

    monkeypatch.chdir(workspace)
    assert common.precision_flags()["bf16"] == torch.cuda.is_bf16_supported()
    base_before = {k: v.clone() for k, v in AutoModelForCausalLM.from_pretrained("models/base").state_dict().items()}
    info = sft.train(tiny_params(max_steps=6, learning_rate=0.02), out_dir=workspace / "models/sft",
                     metrics_dir=workspace / "metrics/sft", checkpoint_dir=workspace / "ck-gpu")
    assert info["global_step"] == 6
    lora_b, state = _lora_and_base(workspace / "models/sft")
    assert lora_b and any(v.abs().sum() > 0 for v in lora_b.values())
    for k, v in AutoModelForCausalLM.from_pretrained("models/base").state_dict().items():
        assert torch.equal(v, base_before[k])
    assert json.loads((workspace / "metrics/sft/metrics.json").read_text())["loss"] > 0


def test_grpo_step_on_gpu_from_sft_adapter(workspace, monkeypatch):
    from safetensors.torch import load_file

    from deepimagine.train import rl

    monkeypatch.chdir(workspace)
    if not (workspace / "models/sft/adapter_model.safetensors").exists():
        pytest.skip("needs the SFT adapter of the previous test")
    from deepimagine.train import rewards

    before = load_file(workspace / "models/sft/adapter_model.safetensors")
    # as in test_rl: the untrained test model never writes a valid DECISION, so a dense extra reward
    # gives GRPO's groups the variance that makes the LoRA weights move
    monkeypatch.setitem(rewards.REWARDS, "length", length_reward)
    p = tiny_params()
    p.rl.rewards, p.rl.reward_weights = ["correctness", "format", "length"], [1.0, 0.2, 1.0]
    p.rl.use_vllm = "auto"                 # colocated vLLM when the gpu extra is installed, else transformers
    rl.run(p)
    after = load_file(workspace / "models/rl/adapter_model.safetensors")
    assert set(after) == set(before)
    assert any(not torch.equal(after[k].cpu(), before[k].cpu()) for k in after)
    info = json.loads((workspace / "models/rl/train_info.json").read_text())
    assert info["global_step"] == p.rl.max_steps


def test_transformers_backend_on_gpu_matches_cpu(workspace):
    from deepimagine.evaluate.llm import decision_candidates
    from deepimagine.core import generate
    from deepimagine.core.questions import render_messages
    from fixtures.workspace import toy_questions

    qs = toy_questions(6, "natural", seed=3)
    msgs = [render_messages(q) for q in qs]
    cands = [decision_candidates(len(q.options)) for q in qs]
    gpu = generate.Generator(str(workspace / "models/base"), backend="transformers", dtype="float32")
    assert gpu.backend.device == "cuda"
    out = gpu.generate(msgs, max_new_tokens=12)
    assert out == gpu.generate(msgs, max_new_tokens=12)            # greedy is deterministic
    gpu_scores = gpu.score_options(msgs, cands)
    cpu_backend = generate.TransformersBackend(str(workspace / "models/base"), dtype="float32")
    cpu_backend.model, cpu_backend.device = cpu_backend.model.to("cpu"), "cpu"
    cpu_scores = cpu_backend.score([gpu.render(m) for m in msgs], cands)
    for g_row, c_row in zip(gpu_scores, cpu_scores):
        assert g_row == pytest.approx(c_row, abs=2e-2)
    # bf16 (the GPU default) ranks the options as float32 does on a clear preference
    bf16 = generate.Generator(str(workspace / "models/base"), backend="transformers")
    assert next(bf16.backend.model.parameters()).dtype == torch.bfloat16
    assert len(bf16.score_options(msgs, cands)) == len(msgs)


def test_gpu_summary_is_recorded(workspace):
    """Writes the device and library versions next to the test run (for the issue notes)."""
    import transformers
    import trl

    summary = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
               "transformers": transformers.__version__, "trl": trl.__version__,
               "bf16": torch.cuda.is_bf16_supported()}
    io.write_json(workspace / "gpu_summary.json", summary)
    print(json.dumps(summary))
    assert summary["device"]
