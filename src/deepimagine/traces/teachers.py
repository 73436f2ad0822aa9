"""Teachers that write a full answer (DECISION + REASON) for a training question, and the
agreement filter that keeps a trace only when its decision matches the known answer.

* ``TemplateTeacher`` (offline): a sentence or two built from the structured perturbation (factor,
  from/to, dose ratio, region, time frame) and, on the simulated registry, the mechanism in
  ``truth.json`` (drug class, Emax dose-response, regional exposure/efficacy modifiers). When the
  question carries ``expected_effect`` (the simulated ground truth), the decision is derived from
  that mechanism, NOT from the posted answer, so noisy posted results can disagree and be dropped;
  otherwise the trace rationalises the known answer.
* ``OpenAITeacher``: any OpenAI-compatible ``/v1/chat/completions`` endpoint (key from
  ``OPENAI_API_KEY``; optional for local servers), requests in flight concurrently, retried with
  backoff, completed traces kept in a resume file so that an interrupted run picks up where it stopped.
* ``GeneratorTeacher``: a local model through ``core.generate.Generator`` (vLLM on GPU).
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from ..core.questions import Question, answer_text, display_index, one_hot, parse_answer, render_messages
from ..core.semantics import better_direction, option_semantics, sign_of_effect

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
        conclusion = f"so option {display_index(q, index) + 1} is the most likely"
    reason = " ".join(s for s in (change_sentence(q, truth), mechanism_sentence(q, truth)) if s)
    reason = f"{reason[:-1]}, {conclusion}." if reason.endswith(".") else f"{reason} {conclusion}."
    return answer_text(q, one_hot(len(q.options), index, confidence), reason), basis


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


def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class ResumeFile:
    """Completed traces of one teacher configuration, one JSON line each, appended as they arrive
    (outside the DVC output, so an interrupted run keeps them). A row counts on a rerun only when its
    question's prompt is unchanged; a half-written last line is ignored."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.rows: dict[str, dict] = {}
        text = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        self.cut = bool(text) and not text.endswith("\n")   # the last write was interrupted
        if text:
            for line in text.splitlines():
                try:
                    row = json.loads(line)
                    self.rows[row["question_id"]] = row
                except (ValueError, KeyError, TypeError):
                    continue   # a line cut by the interruption

    def get(self, question_id: str, prompt_sha: str) -> Optional[dict]:
        row = self.rows.get(question_id)
        return row if row and row.get("prompt_sha") == prompt_sha else None

    def append(self, row: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(("\n" if self.cut else "") + json.dumps(row, ensure_ascii=False) + "\n")
        self.cut = False
        self.rows[row["question_id"]] = row


class OpenAITeacher:
    """POST ``{base_url}/chat/completions`` for every question (temperature 0), ``concurrency`` at a
    time, retrying 429 / 5xx / timeouts with exponential backoff and jitter (``core.openai_client``).
    With ``work_dir``, every completed trace is appended to a resume file named by the teacher's
    configuration, and a rerun requests only the questions it lacks. ``finish_reasons`` records each
    question's finish reason (``length``: the ``max_tokens`` budget was hit)."""
    name = "openai"

    def __init__(self, base_url: str, model: str, api_key: Optional[str] = None, timeout_s: float = 300.0,
                 max_tokens: int = 256, max_retries: int = 6, concurrency: int = 8, enable_thinking: bool = False,
                 chat_template_kwargs: bool = True, work_dir: Optional[str | Path] = None,
                 backoff_base_s: float = 1.0):
        from ..core.openai_client import ChatClient

        self.client = ChatClient(base_url, model, api_key=api_key, timeout_s=timeout_s, max_retries=max_retries,
                                 concurrency=concurrency, backoff_base_s=backoff_base_s)
        self.body = {"temperature": 0.0, "max_tokens": max_tokens}
        if chat_template_kwargs:
            self.body["chat_template_kwargs"] = {"enable_thinking": bool(enable_thinking)}
        self.work_dir = Path(work_dir) if work_dir else None
        self.finish_reasons: dict[str, Optional[str]] = {}
        self.resumed = 0

    def resume_path(self) -> Optional[Path]:
        """One file per configuration (model, request body, instruction; not the URL, so a moved
        server resumes): a changed teacher starts afresh."""
        if self.work_dir is None:
            return None
        key = _sha({"model": self.client.model, "body": self.body, "instruction": TEACHER_INSTRUCTION})[:16]
        return self.work_dir / f"openai-{key}.jsonl"

    def complete(self, questions: Sequence[Question]) -> list[str]:
        chats = [teacher_messages(q) for q in questions]
        shas = [_sha(c) for c in chats]
        path = self.resume_path()
        resume = ResumeFile(path) if path else None
        done = {q.id: resume.get(q.id, sha) for q, sha in zip(questions, shas)} if resume else {}
        todo = [i for i, q in enumerate(questions) if not done.get(q.id)]
        self.resumed = len(questions) - len(todo)
        if self.resumed:
            log.info("openai teacher: %d of %d traces resumed from %s", self.resumed, len(questions), path)

        def keep(j: int, choices) -> None:
            i = todo[j]
            row = {"question_id": questions[i].id, "prompt_sha": shas[i], "completion": choices[0].text,
                   "finish_reason": choices[0].finish_reason}
            done[row["question_id"]] = row
            if resume:
                resume.append(row)

        _, failures = self.client.map_chat([chats[i] for i in todo], on_result=keep, desc="openai teacher",
                                           **self.body)
        if failures:
            j, err = next(iter(failures.items()))
            saved = f"; {len(questions) - len(failures)} completed traces are saved in {path}: rerun to resume" \
                if path else ""
            raise RuntimeError(f"openai teacher: {len(failures)} of {len(todo)} requests failed "
                               f"(first, question {questions[todo[j]].id}: {err}){saved}") from err
        self.finish_reasons = {q.id: done[q.id].get("finish_reason") for q in questions}
        return [done[q.id]["completion"] for q in questions]


class GeneratorTeacher:
    """A local model (vLLM when CUDA is present) as the teacher."""
    name = "vllm"

    def __init__(self, model_path: str, backend: str = "auto", dtype: str = "auto", max_new_tokens: int = 256,
                 enable_thinking: bool = False):
        from ..core.generate import Generator

        self.generator = Generator(model_path, backend=backend, dtype=dtype, enable_thinking=enable_thinking)
        self.max_new_tokens = max_new_tokens
        self.finish_reasons: dict[str, Optional[str]] = {}

    def complete(self, questions: Sequence[Question]) -> list[str]:
        from ..core.generate import decision_done

        outs = [o[0] for o in self.generator.generate([teacher_messages(q) for q in questions], self.max_new_tokens)]
        # the generator counts budget hits; per question, a completion with no DECISION that used the budget
        hits = [row[0] for row in self.generator.last_hit_limit]
        self.finish_reasons = {q.id: ("length" if hit and not decision_done(t) else None)
                               for q, t, hit in zip(questions, outs, hits)}
        return outs


# ---------------------------------------------------------------- the agreement filter

@dataclass
class Checked:
    status: str          # kept | dropped | invalid
    choice: Optional[int]
    error: str = ""


def check_trace(q: Question, completion: str) -> Checked:
    """kept: parsed decision's argmax == gold; dropped: it disagrees; invalid: no parseable DECISION."""
    parsed = parse_answer(q, completion)
    if not parsed.valid:
        return Checked("invalid", None, parsed.error)
    if not parsed.reason:
        return Checked("invalid", parsed.choice, "no REASON")
    return Checked("kept" if parsed.choice == q.answer_index else "dropped", parsed.choice)
