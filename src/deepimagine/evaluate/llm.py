"""LLM predictors: ``make_llm_predictor(params, model, mode)`` for model in base | sft | rl and mode in
direct | imagine.

base -> ``models/base`` (or the Hub id it records); sft / rl -> the base plus the PEFT LoRA adapter
saved in ``models/sft`` / ``models/rl``. Generation is batched and greedy (``params.model.temperature``)
with ``params.model.max_new_tokens``; the full text (DECISION + REASON) is kept in ``Prediction.text``.
Imagine mode keeps every path's step texts in ``Prediction.text`` (JSON) and in
``predictor.trajectories`` (question id -> paths), and its fallbacks in ``predictor.counts``.
"""
from __future__ import annotations

import json
import logging
import math
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence

from ..core import io
from ..core.base_model import resolve_base_path
from ..core.questions import (Question, canonical_change, format_answer, from_display, one_hot, parse_answer, parse_decision,
                              render_messages, reversed_change)
from ..core.states import FACTOR_GROUP, operator_group

from .prediction import Prediction

log = logging.getLogger(__name__)

_GENERATORS: dict[tuple, object] = {}   # one loaded model at a time, shared by the modes of a model
_TEMPERATURES: dict[tuple, dict] = {}    # (base, adapter, n) -> fitted temperature, shared by the modes of a model
MIN_GROUP_CALIBRATION = 30               # calibration steps a factor group needs for its own operator fit


def model_paths(model: str, models_dir: Path = io.MODELS_DIR) -> tuple[str, Optional[str]]:
    """(base model path or id, adapter path or None) for 'base' | 'sft' | 'rl'."""
    if model not in ("base", "sft", "rl"):
        raise ValueError(f"unknown LLM {model!r} (base | sft | rl)")
    base = resolve_base_path(models_dir / "base")
    if model == "base":
        return base, None
    adapter = models_dir / model
    if not (adapter / "adapter_config.json").exists():
        raise FileNotFoundError(f"{adapter} holds no PEFT adapter (adapter_config.json): run the '{model}' stage")
    return base, str(adapter)


def operator_adapters(adapter: Optional[str]) -> dict[str, str]:
    """{factor group: path} of the per-factor operators saved beside an adapter (``sft.operators:
    per_factor`` writes ``<adapter>/operators/<group>/``); empty for a shared operator."""
    if not adapter:
        return {}
    root = Path(adapter) / "operators"
    return {d.name: str(d) for d in sorted(root.glob("*")) if (d / "adapter_config.json").exists()}


def get_generator(params, base: str, adapter: Optional[str]):
    """One engine per model: the base with its adapter as ``default`` and every per-factor operator by group."""
    from ..core.generate import Generator

    key = (base, adapter, params.model.backend, params.model.dtype)
    if key not in _GENERATORS:
        _GENERATORS.clear()   # free the previous model first
        adapters = {"default": adapter, **operator_adapters(adapter)} if adapter else None
        _GENERATORS[key] = Generator.from_params(params, base, adapters=adapters)
    return _GENERATORS[key]


def decision_candidates(n_options: int, confidence: float = 0.8) -> list[str]:
    """The canonical DECISION line that puts ``confidence`` on each option in turn (the SFT target shape)."""
    return [format_answer(one_hot(n_options, i, confidence)).split("\n")[0] for i in range(n_options)]


def option_probs(logprobs: Sequence[float], temperature: float = 1.0, bias: Optional[Sequence[float]] = None) -> list[float]:
    """Softmax of per-option log-likelihoods divided by ``temperature`` (> 1 flattens, < 1 sharpens),
    plus a per-option ``bias`` (the operator's prior correction, ``fit_bias_temperature``)."""
    scaled = [lp / temperature + (bias[i] if bias else 0.0) for i, lp in enumerate(logprobs)]
    top = max(scaled)
    weights = [math.exp(s - top) for s in scaled]
    total = sum(weights)
    return [w / total for w in weights]


def likelihood_answer(logprobs: Sequence[float], temperature: float = 1.0, bias: Optional[Sequence[float]] = None) -> str:
    """A DECISION from per-option log-likelihoods (tempered softmax), in the usual answer format."""
    probs = ", ".join(f"{p:.6f}" for p in option_probs(logprobs, temperature, bias))  # 6 decimals: near-ties keep order
    return f"DECISION: ({probs})\nREASON: scored by option likelihood"


def mean_nll(scores: Sequence[Sequence[float]], answers: Sequence[int], temperature: float) -> float:
    """Mean negative log-probability of the true option under the tempered softmax."""
    return -sum(math.log(max(option_probs(s, temperature)[a], 1e-12)) for s, a in zip(scores, answers)) / len(scores)


def fit_temperature(scores: Sequence[Sequence[float]], answers: Sequence[int],
                    bounds: tuple[float, float] = (0.05, 100.0), steps: int = 121) -> float:
    """Temperature scaling (Guo et al., 2017): the T minimising the true option's mean NLL, searched on a
    log grid over ``bounds`` and refined by golden-section search around the best grid point.
    Rescaling by one T changes no argmax (direct accuracy is unchanged), only the confidence."""
    if not scores:
        return 1.0
    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    grid = [lo + (hi - lo) * i / (steps - 1) for i in range(steps)]
    best = min(range(steps), key=lambda i: mean_nll(scores, answers, math.exp(grid[i])))
    a, b = grid[max(best - 1, 0)], grid[min(best + 1, steps - 1)]
    g = (math.sqrt(5) - 1) / 2
    for _ in range(40):
        c, d = b - g * (b - a), a + g * (b - a)
        if mean_nll(scores, answers, math.exp(c)) < mean_nll(scores, answers, math.exp(d)):
            b = d
        else:
            a = c
    return math.exp((a + b) / 2)


def fit_bias_temperature(scores: Sequence[Sequence[float]], answers: Sequence[int], iters: int = 2000,
                         lr: float = 0.05) -> tuple[float, list[float]]:
    """Bias-corrected temperature scaling (Alexandari et al., 2020): the T and per-option biases b
    (b of the middle option fixed at 0) minimising the true option's mean NLL of softmax(s / T + b),
    by full-batch Adam from T = 1, b = 0 (deterministic). The bias corrects a prior the model learned
    in training (bin-balanced operator questions) to the prior of the steps it is asked."""
    import numpy as np

    s = np.asarray(scores, dtype=float)
    y = np.asarray(answers, dtype=int)
    n, k = s.shape
    theta = np.zeros(k + 1)            # [log T, b_0 .. b_{k-1}]
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    onehot = np.eye(k)[y]
    for t in range(1, iters + 1):
        temp = math.exp(theta[0])
        z = s / temp + theta[1:]
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) / n                       # dNLL/dz
        grad = np.concatenate([[-(g * s).sum() / temp], g.sum(axis=0)])
        grad[1 + k // 2] = 0.0                     # the middle option's bias is the reference
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        theta -= lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        theta[0] = min(max(theta[0], math.log(0.05)), math.log(100.0))
    return math.exp(theta[0]), [round(float(b), 6) for b in theta[1:]]


def imagine_settings(params) -> "Settings":
    from .imagine import Settings

    ev, pp = params.evaluate, params.pairs
    return Settings(edges_sd=tuple(pp.change_edges_sd), edges_rel=tuple(pp.change_edges_rel), k=ev.imagine_k,
                    order=tuple(ev.imagine_order), weights=ev.imagine_weights,
                    pairing=ev.imagine_pairing, aggregate=ev.imagine_aggregate, shared_steps=ev.imagine_shared_steps,
                    variance_scale=ev.imagine_variance_scale, placebo_paths=ev.imagine_placebo_paths,
                    centres=step_centres(ev.step_centres, tuple(pp.change_edges_sd), tuple(pp.change_edges_rel)))


def step_centres(source: str, edges_sd: tuple, edges_rel: tuple,
                 calibration_file: Path = io.CALIBRATION_FILE) -> dict[str, list[float]]:
    """The bins' centres the chain reads each step with (``evaluate.step_centres``): {} for the
    edges' fixed midpoints; 'calibration': per operator group, each bin's mean standardised change
    over the operator's calibration steps (teacher-imagined cross-trial steps SFT never saw:
    ``data/traces/calibration.jsonl``; on the simulated registry the oracle teacher's true changes)."""
    from .imagine import fit_step_centres

    if source == "midpoint":
        return {}
    path = Path(calibration_file)
    steps = [Question.from_row(r) for r in io.read_jsonl(path)] if path.exists() else []
    if not steps:
        log.warning("evaluate.step_centres=%s: no calibration steps in %s; the bins' midpoints are used", source, path)
        return {}
    centres = fit_step_centres(steps, edges_sd, edges_rel)
    log.info("step centres from %d calibration steps: %s", len(steps),
             {k: [round(c, 3) for c in v] for k, v in centres.items()})
    return centres


def calibration_group(q: Question) -> Optional[str]:
    """The calibration group of an operator question: ``states.operator_group`` of its step."""
    return operator_group(q.factor, q.from_value, q.to_value)


class LLMPredictor:
    """One model (base | sft | rl) in one mode: ``direct`` (the question as is), ``rag`` (the question
    with its anchors' posted results in the prompt) or ``imagine`` (successive imagining from the
    same anchors). Questions imagining cannot answer fall back to direct, counted by reason."""

    def __init__(self, params, model: str, mode: str, models_dir: Path = io.MODELS_DIR,
                 train: Optional[Sequence[Question]] = None, calibration_file: Path = io.CALIBRATION_FILE):
        if mode not in ("direct", "rag", "imagine"):
            raise ValueError(f"unknown mode {mode!r} (direct | rag | imagine)")
        self.params, self.model, self.mode = params, model, mode
        self.name = f"{model}/{mode}"
        self.base, self.adapter = model_paths(model, models_dir)
        self.trajectories: dict[str, dict] = {}
        self.counts: Counter = Counter()
        self.train = list(train or [])
        self._cache: dict[str, str] = {}
        self.operators = operator_adapters(self.adapter)
        self.calibration_file = Path(calibration_file)

    def messages(self, q: Question) -> list[dict]:
        """The chat this model is asked ``q`` in (with the system prompt when ``model.system_prompt``)."""
        return render_messages(q, self.params.model.system_prompt)

    def calibration_steps(self) -> list[Question]:
        """The operator's calibration set: teacher-imagined cross-trial steps that SFT never saw
        (``data/traces/calibration.jsonl``); training change questions when there are none."""
        if self.calibration_file.exists():
            steps = [Question.from_row(r) for r in io.read_jsonl(self.calibration_file)]
            if steps:
                return steps
        return [q for q in self.train if q.category == "change"]

    def temperature_scaling(self) -> dict:
        """Likelihood decisions: calibration fitted on ``evaluate.calibration_questions`` questions
        (never benchmark ones), once per model and shared by its modes. The operator ('change')
        questions, which every imagining step is, get a temperature AND per-bin biases
        (``fit_bias_temperature``) per factor group and kind of step (``operator_calibration``):
        a walk from a retrieved anchor trial is fitted on the imagined calibration steps (that kind
        of cross-trial step, with its prior over bins, which bin-balanced training shifts); a local
        walk from the question's own anchor on training change questions. The other questions get a
        temperature fitted on a stratified sample of training questions.
        Temperature 1 (plain softmax) when off or nothing to fit on."""
        n = self.params.evaluate.calibration_questions
        if self.params.model.decision != "likelihood" or not n or not self.train:
            return {"temperature": 1.0, "operator_temperature": 1.0, "operator_bias": None, "operator_groups": {},
                    "questions": 0}
        key = (self.base, self.adapter, n)
        if key not in _TEMPERATURES:
            from .sampling import stratified_sample

            fitted = {}
            for group, pool in (("operator", self.calibration_steps()),
                                ("other", [q for q in self.train if q.category != "change"])):
                sample = stratified_sample(pool, n, self.params.seed)
                if not sample:
                    fitted[group] = {"temperature": 1.0, "questions": 0}
                    continue
                scores = self.option_scores(sample)
                answers = [q.answer_index for q in sample]
                bias = None
                if group == "operator":
                    t, bias = fit_bias_temperature(scores, answers)
                else:
                    t = fit_temperature(scores, answers)
                fitted[group] = {"temperature": round(t, 4), "questions": len(sample),
                                 "source": "calibration steps" if group == "operator" and pool and pool[0].source == "synthetic"
                                 else "train questions",
                                 "nll_at_1": round(mean_nll(scores, answers, 1.0), 4),
                                 "nll": round(-sum(math.log(max(option_probs(sc, t, bias)[a], 1e-12))
                                                   for sc, a in zip(scores, answers)) / len(scores), 4)}
                if bias is not None:
                    fitted[group]["bias"] = bias
            groups: dict[str, dict] = {}
            for kind, steps in (("retrieved", self.calibration_steps()),
                                ("local", [q for q in self.train if q.category == "change"])):
                for group in sorted({calibration_group(q) for q in steps} - {None}):
                    pool = [q for q in steps if calibration_group(q) == group]
                    if len(pool) < MIN_GROUP_CALIBRATION:
                        continue
                    sample = stratified_sample(pool, max(n // 2, MIN_GROUP_CALIBRATION), self.params.seed)
                    scores = self.option_scores(sample)
                    t, bias = fit_bias_temperature(scores, [q.answer_index for q in sample])
                    groups[f"{kind}/{group}"] = {"temperature": round(t, 4), "bias": bias, "questions": len(sample)}
            _TEMPERATURES[key] = {"temperature": fitted["other"]["temperature"],
                                 "operator_temperature": fitted["operator"]["temperature"],
                                 "operator_bias": fitted["operator"].get("bias"), "operator_groups": groups,
                                 "questions": sum(f["questions"] for f in fitted.values()), "fits": fitted}
            log.info("%s: temperatures %s", self.model, _TEMPERATURES[key])
        return _TEMPERATURES[key]

    @staticmethod
    def operator_calibration(q: Question, ts: dict) -> tuple[float, Optional[list[float]]]:
        """(temperature, bias) for an operator question: the fit of its kind and factor group when
        there were enough calibration questions of that group, else the pooled operator fit. Kinds:
        'retrieved' (a step of a walk from a retrieved anchor trial: fitted on the imagined
        calibration steps) and 'local' (a local question, or a step of its walk from its own posted
        anchor: fitted on training change questions), as ``meta['calibration']`` says."""
        kind = (q.meta or {}).get("calibration") or ("retrieved" if q.source == "synthetic" else "local")
        g = (ts.get("operator_groups") or {}).get(f"{kind}/{calibration_group(q)}")
        return (g["temperature"], g["bias"]) if g else (ts["operator_temperature"], ts.get("operator_bias"))

    def adapter_for(self, q: Question) -> Optional[str]:
        """The adapter that answers ``q``: its factor group's operator for an operator ('change')
        question when per-factor operators exist, else the model's own adapter."""
        if q.category == "change" and FACTOR_GROUP.get(q.factor) in self.operators:
            return FACTOR_GROUP[q.factor]
        return None

    def option_scores(self, questions: Sequence[Question]) -> list[list[float]]:
        """Log-likelihood of each option's canonical DECISION line after each question's prompt
        (batched per adapter). With ``evaluate.operator_readout: antisymmetric`` an operator question
        that can be asked backwards (``reversed_change``) scores each bin as the mean of its forward
        log-likelihood and the mirrored bin's backward one. With ``canonical`` a dose descent is
        scored as its climb (``canonical_change``), its bins mirrored back."""
        questions = list(questions)
        readout = self.params.evaluate.operator_readout
        if readout == "canonical":
            asked = [canonical_change(q) for q in questions]
            scores = self._option_scores([a for a, _ in asked])
            return [list(reversed(sc)) if flipped else sc for sc, (_, flipped) in zip(scores, asked)]
        if readout != "antisymmetric":
            return self._option_scores(questions)
        backwards = [reversed_change(q) for q in questions]
        extra = [b for b in backwards if b is not None]
        scores = self._option_scores(questions + extra)
        out, back = scores[:len(questions)], iter(scores[len(questions):])
        for i, b in enumerate(backwards):
            if b is not None:
                rev = next(back)
                out[i] = [(f + r) / 2 for f, r in zip(out[i], reversed(rev))]
        return out

    def _option_scores(self, questions: Sequence[Question]) -> list[list[float]]:
        gen = get_generator(self.params, self.base, self.adapter)
        out: list = [None] * len(questions)
        by_adapter: dict = {}
        for i, q in enumerate(questions):
            by_adapter.setdefault(self.adapter_for(q), []).append(i)
        for adapter, idx in by_adapter.items():
            scores = gen.score_options([self.messages(questions[i]) for i in idx],
                                       [decision_candidates(len(questions[i].options)) for i in idx], adapter=adapter)
            for i, sc in zip(idx, scores):
                out[i] = from_display(questions[i], sc)      # candidates follow the prompt's option order
            if adapter:
                self.counts[f"operator_{adapter}"] += len(idx)
        return out

    def ask(self, questions: Sequence[Question]) -> list[str]:
        """One answer per question: generated (greedy) or, with ``model.decision: likelihood``, the
        DECISION whose scores are the tempered likelihoods of each option's canonical answer.
        Identical prompts (e.g. the first step of two chains from one anchor) are asked once."""
        keys = [json.dumps(self.messages(q)) + f"|{len(q.options)}|{(q.meta or {}).get('calibration')}" for q in questions]
        todo = {k: q for k, q in zip(keys, questions) if k not in self._cache}
        if todo:
            qs = list(todo.values())
            if self.params.model.decision == "likelihood":
                ts = self.temperature_scaling()
                texts = [likelihood_answer(scores, *self.operator_calibration(q, ts))
                         if q.category == "change" else likelihood_answer(scores, ts["temperature"])
                         for q, scores in zip(qs, self.option_scores(qs))]
            else:
                gen = get_generator(self.params, self.base, self.adapter)
                texts = [""] * len(qs)
                by_adapter: dict = {}
                for i, q in enumerate(qs):
                    by_adapter.setdefault(self.adapter_for(q), []).append(i)
                for adapter, idx in by_adapter.items():
                    outs = gen.generate([self.messages(qs[i]) for i in idx], max_new_tokens=self.params.model.max_new_tokens,
                                        temperature=self.params.model.temperature, seed=self.params.seed, adapter=adapter)
                    for i, o in zip(idx, outs):
                        parsed = parse_answer(qs[i], o[0])   # the DECISION follows the prompt's option order
                        texts[i] = format_answer(parsed.probs, parsed.reason) if parsed.valid else o[0]
            self._cache.update(zip(todo, texts))
            self.counts["model_calls"] += len(qs)
        return [self._cache[k] for k in keys]

    def _direct(self, questions: Sequence[Question]) -> list[Prediction]:
        out = []
        for q, text in zip(questions, self.ask(questions)):
            parsed = parse_decision(text, len(q.options))
            out.append(Prediction(q.id, parsed.probs if parsed.valid else None, parsed.valid, text))
        return out

    def predict(self, questions: Sequence[Question]) -> list[Prediction]:
        from .imagine import fallback_reason, imagine, rag_question

        questions = list(questions)
        if self.mode == "direct":
            return self._direct(questions)
        reasons = {q.id: fallback_reason(q) for q in questions}
        direct_qs = [q for q in questions if reasons[q.id]]
        own = [q for q in questions if not reasons[q.id]]
        self.counts.update(f"fallback_{r}" for r in reasons.values() if r)
        by_id = {p.id: p for p in self._direct(direct_qs)} if direct_qs else {}
        if self.mode == "rag" and own:
            settings = imagine_settings(self.params)
            for q, p in zip(own, self._direct([rag_question(q, settings) for q in own])):
                by_id[q.id] = p
            self.counts["rag"] += len(own)
        elif own:
            probs, traj, counts = imagine(own, self.ask, imagine_settings(self.params))
            self.counts.update(counts)
            self.counts["imagined"] += len(own)
            self.trajectories.update(traj)
            for q in own:
                by_id[q.id] = Prediction(q.id, probs[q.id], True, json.dumps(traj[q.id], default=str))
        for q in direct_qs:
            self.trajectories[q.id] = {"fallback": reasons[q.id], "text": by_id[q.id].text}
        log.info("%s: %s", self.name, dict(self.counts))
        return [by_id[q.id] for q in questions]


class RetrievalPredictor:
    """The no-model control: the same anchors as imagining, their posted values carried unchanged
    through the same mixture and the same final comparison. Questions imagining cannot answer get a
    uniform answer (counted)."""

    name = "retrieval"

    def __init__(self, params):
        self.params = params
        self.counts: Counter = Counter()
        self.trajectories: dict[str, dict] = {}

    def predict(self, questions: Sequence[Question]) -> list[Prediction]:
        from .imagine import answer_or_uniform, imagine

        # no placebo paths: a path that imagines nothing from a placebo cell would give the drug no effect
        settings = replace(imagine_settings(self.params), placebo_paths=False)
        return answer_or_uniform(list(questions), lambda qs: imagine(qs, None, settings), self.counts, self.trajectories)


def make_llm_predictor(params, model: str, mode: str, train: Optional[Sequence[Question]] = None,
                       models_dir: Path = io.MODELS_DIR) -> LLMPredictor:
    return LLMPredictor(params, model, mode, models_dir=models_dir, train=train)
