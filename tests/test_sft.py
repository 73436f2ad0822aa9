"""SFT stage on a throwaway tiny model: LoRA learns, the base stays frozen, the loss is on the
completion only, and a killed run resumes from its checkpoint."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from fixtures.workspace import make_workspace, tiny_params

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("sft"))


# ---------------------------------------------------------------- tests


def test_loss_only_on_completion_tokens(workspace, monkeypatch):
    from deepimagine.core import base_model
    from deepimagine.train import sft

    monkeypatch.chdir(workspace)
    params = tiny_params()
    tok = base_model.load_tokenizer("models/base")
    rows, counts = sft.build_examples(params, tok)
    assert counts["questions"] == 24 and counts["examples"] + counts["dropped_too_long"] == 24
    assert counts["from_trace"] + counts["from_gold"] == 24 and counts["from_trace"] > 0
    trainer = sft.make_trainer(params, "models/base", rows[:4], workspace / "ck-mask", tokenizer=tok)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    labels, ids = batch["labels"], batch["input_ids"]
    for i, row in enumerate(rows[:4]):
        kept = labels[i][labels[i] != -100]
        # the supervised tokens are exactly the assistant answer (+ its end-of-turn token) ...
        assert tok.decode(kept).strip() == row["completion"][0]["content"] + "<|im_end|>"
        # ... and every prompt token is masked
        prompt_len = len(tok.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=True,
                                                 return_dict=True)["input_ids"])
        assert (labels[i][:prompt_len] == -100).all()
        assert (labels[i][labels[i] != -100] == ids[i][labels[i] != -100]).all()


def test_sft_trains_lora_only_and_writes_outputs(workspace, monkeypatch):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from deepimagine.train import sft

    monkeypatch.chdir(workspace)
    sft.run(tiny_params())
    out = workspace / "models/sft"
    assert (out / "adapter_config.json").exists() and (out / "adapter_model.safetensors").exists()
    assert (out / "tokenizer_config.json").exists()
    assert not (workspace / "checkpoints/sft").exists()          # cleaned after success
    info = json.loads((out / "train_info.json").read_text())
    assert info["global_step"] == 3 and info["resumed_from"] is None
    metrics = json.loads((workspace / "metrics/sft/metrics.json").read_text())
    assert "loss" in metrics and "loss" in metrics["train"]
    assert len((workspace / "metrics/sft/plots/metrics/loss.tsv").read_text().splitlines()) == 1 + 3

    base = AutoModelForCausalLM.from_pretrained("models/base")
    base_state = {k: v.clone() for k, v in base.state_dict().items()}
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained("models/base"), str(out))
    lora = {k: v for k, v in tuned.state_dict().items() if "lora_" in k}
    # LoRA B matrices start at zero: a trained adapter has moved them
    assert any(v.abs().sum() > 0 for k, v in lora.items() if "lora_B" in k)
    # the base weights on disk are untouched, and the adapter wraps exactly them
    for k, v in AutoModelForCausalLM.from_pretrained("models/base").state_dict().items():
        assert torch.equal(v, base_state[k])
    for k, v in tuned.state_dict().items():
        if "base_layer" in k:
            plain = k.replace("base_model.model.", "").replace(".base_layer", "")
            assert torch.equal(v, base_state[plain])


def test_loss_goes_down(workspace, monkeypatch):
    from deepimagine.train import sft

    monkeypatch.chdir(workspace)
    info = sft.train(tiny_params(max_steps=12, learning_rate=0.02), out_dir=workspace / "sft-long",
                     metrics_dir=workspace / "metrics-long", checkpoint_dir=workspace / "ck-long")
    # a random-init model has near-uniform logits, so the loss moves slowly while the accuracy jumps
    assert info["last_logged_loss"] < info["first_logged_loss"] - 0.1
    assert info["last_token_accuracy"] > info["first_token_accuracy"] + 0.15


def test_killed_run_resumes_from_checkpoint(workspace, monkeypatch):
    from transformers import TrainerCallback

    from deepimagine.train import sft

    class Crash(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                raise KeyboardInterrupt("simulated kill")

    monkeypatch.chdir(workspace)
    params = tiny_params(max_steps=4)
    ck = workspace / "checkpoints/sft"
    from deepimagine.train import common, data

    common.prepare_checkpoints(ck, sft.run_fingerprint(params, "models/base", data.TRAIN_FILE, data.TRACES_FILE))
    with pytest.raises(KeyboardInterrupt):
        sft.train(params, extra_callbacks=[Crash()])
    assert (ck / "checkpoint-2").exists()
    logged = json.loads((ck / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    shutil.rmtree(workspace / "metrics/sft")         # as DVC removes a stage's outputs before it runs
    sft.run(params)                                  # same params and inputs: resumes
    info = json.loads((workspace / "models/sft/train_info.json").read_text())
    assert info["resumed_from"] == "checkpoint-2" and info["global_step"] == 4
    # the dvclive curves cover the whole run: the checkpoint's history replayed, then steps 3 and 4
    rows = (workspace / "metrics/sft/plots/metrics/loss.tsv").read_text().splitlines()[1:]
    losses = [float(r.split("\t")[1]) for r in rows]
    assert len(losses) == 4 and losses[:2] == pytest.approx([e["loss"] for e in logged if "loss" in e])
    assert not ck.exists()
    # a stale checkpoint from other params is discarded, not resumed
    common.prepare_checkpoints(ck, "another-run")
    (ck / "checkpoint-9").mkdir()
    assert common.prepare_checkpoints(ck, "this-run") is None


def test_adapter_config_target_modules_are_sorted(tmp_path):
    """PEFT saves target_modules from a set (order varies with the hash seed); the saved config is sorted."""
    import json as _json

    from deepimagine.train.common import stable_adapter_config

    path = tmp_path / "adapter_config.json"
    path.write_text(_json.dumps({"r": 16, "target_modules": ["v_proj", "down_proj", "q_proj"]}))
    stable_adapter_config(path)
    assert _json.loads(path.read_text()) == {"r": 16, "target_modules": ["down_proj", "q_proj", "v_proj"]}
    stable_adapter_config(tmp_path / "missing.json")      # no config: nothing to do


def test_length_grouped_batches_follow_the_param(tmp_path):
    """sft.group_by_length -> transformers' length-grouped sampler (less padding on CPU); off -> random."""
    from deepimagine.core import params as params_mod
    from deepimagine.train.sft import sft_config

    on = sft_config(params_mod.from_dict({"sft": {"group_by_length": True}}), tmp_path)
    off = sft_config(params_mod.from_dict({"sft": {"group_by_length": False}}), tmp_path)
    assert (on.train_sampling_strategy, off.train_sampling_strategy) == ("group_by_length", "random")


def test_train_embeddings_trains_and_saves_the_input_embeddings_with_the_adapter(workspace, monkeypatch):
    """sft.train_embeddings: the embedding matrix is trained (PEFT modules_to_save), saved in the
    adapter file, and the merged copy that scores for evaluation reads exactly what training saw
    (the LoRA-wrapped model's logits; the output head stays the base's, as it was in training)."""
    import copy

    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from deepimagine.core.generate import Generator
    from deepimagine.train import sft

    monkeypatch.chdir(workspace)
    assert sft.lora_config(tiny_params(train_embeddings=False)).modules_to_save is None
    out = workspace / "sft-emb"
    sft.train(tiny_params(max_steps=3, train_embeddings=True), out_dir=out, metrics_dir=workspace / "metrics-emb",
              checkpoint_dir=workspace / "ck-emb")
    saved = load_file(str(out / "adapter_model.safetensors"))
    embedding = [v for k, v in saved.items() if "embed_tokens" in k]
    base = AutoModelForCausalLM.from_pretrained("models/base")
    original = base.get_input_embeddings().weight.detach().clone()
    assert len(embedding) == 1 and embedding[0].shape == original.shape
    assert not torch.equal(embedding[0], original)                  # trained ...
    assert torch.equal(AutoModelForCausalLM.from_pretrained("models/base").get_input_embeddings().weight, original)
    ids = torch.tensor([[5, 100, 200, 300, 17]])
    with torch.no_grad():
        wrapped = PeftModel.from_pretrained(copy.deepcopy(base), str(out)).eval()(input_ids=ids).logits
        merged = Generator("models/base", adapters={"default": str(out)}, backend="transformers").backend.merged["default"]
        assert torch.equal(merged.get_input_embeddings().weight, embedding[0])   # ... and used at evaluation
        assert torch.equal(merged.lm_head.weight, original)
        assert torch.allclose(merged(input_ids=ids).logits, wrapped, atol=1e-4)


def test_vllm_refuses_an_adapter_with_trained_embeddings(tmp_path, monkeypatch):
    """vLLM's LoRA serves no modules_to_save: a clear error instead of silently dropping the embeddings."""
    from deepimagine.core import generate

    adapter = tmp_path / "sft"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 4, "modules_to_save": ["embed_tokens"]}))
    monkeypatch.setattr(generate, "choose_backend", lambda backend="auto": "vllm")
    with pytest.raises(ValueError, match="train_embeddings"):
        generate.Generator("models/base", adapters={"default": str(adapter)}, backend="vllm")
    assert generate.adapter_modules_to_save(str(adapter)) == ["embed_tokens"]
