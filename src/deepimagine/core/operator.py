"""The local operator: ONE perturbation of a trial state -> the change of its result, in ordered bins.

The change is standardised: ``(target - anchor) / scale``, where ``scale`` is the pooled SD of the two
cells when their dispersion gives one (edges ``pairs.change_edges_sd``) and ``|anchor value|`` otherwise
(a relative change, edges ``pairs.change_edges_rel``). Four edges make the five bins of
``questions.CHANGE_OPTIONS`` (much lower, lower, about the same, higher, much higher).

Each bin has a representative standardised value, used by the chain to turn a distribution over
bins into an expected change and its variance: ``bin_centres`` (fixed by the edges) or
``empirical_centres`` (each bin's mean change over examples that fell in it). ``cell_sd`` derives a cell's
per-participant SD from its posted dispersion (the scale every stage standardises with).
"""
from __future__ import annotations

import bisect
import math
from typing import Mapping, Optional, Sequence

Z95 = 1.959963984540054


def finite_or_none(x) -> Optional[float]:
    """``x`` as a finite float, or None (unparseable, missing, NaN or infinite)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# ---------------------------------------------------------------- dispersion -> SD

def cell_sd(cell: dict) -> Optional[float]:
    """Per-participant SD of a posted value, derived from its dispersion, or None when it can't be.

    SD directly; SE x sqrt(n); a (two-sided, ~95%) CI width / (2 x 1.96) x sqrt(n); an IQR / 1.349;
    for percentages of participants (no dispersion) the binomial SD 100 x sqrt(p (1 - p)).
    """
    disp = "_".join(str(cell.get("dispersion_type") or "").upper().replace("-", " ").split())  # 'Standard Deviation' -> STANDARD_DEVIATION
    spread = finite_or_none(cell.get("spread"))
    lo, hi = finite_or_none(cell.get("lower_limit")), finite_or_none(cell.get("upper_limit"))
    n = finite_or_none(cell.get("n"))
    sd: Optional[float] = None
    if "STANDARD_DEVIATION" in disp or disp in ("SD",):
        sd = spread
    elif "STANDARD_ERROR" in disp or disp in ("SE",):
        sd = spread * math.sqrt(n) if spread is not None and n and n > 0 else None
    elif "CONFIDENCE" in disp or disp.endswith("CI"):
        if lo is not None and hi is not None and n and n > 0 and hi > lo:
            pct = 95.0
            digits = "".join(ch for ch in disp.split("%")[0] if ch.isdigit() or ch == ".")
            try:
                pct = float(digits) if digits else 95.0
            except ValueError:
                pct = 95.0
            z = {90.0: 1.6449, 95.0: Z95, 99.0: 2.5758}.get(pct, Z95)
            sd = (hi - lo) / (2 * z) * math.sqrt(n)
    elif "INTER_QUARTILE" in disp:
        if lo is not None and hi is not None and hi > lo:
            sd = (hi - lo) / 1.349
    if sd is None and not disp:
        unit = (cell.get("unit") or "").lower()
        value = finite_or_none(cell.get("value"))
        if value is not None and ("percent" in unit or "%" in unit) and 0 <= value <= 100:
            p = value / 100
            sd = 100 * math.sqrt(p * (1 - p)) if 0 < p < 1 else None
    return sd if sd is not None and sd > 0 and math.isfinite(sd) else None


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


def empirical_centres(changes_by_bin: Mapping[int, Sequence[float]], edges: Sequence[float],
                      min_count: int = 20, fallback: Optional[Sequence[float]] = None) -> list[float]:
    """Each bin's mean standardised change over the examples whose change fell in it, where at
    least ``min_count`` did (else ``fallback``'s value, by default ``bin_centres``'): the outer bins
    are open, and a drug's whole effect over placebo lies further beyond their edge than a dose
    step's. A mean of values inside a bin lies inside it, so the centres stay ordered."""
    out = []
    for b, c in enumerate(bin_centres(edges) if fallback is None else fallback):
        zs = [float(z) for z in changes_by_bin.get(b, ()) if math.isfinite(float(z))]
        out.append(sum(zs) / len(zs) if len(zs) >= min_count else c)
    return out


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
