"""Base models (the tiny local Qwen3.5-family model or a Hub model) and generation backends."""
from __future__ import annotations

from pathlib import Path

from .. import io


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
