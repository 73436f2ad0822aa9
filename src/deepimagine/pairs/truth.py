"""Ground truth of the simulated registry (data/raw/truth.json), for expected effects and the
better direction of each outcome. Real sources write ``{"source": ..., "studies": {}}``: every
lookup then returns None.

Format (registry/simulate.py ``truth_document``): ``studies[nct_id] = {"arms": {arm_label:
{"outcomes": {outcome_key: true_mean}, ...}}, "outcomes": {outcome_key: {"better", "scale", ...}}}``
with ``outcome_key = measure + " | " + time_frame`` exactly as posted.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

from ..core.oracle import truth_arm


def outcome_key(cell: dict) -> str:
    return f"{cell.get('measure') or ''} | {cell.get('time_frame') or ''}"


class Truth:
    def __init__(self, doc: Optional[dict] = None):
        doc = doc or {}
        self.studies: dict = doc.get("studies") or {}

    @classmethod
    def load(cls, path: str | Path) -> "Truth":
        path = Path(path)
        if not path.exists():
            return cls({})
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def __bool__(self) -> bool:
        return bool(self.studies)

    def _outcome(self, cell: dict) -> Optional[dict]:
        study = self.studies.get(cell.get("nct_id"))
        if not study:
            return None
        return (study.get("outcomes") or {}).get(outcome_key(cell))

    def better(self, cell: dict) -> Optional[str]:
        out = self._outcome(cell)
        b = (out or {}).get("better")
        return b if b in ("higher", "lower") else None

    def true_mean(self, cell: dict) -> Optional[float]:
        study = self.studies.get(cell.get("nct_id"))
        if not study:
            return None
        value = ((truth_arm(study, cell) or {}).get("outcomes") or {}).get(outcome_key(cell))
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

    def scale(self, cell: dict) -> Optional[float]:
        s = (self._outcome(cell) or {}).get("scale")
        return float(s) if isinstance(s, (int, float)) and math.isfinite(s) and s > 0 else None

    def expected_effect(self, pair: dict) -> Optional[float]:
        """true_mean(target) - true_mean(anchor), divided by the anchor outcome's scale when known."""
        a, t = self.true_mean(pair["anchor"]), self.true_mean(pair["target"])
        if a is None or t is None:
            return None
        scale = self.scale(pair["anchor"])
        return round((t - a) / scale if scale else t - a, 6)
