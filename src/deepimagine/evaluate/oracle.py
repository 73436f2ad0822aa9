"""The oracle operator: successive imagining with a PERFECT local operator (simulated registry only).

Every step of every chain is answered one-hot with the bin of its TRUE change (truth.json's
mechanism, as the oracle teacher labels the imagined steps), everything else as in imagine mode:
the same anchors, paths, bins, carried values, mixture and final comparison. It is not a
predictor one could deploy; it is the ceiling of the chain at this bin resolution, so that a gap
between a trained model's imagine score and ``retrieval`` can be read as the operator's quality,
not the chain's design.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Sequence

from ..core import io
from ..core.operator import change_bin, standardised_change
from ..core.oracle import ORACLE_FIELDS, Oracle
from ..core.questions import Question
from ..core.states import question_states
from .imagine import Settings, answer_or_uniform, answer_probs, apply_step, plan_chains, step_key
from .prediction import Prediction  # noqa: F401  (the predictions' type)

log = logging.getLogger(__name__)


def _target_cell(q: Question, arm: str) -> dict:
    """The truth lookup keys (nct_id, arm label, measure, time frame) of a chain's target."""
    if q.source == "ct_open":
        s = (q.context.get("arm_states") or {}).get(arm) or {}
        out = q.context.get("outcome") or {}
        return {"nct_id": s.get("nct_id") or q.nct_ids[0], "arm_label": s.get("arm_label") or arm,
                "measure": out.get("measure"), "time_frame": out.get("time_frame")}
    _, t = question_states(q)
    return {"nct_id": q.nct_ids[-1], "arm_label": t.get("arm_label"), "measure": t.get("measure"),
            "time_frame": t.get("time_frame")}


def oracle_imagine(questions: Sequence[Question], oracle: Oracle, s: Settings) -> tuple[dict, dict, Counter]:
    counts: Counter = Counter()
    probs, trajectories = {}, {}
    for q in questions:
        chains = plan_chains(q, s)
        for c in chains:
            ps, pt = oracle.params(c.start), oracle.params(_target_cell(q, c.arm))
            if ps is None or pt is None:
                counts["chains_without_truth"] += 1
                for level, _ in enumerate(c.steps):
                    if level not in c.shared:
                        apply_step(c, None, s, step_key(c.steps[level]))
                continue
            cur, prev = dict(ps), oracle.mean(ps)
            for level, step in enumerate(c.steps):
                for f in ORACLE_FIELDS[step.factor]:
                    cur[f] = pt[f]
                m = oracle.mean(cur)
                if level in c.shared:     # as imagine mode: a change both compared arms make is not asked
                    c.trajectory.append({"factor": step.factor, "shared": True, "true_change": round(m - prev, 4),
                                         "mean": round(c.mean, 4)})
                    prev = m
                    continue
                z, how = standardised_change(c.mean, c.mean + (m - prev), None if c.relative else c.scale)
                edges = s.edges_rel if c.relative else s.edges_sd
                one_hot = [0.0] * (len(edges) + 1)
                one_hot[change_bin(z, edges)] = 1.0
                apply_step(c, one_hot, s, step_key(step))
                c.trajectory.append({"factor": step.factor, "true_change": round(m - prev, 4), "mean": round(c.mean, 4)})
                prev = m
                counts["steps"] += 1
        probs[q.id] = answer_probs(q, chains, s)
        trajectories[q.id] = {"probs": probs[q.id], "chains": [
            {"arm": c.arm, "start": {k: c.start.get(k) for k in ("nct_id", "arm_label", "value")}, "steps": c.trajectory,
             "final": {"mean": round(c.mean, 4)}} for c in chains]}
    return probs, trajectories, counts


class OraclePredictor:
    """``oracle``: imagine mode with a perfect operator (needs the simulated registry's truth.json)."""

    name = "oracle"

    def __init__(self, params, truth_path: Path = io.TRUTH_FILE):
        from .llm import imagine_settings

        doc = json.loads(Path(truth_path).read_text(encoding="utf-8"))
        if not doc.get("studies"):
            raise FileNotFoundError(f"{truth_path} holds no simulated truth: the oracle needs the simulated registry")
        self.oracle, self.settings = Oracle(doc), imagine_settings(params)
        self.counts: Counter = Counter()
        self.trajectories: dict[str, dict] = {}

    def predict(self, questions: Sequence[Question]) -> list[Prediction]:
        return answer_or_uniform(list(questions), lambda qs: oracle_imagine(qs, self.oracle, self.settings),
                                 self.counts, self.trajectories)
