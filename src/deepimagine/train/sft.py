"""``sft`` stage: LoRA supervised fine-tuning (TRL ``SFTTrainer``) on the natural pairs.

Reads ``data/pairs/train.jsonl`` (source == natural) and ``data/traces/traces.jsonl`` (agreeing traces),
trains a LoRA adapter on the base model with the loss on the completion only, and writes the adapter
(+ tokenizer and ``train_info.json``) to ``models/sft/``; dvclive logs to ``metrics/sft/``.
Checkpoints go to ``checkpoints/sft/`` (outside the DVC out): a killed run resumes from the last
one when re-run with the same params and inputs, and they are deleted after success.

With several GPUs the stage re-launches itself under ``accelerate launch`` (see docs/training.md).
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
from ..core.states import FACTOR_GROUP
from . import common, data

log = logging.getLogger(__name__)

MODULE = "deepimagine.train.sft"
OUT_DIR = io.MODELS_DIR / "sft"
METRICS_DIR = io.METRICS_DIR / "sft"
CHECKPOINT_DIR = common.CHECKPOINTS_DIR / "sft"
EMBEDDING_MODULES = ("embed_tokens",)   # sft.train_embeddings: the input embeddings of Qwen-style models


def build_examples(params: Params, tokenizer, train_file: Path = data.TRAIN_FILE,
                   traces_file: Path = data.TRACES_FILE) -> tuple[list[dict], dict]:
    """Prompt-completion rows for the natural pairs and the teacher-imagined operator steps
    (``sft.imagined_steps``), without those longer than ``sft.max_length``."""
    sp = params.sft
    questions = data.load_questions(train_file, source="natural")
    if not questions:
        raise ValueError(f"{train_file} has no natural questions to fine-tune on")
    imagined_file = Path(traces_file).parent / "imagined.jsonl"
    if sp.imagined_steps and imagined_file.exists():
        questions += data.load_questions(imagined_file)
    questions, turned = data.canonical_questions(questions, sp.canonical_changes)
    questions = data.operator_first(questions, sp.max_examples, params.seed, sp.balance_bins, sp.factor_weights)
    built = data.sft_rows(questions, data.load_traces(traces_file), sp.max_reason_chars, None, params.seed,
                          system=params.model.system_prompt)
    rows, too_long = [], 0
    for row in built.rows:
        n_tokens = len(tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=True,
                                                     return_dict=True)["input_ids"])
        if n_tokens > sp.max_length:
            too_long += 1
        else:
            rows.append(row)
    counts = {**built.counts, "dropped_too_long": too_long, "examples": len(rows), "dose_descents_turned": turned}
    log.info("SFT examples: %s", counts)
    if not rows:
        raise ValueError(f"every SFT example is longer than sft.max_length={sp.max_length} tokens")
    return rows, counts


def lora_config(params: Params):
    from peft import LoraConfig

    sp = params.sft
    # sft.train_embeddings: the input embedding matrix is trained in full and saved with the adapter
    # (PEFT ``modules_to_save``). The tiny base meets each invented drug name as one rarely seen
    # token whose embedding pre-training barely moved; a LoRA on the linear layers alone cannot
    # give it a potency (README, Results: the drug -> drug steps). A pre-trained 9B knows its drug
    # names (real profile: false; vLLM serves no modules_to_save).
    extra = {"modules_to_save": list(EMBEDDING_MODULES)} if sp.train_embeddings else {}
    return LoraConfig(r=sp.lora_r, lora_alpha=sp.lora_alpha, lora_dropout=sp.lora_dropout,
                      target_modules=sp.target_modules, task_type="CAUSAL_LM", **extra)


def sft_config(params: Params, output_dir: Path):
    from trl import SFTConfig

    sp = params.sft
    return SFTConfig(
        output_dir=str(output_dir),
        num_train_epochs=sp.epochs,
        max_steps=sp.max_steps if sp.max_steps is not None else -1,
        per_device_train_batch_size=sp.batch_size,
        gradient_accumulation_steps=sp.grad_accum,
        learning_rate=sp.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=sp.warmup_ratio,
        weight_decay=0.0,
        max_length=sp.max_length,
        completion_only_loss=True,          # prompt-completion rows: loss on the answer only
        packing=False,
        train_sampling_strategy="group_by_length" if sp.group_by_length else "random",
        gradient_checkpointing=sp.gradient_checkpointing,
        logging_steps=sp.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=sp.save_steps,
        save_total_limit=2,
        report_to="none",                   # dvclive is attached as a callback, into metrics/sft
        seed=params.seed,
        data_seed=params.seed,
        dataloader_num_workers=0,
        disable_tqdm=False,
        **common.precision_flags(params.model.dtype),
    )


def make_trainer(params: Params, base_path: str, rows: Sequence[dict], output_dir: Path = CHECKPOINT_DIR,
                 callbacks: Sequence = (), tokenizer=None):
    """An ``SFTTrainer`` with a fresh LoRA adapter on the base model."""
    from datasets import Dataset
    from trl import SFTTrainer

    tokenizer = tokenizer if tokenizer is not None else base_model.load_tokenizer(base_path)
    model = base_model.load_model(base_path, params.model.dtype)
    dataset = Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in rows])
    return SFTTrainer(model=model, args=sft_config(params, output_dir), train_dataset=dataset,
                      processing_class=tokenizer, peft_config=lora_config(params), callbacks=list(callbacks))


def operator_groups(rows: Sequence[dict], min_rows: int = 16) -> dict[str, list[dict]]:
    """The selected SFT rows of each operator group (``states.FACTOR_GROUP``): change questions only."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("category") == "change" and r.get("factor") in FACTOR_GROUP:
            groups.setdefault(FACTOR_GROUP[r["factor"]], []).append(r)
    return {g: rs for g, rs in sorted(groups.items()) if len(rs) >= min_rows}


def train_operators(params: Params, base_path: str, shared_dir: Path, rows: Sequence[dict], tokenizer,
                    out_dir: Path) -> dict:
    """``sft.operators: per_factor``: one LoRA operator per factor group, each the shared adapter
    specialised for ``sft.operator_steps`` more steps on its group's operator questions, saved to
    ``out_dir/<group>/``. Returns {group: info}."""
    from dataclasses import replace

    from datasets import Dataset
    from peft import PeftModel
    from trl import SFTTrainer

    infos = {}
    sp = replace(params.sft, max_steps=params.sft.operator_steps, warmup_ratio=0.0)
    group_params = replace(params, sft=sp)  # dvc-params: sft
    for group, group_rows in operator_groups(rows).items():
        model = PeftModel.from_pretrained(base_model.load_model(base_path, params.model.dtype), str(shared_dir),
                                          is_trainable=True)
        dataset = Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in group_rows])
        trainer = SFTTrainer(model=model, args=sft_config(group_params, CHECKPOINT_DIR / "operators" / group),
                             train_dataset=dataset, processing_class=tokenizer)
        result = trainer.train()
        infos[group] = {"rows": len(group_rows), "steps": trainer.state.global_step, "train_loss": result.training_loss}
        common.save_adapter(trainer, tokenizer, out_dir / group, infos[group])
        log.info("operator %s: %s", group, infos[group])
    return infos


def run_fingerprint(params: Params, base_path: str, train_file: Path, traces_file: Path) -> str:
    return common.fingerprint(stage="sft", seed=params.seed, sft=params.sft, dtype=params.model.dtype,
                              base=base_path, base_build=common.file_digest(Path(base_path) / "config.json"),
                              train=common.file_digest(train_file), traces=common.file_digest(traces_file))


def train(params: Params, out_dir: Path = OUT_DIR, metrics_dir: Path = METRICS_DIR,
          checkpoint_dir: Path = CHECKPOINT_DIR, train_file: Path = data.TRAIN_FILE,
          traces_file: Path = data.TRACES_FILE, extra_callbacks: Sequence = ()) -> dict:
    """Train the adapter (in this process; one rank of a multi-GPU launch) and save it to ``out_dir``."""
    from transformers import set_seed
    from transformers.trainer_utils import get_last_checkpoint

    started = time.perf_counter()
    set_seed(params.seed)
    base_path = base_model.resolve_base(params.model.base)
    tokenizer = base_model.load_tokenizer(base_path)
    rows, counts = build_examples(params, tokenizer, train_file, traces_file)
    resume_from = get_last_checkpoint(str(checkpoint_dir)) if Path(checkpoint_dir).exists() else None
    callbacks = [common.dvclive_callback(metrics_dir), *extra_callbacks]
    trainer = make_trainer(params, base_path, rows, checkpoint_dir, callbacks, tokenizer)
    result = trainer.train(resume_from_checkpoint=resume_from)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    accuracy = [h["mean_token_accuracy"] for h in trainer.state.log_history if "mean_token_accuracy" in h]
    info = {
        "base_model": base_path,
        "counts": counts,
        "resumed_from": Path(resume_from).name if resume_from else None,
        "global_step": trainer.state.global_step,
        "train_loss": result.training_loss,
        "first_logged_loss": losses[0] if losses else None,
        "last_logged_loss": losses[-1] if losses else None,
        "first_token_accuracy": accuracy[0] if accuracy else None,
        "last_token_accuracy": accuracy[-1] if accuracy else None,
    }
    common.save_adapter(trainer, tokenizer, out_dir, info)
    if params.sft.operators == "per_factor" and common.is_main_process():
        info["operators"] = train_operators(params, base_path, out_dir, rows, tokenizer, Path(out_dir) / "operators")
        io.write_json(Path(out_dir) / "train_info.json", info)
    log.info("training took %.1fs", time.perf_counter() - started)  # not in train_info.json: outputs stay byte-reproducible
    log.info("SFT done: %s", info)
    return info


def run(params: Params) -> None:
    """The DVC stage: prepare (or resume) checkpoints, train (re-launched on several GPUs), clean up."""
    base_path = base_model.resolve_base(params.model.base)
    common.prepare_checkpoints(CHECKPOINT_DIR, run_fingerprint(params, base_path, data.TRAIN_FILE, data.TRACES_FILE))
    if not common.maybe_relaunch(MODULE, params, params.sft.accelerate_config):
        train(params)
    if not (OUT_DIR / "adapter_config.json").exists():
        raise RuntimeError(f"SFT finished without an adapter in {OUT_DIR}")
    shutil.rmtree(CHECKPOINT_DIR, ignore_errors=True)   # success: keep the repo small


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point of one process of ``accelerate launch -m deepimagine.train.sft``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    train(common.params_from_argv(argv))


if __name__ == "__main__":
    main()
