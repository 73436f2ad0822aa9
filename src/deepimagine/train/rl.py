"""``rl`` stage: GRPO (TRL ``GRPOTrainer``) with verifiable rewards, from the SFT adapter.

Prompts are the approximate pairs of ``data/pairs/train.jsonl`` (natural ones when there are none,
which is logged and recorded). The LoRA adapter of ``models/sft`` is loaded trainable on the base
model and trained further; rewards come from ``train.rewards`` by name, weighted by
``rl.reward_weights``. Generation uses colocated vLLM on a GPU (``rl.use_vllm: auto``), transformers
otherwise. ``model.enable_thinking`` reaches the prompts' chat template (TRL's ``chat_template_kwargs``);
the share of completions cut at ``rl.max_completion_length`` is logged (``completions/clipped_ratio``). Writes the adapter to ``models/rl/``; dvclive logs to ``metrics/rl/``.
"""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Optional, Sequence

from ..core import io
from ..core import base_model
from ..core.params import Params
from . import common, data, rewards

log = logging.getLogger(__name__)

MODULE = "deepimagine.train.rl"
SFT_DIR = io.MODELS_DIR / "sft"
OUT_DIR = io.MODELS_DIR / "rl"
METRICS_DIR = io.METRICS_DIR / "rl"
CHECKPOINT_DIR = common.CHECKPOINTS_DIR / "rl"


def resolve_use_vllm(setting) -> bool:
    """``auto`` -> True when CUDA and vLLM are both present; true/false as given."""
    if isinstance(setting, bool):
        return setting
    if str(setting).lower() in ("true", "false"):
        return str(setting).lower() == "true"
    if str(setting).lower() != "auto":
        raise ValueError(f"rl.use_vllm must be auto, true or false, not {setting!r}")
    import importlib.util

    import torch

    return torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None


def build_prompts(params: Params, train_file: Path = data.TRAIN_FILE) -> tuple[list[dict], dict]:
    """GRPO prompt rows from the approximate pairs (natural ones as a logged fallback)."""
    source = "approximate"
    questions = data.load_questions(train_file, source=source)
    if not questions:
        source = "natural"
        log.warning("no approximate questions in %s: GRPO falls back to the natural ones", train_file)
        questions = data.load_questions(train_file, source=source)
    if not questions:
        raise ValueError(f"{train_file} has no questions for GRPO")
    # the policy is the SFT operator: asked as it was trained
    questions, turned = data.canonical_questions(questions, params.sft.canonical_changes)
    rows = data.rl_rows(questions, params.rl.max_prompts, params.seed, params.model.system_prompt)
    counts = {"source": source, "questions": len(questions), "prompts": len(rows), "dose_descents_turned": turned}
    log.info("GRPO prompts: %s", counts)
    return rows, counts


def grpo_config(params: Params, output_dir: Path):
    from trl import GRPOConfig

    rp = params.rl
    if len(rp.reward_weights) != len(rp.rewards):
        raise ValueError(f"rl.reward_weights has {len(rp.reward_weights)} values for {len(rp.rewards)} rewards")
    use_vllm = resolve_use_vllm(rp.use_vllm)
    vllm = {"use_vllm": True, "vllm_mode": "colocate",
            "vllm_gpu_memory_utilization": rp.vllm_gpu_memory_utilization} if use_vllm else {"use_vllm": False}
    return GRPOConfig(
        output_dir=str(output_dir),
        learning_rate=rp.learning_rate,
        max_steps=rp.max_steps,
        per_device_train_batch_size=rp.batch_size,       # completions per device per step
        gradient_accumulation_steps=rp.grad_accum,
        num_generations=rp.num_generations,
        max_completion_length=rp.max_completion_length,   # thinking included: size it for reasoning models
        chat_template_kwargs={"enable_thinking": params.model.enable_thinking},
        temperature=rp.temperature,
        beta=rp.beta,
        reward_weights=list(rp.reward_weights),
        lr_scheduler_type="constant",
        gradient_checkpointing=rp.gradient_checkpointing,
        logging_steps=rp.logging_steps,
        save_strategy="steps",
        save_steps=rp.save_steps,
        save_total_limit=2,
        report_to="none",                                # dvclive is attached as a callback, into metrics/rl
        seed=params.seed,
        data_seed=params.seed,
        dataloader_num_workers=0,
        **vllm,
        **common.precision_flags(params.model.dtype),
    )


def load_policy(base_path: str, sft_dir: Path, dtype: str = "auto"):
    """The base model with the SFT adapter loaded trainable (only the LoRA weights require grad)."""
    from peft import PeftModel

    if not (Path(sft_dir) / "adapter_config.json").exists():
        raise FileNotFoundError(f"no SFT adapter in {sft_dir}: run the 'sft' stage first")
    return PeftModel.from_pretrained(base_model.load_model(base_path, dtype), str(sft_dir), is_trainable=True)


def make_trainer(params: Params, base_path: str, sft_dir: Path, rows: Sequence[dict],
                 output_dir: Path = CHECKPOINT_DIR, callbacks: Sequence = ()):
    from datasets import Dataset
    from trl import GRPOTrainer

    tokenizer = base_model.load_tokenizer(str(sft_dir) if (Path(sft_dir) / "tokenizer_config.json").exists() else base_path)
    tokenizer.padding_side = "left"
    return GRPOTrainer(
        model=load_policy(base_path, sft_dir, params.model.dtype),
        reward_funcs=rewards.get_rewards(params.rl.rewards),
        args=grpo_config(params, output_dir),
        train_dataset=Dataset.from_list(list(rows)),
        processing_class=tokenizer,
        callbacks=list(callbacks),
    )


def run_fingerprint(params: Params, base_path: str, sft_dir: Path, train_file: Path) -> str:
    return common.fingerprint(stage="rl", seed=params.seed, rl=params.rl, canonical=params.sft.canonical_changes,
                              dtype=params.model.dtype, base=base_path,
                              sft=common.file_digest(Path(sft_dir) / "adapter_model.safetensors"),
                              train=common.file_digest(train_file))


def train(params: Params, sft_dir: Path = SFT_DIR, out_dir: Path = OUT_DIR, metrics_dir: Path = METRICS_DIR,
          checkpoint_dir: Path = CHECKPOINT_DIR, train_file: Path = data.TRAIN_FILE,
          extra_callbacks: Sequence = ()) -> dict:
    """Continue training the SFT adapter with GRPO and save it to ``out_dir``."""
    from transformers import set_seed
    from transformers.trainer_utils import get_last_checkpoint

    started = time.perf_counter()
    set_seed(params.seed)
    base_path = base_model.resolve_base(params.model.base)
    rows, counts = build_prompts(params, train_file)
    resume_from = get_last_checkpoint(str(checkpoint_dir)) if Path(checkpoint_dir).exists() else None
    callbacks = [common.dvclive_callback(metrics_dir), *extra_callbacks]
    trainer = make_trainer(params, base_path, sft_dir, rows, checkpoint_dir, callbacks)
    result = trainer.train(resume_from_checkpoint=resume_from)
    history = trainer.state.log_history
    reward_log = [h["reward"] for h in history if "reward" in h]
    clipped = [h["completions/clipped_ratio"] for h in history if "completions/clipped_ratio" in h]
    info = {
        "base_model": base_path,
        "sft_adapter": str(sft_dir),
        "counts": counts,
        "use_vllm": trainer.args.use_vllm,
        "resumed_from": Path(resume_from).name if resume_from else None,
        "global_step": trainer.state.global_step,
        "train_loss": result.training_loss,
        "first_reward": reward_log[0] if reward_log else None,
        "last_reward": reward_log[-1] if reward_log else None,
        # share of completions that hit rl.max_completion_length (TRL logs it per step to metrics/rl)
        "clipped_ratio_last": clipped[-1] if clipped else None,
        "clipped_ratio_mean": sum(clipped) / len(clipped) if clipped else None,
    }
    log.info("training took %.1fs", time.perf_counter() - started)  # not in train_info.json: outputs stay byte-reproducible
    common.save_adapter(trainer, trainer.processing_class, out_dir, info)
    if clipped and info["clipped_ratio_mean"] > 0.2:
        log.warning("GRPO: %.0f%% of completions hit rl.max_completion_length=%d (truncated; their answers score 0)",
                    100 * info["clipped_ratio_mean"], params.rl.max_completion_length)
    log.info("GRPO done: %s", info)
    return info


def run(params: Params) -> None:
    """The DVC stage: prepare (or resume) checkpoints, train (re-launched on several GPUs), clean up."""
    base_path = base_model.resolve_base(params.model.base)
    common.prepare_checkpoints(CHECKPOINT_DIR, run_fingerprint(params, base_path, SFT_DIR, data.TRAIN_FILE))
    if not common.maybe_relaunch(MODULE, params, params.rl.accelerate_config):
        train(params)
    if not (OUT_DIR / "adapter_config.json").exists():
        raise RuntimeError(f"GRPO finished without an adapter in {OUT_DIR}")
    shutil.rmtree(CHECKPOINT_DIR, ignore_errors=True)


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point of one process of ``accelerate launch -m deepimagine.train.rl``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    train(common.params_from_argv(argv))


if __name__ == "__main__":
    main()
