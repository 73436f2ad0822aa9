"""Pairs -> questions with verifiable answers (the option lists and their order come from questions.py).

A *pair* is a plain dict made by natural.py or approximate.py::

    {"pair_id", "source", "kind", "factor", "from_value", "to_value",
     "anchor": cell, "target": cell,             # rows of the ``cells`` table (dicts)
     "anchor_trial": trial, "target_trial": trial, # rows of the ``trials`` table (dicts)
     "analysis": {...} | None,                     # posted two-group analysis of exactly these two groups
     "meta": {...}}                                # chain_id/step, similarity, block ...

``questions_for_pair`` turns one pair into up to three questions:

- ``direction`` (always): is the target's value meaningfully higher / lower / no different from the
  anchor's? The margin is ``direction_margin_sd`` x pooled SD where dispersion gives an SD, else
  ``direction_margin_rel`` x |anchor value|.
- ``comparative_effect`` (a posted analysis of the two groups exists): significant (p < alpha) higher /
  lower (sign of the posted group values) or no significant difference. Polarity-free wording; with
  ``comparative_wording: improvement`` the improvement wording where the better direction is known.
- ``superiority`` (analysis + known better direction): did the changed condition achieve a
  significant improvement over the reference?
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

from ..core.operator import finite_or_none, cell_sd, change_bin, standardised_change
from ..core.states import shown_intervention
from ..core.questions import (CHANGE_OPTIONS, COMPARATIVE_OPTIONS, COMPARATIVE_OPTIONS_IMPROVEMENT, DIRECTION_OPTIONS,
                              SUPERIORITY_OPTIONS, Question)

def short_hash(text: str, n: int = 12) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:n]


def pooled_sd(anchor: dict, target: dict) -> Optional[float]:
    sds = [s for s in (cell_sd(anchor), cell_sd(target)) if s is not None]
    return math.sqrt(sum(s * s for s in sds) / len(sds)) if sds else None


def change_question_fields(av: float, tv: float, sd: Optional[float], settings: "BuildSettings") -> tuple[int, dict]:
    """(answer bin, meta) of the operator question for a posted anchor -> target change."""
    z, how = standardised_change(av, tv, sd)
    edges = settings.change_edges_sd if how == "sd" else settings.change_edges_rel
    return change_bin(z, edges), {"z": round(z, 6), "scale_from": how, "sd": None if sd is None else round(sd, 6),
                                  "edges": list(edges)}


def direction_margin(anchor: dict, target: dict, margin_sd: float, margin_rel: float) -> tuple[float, str]:
    """The 'no meaningful difference' half-width and how it was derived ('sd' | 'relative')."""
    sds = [s for s in (cell_sd(anchor), cell_sd(target)) if s is not None]
    if sds:
        pooled = math.sqrt(sum(s * s for s in sds) / len(sds))
        return margin_sd * pooled, "sd"
    ref = abs(finite_or_none(anchor.get("value")) or 0.0) or abs(finite_or_none(target.get("value")) or 0.0)
    return margin_rel * ref, "relative"


def direction_answer(anchor_value: float, target_value: float, margin: float) -> int:
    diff = target_value - anchor_value
    if diff > margin:
        return 0
    if diff < -margin:
        return 1
    return 2


def significance(analysis: dict, alpha: float) -> str:
    """'yes' (p < alpha; '<0.05' counts at 0.05) | 'no' | 'undecided' ('>0.01' at 0.05) | 'missing'."""
    p = finite_or_none(analysis.get("p_value"))
    if p is None:
        return "missing"
    mod = (analysis.get("p_value_modifier") or "=").strip()
    if mod in (">", ">="):
        return "no" if p >= alpha else "undecided"
    if p < alpha or (mod == "<" and p <= alpha):
        return "yes"
    return "no"


# ---------------------------------------------------------------- context

def population_text(trial: dict) -> str:
    sex = {"FEMALE": "women", "MALE": "men"}.get((trial.get("sex") or "").upper(), "all sexes")
    lo, hi = trial.get("min_age"), trial.get("max_age")
    if lo is not None and hi is not None:
        ages = f"aged {lo:g}-{hi:g} years"
    elif lo is not None:
        ages = f"aged {lo:g}+ years"
    elif hi is not None:
        ages = f"aged up to {hi:g} years"
    else:
        ages = "any age"
    return f"{sex}, {ages}"


def trial_context(trial: dict) -> dict:
    return {
        "nct_id": trial["nct_id"],
        "title": trial.get("title") or "",
        "conditions": list(trial.get("conditions") or []),
        "phase": trial.get("phase"),
        "enrollment": trial.get("enrollment"),
        "countries": list(trial.get("countries") or []),
        "regions": list(trial.get("regions") or []),
        "sex": trial.get("sex"),
        "min_age": trial.get("min_age"),
        "max_age": trial.get("max_age"),
        "population": population_text(trial),
    }


def dose_dict(cell: dict) -> Optional[dict]:
    if cell.get("dose_value") is None:
        return None
    return {"value": cell["dose_value"], "unit": cell.get("dose_unit"), "value_mg": cell.get("dose_value_mg"),
            "frequency": cell.get("dose_frequency"), "route": cell.get("dose_route")}


def dose_text(cell: dict) -> str:
    if cell.get("is_placebo"):
        return "placebo"
    if cell.get("dose_value") is None:
        return "unknown dose"
    text = f"{cell['dose_value']:g} {cell.get('dose_unit') or ''}".strip()
    if cell.get("dose_frequency"):
        text += f" {cell['dose_frequency']}"
    return text


def arm_context(cell: dict, with_result: bool) -> dict:
    arm = {
        "label": cell.get("arm_label"),
        "type": cell.get("arm_type"),
        "description": cell.get("arm_description"),
        "intervention": shown_intervention(cell),      # the compound's one name (core/states.py)
        "intervention_type": cell.get("intervention_type"),
        "dose": dose_dict(cell),
    }
    if with_result:
        arm["result"] = {"value": cell.get("value"), "spread": cell.get("spread"),
                         "dispersion_type": cell.get("dispersion_type"), "n": cell.get("n"), "unit": cell.get("unit")}
    return arm


def outcome_context(cell: dict, better: Optional[str]) -> dict:
    return {"measure": cell.get("measure"), "description": cell.get("outcome_description"),
            "time_frame": cell.get("time_frame"), "time_weeks": cell.get("time_weeks"), "unit": cell.get("unit"),
            "param_type": cell.get("param_type"), "dispersion_type": cell.get("dispersion_type"),
            "outcome_type": cell.get("outcome_type"), "better": better}


def measure_label(cell: dict) -> str:
    return f"{cell.get('measure') or ''} | {cell.get('time_frame') or ''}".strip(" |")


def question_text(pair: dict) -> str:
    a, t, kind = pair["anchor"], pair["target"], pair["kind"]
    measure = f"'{a.get('measure')}'" + (f" ({a.get('time_frame')})" if a.get("time_frame") else "")
    if kind == "arm":
        return (f"If the participants of arm '{a.get('arm_label')}' had instead received what arm "
                f"'{t.get('arm_label')}' received, how would {measure} change?")
    if kind in ("dose", "dose_successive"):
        return (f"If the dose were changed from {pair['from_value']} to {pair['to_value']} "
                f"(arm '{t.get('arm_label')}'), how would {measure} change?")
    if kind == "outcome_measure":
        return (f"In arm '{a.get('arm_label')}', how does the result on '{t.get('measure')}' "
                f"({t.get('time_frame')}) compare with the known result on {measure}?")
    if kind == "time_point":
        return (f"In arm '{a.get('arm_label')}', how does '{t.get('measure')}' at '{t.get('time_frame')}' "
                f"compare with the known result at '{a.get('time_frame')}'?")
    return (f"In a similar trial that differs in {pair['factor']} ({pair['from_value']} -> {pair['to_value']}), "
            f"how would the result of arm '{t.get('arm_label')}' on {measure} compare with the known result?")


def build_context(pair: dict, better: Optional[str]) -> dict:
    a, t = pair["anchor"], pair["target"]
    ctx = {
        "trial": trial_context(pair["anchor_trial"]),
        "outcome": outcome_context(a, better),
        "anchor": arm_context(a, with_result=True),
        "target": arm_context(t, with_result=False),
        "question": question_text(pair),
    }
    if pair["source"] == "approximate":
        ctx["counterfactual_trial"] = trial_context(pair["target_trial"])
    if pair["kind"] in ("outcome_measure", "time_point") or pair["source"] == "approximate":
        ctx["target_outcome"] = outcome_context(t, better)
    return ctx


# ---------------------------------------------------------------- questions

@dataclass
class BuildSettings:
    alpha: float = 0.05
    margin_sd: float = 0.2
    margin_rel: float = 0.05
    comparative_wording: str = "polarity_free"   # polarity_free | improvement
    change_edges_sd: tuple = (-0.6, -0.15, 0.15, 0.6)   # operator bins, standardised by the pooled SD
    change_edges_rel: tuple = (-0.3, -0.05, 0.05, 0.3)  # ... relative to |anchor value| without an SD


@dataclass
class BuildCounts:
    """Why numbers were skipped (metrics/pairs.json ``skipped``)."""
    counts: dict = field(default_factory=dict)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def questions_for_pair(pair: dict, split: str, settings: BuildSettings, better: Optional[str],
                       better_source: str, expected: Callable[[dict], Optional[float]],
                       counts: BuildCounts) -> Iterator[Question]:
    """Yield the direction / comparative_effect / superiority questions a pair supports."""
    a, t = pair["anchor"], pair["target"]
    av, tv = finite_or_none(a.get("value")), finite_or_none(t.get("value"))
    if av is None or tv is None:
        counts.add("pair_missing_value")
        return
    context = build_context(pair, better)
    base_meta = dict(pair.get("meta") or {})
    base_meta.update(pair_id=pair["pair_id"], better_source=better_source)
    nct_ids = [a["nct_id"]] if pair["source"] == "natural" else [a["nct_id"], t["nct_id"]]
    common = dict(source=pair["source"], kind=pair["kind"], split=split, nct_ids=nct_ids, factor=pair["factor"],
                  from_value=pair["from_value"], to_value=pair["to_value"], context=context,
                  expected_effect=expected(pair), posted_date=_iso(pair["anchor_trial"].get("results_first_posted")))
    qid = f"{'N' if pair['source'] == 'natural' else 'A'}-{pair['kind']}-{short_hash(pair['pair_id'])}"

    margin, how = direction_margin(a, t, settings.margin_sd, settings.margin_rel)
    yield Question(id=f"{qid}-dir", category="direction", options=list(DIRECTION_OPTIONS),
                   answer_index=direction_answer(av, tv, margin),
                   meta={**base_meta, "margin": round(margin, 6), "margin_from": how,
                         "difference": round(tv - av, 6)}, **common)
    answer, cmeta = change_question_fields(av, tv, pooled_sd(a, t), settings)
    yield Question(id=f"{qid}-chg", category="change", options=list(CHANGE_OPTIONS), answer_index=answer,
                   meta={**base_meta, **cmeta}, **common)

    analysis = pair.get("analysis")
    if not analysis:
        return
    status = significance(analysis, settings.alpha)
    if status in ("missing", "undecided"):
        counts.add(f"analysis_p_{status}")
        return
    sig = status == "yes"
    if sig and tv == av:
        counts.add("analysis_significant_equal_values")
        return
    higher = tv > av
    ameta = {**base_meta, "p_value": analysis.get("p_value"), "p_value_text": analysis.get("p_value_text"),
             "analysis_method": analysis.get("method"), "analysis_param_type": analysis.get("param_type"),
             "estimate": analysis.get("estimate"), "alpha": settings.alpha}
    improved = None if better is None else (higher if better == "higher" else not higher)
    if settings.comparative_wording == "improvement" and improved is not None:
        options, answer = COMPARATIVE_OPTIONS_IMPROVEMENT, (2 if not sig else (0 if improved else 1))
        wording = "improvement"
    else:
        if settings.comparative_wording == "improvement":
            counts.add("comparative_improvement_fallback_unknown_better")
        options, answer = COMPARATIVE_OPTIONS, (2 if not sig else (0 if higher else 1))
        wording = "polarity_free"
    yield Question(id=f"{qid}-cmp", category="comparative_effect", options=list(options), answer_index=answer,
                   meta={**ameta, "wording": wording}, **common)
    if improved is None:
        counts.add("superiority_skipped_unknown_better")
        return
    yield Question(id=f"{qid}-sup", category="superiority", options=list(SUPERIORITY_OPTIONS),
                   answer_index=0 if (sig and improved) else 1, meta={**ameta, "wording": "improvement"}, **common)


def _iso(value) -> Optional[str]:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
