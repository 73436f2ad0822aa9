"""Teachers that write a full answer (DECISION + REASON) for a training question, and the
agreement filter that keeps a trace only when its decision matches the known answer.

* ``TemplateTeacher`` (offline): a sentence or two built from the structured perturbation (factor,
  from/to, dose ratio, region, time frame) and, on the simulated registry, the mechanism in
  ``truth.json`` (drug class, Emax dose-response, regional exposure/efficacy modifiers). When the
  question carries ``expected_effect`` (the simulated ground truth), the decision is derived from
  that mechanism, NOT from the posted answer, so noisy posted results can disagree and be dropped;
  otherwise the trace rationalises the known answer.
* ``OpenAITeacher``: any OpenAI-compatible ``/v1/chat/completions`` endpoint (key from
  ``OPENAI_API_KEY``; optional for local servers).
* ``GeneratorTeacher``: a local model through ``models.generate.Generator`` (vLLM on GPU).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Optional, Sequence

from ..evaluate.mechanism import better_direction, option_semantics, sign_of_effect
from ..questions import Question, format_answer, one_hot, parse_decision, render_messages

log = logging.getLogger(__name__)

TEACHER_INSTRUCTION = (
    "Reason causally about what the change does (mechanism, dose-response, population, region, time), "
    "then answer. First line exactly 'DECISION: (p1, p2, ...)'; second line 'REASON: ' with at most "
    "two sentences."
)

_CONCLUSION = {
    "up": "so the result should be meaningfully higher",
    "down": "so the result should be meaningfully lower",
    "none": "so no meaningful difference is expected",
    "improve": "so the changed condition should improve on the reference",
    "not_improve": "so a significant improvement over the reference is not expected",
}


# ---------------------------------------------------------------- mechanism text (simulated truth)

def drug_record(truth: Optional[dict], q: Question, which: str = "target") -> Optional[dict]:
    """The simulated drug behind the question's target (or anchor) arm, from truth.json."""
    if not truth:
        return None
    world = truth.get("world") or {}
    drugs = world.get("drugs") or {}
    ctx = q.context or {}
    arm = ctx.get(which) or {}
    for nct in q.nct_ids[::-1] if which == "target" else q.nct_ids:
        study = (truth.get("studies") or {}).get(nct) or {}
        info = (study.get("arms") or {}).get(arm.get("label") or "")
        if info and info.get("drug") in drugs:
            return drugs[info["drug"]]
    name = str(arm.get("intervention") or "").lower()
    if name:
        for d in drugs.values():
            if str(d.get("name", "")).lower() == name:
                return d
    return None


def region_note(truth: Optional[dict], region: str) -> str:
    mod = ((truth or {}).get("world") or {}).get("regions", {}).get(region)
    if not mod:
        return ""
    return f" ({region}: exposure x{mod.get('exposure', 1):g}, drug efficacy x{mod.get('efficacy', 1):g}, " \
           f"placebo response x{mod.get('placebo', 1):g})"


def _dose_mg(arm: dict) -> Optional[float]:
    dose = arm.get("dose") or {}
    value = dose.get("value_mg") if dose.get("value_mg") is not None else dose.get("value")
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def change_sentence(q: Question, truth: Optional[dict] = None) -> str:
    """What changes, stated structurally (one sentence)."""
    ctx = q.context or {}
    factor = q.factor or q.kind
    text = f"The {factor.replace('_', ' ')} changes from {q.from_value} to {q.to_value}"
    if q.kind.startswith("dose") or factor == "dose":
        a, b = _dose_mg(ctx.get("anchor") or {}), _dose_mg(ctx.get("target") or {})
        if a and b:
            text += f" (x{b / a:.2g})"
    if factor in ("region", "geography"):
        text += region_note(truth, q.to_value)
    return text + "."


def mechanism_sentence(q: Question, truth: Optional[dict] = None) -> str:
    """The causal rule that applies to this kind of change (one sentence, may be empty)."""
    drug = drug_record(truth, q) or drug_record(truth, q, "anchor")
    who = f"{drug['name']} ({drug.get('mechanism_class') or drug.get('mechanism', 'drug')})" if drug else "The drug"
    kind = q.kind
    if kind.startswith("dose"):
        return f"{who} follows an Emax dose-response: the effect grows with dose toward a plateau."
    if kind in ("geography",) or q.factor == "region":
        return f"{who} acts through regional differences in exposure, efficacy and placebo response."
    if kind in ("time_point", "time_frame"):
        return "Drug and placebo effects build up over time toward a plateau."
    if kind == "population":
        return "Age and sex change exposure, drug efficacy and placebo response."
    if kind in ("arm", "comparator"):
        return f"{who} adds its own effect on top of the placebo response."
    if kind == "phase":
        return "Phase has no direct effect; it acts through dose, size and duration."
    return ""


# ---------------------------------------------------------------- the template teacher

def mechanism_decision(q: Question, margin: float) -> Optional[tuple[int, float]]:
    """(option index, confidence) implied by ``expected_effect``; None when not derivable."""
    sem = option_semantics(q)
    if sem is None or q.expected_effect is None:
        return None
    direction = sign_of_effect(q.expected_effect, margin)
    if sem[0] == "improve":
        better = better_direction(q)
        if better is None:
            return None
        label = "improve" if direction == ("up" if better == "higher" else "down") else "not_improve"
    else:
        label = direction
    confidence = 0.6 + 0.3 * min(1.0, abs(q.expected_effect))
    return sem.index(label), confidence


def template_trace(q: Question, truth: Optional[dict] = None, margin: float = 0.05) -> tuple[str, str]:
    """(completion, basis): the full DECISION/REASON answer and 'mechanism' or 'rationalized'."""
    decided = mechanism_decision(q, margin)
    basis = "mechanism"
    if decided is None:
        decided, basis = (q.answer_index, 0.8), "rationalized"
    index, confidence = decided
    sem = option_semantics(q)
    conclusion = _CONCLUSION.get(sem[index], "") if sem else ""
    if not conclusion:
        conclusion = f"so option {index + 1} is the most likely"
    reason = " ".join(s for s in (change_sentence(q, truth), mechanism_sentence(q, truth)) if s)
    reason = f"{reason[:-1]}, {conclusion}." if reason.endswith(".") else f"{reason} {conclusion}."
    return format_answer(one_hot(len(q.options), index, confidence), reason), basis


class TemplateTeacher:
    name = "template"

    def __init__(self, truth: Optional[dict] = None, margin: float = 0.05, significance_margin: float = 0.2):
        self.truth, self.margin, self.significance_margin = truth, margin, significance_margin
        self.basis: dict[str, str] = {}

    def complete(self, questions: Sequence[Question]) -> list[str]:
        out = []
        for q in questions:
            margin = self.margin if q.category == "direction" else self.significance_margin
            text, basis = template_trace(q, self.truth, margin)
            self.basis[q.id] = basis
            out.append(text)
        return out


# ---------------------------------------------------------------- remote / local model teachers

def teacher_messages(q: Question) -> list[dict]:
    msgs = render_messages(q)
    msgs[-1] = {"role": "user", "content": msgs[-1]["content"] + "\n\n" + TEACHER_INSTRUCTION}
    return msgs


class OpenAITeacher:
    """POST ``{base_url}/chat/completions`` per question (temperature 0)."""
    name = "openai"

    def __init__(self, base_url: str, model: str, api_key: Optional[str] = None, timeout_s: float = 120.0,
                 max_tokens: int = 256, max_retries: int = 3):
        import requests

        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.timeout_s, self.max_tokens, self.max_retries = model, timeout_s, max_tokens, max_retries
        self.session = requests.Session()
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"

    def complete_one(self, q: Question) -> str:
        import time

        import requests

        body = {"model": self.model, "messages": teacher_messages(q), "temperature": 0.0,
                "max_tokens": self.max_tokens}
        for attempt in range(self.max_retries):
            try:
                r = self.session.post(self.url, json=body, timeout=self.timeout_s)
                if r.status_code in (429, 500, 502, 503, 504) and attempt + 1 < self.max_retries:
                    time.sleep(2 ** attempt)
                    continue
                r.raise_for_status()
                return r.json()["choices"][0]["message"]["content"] or ""
            except (requests.ConnectionError, requests.Timeout):
                if attempt + 1 == self.max_retries:
                    raise
                time.sleep(2 ** attempt)
        return ""

    def complete(self, questions: Sequence[Question]) -> list[str]:
        from tqdm import tqdm

        return [self.complete_one(q) for q in tqdm(questions, desc="openai teacher", mininterval=5)]


class GeneratorTeacher:
    """A local model (vLLM when CUDA is present) as the teacher."""
    name = "vllm"

    def __init__(self, model_path: str, backend: str = "auto", dtype: str = "auto", max_new_tokens: int = 256):
        from ..models.generate import Generator

        self.generator = Generator(model_path, backend=backend, dtype=dtype)
        self.max_new_tokens = max_new_tokens

    def complete(self, questions: Sequence[Question]) -> list[str]:
        outs = self.generator.generate([teacher_messages(q) for q in questions], self.max_new_tokens)
        return [o[0] for o in outs]


# ---------------------------------------------------------------- the agreement filter

@dataclass
class Checked:
    status: str          # kept | dropped | invalid
    choice: Optional[int]
    error: str = ""


def check_trace(q: Question, completion: str) -> Checked:
    """kept: parsed decision's argmax == gold; dropped: it disagrees; invalid: no parseable DECISION."""
    parsed = parse_decision(completion, len(q.options))
    if not parsed.valid:
        return Checked("invalid", None, parsed.error)
    if not parsed.reason:
        return Checked("invalid", parsed.choice, "no REASON")
    return Checked("kept" if parsed.choice == q.answer_index else "dropped", parsed.choice)
