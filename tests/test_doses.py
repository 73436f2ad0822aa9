"""parse_dose on real-style arm / intervention texts (ClinicalTrials.gov and CT Open arms)."""
from __future__ import annotations

import pytest

from deepimagine.tables.doses import Dose, looks_like_dose, parse_dose
from deepimagine.core.normalize import intervention_name_norm, time_frame_weeks

# text -> expected first dose (value, unit, frequency, route); None value for a bare placebo
CASES = [
    ("240 mg SC once a week", (240, "mg", "QW", "sc")),
    ("0.5 mg/kg IV every 3 weeks", (0.5, "mg/kg", "Q3W", "iv")),
    ("2 x 10^6 cells/kg", (2e6, "cells/kg", None, None)),
    ("1.5 g/m2", (1.5, "g/m2", None, None)),
    ("10 mcg", (10, "mcg", None, None)),
    ("Dapagliflozin 10 mg orally once daily", (10, "mg", "QD", "oral")),
    ("300mg s.c. every other week", (300, "mg", "Q2W", "sc")),
    ("100 mg BID", (100, "mg", "BID", None)),
    ("5 mg/day", (5, "mg", "QD", None)),
    ("2.5mg QD", (2.5, "mg", "QD", None)),
    ("1,000 mg", (1000, "mg", None, None)),
    ("10 µg", (10, "mcg", None, None)),
    ("10 μg inhaled twice daily", (10, "mcg", "BID", "inhaled")),
    ("0.1 mg/kg/day", (0.1, "mg/kg", "QD", None)),
    ("50 IU/kg", (50, "IU/kg", None, None)),
    ("20 mL", (20, "mL", None, None)),
    ("XYZ 0.3 mg/kg", (0.3, "mg/kg", None, None)),
    ("10 mg/m²", (10, "mg/m2", None, None)),
    ("Paclitaxel 90 mg/m\\^2 on Days 1, 8, and 15 of a 28-day cycle", (90, "mg/m2", "Q4W", None)),
    ("2×10^6 CAR-T cells/kg", (2e6, "cells/kg", None, None)),
    ("Single infusion of 2.5 × 10\\^6 CAR-transduced autologous T cells per kg/body weight.", (2.5e6, "cells/kg", "ONCE", "iv")),
    ("1e6 cells", (1e6, "cells", None, None)),
    ("1.5 g/m2 intravenous infusion on Day 1 of each 21-day cycle", (1.5, "g/m2", "Q3W", "iv")),
    ("Subjects will be given Telitacicept 240 mg SC once a week in phase A", (240, "mg", "QW", "sc")),
    ("Patients with relapsed/refractory PTCL will receive Chidamide 30 mg p.o., twice per week until progression.", (30, "mg", "BIW", "oral")),
    ("40 patients will receive Vitamin E 400 mg twice daily for 6 months.", (400, "mg", "BID", None)),
    ("Patients will receive 20 mg of CPL500036 administered once daily for 28-days treatment period.", (20, "mg", "QD", None)),
    ("norUrsodeoxycholic acid 250mg capsules, 6 capsules/day for 2 years", (250, "mg", "QD", "oral")),
    ("Rituximab dose: 4 doses of 375 mg/m2 rituximab at 1-week intervals", (375, "mg/m2", None, None)),
    ("Fulvestrant injection: 500mg intramuscular injection was administered on day 1", (500, "mg", None, "im")),
    ("Nimacimab injection 200 mg", (200, "mg", None, None)),
    ("Dantrolene; intravenous administration of dantrolene; 1 mg/ kg IV over 3 minute, one time dose", (1, "mg/kg", "ONCE", "iv")),
    ("cefepime 2 g q8h (60 min. infusion)", (2, "g", "TID", "iv")),
    ("Insulin 0.2 U/kg subcutaneously at bedtime", (0.2, "U/kg", "QD", "sc")),
    ("Apply 5% cream topically twice daily", (5, "%", "BID", "topical")),
    ("Olezarsen 80 mg every 4 weeks by subcutaneous (SC) injection", (80, "mg", "Q4W", "sc")),
    ("Drug X 150 mg Q12W subcutaneous", (150, "mg", "Q12W", "sc")),
    ("Ibuprofen 400 mg orally as needed for pain", (400, "mg", "PRN", "oral")),
    ("Budesonide 9 mg/d", (9, "mg", "QD", None)),
    ("AAV gene therapy 2 x 10^13 vg/kg single IV infusion", (2e13, "vg/kg", "ONCE", "iv")),
    ("Ketamine 0,5 mg/kg intranasal", (0.5, "mg/kg", None, "intranasal")),
    ("100mg tid", (100, "mg", "TID", None)),
    ("Drug 25 mg QID by mouth", (25, "mg", "QID", "oral")),
    ("Semaglutide 2.4 mg s.c. once-weekly", (2.4, "mg", "QW", "sc")),
    ("Insulin glargine 10 units once daily", (10, "U", "QD", None)),
    ("5 mg/kg monthly IV", (5, "mg/kg", "QM", "iv")),
    ("L-Arginine 0.1-0.2 g/kg/day", (0.1, "g/kg", "QD", None)),
    ("Clascoterone 5% solution in a single-blind extension", (5, "%", None, None)),
    ("Transdermal patch 4.6 mg/24h", (4.6, "mg/24h", None, "transdermal")),  # a rate: the unit says per 24 h
    ("placebo", (None, None, None, None)),
    ("Placebo matching tablets once daily", (None, None, "QD", "oral")),
]


@pytest.mark.parametrize("text,expected", CASES, ids=[c[0][:40] for c in CASES])
def test_first_dose(text, expected):
    doses = parse_dose(text)
    if expected is None:
        assert doses == []
        return
    assert doses, f"no dose parsed from {text!r}"
    d = doses[0]
    value, unit, freq, route = expected
    if value is None:
        assert d.value is None and d.is_placebo
    else:
        assert d.value == pytest.approx(value)
    assert (d.unit, d.frequency, d.route) == (unit, freq, route)


def test_at_least_40_cases():
    assert len(CASES) >= 40


def test_value_mg_conversion():
    assert parse_dose("1.5 g")[0].value_mg == pytest.approx(1500)
    assert parse_dose("250 mcg")[0].value_mg == pytest.approx(0.25)
    assert parse_dose("40 mg")[0].value_mg == pytest.approx(40)
    assert parse_dose("5 mg/kg")[0].value_mg is None
    assert parse_dose("1000 IU")[0].value_mg is None


def test_several_doses_give_several_rows():
    doses = parse_dose("400 mg on weeks 0, 2 and 4 then 200 mg Q2W")
    assert [d.value for d in doses] == [400, 200]
    assert doses[1].frequency == "Q2W"
    czp = parse_dose("Certolizumab Pegol (CZP) 400 mg subcutaneous (sc) on Weeks 0, 2 and 4, "
                     "followed by 200 mg CZP sc every 2 weeks (Q2W) from Week 6 onwards.")
    assert [(d.value, d.unit, d.route) for d in czp] == [(400, "mg", "sc"), (200, "mg", "sc")]
    assert czp[1].frequency == "Q2W"
    two_drugs = parse_dose("vonoprazan 20 mg bid, and amoxicillin 750mg qid. for 14 days")
    assert [(d.value, d.frequency) for d in two_drugs] == [(20, "BID"), (750, "QID")]


def test_ranges_and_up_to():
    r = parse_dose("10-20 mg")[0]
    assert (r.value, r.value_upper, r.qualifier) == (10, 20, "range")
    r = parse_dose("propofol 0,8-1,0 mg/kg")[0]
    assert (r.value, r.value_upper, r.unit) == (0.8, 1.0, "mg/kg")
    r = parse_dose("10 to 20 mg daily")[0]
    assert (r.value, r.value_upper, r.frequency) == (10, 20, "QD")
    u = parse_dose("up to 20 mg")[0]
    assert (u.value, u.value_upper, u.qualifier) == (20, None, "up to")


def test_placebo_flags():
    assert parse_dose("placebo") == [Dose(None, None, None, None, None, True)]
    assert parse_dose("Placebo capsules: 0mg was given orally")[0].is_placebo
    assert parse_dose("Matching placebo 10 mg tablets")[0].is_placebo
    assert not parse_dose("Dapagliflozin 10 mg; patients were randomised to placebo or drug")[0].is_placebo
    assert parse_dose("ruxolitinib matching vehicle cream twice daily")[0].is_placebo


@pytest.mark.parametrize("text", ["", "no dose", "NA", "N/A", "none", "Subcutaneous injection",
                                  "Participants receive Dose 1 IBI112 through week 8",
                                  "Concentration: 200 mg / ml", "eGFR >=25 to <60 mL/min/1.73 m^2",
                                  "for 4 weeks", "Standard care over 52 weeks"])
def test_no_dose(text):
    assert parse_dose(text) == []


def test_total_is_not_a_dose():
    doses = parse_dose("Two injections of Dupilumab 300 mg (for a total of 600 mg) on Day 1, then 300 mg qw")
    assert [d.value for d in doses] == [300, 300]


def test_never_raises_on_odd_input():
    for t in [None, "1" * 5000, "mg mg mg", "10^999 mg", "½ tablet", "\x00\x01", "1e400 cells", "mg/kg 5"]:
        parse_dose(t)  # must not raise


def test_looks_like_dose():
    assert looks_like_dose("Drug X at 5 puffs")
    assert not looks_like_dose("for 4 weeks, then 12 months follow-up")
    assert not looks_like_dose("Participants receive Dose 1 IBI112 through week 8")
    assert not looks_like_dose("placebo")


@pytest.mark.parametrize("name,expected", [
    ("Dapagliflozin 10 mg tablet", "dapagliflozin"), ("dapagliflozin", "dapagliflozin"),
    ("Drug: Metformin XR 500mg", "metformin"), ("Pembrolizumab (MK-3475)", "pembrolizumab"),
    ("Semaglutide® 1.0 mg s.c.", "semaglutide"), ("Certolizumab Pegol", "certolizumab pegol"),
    ("Placebo", "placebo"), ("Vitamin D3 1000 IU", "vitamin d3"),
    # a development code names one compound: its number is not a dose
    ("NVT-1854", "nvt1854"), ("NVT-1854 200 mcg", "nvt1854"), ("NVT-8077", "nvt8077"), ("LY3298176 5 mg", "ly3298176"),
])
def test_intervention_name_norm(name, expected):
    assert intervention_name_norm(name) == expected


@pytest.mark.parametrize("text,weeks", [
    ("Week 52", 52), ("12 weeks", 12), ("Baseline, Week 24", 24), ("6 months", 26.0888), ("Day 28", 4),
    ("Baseline and Weeks 12, 24 and 52", 52), ("up to 5 years", 260.8875), ("24 hours", 0.1429),
    ("At six months", 26.0888), ("Through study completion", None), ("2-year", 104.355),
])
def test_time_frame_weeks(text, weeks):
    got = time_frame_weeks(text)
    if weeks is None:
        assert got is None
    else:
        assert got == pytest.approx(weeks, rel=1e-3)


def test_dose_list_shares_the_schedule_after_it():
    doses = parse_dose("Wiraveglutide 0.5 mg, 1 mg, 2 mg injection administered by subcutaneous injection weekly.")
    assert [(d.value, d.frequency, d.route) for d in doses] == [(0.5, "QW", "sc"), (1, "QW", "sc"), (2, "QW", "sc")]
    assert [d.value for d in parse_dose("Coralicitinib 15-mg orally q.d.")] == [15]


def test_bounds_are_not_doses():
    # a real record: the meal's carbohydrate is a bound, the repaglinide dose is the dose
    doses = parse_dose("treated with repaglinide 0.5 mg before each meal that contains more than 20 grams of carbohydrate")
    assert [(d.value, d.unit) for d in doses] == [(0.5, "mg")]
    assert parse_dose("Creatinine clearance > 30 mL/min") == []


def test_simulated_registry_doses_are_read_right():
    """Every way the simulated registry writes a dose (tables' main input offline) still reads right."""
    from deepimagine.registry import simulate as sim
    world = sim.build_world(11)
    truth: dict = {}
    records = list(sim.iter_studies(world, 150, 11, truth_sink=truth))
    total = right = placebo_arms = placebo_flagged = 0
    for r in records:
        t = truth[r["protocolSection"]["identificationModule"]["nctId"]]
        for arm in r["protocolSection"]["armsInterventionsModule"]["armGroups"]:
            a = t["arms"][arm["label"]]
            doses = parse_dose(arm.get("description")) or parse_dose(arm["label"])
            if a["drug"] is None:
                placebo_arms += 1
                placebo_flagged += bool(doses) and all(d.is_placebo for d in doses)
                continue
            total += 1
            want = a["dose_mg"] if a["dose_unit"] == "g" else a["dose"]  # '1500 mg' is how a 1.5 g dose is also written
            d = next((d for d in doses if not d.is_placebo), None)
            right += d is not None and (d.value_mg if a["dose_unit"] == "g" else d.value) == pytest.approx(want) \
                and (a["dose_unit"] == "g" or d.unit == a["dose_unit"])
    assert total > 250 and right / total >= 0.99, (right, total)
    assert placebo_flagged == placebo_arms
