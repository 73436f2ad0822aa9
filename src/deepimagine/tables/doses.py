"""Dose parsing: free-text arm / intervention descriptions -> structured doses.

``parse_dose(text)`` is a pure function returning one ``Dose`` per dose mentioned
("400 mg on weeks 0, 2 and 4 then 200 mg Q2W" -> two doses), a single placebo dose
(value None) for placebo text without a number, and ``[]`` when nothing is found.
The tables stage runs it once per DISTINCT text and joins the result back in SQL.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Optional


@dataclass(frozen=True)
class Dose:
    value: Optional[float]            # in `unit`; lower end of a range; None for a bare placebo
    unit: Optional[str]               # normalised unit (mg, mcg, g, ng, mg/kg, mg/m2, IU, U/kg, mL, cells/kg, ...)
    value_mg: Optional[float]         # value in mg where the unit is a mass (mg, mcg, g, ng)
    frequency: Optional[str]          # QD | BID | TID | QID | QW | BIW | TIW | Q2W | Q3W | Q4W | QM | Q<n>W | Q<n>M | Q<n>D | ONCE | PRN
    route: Optional[str]              # oral | iv | sc | im | topical | inhaled | intranasal | ...
    is_placebo: bool = False
    value_upper: Optional[float] = None  # upper end of a range ('10-20 mg'), else None
    qualifier: Optional[str] = None      # 'range' | 'up to' | None


# ----------------------------------------------------------------- text clean-up

_NUM = r"\d+(?:\.\d+)?|\.\d+"

# (trigger characters, pattern, replacement): a substitution runs only when one of its triggers is present
_CLEAN = [
    ("\\", re.compile(r"\\([<>^\[\]*_~\\&])"), r"\1"),         # CT.gov markdown escapes: \> \^ \[
    ("\u00b5\u03bc", re.compile(r"[\u00b5\u03bc]"), "mc"),     # µg, μg -> mcg
    ("\u00b2", re.compile("\u00b2"), "2"),                     # m² -> m2
    ("\u00d7\u2715\u2716", re.compile("[\u00d7\u2715\u2716]"), " x "),  # 2×10^6
    ("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", re.compile("[\u2010-\u2015\u2212]"), "-"),  # unicode dashes
    ("\u2264", re.compile("\u2264"), "<="),
    ("\u2265", re.compile("\u2265"), ">="),
    (",", re.compile(r"(?<=\d),(?=\d{3}(?!\d))"), ""),        # 1,000 mg -> 1000 mg
    (",", re.compile(r"(?<=\d),(?=\d{1,2}(?!\d))"), "."),     # 0,8 mg/kg -> 0.8 (decimal comma)
]
_SCI_HINT = re.compile(r"\^|\*\*|\d[eE][-+]?\d")

# scientific notation -> plain number: "2 x 10^6", "2x10e6", "10^6", "1e6", "1.5E+07"
_SCI = re.compile(
    rf"(?:(?P<m>{_NUM})\s*[x*]\s*)?10\s*(?:\^|\*\*|e|E)\s*(?P<e>[-+]?\d+)(?![\d.])"
    rf"|(?P<m2>{_NUM})[eE](?P<e2>[-+]?\d+)(?![\d.a-zA-Z])"
)


def _sci_sub(m: re.Match) -> str:
    if abs(int(m.group("e") or m.group("e2"))) > 30:  # not a dose: leave the text alone
        return m.group(0)
    if m.group("e") is not None:
        mant = float(m.group("m")) if m.group("m") else 1.0
        val = mant * 10 ** int(m.group("e"))
    else:
        val = float(m.group("m2")) * 10 ** int(m.group("e2"))
    return repr(val) if val != int(val) else str(int(val))


def _clean(text: str) -> str:
    for triggers, pat, rep in _CLEAN:
        if any(c in text for c in triggers):
            text = pat.sub(rep, text)
    return _SCI.sub(_sci_sub, text) if _SCI_HINT.search(text) else text


# ----------------------------------------------------------------- units

_PER_KG_BW = r"(?:\s*(?:/\s*)?(?:of\s+)?body\s*weight)?"
# (regex, normalised unit, mg factor, implied frequency); order matters: longest first.
_UNITS: list[tuple[str, str, Optional[float], Optional[str]]] = [
    (r"mg\s*/\s*kg\s*/\s*(?:day|d)", "mg/kg", None, "QD"),
    (r"(?:mcg|ug)\s*/\s*kg\s*/\s*(?:day|d)", "mcg/kg", None, "QD"),
    (r"mg\s*/\s*kg" + _PER_KG_BW, "mg/kg", None, None),
    (r"(?:mcg|ug|micrograms?)\s*/\s*kg", "mcg/kg", None, None),
    (r"g\s*/\s*kg\s*/\s*(?:day|d)", "g/kg", None, "QD"),
    (r"g\s*/\s*kg", "g/kg", None, None),
    (r"mg\s*/\s*m\s*\^?\s*2", "mg/m2", None, None),
    (r"(?:mcg|ug)\s*/\s*m\s*\^?\s*2", "mcg/m2", None, None),
    (r"g\s*/\s*m\s*\^?\s*2", "g/m2", None, None),
    (r"(?:IU|international\s+units?)\s*/\s*kg", "IU/kg", None, None),
    (r"(?:U|units?)\s*/\s*kg", "U/kg", None, None),
    (r"(?:mL|ml|cc)\s*/\s*kg", "mL/kg", None, None),
    (r"vg\s*/\s*kg", "vg/kg", None, None),
    (r"(?:mg|milligrams?)\s*(?:/\s*(?:day|d)\b|per\s+day)", "mg", 1.0, "QD"),
    (r"(?:mcg|ug|micrograms?)\s*(?:/\s*(?:day|d)\b|per\s+day)", "mcg", 1e-3, "QD"),
    (r"(?:mg|milligrams?)\s*(?:/\s*week|per\s+week)", "mg", 1.0, "QW"),
    (r"(?:mg|milligrams?)", "mg", 1.0, None),
    (r"(?:mcg|ug|micrograms?)", "mcg", 1e-3, None),
    (r"(?:ng|nanograms?)", "ng", 1e-6, None),
    (r"(?:g|gm|grams?)", "g", 1000.0, None),
    (r"(?:IU|international\s+units?)", "IU", None, None),
    (r"(?:U|units?)", "U", None, None),
    (r"(?:mL|ml|cc|milliliters?|millilitres?)", "mL", None, None),
    (r"(?:mmol)", "mmol", None, None),
    (r"(?:mEq)", "mEq", None, None),
    (r"(?:vg)", "vg", None, None),
    (r"%", "%", None, None),
]
# cells may carry up to four words between the number and "cells" (CAR-T, autologous T ...)
_CELLS = r"(?:[A-Za-z][\w\-+]*\s+){0,4}?(?:cells?|CAR-?T)"
_CELLS_PER_KG = _CELLS + r"\s*(?:/\s*kg|per\s+kg)" + _PER_KG_BW

_UNIT_ALTS = [(_CELLS_PER_KG, "cells/kg", None, None), (_CELLS, "cells", None, None)] + _UNITS
_UNIT_GROUPS = "|".join(f"(?P<u{i}>{rx})" for i, (rx, *_rest) in enumerate(_UNIT_ALTS))

_UPTO = re.compile(r"(?:\bup\s+to|\bmaximum(?:\s+of)?|\bmax\.?|<=)\s*$", re.IGNORECASE)


def _dose_regex(units: str) -> re.Pattern:
    return re.compile(  # starts with the number; _doses_in checks the lead-in
        rf"(?P<v1>{_NUM})"
        rf"(?:\s*(?:-|to)\s*(?P<v2>{_NUM}))?"
        rf"\s*-?\s*(?:{units})"                      # '15-mg' is written too
        rf"(?![A-Za-z0-9]|\s*/\s*[A-Za-z0-9])",       # not part of a longer word or a rate (mg/mL, mL/min)
        re.IGNORECASE,
    )


# the cell-count units try up to four words before 'cells' (slow): only used on texts that mention cells
_DOSE_CELLS = _dose_regex(_UNIT_GROUPS)
_DOSE = _dose_regex("|".join(f"(?P<u{i}>{rx})" for i, (rx, *_rest) in enumerate(_UNIT_ALTS) if i >= 2))
_MENTIONS_CELLS = re.compile(r"cell|car-?t", re.IGNORECASE)

# ----------------------------------------------------------------- frequency and route

_FREQ_PATTERNS: list[tuple[str, str]] = [
    (r"once\s+(?:a|per|each)\s+week|once[\s-]+weekly|\bweekly\b|every\s+(?:1\s+)?week\b|\bq\.?\s?1?\s?w(?:k|eek)?\b|per\s+week|/\s*week", "QW"),
    (r"twice\s+(?:a|per)\s+week|twice[\s-]+weekly|two\s+times\s+(?:a|per)\s+week|\bbiw\b", "BIW"),
    (r"(?:three|3)\s+times\s+(?:a|per)\s+week|\btiw\b", "TIW"),
    (r"every\s+other\s+week|\bbiweekly\b|fortnightly|every\s+(?:2|two)\s+weeks|\bq\.?\s?2\s?w(?:k|eeks?)?\b", "Q2W"),
    (r"every\s+(?:3|three)\s+weeks|\bq\.?\s?3\s?w(?:k|eeks?)?\b|each\s+21[\s-]+day\s+cycle|21[\s-]+day\s+cycles?", "Q3W"),
    (r"every\s+(?:4|four)\s+weeks|\bq\.?\s?4\s?w(?:k|eeks?)?\b|each\s+28[\s-]+day\s+cycle|28[\s-]+day\s+cycles?", "Q4W"),
    (r"every\s+(?P<nw>\d+)\s+weeks|\bq(?P<nw2>\d+)w(?:k|eeks?)?\b", "Q{n}W"),
    (r"once\s+(?:a|per|each)\s+month|\bmonthly\b|every\s+(?:1\s+)?month\b|\bqm\b|\bq\.?\s?1?\s?mo(?:nth)?\b", "QM"),
    (r"every\s+(?P<nm>\d+)\s+months|\bq(?P<nm2>\d+)m(?:o|onths?)?\b", "Q{n}M"),
    (r"twice\s+(?:a\s+|per\s+)?da(?:y|ily)|two\s+times\s+(?:a\s+|per\s+)?da(?:y|ily)|\bb\.?i\.?d\b\.?|every\s+12\s+hours|\bq\s?12\s?h", "BID"),
    (r"(?:three|3)\s+times\s+(?:a\s+|per\s+)?da(?:y|ily)|\bt\.?i\.?d\b\.?|every\s+8\s+hours|\bq\s?8\s?h", "TID"),
    (r"(?:four|4)\s+times\s+(?:a\s+|per\s+)?da(?:y|ily)|\bq\.?i\.?d\b\.?|every\s+6\s+hours|\bq\s?6\s?h", "QID"),
    (r"once\s+(?:a\s+|per\s+)?da(?:y|ily)|\bdaily\b|every\s+(?:day|morning|evening|night)|each\s+day|per\s+day|/\s*day"
     r"|\bq\.?d\b\.?|\bo\.?d\b\.?|\bqam\b|\bqpm\b|\bqhs\b|at\s+bedtime|\bnightly\b|once\s+(?:every|each)\s+night", "QD"),
    (r"every\s+(?P<nd>\d+)\s+days|\bq(?P<nd2>\d+)d\b", "Q{n}D"),
    (r"as\s+needed|\bp\.?r\.?n\b\.?|on\s+demand", "PRN"),
    (r"single[\s-]+(?:dose|injection|infusion|administration|iv|sc|im|oral)|\bone[\s-]+time\b|\bonce\b(?!\s+(?:a|per|every|each|daily|weekly|monthly))"
     r"|\bsingle\b(?![\s-]+(?:blind|arm|cent(?:er|re)|group|site|mask|patient|participant|subject|ascending|cohort))", "ONCE"),
]

_ROUTE_PATTERNS: list[tuple[str, str]] = [
    (r"\bsub[\s-]?cutaneous(?:ly)?\b|\bsub-?q\b|\bsubcut\b|\bs\.?c\.?(?=[\s,;)]|$)|\bsq\b", "sc"),
    (r"\bintra[\s-]?venous(?:ly)?\b|\bi\.?v\.?(?=[\s,;)]|$)|\binfusions?\b|\bdrip\b", "iv"),
    (r"\bintra[\s-]?muscular(?:ly)?\b|\bi\.m\.|\bim\b", "im"),  # a bare im counts only when written IM (see _label)
    (r"\bintra[\s-]?vitreal(?:ly)?\b", "intravitreal"),
    (r"\bintra[\s-]?thecal(?:ly)?\b", "intrathecal"),
    (r"\bintra[\s-]?nasal(?:ly)?\b|\bnasal\s+spray\b", "intranasal"),
    (r"\binhal(?:ed|ation|er)\b|\bnebuli[sz](?:ed|er|ation)\b|\binhaler\b", "inhaled"),
    (r"\btransdermal(?:ly)?\b|\bpatch(?:es)?\b", "transdermal"),
    (r"\bsub-?lingual(?:ly)?\b", "sublingual"),
    (r"\brectal(?:ly)?\b|\bsuppositor(?:y|ies)\b", "rectal"),
    (r"\bophthalmic\b|\beye\s+drops?\b", "ophthalmic"),
    (r"\btopical(?:ly)?\b|\bcreams?\b|\bointments?\b|\bgels?\b|\bvarnish\b|\blotion\b", "topical"),
    (r"\borally\b|\boral\b|\bp\.?o\.?(?=[\s,;)]|$)|\bby\s+mouth\b|\bper\s+os\b|\btablets?\b|\bcapsules?\b|\bpills?\b|\bsachets?\b", "oral"),
]

_PLACEBO = re.compile(r"\bplacebos?\b|\bvehicle\b|\bsham\b|\bdummy\b|\bmatching\s+(?:tablets?|capsules?|injections?|saline)\b", re.IGNORECASE)
_HAS_DIGIT = re.compile(r"\d")
_NUMBER = re.compile(r"\.?\d+")
_LIST_SEP = re.compile(r"\s*(?:[,;/]|\band\b|\bor\b)[\s,;/]*(?:(?:and|or)\s+)?$", re.IGNORECASE)
_TOTAL = re.compile(r"\btotal(?:\s+(?:daily\s+)?dose)?(?:\s+of)?\s*$", re.IGNORECASE)
_TIME_NUMBER = re.compile(
    rf"(?:{_NUM})\s*(?:-|to)?\s*(?:{_NUM})?\s*[-\s]*(?:years?|months?|weeks?|days?|hours?|hrs?|h\b|minutes?|mins?|cycles?|times?|doses?"
    rf"|patients?|participants?|subjects?|visits?|fractions?|sessions?|courses?|injections?|tablets?|capsules?|x\b)",
    re.IGNORECASE,
)
_TIME_PREFIX = re.compile(r"(?:week|day|cycle|month|year|visit|phase|part|dose|cohort|stage|arm|group|period)s?\s*(?:\d+[,\s]*(?:and|or|to|-)?\s*)+", re.IGNORECASE)
_NO_DOSE = re.compile(r"^\s*(?:n/?a|none|no\s+dose|not\s+applicable|nd|unknown|-+)?\s*$", re.IGNORECASE)


_Q_NAMED = {"Q1W": "QW", "Q1M": "QM", "Q1D": "QD", "Q7D": "QW", "Q14D": "Q2W", "Q21D": "Q3W", "Q28D": "Q4W"}

# Fast scan: the frequency and route patterns are only tried (re.match on lower-cased text, no
# IGNORECASE) where a token that can start one of their alternatives begins; trying them at every
# position costs about 1 µs per character in Python's regex engine.
_F = re.compile("|".join(f"(?P<g{i}>{rx})" for i, (rx, _l) in enumerate(_FREQ_PATTERNS)))
_R = re.compile("|".join(f"(?P<g{i}>{rx})" for i, (rx, _l) in enumerate(_ROUTE_PATTERNS)))
_F_ANY_CASE = re.compile(_F.pattern, re.IGNORECASE)
_R_ANY_CASE = re.compile(_R.pattern, re.IGNORECASE)
_TOKEN = re.compile(r"[a-z]+|[0-9]+|/")
_TRIGGERS = frozenset("""
once weekly every per twice two three four biw tiw biweekly fortnightly each monthly qm b bid t tid qid q qd daily o od
qam qpm qhs at nightly as prn p on single one qw qwk qmo
sub subcutaneous subcutaneously subq subcut s sc sq intra intravenous intravenously i iv im infusion infusions drip
intramuscular intramuscularly intravitreal intravitreally intrathecal intrathecally intranasal intranasally nasal
inhaled inhalation inhaler nebulised nebulized nebuliser nebulizer nebulisation nebulization transdermal transdermally
patch patches sublingual sublingually rectal rectally suppository suppositories ophthalmic eye drops topical topically
cream creams ointment ointments gel gels varnish lotion orally oral po by tablet tablets capsule capsules pill pills
sachet sachets 3 4 21 28 /
""".split())


def _label(m: re.Match, clean: str, kind: str) -> Optional[str]:
    """Normalised label of a frequency ('f') or route ('r') match, or None when it does not count."""
    label = (_FREQ_PATTERNS if kind == "f" else _ROUTE_PATTERNS)[int(m.lastgroup[1:])][1]
    if kind == "r" and label == "im" and m.group(0).lower() == "im" and clean[m.start():m.end()] != "IM":
        return None  # a bare lower-case 'im' is not a route
    if "{n}" in label:
        n = next((v for k, v in m.groupdict().items() if k[0] == "n" and v), None)
        if n is None:
            return None
        label = label.replace("{n}", str(int(n)))
        label = _Q_NAMED.get(label, label)
    return label


def _events(clean: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(start, label) of every frequency phrase and every route phrase in ``clean``, in text order.

    The two are scanned independently ('single infusion' is both ONCE and iv)."""
    low = clean.lower()
    starts = None if len(low) != len(clean) else [  # None: a case mapping changed the length (rare): slow path
        t.start() for t in _TOKEN.finditer(low) if t.group(0) in _TRIGGERS]
    out: dict[str, list[tuple[int, str]]] = {"f": [], "r": []}
    for kind, rx, rx_any in (("f", _F, _F_ANY_CASE), ("r", _R, _R_ANY_CASE)):
        for m in (rx_any.finditer(clean) if starts is None else _triggered(rx, low, starts)):
            label = _label(m, clean, kind)
            if label is not None:
                out[kind].append((m.start(), label))
    return out["f"], out["r"]


def _triggered(rx: re.Pattern, low: str, starts: list[int]):
    last_end = -1
    for pos in starts:
        if pos >= last_end:
            m = rx.match(low, pos)
            if m is not None:
                last_end = m.end()
                yield m


def _first(events: list[tuple[int, str]], start: int = 0, end: Optional[int] = None) -> Optional[str]:
    for pos, label in events:
        if pos >= start and (end is None or pos < end):
            return label
    return None


def _doses_in(clean: str) -> list[re.Match]:
    """Dose matches whose number is not glued to a word or a decimal point ('x10 mg', 'A1 5 mg')."""
    out = []
    last_end = 0
    rx = _DOSE_CELLS if _MENTIONS_CELLS.search(clean) else _DOSE
    for num in _NUMBER.finditer(clean):  # try the full pattern only where a number starts
        k = num.start()
        if k < last_end or (k > 0 and (clean[k - 1].isalnum() or clean[k - 1] in "_.")):
            continue
        m = rx.match(clean, k)
        if m is not None:
            out.append(m)
            last_end = m.end()
    return out


def parse_dose(text: Optional[str]) -> list[Dose]:
    """All doses stated in ``text`` (see module docstring). Never raises on any string."""
    if not text or not isinstance(text, str) or _NO_DOSE.match(text):
        return []
    clean = _clean(text)
    matches = _doses_in(clean) if _HAS_DIGIT.search(clean) else []
    placebo_anywhere = _PLACEBO.search(clean) is not None
    if not matches and not placebo_anywhere:
        return []
    freqs, routes = _events(clean)
    if not matches:
        return [Dose(None, None, None, _first(freqs), _first(routes), True)]
    first_start = matches[0].start()
    prefix_freq = _first(freqs, 0, first_start)
    prefix_route = _first(routes, 0, first_start)
    single = len(matches) == 1
    doses: list[Dose] = []
    listed: list[bool] = []  # whether the next dose follows this one as an item of a list ('5 mg, 10 mg, 20 mg')
    prev_end = 0
    for k, m in enumerate(matches):
        seg_end = matches[k + 1].start() if k + 1 < len(matches) else len(clean)
        lead = clean[max(prev_end, m.start() - 40):m.start()]
        prev_end = m.end()
        if _TOTAL.search(lead):  # "(for a total of 600 mg)" restates a sum, not a dose
            continue
        _rx, unit, factor, implied_freq = _UNIT_ALTS[int(m.lastgroup[1:])]
        v1 = float(m.group("v1"))
        v2 = float(m.group("v2")) if m.group("v2") else None
        qualifier = "range" if v2 is not None else ("up to" if _UPTO.search(lead) else None)
        freq = implied_freq or _first(freqs, m.end(), seg_end) or prefix_freq or (_first(freqs) if single else None)
        route = _first(routes, m.end(), seg_end) or prefix_route or (_first(routes) if single else None)
        # the dose is a placebo when 'placebo' is written just before it (same clause) or it is zero
        is_placebo = v1 == 0 or _PLACEBO.search(lead) is not None
        doses.append(Dose(
            value=v1, unit=unit, value_mg=v1 * factor if factor is not None else None,
            frequency=freq, route=route, is_placebo=is_placebo,
            value_upper=v2, qualifier=qualifier,
        ))
        listed.append(k + 1 < len(matches) and _LIST_SEP.match(clean, m.end(), seg_end) is not None)
    # items of a dose list share the schedule written after the last item
    for k in range(len(doses) - 2, -1, -1):
        if listed[k]:
            d, nxt = doses[k], doses[k + 1]
            doses[k] = replace(d, frequency=d.frequency or nxt.frequency, route=d.route or nxt.route)
    return doses


def looks_like_dose(text: Optional[str]) -> bool:
    """Whether ``text`` has a number that is not obviously a time, count or schedule position.

    Used to decide whether a text that ``parse_dose`` could not read deserves an
    'unparseable dose' reject (a dose-like number was there) or is simply dose-free.
    """
    if not text or not _HAS_DIGIT.search(text):
        return False
    rest = _TIME_NUMBER.sub(" ", _TIME_PREFIX.sub(" ", _clean(text)))
    return re.search(r"(?<![A-Za-z0-9\-.])\d", rest) is not None


def dose_rows(texts: list[Optional[str]]) -> dict[str, list]:
    """Column-wise dose rows for many texts (for a DuckDB relation): text, dose_index and the Dose fields."""
    cols: dict[str, list] = {k: [] for k in ("text", "dose_index", "value", "unit", "value_mg", "frequency",
                                              "route", "is_placebo", "value_upper", "qualifier", "looks_like_dose")}
    for t in texts:
        doses = parse_dose(t)
        if not doses:
            cols["text"].append(t)
            cols["dose_index"].append(None)
            for k in ("value", "unit", "value_mg", "frequency", "route", "is_placebo", "value_upper", "qualifier"):
                cols[k].append(None)
            cols["looks_like_dose"].append(looks_like_dose(t))
            continue
        for i, d in enumerate(doses):
            cols["text"].append(t)
            cols["dose_index"].append(i)
            for k in ("value", "unit", "value_mg", "frequency", "route", "is_placebo", "value_upper", "qualifier"):
                cols[k].append(getattr(d, k))
            cols["looks_like_dose"].append(True)
    return cols
