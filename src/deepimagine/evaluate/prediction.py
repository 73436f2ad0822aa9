"""One predictor's answer to one question."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass
class Prediction:
    id: str
    probs: Optional[list[float]]   # one probability per option, None when the answer was unparseable
    valid: bool
    text: str = ""                 # raw model output (LLMs); empty for the baselines

    def to_row(self) -> dict:
        return {"id": self.id, "probs": self.probs, "valid": self.valid, "text": self.text}
