"""Anchor retrieval for benchmark questions: an index over the TRAIN split's posted cells.

Blocking, then similarity, never a scan of the whole pool per question:

1. *outcome blocks*: cells grouped by (outcome text, unit). The distinct outcome texts are
   embedded once (sentence embeddings, tolerant of different wording); a question's endpoint is
   embedded and compared with the block texts only (one matrix product for all questions).
2. the best block whose outcome similarity reaches ``min_similarity`` and that holds candidates
   is the question's block. With ``pool="block"`` every arm is anchored in that ONE block; with
   ``pool="endpoint"`` (``pairs.anchor_pool``) the candidates also come from the other wordings of
   the same endpoint (``same_endpoint``: e.g. "Percentage of Participants Achieving EASI-75 at
   Week 12" and "Proportion of Participants With EASI-75 at Week 16") in the same unit, so a
   target arm's own drug is found wherever its trials worded the endpoint; either way every
   anchor of a question shares a unit and a scale, and the imagined arm results can be compared.
3. within the blocks, candidates come from sub-blocks by intervention and by arm type (bounded),
   ranked by ``states.arm_similarity`` to the target arm (+ ``outcome_weight`` x the block's
   outcome similarity when pooled, and then by how well the candidate's trial matches the
   question's other arms, so that the compared arms' anchors come from shared trials); the top
   ``k`` are the anchors.

Cells of the question's own trials, and cells posted on or after the benchmark's cutoff, are
never anchors (no leakage).
"""
from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from ..core.operator import cell_sd
from ..core.states import arm_signature, cell_state, factor_key, signature_similarity

log = logging.getLogger(__name__)

CANDIDATE_CAP = 200      # cells scored per sub-block
POOL_BLOCKS = 50         # most similar outcome blocks searched for other wordings of the endpoint

_TIME = re.compile(r"\b(?:at|to|through|up to|until|by|over|in)?\s*(?:week|wk|month|day|year)s?\s*\d+(?:\.\d+)?\b")
_GENERIC = frozenset(
    "a an the of in at to from with who for by and or on over through up until baseline change changes "
    "mean least squares ls proportion percentage percent number count participants participant subjects "
    "patients achieving achieved achieve having reached reaching response responders rate".split())


def _outcome_text(measure) -> str:
    return " ".join(str(measure or "").lower().split())


def endpoint_key(measure) -> frozenset:
    """What names the endpoint in an outcome text: its words without time points ("at Week 12")
    and generic outcome wording ("change from baseline", "percentage of participants achieving")."""
    text = _TIME.sub(" ", _outcome_text(measure))
    words = (w.strip(".-") for w in re.findall(r"[a-z0-9<>=.%+-]+", text))
    return frozenset(w for w in words if w and w not in _GENERIC)


def same_endpoint(a: frozenset, b: frozenset) -> bool:
    """Two endpoint keys name one endpoint: one holds every word of the other (an acronym alone,
    "FEV1", against its spelled-out form; checked on the simulated registry's truth: 2,064 of 2,097
    same-endpoint block pairs matched, 27 of ~150k others, all trough FEV1 vs FEV1)."""
    return bool(a) and bool(b) and (a <= b or b <= a)


@dataclass
class AnchorIndex:
    texts: list[str]                                   # one per outcome block
    units: list[str]
    embeddings: np.ndarray                             # (blocks, dim), L2-normalised
    blocks: list[list[dict]]                           # block -> anchor states (with results)
    by_intervention: list[dict] = field(default_factory=list)   # block -> {intervention key: [state]}
    by_type: list[dict] = field(default_factory=list)           # block -> {arm type: [state]}
    keys: list[frozenset] = field(default_factory=list)         # block -> endpoint_key(text)
    signatures: dict = field(default_factory=dict)              # id(state) -> states.arm_signature(state)

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
                index.signatures[id(s)] = arm_signature(s)   # the states live as long as the index
                bi[factor_key(s, "intervention")].append(s)
                bt[str(s.get("arm_type") or "").upper()].append(s)
            index.by_intervention.append(dict(bi))
            index.by_type.append(dict(bt))
        index.keys = [endpoint_key(t) for t in index.texts]
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
                 exclude: set[str], before: Optional[str] = None, top_blocks: int = 5, pool: str = "block",
                 query_text: Optional[str] = None, outcome_weight: float = 0.0) -> Optional[dict]:
        """Anchors for each target arm of one question: {"block", "outcome", "unit", "similarity",
        "blocks", "arms": {arm: [anchor state + "score", "outcome_similarity"]}}, or None when no
        block qualifies. ``pool`` "endpoint" adds the blocks (same unit) that word the endpoint of
        ``query_text`` otherwise (``same_endpoint``)."""
        if not len(self.texts):
            return None
        sims = self.embeddings @ query_emb
        ranked = np.argsort(-sims, kind="stable")
        order = ranked[:top_blocks]
        qkey = endpoint_key(query_text) if pool == "endpoint" and query_text else None
        for b in order:
            if sims[b] < min_similarity:
                break
            blocks = [int(b)]
            if qkey is not None:
                blocks += [int(c) for c in ranked[:POOL_BLOCKS] if c != b and sims[c] >= min_similarity
                           and self.units[c] == self.units[b] and same_endpoint(self.keys[c], qkey)]
            arms = self._ranked_arms(blocks, sims, targets, k, exclude, before,
                                     outcome_weight if qkey is not None else 0.0, by_trial=qkey is not None)
            if all(arms.values()):
                return {"block": int(b), "outcome": self.texts[b], "unit": self.units[b],
                        "similarity": round(float(sims[b]), 4), "blocks": len(blocks), "arms": arms}
        return None

    def _ranked_arms(self, blocks: list[int], sims: np.ndarray, targets: dict[str, dict], k: int,
                     exclude: set[str], before: Optional[str], outcome_weight: float, by_trial: bool) -> dict:
        """The top ``k`` candidates per target arm over ``blocks``. Score: arm similarity +
        ``outcome_weight`` x the block's outcome similarity; ties (``by_trial``) go to candidates whose
        trial best matches the question's arms (the summed best score per arm), then by id. Over several
        blocks a trial arm is kept once (its best-scoring cell: another time point is the same arm)."""
        scored: dict[str, list] = {}
        for name, target in targets.items():
            seen, lst, sig = set(), [], arm_signature(target)
            for blk in blocks:
                osim = float(sims[blk])
                for s in self.candidates(blk, target):
                    if id(s) in seen or s.get("nct_id") in exclude or (
                            before is not None and not (s.get("posted_date") and str(s["posted_date"]) < before)):
                        continue
                    seen.add(id(s))
                    score = signature_similarity(self.signatures.get(id(s)) or arm_signature(s), sig)   # states.arm_similarity
                    lst.append((score + outcome_weight * osim, osim, s))
            scored[name] = lst
        trial_fit: dict = defaultdict(float)
        if by_trial:
            for lst in scored.values():
                best: dict = {}
                for sc, osim, s in lst:
                    best[s.get("nct_id")] = max(best.get(s.get("nct_id"), -1e9), sc)
                for t, sc in best.items():
                    trial_fit[t] += sc
        arms = {}
        for name, lst in scored.items():
            lst.sort(key=lambda x: (-round(x[0], 9), -round(trial_fit[x[2].get("nct_id")], 9),
                                    str(x[2].get("nct_id")), str(x[2].get("arm_label"))))
            if len(blocks) > 1:      # one cell per trial arm: its other time points are the same arm again
                best_cell = {}
                for x in lst:
                    best_cell.setdefault((x[2].get("nct_id"), x[2].get("arm_label")), x)
                lst = list(best_cell.values())
            arms[name] = [{**s, "score": round(sc, 4), "outcome_similarity": round(osim, 4)}
                          for sc, osim, s in lst[:k]]
        return arms


def anchor_record(s: dict) -> dict:
    """The JSON-safe fields of an anchor kept in a question's context."""
    keep = ("nct_id", "title", "conditions", "phase", "regions", "sex", "min_age", "max_age", "arm_label", "arm_type",
            "intervention", "intervention_name", "is_placebo", "dose_value", "dose_unit", "dose_value_mg", "dose_frequency", "measure",
            "time_frame", "time_weeks", "unit", "better", "value", "spread", "dispersion_type", "n", "sd", "score", "outcome_similarity")
    out = {}
    for k in keep:
        v = s.get(k)
        if hasattr(v, "isoformat"):
            v = v.isoformat()
        out[k] = v
    return out


def attach_anchors(questions: list, targets_of, index: AnchorIndex, embed, k: int, min_similarity: float,
                   before: Optional[str] = None, pool: str = "block", outcome_weight: float = 0.0) -> dict:
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
        found = index.retrieve(emb[_outcome_text(endpoint)], targets, k, min_similarity, set(q.nct_ids), before,
                               pool=pool, query_text=endpoint, outcome_weight=outcome_weight)
        if found is None:
            counts["no_anchor"] += 1
            q.context["anchors"] = None
            continue
        counts["anchored"] += 1
        found["arms"] = {a: [anchor_record(s) for s in lst] for a, lst in found["arms"].items()}
        q.context["anchors"] = found
    return dict(sorted(counts.items()))
