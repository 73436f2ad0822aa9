"""Which direction of an outcome is better: from the simulated ground truth, else a small lexicon.

Improvement wording ("significant improvement", superiority) is only used where this is known.
The lexicon is deliberately small and conservative; an outcome it does not recognise gets
``None`` and its improvement-worded questions are skipped (and counted in metrics/pairs.json).

Rules, first match wins, on the lower-cased measure title only (descriptions often explain a
scale's polarity in ways a word list misreads, e.g. an "improvement" that is a score decrease):
1. ambiguous phrasings -> unknown: 'time to' (time to relapse vs time to response), negations
   ('without', 'free of', 'absence of', 'not ') unless part of a survival phrase.
2. higher is better: survival, response/responder, remission, cure/cured, healing/healed,
   pain relief, improvement, success, eradication, clearance, seroconversion, seroprotection,
   abstinence, adherence.
3. lower is better: mortality, death(s), pain, adverse, toxicity, relapse, recurrence,
   hospitalization/hospitalisation, exacerbation, infection, failure, flare, disease activity,
   progression (without 'free'), discontinuation, withdrawal.
"""
from __future__ import annotations

import re
from typing import Optional

_UNKNOWN = re.compile(r"\btime to\b|\bduration of\b")
_HIGHER = re.compile(
    r"surviv|\bresponse|\bresponder|\bremission|\bcured?\b|\bheal(ing|ed)\b|pain relief|\bimprovement|\bsuccess"
    r"|\beradicat|\bclearance\b|seroconver|seroprotect|\babstinen|\badherence\b"
)
_NEGATION = re.compile(r"\bwithout\b|\bfree of\b|\bfree from\b|\babsence of\b|\bnot\b|\bno\b")
_LOWER = re.compile(
    r"\bmortality\b|\bdeaths?\b|\bdied\b|\bpain\b|\badverse\b|\btoxicit|\brelapse|\brecurren|hospitali[sz]"
    r"|\bexacerbation|\binfections?\b|\bfailure\b|\bflares?\b|disease activity|\bprogression\b|discontinu|\bwithdraw"
)


def better_from_text(measure: Optional[str]) -> Optional[str]:
    """'higher' | 'lower' | None for an outcome measure title."""
    if not measure or not isinstance(measure, str):
        return None
    s = measure.lower()
    if _UNKNOWN.search(s):
        return None
    if _HIGHER.search(s):
        return "higher"
    if _NEGATION.search(s):
        return None
    if _LOWER.search(s):
        return "lower"
    return None
