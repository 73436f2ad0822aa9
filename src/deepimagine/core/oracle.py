"""Truth lookups for the simulated registry: the oracle behind the template teacher's imagined steps
and the ``oracle`` operator of evaluation. A cell (nct_id, arm label, measure, time frame) maps to
the parameters of ``mechanism.true_mean``; a one-factor step takes the target's value of those
parameters that the factor carries (``ORACLE_FIELDS``)."""
from __future__ import annotations

from typing import Optional

from .mechanism import true_mean


def truth_arm(study: dict, cell: dict) -> Optional[dict]:
    """A study truth's record of a cell's arm: by design label, arm label or result-group title."""
    arms = study.get("arms") or {}
    return next((arms[k] for k in (cell.get("design_label"), cell.get("arm_label"), cell.get("group_title"))
                 if k and k in arms), None)


class Oracle:
    """True means of (intermediate) states from truth.json's world and study records."""

    def __init__(self, truth: dict):
        self.world = truth.get("world") or {}
        self.studies = truth.get("studies") or {}

    def params(self, cell: dict) -> Optional[dict]:
        study = self.studies.get(cell.get("nct_id"))
        if not study:
            return None
        arm = truth_arm(study, cell)
        out = (study.get("outcomes") or {}).get(f"{cell.get('measure') or ''} | {cell.get('time_frame') or ''}")
        if arm is None or out is None:
            return None
        pop = study.get("population") or {}
        return {"drug": arm.get("drug"), "dose": arm.get("dose") or 0.0, "endpoint": out["endpoint"],
                "weeks": out["weeks"], "region_weights": study.get("region_weights"),
                "age_group": pop.get("age_group", "adult"), "female_share": pop.get("female_share", 0.5),
                "placebo_factor": study.get("placebo_factor", 1.0)}

    def mean(self, p: dict) -> float:
        return true_mean(self.world, p["drug"], p["dose"], p["endpoint"], p["weeks"], p["region_weights"],
                         p["age_group"], p["female_share"], p["placebo_factor"])


# which oracle parameters each factor step takes from the target
ORACLE_FIELDS = {"intervention": ("drug", "dose"), "dose": ("dose",), "region": ("region_weights",),
                 "population": ("age_group", "female_share"), "phase": (), "time_frame": ("weeks",)}
