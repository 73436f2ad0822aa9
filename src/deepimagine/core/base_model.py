"""Base models: where each stage finds the base model, and how it is loaded for training.

``resolve_base_path`` (evaluation) reads what the base stage left in ``models/base``; ``resolve_base``
(training) also falls back to ``model.base`` itself. ``load_tokenizer`` / ``load_model`` load it with
transformers (``torch_dtype``: ``auto`` -> bfloat16 on a capable GPU, float32 otherwise); generation
has its own engines in ``generate.py``.
"""
from __future__ import annotations

from pathlib import Path

from . import io

BASE_DIR = io.MODELS_DIR / "base"


def resolve_base_path(base_dir: str | Path = io.MODELS_DIR / "base") -> str:
    """Where to load the base model from: ``base_dir`` itself for the tiny model, else the Hub id /
    path recorded in ``base_dir/build.json`` by the base stage."""
    base_dir = Path(base_dir)
    build = base_dir / "build.json"
    if (base_dir / "config.json").exists():
        return str(base_dir)
    if build.exists():
        info = io.read_json(build)
        if info.get("model_path") and info.get("base") != "tiny":
            return str(info["model_path"])
    raise FileNotFoundError(f"no base model in {base_dir}: run the 'base' stage first")


def resolve_base(model_base: str, base_dir: Path = BASE_DIR) -> str:
    """Path or Hub id of the base model.

    ``tiny`` -> the locally built ``models/base``. Otherwise the id/path that ``models/base/build.json``
    records (so the base stage pins what was used), else ``model_base`` itself.
    """
    if model_base == "tiny":
        if not (base_dir / "config.json").exists():
            raise FileNotFoundError(f"no tiny base model in {base_dir}: run the 'base' stage first")
        return str(base_dir)
    build = base_dir / "build.json"
    if build.exists():
        info = io.read_json(build)
        for key in ("model_path", "path", "model", "model_id", "base"):
            value = info.get(key)
            if isinstance(value, str) and value and value != "tiny":
                return value
    if (base_dir / "config.json").exists():
        return str(base_dir)
    return model_base


def torch_dtype(name: str = "auto"):
    """``auto`` -> bfloat16 on a GPU that supports it, float32 otherwise (CPU)."""
    import torch

    if name not in ("auto", None):
        return getattr(torch, name)
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if tok.chat_template is None:
        raise ValueError(f"tokenizer at {path} has no chat template; prompts are chat messages")
    return tok


def load_model(path: str, dtype: str = "auto"):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype(dtype), trust_remote_code=False)
