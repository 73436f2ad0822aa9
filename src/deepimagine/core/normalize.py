"""Small pure text normalisers run once per DISTINCT value by the tables build.

``time_frame_weeks``: an outcome's time frame -> weeks (the latest time point named).
``intervention_name_norm``: the cross-trial blocking key for interventions.
"""
from __future__ import annotations

import re
from typing import Optional

_WEEKS_PER = {"minute": 1 / 10080, "hour": 1 / 168, "day": 1 / 7, "week": 1.0, "month": 52.1775 / 12, "year": 52.1775}
_UNIT = r"(minute|min|hour|hr|h|day|d|week|wk|w|month|mo|year|yr)s?"
_NUM = r"(\d+(?:\.\d+)?)"
_WORDS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
          "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "eighteen": "18", "twenty": "20",
          "twenty-four": "24", "thirty": "30", "forty-eight": "48", "fifty-two": "52"}
_WORD_RX = re.compile(r"\b(" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")\b", re.IGNORECASE)
# "Week 52", "Day 28", "Month 6"  (unit before number; lists 'Weeks 12, 24 and 52' take the numbers that follow)
_UNIT_FIRST = re.compile(r"\b(minute|hour|day|week|month|year)s?\s*" + _NUM + r"((?:\s*(?:,|and|or|to|through|-)\s*\d+(?:\.\d+)?)*)",
                         re.IGNORECASE)
# "12 weeks", "6 months", "28-day", "24 hours", "2 yrs"
_NUM_FIRST = re.compile(_NUM + r"\s*(?:-\s*)?" + _UNIT + r"\b", re.IGNORECASE)
_ALIAS = {"min": "minute", "hr": "hour", "h": "hour", "d": "day", "wk": "week", "w": "week", "mo": "month", "yr": "year"}


def time_frame_weeks(text: Optional[str]) -> Optional[float]:
    """Weeks of the latest time point in a time frame ('Baseline, Week 24' -> 24; '6 months' -> 26.1), or None."""
    if not text or not isinstance(text, str):
        return None
    s = _WORD_RX.sub(lambda m: _WORDS[m.group(1).lower()], text)
    best: Optional[float] = None
    for m in _UNIT_FIRST.finditer(s):
        unit = m.group(1).lower()
        nums = [m.group(2)] + re.findall(r"\d+(?:\.\d+)?", m.group(3) or "")
        for n in nums:
            w = float(n) * _WEEKS_PER[unit]
            best = w if best is None else max(best, w)
    for m in _NUM_FIRST.finditer(s):
        unit = m.group(2).lower()
        unit = _ALIAS.get(unit, unit)
        w = float(m.group(1)) * _WEEKS_PER[unit]
        best = w if best is None else max(best, w)
    return round(best, 4) if best is not None else None


_PREFIX = re.compile(r"^\s*(?:drug|biological|other|device|dietary supplement|procedure|radiation|behavioral|genetic"
                     r"|combination product|diagnostic test)\s*:\s*", re.IGNORECASE)
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_DOSE_EXPR = re.compile(r"\b\d+(?:[.,]\d+)?\s*(?:-\s*\d+(?:[.,]\d+)?\s*)?(?:mg|mcg|µg|ug|g|ng|iu|u|units?|ml|%|mg/kg|mg/m2)?(?:/\s*(?:kg|m2|ml|day|d))?(?![a-z])",
                        re.IGNORECASE)
_FORM_WORDS = {
    "tablet", "tablets", "tab", "tabs", "capsule", "capsules", "cap", "caps", "film", "coated", "film-coated", "oral", "orally",
    "solution", "suspension", "injection", "injections", "injectable", "infusion", "intravenous", "iv", "sc", "im",
    "subcutaneous", "intramuscular", "cream", "gel", "ointment", "patch", "spray", "drops", "powder", "for",
    "extended", "release", "extended-release", "er", "xr", "sr", "ir", "cr", "dr", "delayed", "prolonged", "modified", "immediate",
    "mg", "mcg", "g", "ml", "dose", "doses", "dosing", "low", "high", "medium", "fixed", "prefilled", "pre-filled", "syringe",
    "pen", "vial", "auto-injector", "autoinjector", "formulation", "sodium", "hydrochloride", "hcl", "and", "with", "of",
    "in", "the", "a", "once", "daily", "weekly", "bid", "qd", "tid", "q2w", "q4w", "qw", "single", "regimen",
}
_TM = re.compile(r"[®™©]")
_DOTTED_ROUTE = re.compile(r"\b(?:s\.c|i\.v|i\.m|p\.o|s\.q)\b\.?", re.IGNORECASE)
_NON_ALNUM = re.compile(r"[^a-z0-9\-+ ]+")
# development codes ('MK-3475', 'NVT-1854', 'BI-10773'): letters, a hyphen, 2+ digits. They name one
# compound each, so the hyphen is dropped ('mk3475') before dose numbers are stripped, which would
# otherwise cut every code of a sponsor down to its prefix ('nvt').
_CODE = re.compile(r"\b([a-z]{1,6})-(\d{2,}[a-z]?)\b")
_SPACES = re.compile(r"\s+")


def intervention_name_norm(name: Optional[str]) -> Optional[str]:
    """Lower-cased name without dose, formulation, route and salt words: 'Dapagliflozin 10 mg tablet' ->
    'dapagliflozin'; a development code keeps its number: 'NVT-1854 200 mcg' -> 'nvt1854'."""
    if not name or not isinstance(name, str):
        return None
    s = _TM.sub("", _PREFIX.sub("", name)).lower()
    stripped = _PAREN.sub(" ", s)
    s = stripped if stripped.strip() else s.replace("(", " ").replace(")", " ")
    s = _DOSE_EXPR.sub(" ", _DOTTED_ROUTE.sub(" ", _CODE.sub(r"\1\2", s)))
    s = _NON_ALNUM.sub(" ", s.replace("/", " "))
    words = [w.strip("-+") for w in s.split()]
    kept = [w for w in words if w and w not in _FORM_WORDS]
    if not kept:  # a name made only of stop words: keep it rather than return an empty key
        kept = [w for w in words if w]
    out = _SPACES.sub(" ", " ".join(kept)).strip()
    return out or None


def condition_norm(text: Optional[str]) -> Optional[str]:
    """Lower-cased, whitespace-collapsed condition (mirrors the SQL of tables/build.py; used by tests)."""
    if text is None:
        return None
    out = _SPACES.sub(" ", text.lower()).strip()
    return out or None
