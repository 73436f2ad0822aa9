"""Anchor retrieval for benchmark questions: an index over the TRAIN split's posted cells.

Blocking, then similarity, never a scan of the whole pool per question:

1. *outcome blocks*: cells grouped by (outcome text, unit). The distinct outcome texts are
   embedded once (sentence embeddings, tolerant of different wording); a question's endpoint is
   embedded and compared with the block texts only (one matrix product for all questions).
2. the best block whose outcome similarity reaches ``min_similarity`` and that holds candidates
   is the question's block: every arm of one question is anchored in ONE block, so the imagined
   arm results share a unit and a scale and can be compared.
3. within the block, candidates come from sub-blocks by intervention and by arm type (bounded),
   ranked by ``states.arm_similarity`` to the target arm; the top ``k`` are the anchors.

Cells of the question's own trials, and cells posted on or after the benchmark's cutoff, are
never anchors (no leakage).
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from ..core.operator import cell_sd
from ..core.states import arm_similarity, cell_state, factor_key

log = logging.getLogger(__name__)

CANDIDATE_CAP = 200      # cells scored per sub-block


def _outcome_text(measure) -> str:
    return " ".join(str(measure or "").lower().split())


@dataclass
class AnchorIndex:
    texts: list[str]                                   # one per outcome block
    units: list[str]
    embeddings: np.ndarray                             # (blocks, dim), L2-normalised
    blocks: list[list[dict]]                           # block -> anchor states (with results)
    by_intervention: list[dict] = field(default_factory=list)   # block -> {intervention key: [state]}
    by_type: list[dict] = field(default_factory=list)           # block -> {arm type: [state]}

    @classmethod
    def build(cls, rows: Sequence[dict], embed) -> "AnchorIndex":
        """``rows``: train cells (dicts) with a numeric value; ``embed``: list[str] -> normalised array."""
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for r in rows:
            s = cell_state(r)
            s["sd"] = cell_sd(r)
            groups[(_outcome_text(r.get("measure")), str(r.get("unit") or "").strip().lower())].append(s)
        keys = sorted(groups)
        index = cls([k[0] for k in keys], [k[1] for k in keys], embed([k[0] for k in keys]) if keys else
                    np.zeros((0, 1), np.float32), [groups[k] for k in keys])
        for block in index.blocks:
            bi, bt = defaultdict(list), defaultdict(list)
            for s in block:
                bi[factor_key(s, "intervention")].append(s)
                bt[str(s.get("arm_type") or "").upper()].append(s)
            index.by_intervention.append(dict(bi))
            index.by_type.append(dict(bt))
        log.info("anchor index: %d cells in %d outcome blocks", len(rows), len(keys))
        return index

    def candidates(self, block: int, target: dict) -> list[dict]:
        seen, out = set(), []
        for group in (self.by_intervention[block].get(factor_key(target, "intervention"), []),
                      self.by_type[block].get(str(target.get("arm_type") or "").upper(), []),
                      self.blocks[block]):
            for s in group[:CANDIDATE_CAP]:
                if id(s) not in seen:
                    seen.add(id(s))
                    out.append(s)
        return out

    def retrieve(self, query_emb: np.ndarray, targets: dict[str, dict], k: int, min_similarity: float,
                 exclude: set[str], before: Optional[str] = None, top_blocks: int = 5) -> Optional[dict]:
        """Anchors for each target arm of one question: {"block", "outcome", "unit", "similarity",
        "arms": {arm: [anchor state + "score"]}}, or None when no block qualifies."""
        if not len(self.texts):
            return None
        sims = self.embeddings @ query_emb
        order = np.argsort(-sims, kind="stable")[:top_blocks]
        for b in order:
            if sims[b] < min_similarity:
                break
            arms = {}
            for name, target in targets.items():
                cands = [s for s in self.candidates(int(b), target) if s.get("nct_id") not in exclude
                         and (before is None or (s.get("posted_date") and str(s["posted_date"]) < before))]
                scored = sorted(cands, key=lambda s: (-arm_similarity(s, target), str(s.get("nct_id")),
                                                      str(s.get("arm_label"))))[:k]
                arms[name] = [{**s, "score": arm_similarity(s, target)} for s in scored]
            if all(arms.values()):
                return {"block": int(b), "outcome": self.texts[b], "unit": self.units[b],
                        "similarity": round(float(sims[b]), 4), "arms": arms}
        return None


def anchor_record(s: dict) -> dict:
    """The JSON-safe fields of an anchor kept in a question's context."""
    keep = ("nct_id", "title", "conditions", "phase", "regions", "sex", "min_age", "max_age", "arm_label", "arm_type",
            "intervention", "intervention_name", "is_placebo", "dose_value", "dose_unit", "dose_value_mg", "dose_frequency", "measure",
            "time_frame", "time_weeks", "unit", "better", "value", "spread", "dispersion_type", "n", "sd", "score")
    out = {}
    for k in keep:
        v = s.get(k)
        if hasattr(v, "isoformat"):
            v = v.isoformat()
        out[k] = v
    return out


def attach_anchors(questions: list, targets_of, index: AnchorIndex, embed, k: int, min_similarity: float,
                   before: Optional[str] = None) -> dict:
    """Retrieve anchors for every question (in place: ``q.context['anchors']``); returns counts.

    ``targets_of(q)`` -> (endpoint text, {arm name: target state}) or None (not imaginable)."""
    from collections import Counter

    counts: Counter = Counter()
    work = []
    for q in questions:
        t = targets_of(q)
        if t is None:
            counts["no_target_state"] += 1
            q.context["anchors"] = None
            continue
        work.append((q, t))
    if not work:
        return dict(counts)
    texts = sorted({_outcome_text(t[0]) for _, t in work})
    emb = dict(zip(texts, embed(texts)))
    for q, (endpoint, targets) in work:
        found = index.retrieve(emb[_outcome_text(endpoint)], targets, k, min_similarity, set(q.nct_ids), before)
        if found is None:
            counts["no_anchor"] += 1
            q.context["anchors"] = None
            continue
        counts["anchored"] += 1
        found["arms"] = {a: [anchor_record(s) for s in lst] for a, lst in found["arms"].items()}
        q.context["anchors"] = found
    return dict(sorted(counts.items()))
