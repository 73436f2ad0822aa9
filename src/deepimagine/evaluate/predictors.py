"""Predictor registry: every scored system answers a list of Questions with one Prediction each.

Names: 'majority' (per-category class frequencies of the training split), 'logistic',
'random_forest', 'lightgbm' (fitted models from ``models/baselines``), and 'base' / 'sft' / 'rl',
each expanded to '<model>/<mode>' for every mode in ``params.evaluate.modes`` and built lazily by
``deepimagine.evaluate.llm.make_llm_predictor(params, model, mode)``; an LLM predictor whose module
or model directory is missing is skipped with a warning.
"""
from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Protocol, runtime_checkable

from ..core import io
from ..core.questions import Question
from .prediction import Prediction

log = logging.getLogger(__name__)

BASELINE_NAMES = ("logistic", "random_forest", "lightgbm")
LLM_MODELS = ("base", "sft", "rl")
BASELINES_DIR = io.MODELS_DIR / "baselines"


@runtime_checkable
class Predictor(Protocol):
    name: str

    def predict(self, questions: list[Question]) -> list[Prediction]: ...


def is_llm(name: str) -> bool:
    return name.split("/", 1)[0] in LLM_MODELS


# ---------------------------------------------------------------- majority


# A CT Open / unseen category borrows the class frequencies of the training category with the same option meaning.
_EQUIVALENT = {"endpoint": "superiority", "superiority": "endpoint",
               "comparative_effect": "direction", "direction": "comparative_effect"}


class MajorityPredictor:
    """The training split's class frequencies per category (argmax = the majority answer)."""

    name = "majority"

    def __init__(self, train: list[Question]):
        counts: dict[tuple[str, int], Counter] = defaultdict(Counter)
        for q in train:
            counts[(q.category, len(q.options))][q.answer_index] += 1
        self.freq = {key: [c[i] / sum(c.values()) for i in range(key[1])] for key, c in counts.items()}

    def distribution(self, category: str, k: int) -> list[float]:
        for cat in (category, _EQUIVALENT.get(category)):
            if (cat, k) in self.freq:
                return list(self.freq[(cat, k)])
        return [1.0 / k] * k

    def predict(self, questions: list[Question]) -> list[Prediction]:
        return [Prediction(q.id, self.distribution(q.category, len(q.options)), True) for q in questions]


# ---------------------------------------------------------------- fitted baselines


class BaselinePredictor:
    """A baseline fitted by the baselines stage, reloaded from its directory."""

    def __init__(self, name: str, directory: str | Path = BASELINES_DIR):
        from ..core.baseline_model import load_baseline

        self.name = name
        self.model = load_baseline(name, directory)

    def predict(self, questions: list[Question]) -> list[Prediction]:
        return [Prediction(q.id, p, True) for q, p in zip(questions, self.model.predict_proba(questions))]


# ---------------------------------------------------------------- registry


def expand_names(names: list[str], modes: list[str]) -> list[str]:
    """'sft' -> 'sft/direct', 'sft/imagine' (for each mode); other names unchanged, order kept."""
    out: list[str] = []
    for name in names:
        if name in LLM_MODELS:
            out += [f"{name}/{mode}" for mode in modes]
        else:
            out.append(name)
    return list(dict.fromkeys(out))


def make_predictor(name: str, params, train: Optional[list[Question]] = None,
                   baselines_dir: str | Path = BASELINES_DIR, models_dir: str | Path = io.MODELS_DIR
                   ) -> Optional[Predictor]:
    """Build one predictor by name; None (with a warning) when what it needs is missing."""
    if name == "majority":
        if not train:
            log.warning("majority: no training questions; skipped")
            return None
        return MajorityPredictor(train)
    if name == "retrieval":
        from .llm import RetrievalPredictor

        return RetrievalPredictor(params)
    if name == "prior":
        from .prior import PriorPredictor

        return PriorPredictor(params, train or [])
    if name == "oracle":
        from .oracle import OraclePredictor

        try:
            return OraclePredictor(params)
        except FileNotFoundError as e:
            log.warning("oracle: %s; skipped", e)
            return None
    if name in BASELINE_NAMES:
        try:
            return BaselinePredictor(name, baselines_dir)
        except FileNotFoundError as e:
            log.warning("%s: %s; skipped", name, e)
            return None
    if is_llm(name):
        model, _, mode = name.partition("/")
        mode = mode or "direct"
        model_dir = Path(models_dir) / model
        if not model_dir.exists() or not any(model_dir.iterdir()):
            log.warning("%s: model directory %s missing or empty; skipped", name, model_dir)
            return None
        from . import llm

        try:
            predictor = llm.make_llm_predictor(params, model, mode, train, Path(models_dir))
        except (FileNotFoundError, ImportError, OSError) as e:
            log.warning("%s: cannot be built (%s); skipped", name, e)
            return None
        if getattr(predictor, "name", None) != name:
            try:
                predictor.name = name
            except AttributeError:
                pass
        return predictor
    raise ValueError(f"unknown predictor {name!r} (known: majority, retrieval, prior, oracle, {', '.join(BASELINE_NAMES)}, "
                     f"{', '.join(LLM_MODELS)} [/mode])")


def make_predictors(params, train: list[Question], baselines_dir: str | Path = BASELINES_DIR,
                    models_dir: str | Path = io.MODELS_DIR) -> dict[str, Predictor]:
    """Every available predictor named in ``params.evaluate.predictors`` (LLMs expanded by mode)."""
    out: dict[str, Predictor] = {}
    for name in expand_names(list(params.evaluate.predictors), list(params.evaluate.modes)):
        p = make_predictor(name, params, train, baselines_dir, models_dir)
        if p is not None:
            out[name] = p
    return out
