"""The local operator: ONE perturbation of a trial state -> the change of its result, in ordered bins.

The change is standardised: ``(target - anchor) / scale``, where ``scale`` is the pooled SD of the two
cells when their dispersion gives one (edges ``pairs.change_edges_sd``) and ``|anchor value|`` otherwise
(a relative change, edges ``pairs.change_edges_rel``). Four edges make the five bins of
``questions.CHANGE_OPTIONS`` (much lower, lower, about the same, higher, much higher).

Each bin has a representative standardised value (``bin_centres``), used by the chain to turn a
distribution over bins into an expected change and its variance.
"""
from __future__ import annotations

import bisect
import math
from typing import Optional, Sequence


def change_bin(z: float, edges: Sequence[float]) -> int:
    """The bin of a standardised change ``z`` (edges ascending; a value on an edge goes up)."""
    if any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"change edges must be strictly ascending, got {list(edges)}")
    return bisect.bisect_right(list(edges), z)


def bin_centres(edges: Sequence[float]) -> list[float]:
    """A representative standardised change per bin: inner bins their midpoint; the two outer bins
    lie as far beyond their edge as the neighbouring bin is wide (e.g. edges -1, -.3, .3, 1 ->
    -1.7, -0.65, 0, 0.65, 1.7)."""
    e = list(edges)
    inner = [(a + b) / 2 for a, b in zip(e, e[1:])]
    low = e[0] - (e[1] - e[0]) if len(e) > 1 else e[0] - 1.0
    high = e[-1] + (e[-1] - e[-2]) if len(e) > 1 else e[-1] + 1.0
    return [low] + inner + [high]


def expected_change(probs: Sequence[float], centres: Sequence[float]) -> tuple[float, float]:
    """Mean and variance of the standardised change under a distribution over bins."""
    total = sum(probs)
    if total <= 0:
        raise ValueError("bin probabilities sum to zero")
    p = [x / total for x in probs]
    mean = sum(pi * c for pi, c in zip(p, centres))
    var = sum(pi * (c - mean) ** 2 for pi, c in zip(p, centres))
    return mean, var


def standardised_change(anchor_value: float, target_value: float, sd: Optional[float]) -> tuple[float, str]:
    """(z, 'sd' | 'relative'): the change in SDs when an SD is known, else relative to |anchor|."""
    d = target_value - anchor_value
    if sd is not None and sd > 0 and math.isfinite(sd):
        return d / sd, "sd"
    ref = abs(anchor_value) or abs(target_value) or 1.0
    return d / ref, "relative"
