"""Free-text variety of the simulated records: dose, frequency and route wording, inclusion and
exclusion criteria, outcome titles and time frames, number and date formatting, NCT ids."""
from __future__ import annotations

import math
import random
from datetime import date

from .catalogue import NCT_MULTIPLIER


# --------------------------------------------------------------------------- free-text variety

FREQ_TEXT = {
    "QD": ["once daily", "once a day", "daily", "QD", "q.d.", "once daily"],
    "BID": ["twice daily", "twice a day", "BID", "b.i.d.", "every 12 hours"],
    "QW": ["once weekly", "every week", "QW", "weekly", "qw"],
    "Q2W": ["every 2 weeks", "every other week", "Q2W", "q2w", "once every two weeks"],
    "Q4W": ["every 4 weeks", "Q4W", "every four weeks", "once monthly", "q4w"],
    "Q8W": ["every 8 weeks", "Q8W", "every eight weeks", "q8w"],
    "Q3W": ["every 3 weeks", "Q3W", "on Day 1 of each 21-day cycle", "once every three weeks"],
    "TWICE_WEEKLY": ["twice weekly", "twice a week", "twice weekly"],
    "ONCE": ["as a single infusion", "once on Day 1", "as a single dose"],
}
FREQ_ABBR = {"QD": "QD", "BID": "BID", "QW": "QW", "Q2W": "Q2W", "Q4W": "Q4W", "Q8W": "Q8W", "Q3W": "Q3W",
             "TWICE_WEEKLY": "twice weekly", "ONCE": "single dose"}
ROUTE_TEXT = {
    "oral": ["orally", "by mouth", "PO", "orally"],
    "sc": ["subcutaneously", "SC", "s.c.", "by subcutaneous injection", "as a subcutaneous (SC) injection"],
    "iv": ["intravenously", "IV", "i.v.", "by intravenous infusion", "as an intravenous (IV) infusion over 30 minutes"],
    "inhaled": ["inhaled", "via dry powder inhaler", "by oral inhalation", "via metered-dose inhaler"],
    "intranasal": ["intranasally", "as a nasal spray"],
}
ROUTE_ABBR = {"oral": "PO", "sc": "SC", "iv": "IV", "inhaled": "inh.", "intranasal": "IN"}
FORM = {"oral": ["tablets", "capsules", "film-coated tablets"], "sc": ["injection", "pre-filled syringe", "auto-injector"],
        "iv": ["infusion", "concentrate for infusion"], "inhaled": ["inhalation powder", "inhaler"], "intranasal": ["nasal spray"]}
PLACEBO_FORM = {"oral": "tablets", "sc": "injections", "iv": "infusion", "inhaled": "inhaler", "intranasal": "nasal spray device"}
DOSE_STYLES = {
    "mg": ["{v} mg", "{v} mg", "{v}mg", "{v} mg", "{v} milligrams", "{v}-mg"],
    "mcg": ["{v} mcg", "{v} µg", "{v} micrograms", "{v}mcg"],
    "g": ["{v} g", "{v} g", "{v}g", "{mg} mg"],
    "mg/kg": ["{v} mg/kg", "{v} mg/kg", "{v}mg/kg", "{v} milligrams per kilogram (mg/kg)"],
    "mg/m2": ["{v} mg/m2", "{v} mg/m^2", "{v} mg/m²", "{v}mg/m2"],
    "cells/kg": ["{m} x 10^{e} cells/kg", "{m}×10^{e} cells/kg", "{m} x 10^{e} cells/kg", "{m} million cells/kg"],
}
BACKGROUND = {"t2d": "stable metformin therapy", "ra": "background methotrexate", "asthma": "their usual inhaled controller medication",
              "hf": "guideline-directed medical therapy", "hchol": "maximally tolerated statin therapy",
              "ad": "topical corticosteroids as needed", "copd": "their usual rescue medication"}
CONDITION_AGE = {"t2d": 57, "htn": 55, "ra": 53, "pso": 45, "asthma": 48, "mdd": 42, "copd": 64, "hf": 66, "ad": 35,
                 "migraine": 41, "hchol": 58, "nsclc": 63}
INCLUSION = {
    "t2d": ["HbA1c of 7.0% to 10.5% (inclusive) at screening", "Body mass index (BMI) of 22 to 45 kg/m2",
            "Stable dose of metformin of at least 1500 mg per day for at least 8 weeks before screening, or drug-naive",
            "Fasting plasma glucose below 270 mg/dL at the run-in visit"],
    "htn": ["Mean seated systolic blood pressure of 140 to 179 mmHg at the randomization visit",
            "Mean seated diastolic blood pressure below 110 mmHg", "Completed a 2-week single-blind placebo run-in period"],
    "ra": ["Diagnosis of rheumatoid arthritis for at least 3 months per the 2010 ACR/EULAR classification criteria",
           "At least 6 swollen joints (of 66) and at least 6 tender joints (of 68) at screening and baseline",
           "High-sensitivity C-reactive protein (hsCRP) of at least 5 mg/L", "Inadequate response to at least one conventional synthetic DMARD"],
    "pso": ["Chronic plaque psoriasis for at least 6 months before randomization", "PASI score of 12 or more and body surface area involvement of 10% or more",
            "sPGA score of 3 or more", "Candidate for systemic therapy or phototherapy"],
    "asthma": ["Physician-diagnosed asthma for at least 12 months", "Pre-bronchodilator FEV1 of 40% to 85% of predicted normal",
               "Reversibility of at least 12% and 200 mL in FEV1 after salbutamol", "ACQ-5 score of 1.5 or more at screening"],
    "mdd": ["Primary diagnosis of major depressive disorder (DSM-5), single or recurrent episode, without psychotic features",
            "MADRS total score of 26 or more at screening and baseline", "Current depressive episode of at least 8 weeks duration"],
    "copd": ["Current or former smokers with a smoking history of at least 10 pack-years",
             "Post-bronchodilator FEV1/FVC ratio below 0.70 and FEV1 of 30% to 80% of predicted", "mMRC dyspnoea grade of 2 or more"],
    "hf": ["Chronic heart failure (NYHA class II-IV) for at least 3 months", "Left ventricular ejection fraction of 40% or less within 12 months",
           "NT-proBNP of at least 600 pg/mL (900 pg/mL if atrial fibrillation)", "Stable guideline-directed therapy for at least 4 weeks"],
    "ad": ["Chronic atopic dermatitis present for at least 3 years (Hanifin and Rajka criteria)", "EASI score of 16 or more and IGA score of 3 or more",
           "Body surface area involvement of 10% or more", "Inadequate response to topical medications within 6 months"],
    "migraine": ["History of migraine with or without aura for at least 12 months (ICHD-3)", "4 to 14 migraine days per month in each of the 3 months before screening",
                 "Age at migraine onset below 50 years", "At least 80% compliance with the electronic diary during baseline"],
    "hchol": ["Fasting LDL-C of 100 mg/dL or more at screening", "Fasting triglycerides of 400 mg/dL or less",
              "On a stable lipid-lowering diet for at least 4 weeks"],
    "nsclc": ["Histologically or cytologically confirmed stage IIIB/IV non-small cell lung cancer", "At least one measurable lesion per RECIST v1.1",
              "ECOG performance status of 0 or 1", "Disease progression after one prior platinum-based chemotherapy regimen"],
}
EXCLUSION_COMMON = [
    "Pregnant or breastfeeding women, or women of childbearing potential not using highly effective contraception",
    "Estimated glomerular filtration rate below 30 mL/min/1.73 m2",
    "Alanine or aspartate aminotransferase more than 3 times the upper limit of normal",
    "History of malignancy within 5 years, except adequately treated basal cell or squamous cell carcinoma of the skin",
    "Active or latent tuberculosis, hepatitis B, hepatitis C or human immunodeficiency virus infection",
    "Participation in another interventional clinical study within 30 days or 5 half-lives before screening",
    "Any condition that, in the opinion of the investigator, would compromise the safety of the participant or the quality of the data",
    "Known hypersensitivity to the study drug or any of its excipients",
    "Myocardial infarction, unstable angina, stroke or transient ischaemic attack within 6 months before screening",
    "History of alcohol or drug abuse within 2 years",
]
FACILITY_STYLES = ["{city} Clinical Research Center", "University Hospital {city}", "{city} Medical Research Institute",
                   "Research Site", "{sponsor_short} Investigational Site", "{city} General Hospital",
                   "Clinical Trials Unit, {city}", "{city} Center for Clinical Studies"]


def _num(x: float) -> str:
    """A dose number as people write it: 10, 2.5, 0.25."""
    if x == int(x):
        return str(int(x))
    return f"{x:g}"


def _dose_text(dose: float, unit: str, style: int) -> str:
    styles = DOSE_STYLES[unit]
    tmpl = styles[style % len(styles)]
    if unit == "cells/kg":
        e = int(math.floor(math.log10(dose)))
        m = dose / 10 ** e
        if "million" in tmpl:
            return tmpl.format(m=_num(dose / 1e6))
        return tmpl.format(m=_num(round(m, 2)), e=e)
    return tmpl.format(v=_num(dose), mg=_num(dose * 1000) if unit == "g" else _num(dose))


def _fmt(x: float, nd: int) -> str:
    s = f"{x:.{nd}f}"
    if s.startswith("-") and float(s) == 0.0:
        s = s[1:]
    return s


def _fmt_p(p: float, style: int) -> str:
    if p < 0.0001 and style == 1:
        return "<0.0001"
    if p < 0.001:
        return "<0.001"
    if p < 0.01:
        return f"{p:.4f}"
    if p >= 0.1 and style == 2:
        return f"{p:.2f}"
    return f"{p:.3f}"


def _p_two_sided(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def _apportion(total: int, weights: list[float]) -> list[int]:
    """Integers proportional to weights that sum exactly to total (largest remainder)."""
    s = sum(weights)
    if total <= 0 or s <= 0:
        return [0] * len(weights)
    raw = [total * w / s for w in weights]
    out = [int(r) for r in raw]
    rest = total - sum(out)
    order = sorted(range(len(raw)), key=lambda k: (out[k] - raw[k], k))
    for k in order[:rest]:
        out[k] += 1
    return out


def _d(x: date) -> str:
    return x.isoformat()


def _ym(x: date) -> str:
    return x.isoformat()[:7]


def nct_id(seed: int, i: int) -> str:
    """Deterministic, unique (for i < 10**7) NCT id 'NCT9' + 7 digits; never a real one."""
    offset = random.Random(f"deepimagine-nct:{seed}").randrange(10 ** 7)
    return f"NCT9{(i * NCT_MULTIPLIER + offset) % 10 ** 7:07d}"


# --------------------------------------------------------------------------- study rendering

BASELINE_UNIT = {"ldl": "mg/dL", "nonhdl": "mg/dL", "ntprobnp": "pg/mL", "easi_pct": "units on a scale", "tumour": "mm"}
CONT_TITLES = ["Change From Baseline in {name} at Week {w}", "Change From Baseline to Week {w} in {name}",
               "Mean Change From Baseline in {short} at Week {w}"]
PCT_TITLES = ["Percent Change From Baseline in {name} at Week {w}", "Percent Change From Baseline to Week {w} in {name}",
              "Percentage Change From Baseline in {short} at Week {w}"]
RESP_TITLES = ["Percentage of Participants Achieving {name} at Week {w}", "Proportion of Participants With {name} at Week {w}",
               "Percentage of Participants With {name} at Week {w}"]
COUNT_TITLE = "Number of Participants Achieving {name} at Week {w}"
CONT_TIMEFRAMES = ["Baseline, Week {w}", "Baseline and Week {w}", "From Baseline to Week {w}", "Baseline to Week {w}", "Week {w}"]
RESP_TIMEFRAMES = ["Week {w}", "At Week {w}", "Week {w}", "Baseline up to Week {w}", "{w} weeks"]
DROP_REASONS = ["Adverse Event", "Lost to Follow-up", "Withdrawal by Subject", "Physician Decision", "Lack of Efficacy",
                "Protocol Violation"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]


def _dose_style(rng: random.Random, unit: str) -> int:
    n = len(DOSE_STYLES[unit])
    return rng.choices(range(n), weights=[6, 3, 2, 1, 0.5, 0.5][:n])[0]
