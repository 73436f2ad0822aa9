"""Dose parsing: free-text arm / intervention descriptions -> structured doses.

Over 500 lines: one grammar (text clean-up, unit and frequency tables, the dose regexes and the clause
rules that use them), measured as a whole by its precision/recall tests; its parts share private regexes.

``parse_dose(text)`` is a pure function returning one ``Dose`` per dose mentioned
("400 mg on weeks 0, 2 and 4 then 200 mg Q2W" -> two doses), a single placebo dose
(value None) for placebo text without a number, and ``[]`` when nothing is found.
The tables stage runs it once per DISTINCT text and joins the result back in SQL.

What it reads (measured on tests/data/doses_labelled.jsonl, see docs/schema.md):
- a number (or range) and a unit; the per-kg / per-m2 basis and a rate are part of the unit
  ('mg/kg', 'mg/m2', 'mcg/kg/min', 'mL/h', 'mg/24h'); '/day' and '/week' become the frequency;
- multipliers: '2 x 10^6', '10⁸', '1e7', '15-20 million', '0.2-1 x 10^7' (both bounds), 'MIU';
- combination strengths and alternatives: '100/6 mcg', '60 or 40 mg', '0.3, 1, 3 and 10 mg/kg' give
  one row per number;
- not doses: needle gauges and gravity ('29G', '1G'), product names ('Montanide ISA 51 VG'),
  percentages of outcomes ('<10% improvement'), thresholds ('<60 mL/min'), concentrations
  ('200 mg/mL', '250 mg/5 mL'), normal saline's 0.9%, restatements in brackets ('2 mg (0.05 mL)'),
  totals ('for a total of 600 mg'), sampled volumes ('10 mL of CSF');
- placebo: a placebo cue ('placebo', 'vehicle', 'matching', 'corresponding volume', ...) in the same
  clause as the number;
- route and frequency from the dose's own clause: a second drug's clause ('... plus insulin glargine
  subcutaneously') does not lend its route or schedule.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Dose:
    value: Optional[float]            # in `unit`; lower end of a range; None for a bare placebo
    unit: Optional[str]               # normalised unit: base [/kg | /m2] [/h | /min | /24h] (see _BASES)
    value_mg: Optional[float]         # value in mg where the unit is a plain mass (mg, mcg, g, ng)
    frequency: Optional[str]          # QD | BID | TID | QID | QW | BIW | TIW | Q2W | Q3W | Q4W | QM | Q<n>W | Q<n>M | Q<n>D | ONCE | PRN
    route: Optional[str]              # oral | iv | sc | im | topical | inhaled | intranasal | ...
    is_placebo: bool = False
    value_upper: Optional[float] = None  # upper end of a range ('10-20 mg'), else None
    qualifier: Optional[str] = None      # 'range' | 'up to' | None


# ----------------------------------------------------------------- text clean-up

_NUM = r"\d+(?:\.\d+)?|\.\d+"
_SUPER = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")

# (trigger characters, pattern, replacement): a substitution runs only when one of its triggers is present
_CLEAN = [
    ("\\", re.compile(r"\\([<>^\[\]*_~\\&])"), r"\1"),         # CT.gov markdown escapes: \> \^ \[
    ("\u00b5\u03bc", re.compile(r"[\u00b5\u03bc]"), "mc"),     # µg, μg -> mcg
    ("⁰¹²³⁴⁵⁶⁷⁸⁹", re.compile(r"10\s*([⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+)"), lambda m: "10^" + m.group(1).translate(_SUPER)),  # 10⁶
    ("\u00b2", re.compile("\u00b2"), "2"),                     # m² -> m2
    ("\u00d7\u2715\u2716", re.compile("[\u00d7\u2715\u2716]"), " x "),  # 2×10^6
    ("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", re.compile("[\u2010-\u2015\u2212]"), "-"),  # unicode dashes
    ("\u2264", re.compile("\u2264"), "<="),
    ("\u2265", re.compile("\u2265"), ">="),
    ("\u00b7", re.compile("\u00b7"), "."),                     # mg·kg-1
    (",", re.compile(r"(?<=\d),(?=\d{3}(?!\d))"), ""),        # 1,000 mg -> 1000 mg
    (",", re.compile(r"(?<=\d),(?=\d{1,2}(?!\d))"), "."),     # 0,8 mg/kg -> 0.8 (decimal comma)
]
_SCI_HINT = re.compile(r"\^|\*\*|\d[eE][-+]?\d")
_EXP = r"10\s*(?:\^|\*\*|e|E)\s*(?P<e>[-+]?\d+)(?![\d.])"
# a range before one power of ten scales both bounds: "0.2-1 x 10^7" -> 2000000-10000000
_SCI_RANGE = re.compile(rf"(?<![\d.^])(?P<a>{_NUM})\s*(?P<sep>-|to)\s*(?P<b>{_NUM})\s*[x*]\s*{_EXP}")
# scientific notation -> plain number: "2 x 10^6", "2x10e6", "10^6", "1e6", "1.5E+07"
_SCI = re.compile(rf"(?:(?P<m>{_NUM})\s*[x*]\s*)?{_EXP}|(?P<m2>{_NUM})[eE](?P<e2>[-+]?\d+)(?![\d.a-zA-Z])")
_WORD_MULT = re.compile(rf"(?<![\d.])(?P<a>{_NUM})(?:\s*(?P<sep>-|to)\s*(?P<b>{_NUM}))?\s*(?P<w>million|billion|thousand)\b",
                        re.IGNORECASE)
_MULT = {"thousand": 3, "million": 6, "billion": 9}
_WORD_NUM = {"one": "1", "two": "2", "three": "3", "four": "4", "half": "0.5", "half a": "0.5"}
_COUNT_WORD_HINT = re.compile(r"tablet|capsule|pill", re.IGNORECASE)
_COUNT_WORD = re.compile(r"\b(one|two|three|four|half(?: a)?)\s+(tablets?|capsules?|pills?)\b", re.IGNORECASE)


def _num_str(mantissa: str, exp: int) -> str:
    val = float(f"{mantissa}e{exp}")  # decimal arithmetic: 1.1e14, not 1.1 * 10 ** 14
    return str(int(val)) if val == int(val) else repr(val)


def _sci_sub(m: re.Match) -> str:
    if abs(int(m.group("e") or m.group("e2"))) > 30:  # not a dose: leave the text alone
        return m.group(0)
    if m.group("e") is not None:
        return _num_str(m.group("m") or "1", int(m.group("e")))
    return _num_str(m.group("m2"), int(m.group("e2")))


def _range_sub(m: re.Match, exp: int) -> str:
    lo = _num_str(m.group("a"), exp)
    if m.group("b") is None:
        return lo
    return f"{lo}{' to ' if m.group('sep') == 'to' else '-'}{_num_str(m.group('b'), exp)}"


def _clean(text: str) -> str:
    for triggers, pat, rep in _CLEAN:
        if any(c in text for c in triggers):
            text = pat.sub(rep, text)
    if _SCI_HINT.search(text):
        text = _SCI_RANGE.sub(lambda m: m.group(0) if abs(int(m.group("e"))) > 30 else _range_sub(m, int(m.group("e"))), text)
        text = _SCI.sub(_sci_sub, text)
    if _COUNT_WORD_HINT.search(text):
        text = _COUNT_WORD.sub(lambda m: f"{_WORD_NUM[m.group(1).lower()]} {m.group(2)}", text)
    if "illion" in text or "housand" in text or "ILLION" in text:
        text = _WORD_MULT.sub(lambda m: _range_sub(m, _MULT[m.group("w").lower()]), text)
    return text


# ----------------------------------------------------------------- units

# (group name, regex, normalised unit, mg factor). Case is checked after the match (_base).
_BASES: list[tuple[str, str, str, Optional[float]]] = [
    ("mcg", r"mcg|ug|micrograms?", "mcg", 1e-3),
    ("mg", r"mg|milligrams?", "mg", 1.0),
    ("ng", r"ng|nanograms?", "ng", 1e-6),
    ("g", r"g|gm|grams?", "g", 1000.0),
    ("miu", r"m\s?IU", "IU", None),               # MIU = million IU; mIU = milli-IU
    ("iu", r"IU|international\s+units?", "IU", None),
    ("mu", r"MU|milli-?units?", "mU", None),      # MU = million units; mU = milli-units
    ("u", r"U|units?", "U", None),
    ("ml", r"mL|cc|milli-?lit(?:er|re)s?", "mL", None),
    ("l", r"L|lit(?:er|re)s?", "L", None),
    ("mmol", r"mmol", "mmol", None),
    ("meq", r"mEq", "mEq", None),
    ("mci", r"mCi|millicuries?", "mCi", None),
    ("mbq", r"MBq", "MBq", None),
    ("gbq", r"GBq", "GBq", None),
    ("vg", r"vg|vector\s+genomes?", "vg", None),
    ("vp", r"vp|viral\s+particles?", "vp", None),
    ("cfu", r"CFU|colony[\s-]+forming\s+units?", "CFU", None),
    ("pfu", r"PFU|plaque[\s-]+forming\s+units?", "PFU", None),
    ("tcid", r"[TC]CID\s?_?50", "TCID50", None),
    ("pct", r"%|percent", "%", None),
    ("tablet", r"tablets?|tabs?|pills?", "tablet", None),  # counts: kept only when the text has no amount
    ("capsule", r"capsules?|caps?", "capsule", None),
]
_COUNT_UNITS = {"tablet", "capsule"}
_BW = r"(?:\s*(?:/\s*)?(?:of\s+)?(?:(?:ideal|actual|lean|total|adjusted)\s+)?body[\s-]*weight|\s*\(?[IALT]?BW\)?(?![A-Za-z]))?"
_PER = r"(?:\s*/\s*|\s+per\s+)"
_KG = rf"(?:{_PER}(?:kg|kilograms?)(?![a-z])|\s*\.?\s*kg\s*(?:-|\^-?)1(?!\d)){_BW}"
_M2 = rf"(?:{_PER}(?:m\s*\^?\s*2|square\s+met(?:er|re)s?|sq\.?\s*m)(?![a-z0-9])|\s*\.?\s*m\s*-2(?!\d))"
_DAY = rf"{_PER}(?:day|d)(?![a-z])|\s*\.\s*d(?:ay)?\s*-1(?!\d)"
_WEEK = rf"{_PER}(?:week|wk)(?![a-z])"
_H24 = r"\s*/\s*24\s*(?:h|hrs?|hours?)(?![a-z])"
_HOUR = rf"{_PER}(?:h|hrs?|hours?)(?![a-z])|\s*\.\s*hr?\s*-1(?!\d)"
_MIN = rf"{_PER}(?:mins?|minutes?)(?![a-z])|\s*\.\s*min\s*-1(?!\d)"
_IGNORED = r"\s*/\s*(?:dose|cycle|injection|infusion|application|session|administration)(?![a-z])"
# what follows a '/' in a concentration ('200 mg/mL', '9 g/dL', '10^8 PFU/mL'); '300 mg / ritonavir' is a combination
_PER_VOLUME = (r"\s*/\s*(?:[mdcu]?l|mcl|cc|[mnu]?g|mcg|m?mol|m?eq|vials?|ampoules?|amps?|bottles?|tubes?|syringes?|bags?"
               r"|units?|iu|m[23]|mm3|hpf|cells?|s|secs?|seconds?)(?![a-z])")  # and an injection speed (2 mL/s)
_ELEMENT = r"(?:\s*(?:Gd|gadolinium|Fe|iron|elemental\s+iron)(?=\s*(?:/|per\b)\s*k))?"
# cell counts may carry up to four words between the number and "cells" (CAR-T, autologous T ...)
_CELLS = r"(?:[A-Za-z][\w\-+]*\s+){0,4}?(?:cells?|CAR-?T(?!\s+cells?))"


def _dose_regex(with_cells: bool) -> re.Pattern:
    bases = "|".join(f"(?P<b_{name}>{rx})" for name, rx, _u, _f in _BASES)
    if with_cells:
        bases = f"(?P<b_cells>{_CELLS})|" + bases
    return re.compile(  # starts with the number; _hits checks the lead-in
        rf"(?P<v1>{_NUM})"
        rf"(?:\s*(?P<sep>-|to)\s*(?P<v2>{_NUM}))?"
        rf"\s*-?\s*(?:{bases})"                       # '15-mg' is written too
        rf"{_ELEMENT}(?:(?P<kg>{_KG})|(?P<m2>{_M2}))?"
        rf"(?:(?P<day>{_DAY})|(?P<week>{_WEEK})|(?P<h24>{_H24})|(?P<hour>{_HOUR})|(?P<min>{_MIN})|{_IGNORED})?"
        rf"(?![A-Za-z0-9]|{_PER_VOLUME})",             # not part of a longer word or a concentration (mg/mL)
        re.IGNORECASE,
    )


# the cell-count units try up to four words before 'cells' (slow): only used on texts that mention cells
_DOSE_CELLS = _dose_regex(True)
_DOSE = _dose_regex(False)
_MENTIONS_CELLS = re.compile(r"cell|car-?t", re.IGNORECASE)
_BASE_INFO = {name: (unit, factor) for name, _rx, unit, factor in _BASES} | {"cells": ("cells", None)}
_AUC = re.compile(rf"\bAUC\s*(?:of|=|:)?\s*(?P<v1>{_NUM})(?:\s*(?P<sep>-|to)\s*(?P<v2>{_NUM}))?"
                  r"(?:\s*mg\s*/\s*mL\s*[/.x]?\s*min)?(?![\w.])", re.IGNORECASE)

_UPTO = re.compile(r"(?:\bup\s+to|\bmaximum(?:\s+of)?|\bmax\.?|<=|\bnot\s+to\s+exceed)\s*$", re.IGNORECASE)
_CAP = re.compile(r"\(\s*(?:max(?:imum)?\.?|up\s+to|not\s+to\s+exceed|<=)\s*(?:of\s+)?$", re.IGNORECASE)
# a bound, not an amount given: '<60 mL/min', 'meals with more than 20 grams of carbohydrate'
_THRESHOLD = re.compile(r"(?:<|>|>=|\b(?:more|less|greater|fewer)\s+than|\bexceeding|\bin\s+excess\s+of)\s*$", re.IGNORECASE)
_CONCENTRATION = re.compile(rf"\s*/\s*(?:(?:{_NUM})\s*(?:mL|ml|cc|L)\b|1\.73)")
_RESTATED = re.compile(r"\s*\(\s*(?:=|~|approx(?:imately|\.)?|i\.e\.,?|equivalent\s+to|equals?)?\s*$", re.IGNORECASE)
_SAMPLE = re.compile(r"\s+(?:of\s+)?(?:CSF|cerebrospinal|blood|urine|saliva|plasma|serum|sputum|bone\s+marrow|stool|breast\s+milk)\b",
                     re.IGNORECASE)
_GAUGE_AFTER = re.compile(r"[\s\w\-]{0,20}?\b(?:needles?|cannula|catheters?|gauge|trocar|lancet)\b", re.IGNORECASE)
_SALINE_NEAR = re.compile(r"\bsaline\b|\bNaCl\b|sodium\s+chloride", re.IGNORECASE)
# percentages of an outcome, a population or a target, not concentrations
_PCT_LEAD = re.compile(
    r"(?:<|>|<=|>=|~|\bat\s+least|\bmore\s+than|\bless\s+than|\bgreater\s+than|\bover|\bunder|\babove|\bbelow|\bby|\bthan"
    r"|\bbetween|\band|\bto|\bapproximately|\babout|\bwithin|\bexceed(?:ing|s)?|\bminimum(?:\s+of)?"
    r"|\b(?:reduction|decrease|increase|improvement|change|loss|gain|decline|rise|drop|fall|response|difference)\s+(?:of|in|by)"
    r"|\b(?:FEV1|FVC|HbA1c|A1c|SpO2|saturation|FiO2|BMI|LVEF|EF|ejection\s+fraction|ha?ematocrit|Hb)\s*(?:of|was|is|at|from)?"
    r"|\b(?:rate|survival|proportion|percentage|incidence|prevalence|probability|remission|success|cure)\b[^.;%]{0,25}[:=])\s*$",
    re.IGNORECASE)
_PCT_FOLLOW = re.compile(
    r"\s*(?:improvement|reduction|decrease|increase|change|decline|of\b|or\s+(?:more|less|greater|higher|lower|above|below)"
    r"|response|inhibition|predicted|weight|loss|gain|CI\b|confidence|probability|power|patients|participants|subjects"
    r"|people|compliance|adherence|blast|body\s+surface|BSA|TBSA|agreement|relative|absolute|higher|lower|greater|less|more"
    r"|at\s+(?:week|day|month)|on\s+room|in\s+(?:FEV|HbA1c|the)|dose\s+reduction)",
    re.IGNORECASE)
# a bare number sharing the unit of the dose after it: '100/6 mcg', '60 or 40 mg', '10, 20 or 40 mg'
_SHARED = re.compile(rf"(?<![\w.^\-])(?P<n>{_NUM})(?P<sep>\s*/\s*|\s*,\s*(?:(?:or|and)\s+)?|\s+(?:or|and)\s+)$", re.IGNORECASE)
_SHARED_GUARD = re.compile(r"\b(?:days?|weeks?|cycles?|months?|years?|visits?|cohorts?|parts?|arms?|groups?|steps?|levels?"
                           r"|phases?|stages?|grades?|types?|versions?|doses?|mix)\s*$", re.IGNORECASE)

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
    (r"twice\s+(?:a\s+|per\s+)?da(?:y|ily)|two\s+times\s+(?:a\s+|per\s+)?da(?:y|ily)|\bb\.?i\.?d\b\.?|every\s+12\s+hours|\bq\s?12\s?h(?:rs?|ours)?\b", "BID"),
    (r"(?:three|3)\s+times\s+(?:a\s+|per\s+)?da(?:y|ily)|\bt\.?i\.?d\b\.?|every\s+8\s+hours|\bq\s?8\s?h(?:rs?|ours)?\b", "TID"),
    (r"(?:four|4)\s+times\s+(?:a\s+|per\s+)?da(?:y|ily)|\bq\.?i\.?d\b\.?|every\s+6\s+hours|\bq\s?6\s?h(?:rs?|ours)?\b", "QID"),
    (r"once\s+(?:a\s+|per\s+)?da(?:y|ily)|\bdaily\b|every\s+(?:day|morning|evening|night)|each\s+day|per\s+day|/\s*day"
     r"|every\s+24\s+hours|\bq\s?24\s?h(?:rs?|ours)?\b|\bq\.?d\b\.?|\bo\.?d\b\.?|\bqam\b|\bqpm\b|\bqhs\b|at\s+bedtime|\bnightly\b|once\s+(?:every|each)\s+night", "QD"),
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
    (r"\binhal(?:ed|ations?|ers?)\b|\bnebuli[sz](?:ed|er|ation)\b|\binhaler\b", "inhaled"),
    (r"\btransdermal(?:ly)?\b|\bpatch(?:es)?\b", "transdermal"),
    (r"\bsub-?lingual(?:ly)?\b", "sublingual"),
    (r"\brectal(?:ly)?\b|\bsuppositor(?:y|ies)\b", "rectal"),
    (r"\bophthalmic\b|\beye\s+drops?\b", "ophthalmic"),
    (r"\btopical(?:ly)?\b|\bcreams?\b|\bointments?\b|\bgels?\b|\bvarnish\b|\blotion\b", "topical"),
    (r"\borally\b|\boral\b|\bp\.?o\.?(?=[\s,;)]|$)|\bby\s+mouth\b|\bper\s+os\b|\btablets?\b|\bcapsules?\b|\bpills?\b|\bsachets?\b", "oral"),
]

# placebo cues: any of them before a number in its clause; the strong ones also make a number-free text a placebo
_PLACEBO_STRONG = (r"\bplacebos?\b|\bvehicle\b|\bsham\b|\bdummy\b|\bsugar\s+pills?\b|\bcorresponding\s+(?:volume|amount|dose)"
                   r"|\b(?:same|equal|equivalent)\s+volume|\bvolume[\s-]+matched")
_PLACEBO = re.compile(_PLACEBO_STRONG + r"|\binactive\b|\bmatch(?:ing|ed)\b|\bto\s+match\b|\bmimic|\bidentical\s+in\s+appearance",
                      re.IGNORECASE)
_PLACEBO_ANY = re.compile(_PLACEBO_STRONG + r"|\bmatching\s+(?:tablets?|capsules?|injections?|saline)\b", re.IGNORECASE)
_PLACEBO_WORD = re.compile(r"\bplacebos?\b", re.IGNORECASE)  # the only cue that also reaches back ('10 mL IV (placebo)')
# what ends a placebo cue's reach: a sentence, a clause, or a second arm or drug ('placebo or drug X 10 mg')
_PLACEBO_BREAK = re.compile(r"[.;](?:\s|$)|\bor\b|\bversus\b|\bvs\b|\bplus\b|\+|\bthen\b|\bfollowed\s+by\b|\bcompared\b"
                            r"|\bin\s+addition\s+to\b|\brandomi[sz]ed\b", re.IGNORECASE)
_PLACEBO_AFTER_BREAK = re.compile(r"\band\b|\bwith\b|,", re.IGNORECASE)
_HAS_DIGIT = re.compile(r"\d")
_COUNT_RANGE = re.compile(r"\d\s*-\s*$")
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
inhaled inhalation inhalations inhaler inhalers nebulised nebulized nebuliser nebulizer nebulisation nebulization transdermal transdermally
patch patches sublingual sublingually rectal rectally suppository suppositories ophthalmic eye drops topical topically
cream creams ointment ointments gel gels varnish lotion orally oral po by tablet tablets capsule capsules pill pills
sachet sachets 3 4 21 28 /
""".split())


def _label(m: re.Match, clean: str, kind: str) -> Optional[str]:
    """Normalised label of a frequency ('f') or route ('r') match, or None when it does not count."""
    label = (_FREQ_PATTERNS if kind == "f" else _ROUTE_PATTERNS)[int(m.lastgroup[1:])][1]
    if kind == "f" and m.group(0)[:1].isdigit() and _COUNT_RANGE.search(clean, 0, m.start()):
        return None  # '3-4 times a day' is none of QD..QID
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


# ----------------------------------------------------------------- dose mentions

@dataclass
class _Hit:
    start: int
    end: int
    v1: float
    v2: Optional[float]
    unit: str
    factor: Optional[float]          # mg per unit for plain mass units, else None
    freq: Optional[str]              # implied by the unit ('mg/day' -> QD)
    qualifier: Optional[str]
    total: bool = False              # 'for a total of 600 mg': ends a clause, gives no row
    cap: bool = False                # '(max 4 mg)': the cap of the dose before it
    shared: tuple = ()               # ((start, value), ...) bare numbers sharing this unit ('100/6 mcg')
    route: Optional[str] = None      # implied by the unit (tablets, capsules: oral)


def _base(m: re.Match) -> tuple[str, str]:
    for key, raw in m.groupdict().items():
        if raw is not None and key.startswith("b_"):
            return key[2:], raw
    raise AssertionError("a dose match without a unit")


def _unit(m: re.Match) -> Optional[tuple[str, Optional[float], Optional[str], float]]:
    """(normalised unit, mg factor, implied frequency, multiplier) of a dose match, or None when its unit is not a dose unit."""
    name, raw = _base(m)
    unit, factor = _BASE_INFO[name]
    mult = 1.0
    rate = "/h" if m.group("hour") else "/min" if m.group("min") else "/24h" if m.group("h24") else ""
    if name == "g" and raw == "G":
        return None  # 26G, 1G: a needle gauge or gravity
    if name == "miu":
        unit, mult = ("IU", 1e6) if raw[0] == "M" else ("mIU", 1.0)
    elif name == "mu":
        if raw == "MU":
            unit, mult = "U", 1e6
        elif raw != "mU" and not raw.lower().startswith("milli"):
            return None
    elif name == "l" and not rate and raw in ("L", "l"):
        return None  # a bare L is a litre only in a flow rate (2 L/min)
    basis = "/kg" if m.group("kg") else "/m2" if m.group("m2") else ""
    implied = None if rate else "QD" if m.group("day") else "QW" if m.group("week") else None
    return unit + basis + rate, (factor if not basis and not rate else None), implied, mult


def _glued(clean: str, k: int) -> bool:
    return k > 0 and (clean[k - 1].isalnum() or clean[k - 1] in "_.")


def _is_not_percent_dose(clean: str, m: re.Match, v1: float, lead: str) -> bool:
    if _PCT_LEAD.search(lead) or _PCT_FOLLOW.match(clean, m.end()):
        return True
    return v1 == 0.9 and _SALINE_NEAR.search(clean, max(0, m.start() - 25), m.end() + 30) is not None  # normal saline


def _accept(clean: str, m: re.Match) -> tuple[Optional[_Hit], int]:
    """The dose a regex match stands for (None when it is not a dose) and where scanning resumes."""
    info = _unit(m)
    if info is None:
        return None, m.end()
    unit, factor, implied, mult = info
    conc = _CONCENTRATION.match(clean, m.end())
    if conc is not None:
        return None, conc.end()  # 250 mg/5 mL, 60 mL/min/1.73 m2: a concentration or a clearance
    v1 = float(m.group("v1")) * mult
    v2 = float(m.group("v2")) * mult if m.group("v2") else None
    lead = clean[max(0, m.start() - 40):m.start()]
    base = unit.split("/")[0]
    if (_THRESHOLD.search(lead)
            or (unit == "%" and _is_not_percent_dose(clean, m, v1, lead))
            or (base == "g" and _GAUGE_AFTER.match(clean, m.end()))
            or (base == "mL" and _SAMPLE.match(clean, m.end()))
            or (base in ("vg", "vp") and v1 < 1e6)):  # 'ISA 51 VG' is a product name
        return None, m.end()
    qualifier = "range" if v2 is not None else ("up to" if _UPTO.search(lead) else None)
    return _Hit(m.start(), m.end(), v1, v2, unit, factor, implied, qualifier,
                total=_TOTAL.search(lead) is not None, cap=_CAP.search(lead) is not None,
                route="oral" if base in _COUNT_UNITS else None), m.end()


def _auc_hits(clean: str) -> list[_Hit]:
    out = []
    for m in _AUC.finditer(clean):
        v2 = float(m.group("v2")) if m.group("v2") else None
        out.append(_Hit(m.start(), m.end(), float(m.group("v1")), v2, "AUC", None, None, "range" if v2 is not None else None))
    return out


def _hits(clean: str) -> list[_Hit]:
    """Dose mentions in text order, counts dropped where an amount is stated and restatements dropped."""
    hits: list[_Hit] = []
    last_end = 0
    rx = _DOSE_CELLS if _MENTIONS_CELLS.search(clean) else _DOSE
    for num in _NUMBER.finditer(clean):  # try the full pattern only where a number starts
        k = num.start()
        if k < last_end or _glued(clean, k):
            continue
        m = rx.match(clean, k)
        if m is not None:
            hit, last_end = _accept(clean, m)
            if hit is not None:
                hits.append(hit)
    if "auc" in clean.lower():
        hits = sorted(hits + _auc_hits(clean), key=lambda h: h.start)
    if any(h.unit.split("/")[0] not in _COUNT_UNITS for h in hits):
        hits = [h for h in hits if h.unit.split("/")[0] not in _COUNT_UNITS]  # '2 tablets (1000 mg)': the amount
    kept: list[_Hit] = []
    for h in hits:
        if kept and not kept[-1].total and _RESTATED.fullmatch(clean, kept[-1].end, h.start):
            continue  # '2 mg (0.05 mL)', '7.4 GBq (200 mCi)': the same dose again
        h.shared = _shared(clean, kept[-1].end if kept else 0, h)
        kept.append(h)
    return kept


def _shared(clean: str, lo: int, h: _Hit) -> tuple:
    """Bare numbers just before ``h`` that take its unit: '100/6 mcg', '60 or 40 mg', '0.3, 1, 3 and 10 mg/kg'."""
    items, seps, pos = [], [], h.start
    while True:
        m = _SHARED.search(clean, max(lo, pos - 30), pos)
        if m is None:
            break
        sep = "/" if "/" in m.group("sep") else m.group("sep").strip(" ,").lower()
        if (seps and (sep == "/") != (seps[-1] == "/")) or (sep != "/" and clean[m.start() - 1:m.start()] == "/"):
            break  # '75/25, 10 units': a ratio is not an item of a list
        items.append((m.start(), float(m.group("n"))))
        seps.append(sep)
        pos = m.start()
    if not items or _SHARED_GUARD.search(clean, max(0, pos - 20), pos):
        return ()  # 'Cohort 1, 2 mg'
    items.reverse()
    if all(s == "" for s in seps):  # commas only: a list rises ('10, 20, 40 mg'); 'Gardasil 9, 0.5 mL' does not
        values = [v for _p, v in items] + [h.v1]
        if any(b <= a for a, b in zip(values, values[1:])):
            return ()
    return tuple(items)


# ----------------------------------------------------------------- clauses: which route and schedule belong to which dose

# a connector followed by a word that starts another drug's clause ('... plus insulin glargine subcutaneously')
_CONNECTOR = re.compile(r";|,|\+|\bplus\b|\band\b|\bwith\b", re.IGNORECASE)
_PREPARED = re.compile(r"(?:mixed|emulsified|diluted|dissolved|reconstituted|suspended)\s*$",
                       re.IGNORECASE)
_BOUNDARY = re.compile(
    r"\s*(?:(?:and|plus|with)\s+)?(?:(?:oral|orally|intravenous|intravenously|iv|subcutaneous|subcutaneously|sc"
    r"|intramuscular|im|inhaled|nebuli[sz]ed|topical|intranasal|sublingual|transdermal)\s+)?(?P<w>[A-Za-z][A-Za-z\-]*)",
    re.IGNORECASE)
_CONTINUE = _TRIGGERS | frozenset("""
then thereafter on at for day days week weeks month months year years food meals meal water juice milk breakfast dinner lunch
a an the in up until titrated titration continued increased increasing decreased repeated maintenance loading as over after
before during from via is was were will be given administered taken injected applied infused delivered dissolved diluted
followed subsequently within to of one two three four five six each hours hour minutes min cycle cycles dose doses injection
injections bolus without no not if when may can or and other alternate reduced according depending based body weight kg
maximum max total approximately about starting start started pre-filled prefilled syringe pen vial solution suspension
mouthwash drops drop puffs puff inhalations
""".split())
_SEQUENCE = re.compile(r"\bthen\b|\bfollowed\b|\bthereafter\b|\bafter\b|\bloading\b|\bsubsequently\b", re.IGNORECASE)


def _boundary(clean: str, start: int, end: int) -> Optional[int]:
    """Where another drug's clause begins in clean[start:end], or None."""
    for c in _CONNECTOR.finditer(clean, start, end):
        m = _BOUNDARY.match(clean, c.end(), end)
        if m is None or m.group("w").lower() in _CONTINUE:
            continue
        if c.group(0).lower() == "with" and _PREPARED.search(clean, max(start, c.start() - 20), c.start()):
            continue  # 'emulsified with peptide': the same administration
        return c.start()
    return None


def _schedule(clean: str, hits: list[_Hit], freqs, routes) -> list[tuple[Optional[str], Optional[str]]]:
    """(frequency, route) of each non-total hit: from its own clause, else the text before the first dose."""
    out = []
    lead_start: Optional[int] = 0   # where the current dose's own lead-in begins (None: it has none)
    crossed = False                 # a clause boundary lies between the first dose and this one
    first = hits[0].start
    for i, h in enumerate(hits):
        j = i + 1
        while not h.cap and j < len(hits) and hits[j].cap:
            j += 1  # '30 mg/kg (maximum 1 g) IV daily': the cap's clause is its dose's
        seg_end = hits[j].start if j < len(hits) else len(clean)
        b = _boundary(clean, h.end, seg_end)
        tail_end = b if b is not None else seg_end
        f = h.freq or _first(freqs, h.end, tail_end)
        r = h.route or _first(routes, h.end, tail_end)
        if lead_start is not None:
            f = f or _first(freqs, lead_start, h.start)
            r = r or _first(routes, lead_start, h.start)
        if not crossed:
            f = f or _first(freqs, 0, first)
            r = r or _first(routes, 0, first)
        if not h.total:
            out.append((f, r))
        lead_start = b
        crossed = crossed or b is not None
    return out


def _share_schedules(clean: str, rows: list[_Hit], sched: list[list]) -> None:
    """Neighbouring doses of one clause share a route or schedule only one of them states ('0.12% mouthwash 15 mL
    twice daily', '40 mg and ezetimibe 10 mg orally once daily', '5 mg, 10 mg, 20 mg ... weekly')."""
    for k in range(len(rows) - 2, -1, -1):  # backwards: the schedule written after the last item
        a, b = rows[k], rows[k + 1]
        gap_start, gap_end = a.end, b.shared[0][0] if b.shared else b.start
        gap = clean[gap_start:gap_end]
        listed = _LIST_SEP.match(clean, gap_start, gap_end) is not None
        same_clause = len(gap) <= 25 and not _SEQUENCE.search(gap) and _boundary(clean, gap_start, gap_end) is None
        named_next = (sched[k] == [None, None] and len(gap) <= 40 and not _HAS_DIGIT.search(gap)
                      and not _SEQUENCE.search(gap))  # 'A 40 mg and B 10 mg orally': A has no clause of its own
        if listed or same_clause or named_next:
            sched[k] = [sched[k][0] or sched[k + 1][0], sched[k][1] or sched[k + 1][1]]
    for k in range(1, len(rows)):  # forwards: '1% gel 4 g four times daily' -> the 4 g is topical too
        a, b = rows[k - 1], rows[k]
        gap_end = b.shared[0][0] if b.shared else b.start
        gap = clean[a.end:gap_end]
        if len(gap) <= 25 and not _SEQUENCE.search(gap) and _boundary(clean, a.end, gap_end) is None:
            sched[k] = [sched[k][0] or sched[k - 1][0], sched[k][1] or sched[k - 1][1]]


def _is_placebo(clean: str, h: _Hit, cues: list[re.Match]) -> bool:
    """A placebo cue before the dose in its clause ('placebo matching 10 mg'), or 'placebo' just after it."""
    if h.v1 == 0:
        return True
    start = h.shared[0][0] if h.shared else h.start
    for c in cues:
        if c.end() <= start and not _PLACEBO_BREAK.search(clean, c.end(), start):
            return True
        if (c.start() >= h.end and c.start() - h.end <= 25 and _PLACEBO_WORD.fullmatch(clean, c.start(), c.end())
                and not _PLACEBO_BREAK.search(clean, h.end, c.start())
                and not _PLACEBO_AFTER_BREAK.search(clean, h.end, c.start())):
            return True
    return False


def _dose(v: float, v2: Optional[float], h: _Hit, freq, route, placebo: bool, qualifier) -> Dose:
    return Dose(value=v, unit=h.unit, value_mg=v * h.factor if h.factor is not None else None, frequency=freq,
                route=route, is_placebo=placebo, value_upper=v2, qualifier=qualifier)


def parse_dose(text: Optional[str]) -> list[Dose]:
    """All doses stated in ``text`` (see module docstring). Never raises on any string."""
    if not text or not isinstance(text, str) or _NO_DOSE.match(text):
        return []
    clean = _clean(text)
    hits = _hits(clean) if _HAS_DIGIT.search(clean) else []
    rows = [h for h in hits if not h.total]
    if not rows:
        if not _PLACEBO_ANY.search(clean):
            return []
        freqs, routes = _events(clean)
        return [Dose(None, None, None, _first(freqs), _first(routes), True)]
    freqs, routes = _events(clean)
    sched = [list(fr) for fr in _schedule(clean, hits, freqs, routes)]
    _share_schedules(clean, rows, sched)
    cues = list(_PLACEBO.finditer(clean))
    doses: list[Dose] = []
    for h, (freq, route) in zip(rows, sched):
        placebo = _is_placebo(clean, h, cues)
        for _pos, v in h.shared:
            doses.append(_dose(v, None, h, freq, route, placebo or v == 0, None))
        doses.append(_dose(h.v1, h.v2, h, freq, route, placebo, h.qualifier))
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
