"""Fixtures shared by several test modules."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory):
    """An untuned tiny Qwen3.5-family model + tokenizer at test sizes, built by the base stage's code."""
    torch = pytest.importorskip("torch")
    from deepimagine.core import params as params_mod
    from deepimagine.models import stage
    from fixtures import toy

    torch.set_num_threads(2)
    out = tmp_path_factory.mktemp("base")
    p = params_mod.from_dict({"model": {"tiny_hidden_size": 32, "tiny_layers": 2, "tiny_heads": 2,
                                        "tiny_vocab_size": 400, "tiny_pretrain_steps": 8,
                                        "tiny_pretrain_batch_size": 2}})
    stage.build_tiny(p, toy.toy_questions(30, seed=0), out)
    return out
