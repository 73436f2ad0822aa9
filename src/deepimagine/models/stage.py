"""``deepimagine base``: build the base model into ``models/base``.

``model.base: tiny`` -> train a tokenizer on the training questions, build a tiny Qwen3.5-family
model, pre-train it on prompts + uninformative answers, save weights (safetensors), config,
tokenizer and chat template, plus ``build.json`` (sizes, loss, time).
Any other value is a Hub id or local path: nothing is downloaded or copied; ``build.json``
records the id (``base`` / ``model_path``) and the weights stay in the HF cache or that path.
"""
from __future__ import annotations

import logging
import random
import time
from pathlib import Path

from ..core import io
from ..core.questions import Question

log = logging.getLogger(__name__)

BASE_DIR = io.MODELS_DIR / "base"
TRAIN_FILE = io.PAIRS_DIR / "train.jsonl"
MAX_TOKENIZER_TEXTS = 5000      # questions sampled to train the tokenizer / pre-train (plenty for 2k vocab)


def load_questions(path: Path, limit: int | None = None, seed: int = 0) -> list[Question]:
    """Questions from a JSON Lines file; a deterministic sample of ``limit`` when given."""
    qs = [Question.from_row(r) for r in io.read_jsonl(path)]
    if limit is not None and len(qs) > limit:
        qs = random.Random(seed).sample(qs, limit)
    return qs


def build_tiny(params, questions: list[Question], out_dir: Path) -> dict:
    import torch

    from . import tiny

    torch.set_num_threads(min(2, torch.get_num_threads()))
    m = params.model
    started = time.perf_counter()
    answers_rng = random.Random(params.seed)
    corpus = [f"{tiny.render_text(q)}\n{tiny.uninformative_answer(q, answers_rng)}" for q in questions]
    tokenizer = tiny.train_tokenizer(corpus, m.tiny_vocab_size)
    tok_seconds = time.perf_counter() - started
    config = tiny.tiny_config(m, tokenizer)
    model = tiny.build_tiny_model(config, params.seed)
    texts = tiny.pretraining_texts(questions, tokenizer, params.seed, params.model.system_prompt)
    lengths = [len(x) for x in tokenizer(texts)["input_ids"]]
    stats = tiny.pretrain(model, tokenizer, texts, m.tiny_pretrain_steps, m.tiny_pretrain_lr,
                          m.tiny_pretrain_batch_size, m.tiny_max_length, params.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return {
        "base": "tiny", "model_path": str(out_dir), "architecture": type(model).__name__,
        "model_type": config.model_type, "layer_types": list(config.layer_types),
        "parameters": tiny.count_parameters(model), "vocab_size": len(tokenizer),
        "hidden_size": config.hidden_size, "layers": config.num_hidden_layers, "heads": config.num_attention_heads,
        "questions": len(questions), "prompt_tokens_mean": round(sum(lengths) / len(lengths), 1),
        "prompt_tokens_max": max(lengths), "tokenizer_seconds": round(tok_seconds, 2),
        "pretrain": stats, "seconds": round(time.perf_counter() - started, 2),
    }


def run(params) -> None:
    out_dir = BASE_DIR
    if params.model.base != "tiny":
        out_dir.mkdir(parents=True, exist_ok=True)
        info = {"base": params.model.base, "model_path": params.model.base, "dtype": params.model.dtype,
                "note": "weights are not copied: loaded from the HF cache or this path"}
        io.write_json(out_dir / "build.json", info)
        log.info("base model: %s (recorded in %s)", params.model.base, out_dir / "build.json")
        return
    if not TRAIN_FILE.exists():
        raise FileNotFoundError(f"{TRAIN_FILE} not found: run the 'pairs' stage first")
    questions = load_questions(TRAIN_FILE, MAX_TOKENIZER_TEXTS, params.seed)
    info = build_tiny(params, questions, out_dir)
    seconds = (info.pop("seconds"), info.pop("tokenizer_seconds"), info["pretrain"].pop("seconds"))
    io.write_json(out_dir / "build.json", info)   # no wall-clock times: the output is byte-reproducible
    log.info("tiny base: %d parameters, vocab %d, %.1fs (tokenizer %.1fs, pretrain %.1fs), loss %.3f -> %.3f",
             info["parameters"], info["vocab_size"], *seconds, info["pretrain"]["loss_first10"],
             info["pretrain"]["loss_last10"])
