"""What each option of a question means: the option semantics every stage reads the same way.

``option_semantics(q)`` labels each option of the canonical option sets ``up`` / ``down`` / ``none``
(the changed condition's result is higher / lower / not different), or ``improve`` / ``not_improve``
for superiority; ``direction_probs`` and ``options_from_direction`` map a question's option
probabilities to and from P(up), P(down), P(none). For CT Open-format questions, the option wordings
(``SUP_YES`` ... ``END_NO``, written by the pairs stage's prospective benchmark), ``compared_arms``
(the arms a question compares) and ``option_roles`` (what each option asserts about them).
"""
from __future__ import annotations

import re
from typing import Optional, Sequence

from .questions import (CHANGE_OPTIONS, COMPARATIVE_OPTIONS, COMPARATIVE_OPTIONS_IMPROVEMENT, DIRECTION_OPTIONS,
                        SUPERIORITY_OPTIONS, Question)

# ---------------------------------------------------------------- canonical option sets


def better_direction(q: Question) -> Optional[str]:
    """'higher' or 'lower' (which way the outcome improves), from meta or the outcome context."""
    better = (q.meta or {}).get("better") or ((q.context or {}).get("outcome") or {}).get("better")
    better = str(better).lower() if better else None
    return better if better in ("higher", "lower") else None


def option_semantics(q: Question) -> Optional[list[str]]:
    """Per option: 'up' | 'down' | 'none' | 'improve' | 'not_improve'; None when the options are not
    one of the canonical sets (e.g. CT Open wording)."""
    opts = list(q.options)
    if opts == DIRECTION_OPTIONS or opts == COMPARATIVE_OPTIONS:
        return ["up", "down", "none"]
    if opts == COMPARATIVE_OPTIONS_IMPROVEMENT:
        better = better_direction(q)
        if better is None:
            return None
        return (["up", "down", "none"] if better == "higher" else ["down", "up", "none"])
    if opts == SUPERIORITY_OPTIONS:
        return ["improve", "not_improve"]
    if opts == CHANGE_OPTIONS:       # the operator's bins: much lower, lower, about the same, higher, much higher
        return ["down", "down", "none", "up", "up"]
    return None


def direction_probs(q: Question, probs: Sequence[float]) -> Optional[dict[str, float]]:
    """A question's option probabilities as P(up), P(down), P(none) (None if not expressible)."""
    sem = option_semantics(q)
    if sem is None or probs is None or len(probs) != len(sem):
        return None
    if sem[0] == "improve":
        better = better_direction(q)
        if better is None:
            return None
        good, bad = ("up", "down") if better == "higher" else ("down", "up")
        return {good: float(probs[0]), bad: float(probs[1]) / 2, "none": float(probs[1]) / 2}
    out = {"up": 0.0, "down": 0.0, "none": 0.0}
    for s, p in zip(sem, probs):
        out[s] += float(p)
    return out


def options_from_direction(q: Question, dist: dict[str, float]) -> Optional[list[float]]:
    """Map P(up)/P(down)/P(none) onto the question's options (inverse of ``direction_probs``).

    direction / comparative: the option with the same meaning; improvement wording: up/down by
    ``better``; superiority: P(improve) = P(moving in the better direction), the rest to 'not'."""
    sem = option_semantics(q)
    if sem is None:
        return None
    if sem[0] == "improve":
        better = better_direction(q)
        if better is None:
            return None
        p = dist["up"] if better == "higher" else dist["down"]
        return [p, 1.0 - p]
    return [dist[s] for s in sem]


def sign_of_effect(effect: Optional[float], margin: float = 0.0) -> Optional[str]:
    if effect is None:
        return None
    return "up" if effect > margin else "down" if effect < -margin else "none"


# ---------------------------------------------------------------- CT Open-format options

SUP_YES = ("The study arm {a} has achieved statistically significant improvements over the study arm {b} "
           "with respect to this specific endpoint.")
SUP_NO = ("The study arm {a} has not achieved statistically significant improvements over the study arm {b} "
          "with respect to this specific endpoint, either because of no statistical effect or worse effect.")
CMP_WORSE = "Study Arm {x} is statistically significantly worse than Study Arm {y}."
CMP_NONE = "No statistically significant difference between Study Arm {a} and Study Arm {b}."
END_YES = "At least one arm listed here met this endpoint."
END_NO = "No arm listed here met this endpoint."
_WORSE_RE = re.compile(r"Study Arm (.+) is statistically significantly worse than Study Arm (.+)\.$")
_SUP_RE = re.compile(r"The study arm (.+) has (not )?achieved statistically significant improvements over the study arm (.+) with")


def compared_arms(q) -> list[tuple[str, str]]:
    """(changed arm, reference arm) pairs a CT Open-format question compares (from ``list_of_tuples``)."""
    out = []
    for t in (q.meta or {}).get("list_of_tuples") or []:
        if isinstance(t, (list, tuple)) and len(t) == 3 and all(isinstance(x, str) for x in (t[0], t[2])):
            out.append((t[0], t[2]))
    return out


def option_roles(q) -> Optional[list[tuple]]:
    """What each option of a CT Open-format question asserts, for answering from imagined arm results:
    ('improves', a, b) | ('not_improves', a, b) | ('worse', x, y) | ('none',) | ('any_met',) | ('none_met',)."""
    roles = []
    for opt in q.options:
        if m := _SUP_RE.match(opt):
            roles.append(("not_improves" if m.group(2) else "improves", m.group(1), m.group(3)))
        elif m := _WORSE_RE.match(opt):
            roles.append(("worse", m.group(1), m.group(2)))
        elif opt.startswith("No statistically significant difference"):
            roles.append(("none",))
        elif opt == END_YES:
            roles.append(("any_met",))
        elif opt == END_NO:
            roles.append(("none_met",))
        else:
            return None
    return roles
