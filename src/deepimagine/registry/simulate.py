"""A simulated ClinicalTrials.gov registry whose causal mechanisms are known.

It writes study records in exactly the API v2 JSON schema (key names, value types: measurement
values, spreads, denominators and p-values are strings; enums such as ``EXPERIMENTAL``,
``PHASE2``, ``LEAST_SQUARES_MEAN``; dates ``YYYY-MM`` or ``YYYY-MM-DD``), so every later stage
treats simulated and real records alike, and it records the ground truth that generated them.

Generative model (the project's "known ground-truth mechanisms"; see docs/simulated_registry.md)
-----------------------------------------------------------------------------------------------
World (``build_world(seed)``): 12 conditions, each with 3-4 endpoints. An endpoint is either
``continuous`` (mean change from baseline, e.g. HbA1c, SBP, DAS28-CRP) or ``responder`` (percent
of participants responding, e.g. ACR20, PASI 75) and has a better direction (``higher``/``lower``).
About 35 invented drugs in 34 mechanism classes (SGLT2 inhibitor, IL-17A inhibitor, ...), each
with target conditions, a route, a dose unit (mg, mcg, g, mg/kg, mg/m2, cells/kg), a schedule,
a ladder of doses and, for every endpoint of every target condition, Emax parameters.

Mean of an arm given drug d at dose D, endpoint j, week t, region r, sex s, age group a:

    D_eff  = D * exposure[r] * exposure[a]        (fixed doses: mg, mcg, g; weight/BSA-based doses
                                                   mg/kg, mg/m2, cells/kg are not scaled)
    drug   = Emax[d,j] * D_eff^h / (ED50[d,j]^h + D_eff^h)
             * efficacy[r] * efficacy[s] * efficacy[a] * (1 - exp(-t / tau[d]))
    pbo    = E0[j] * placebo[r] * placebo[s] * placebo[a] * placebo_factor[study]
             * (1 - exp(-t / tau_placebo[j]))
    continuous: mean = pbo + drug                         (E0, Emax in the endpoint's units)
    responder:  rate = 100 * expit(logit(clip(pbo)) + drug) (E0 a rate, Emax on the log-odds scale)

A placebo arm has drug = 0. A study's arm mean is the enrollment-weighted mixture of these means
over its regions (share of participants per region) and sexes (female share). ``placebo_factor``
is a per-study multiplicative shift of the placebo response, exp(N(0, 0.15^2)), recorded in the
truth. Emax of a drug is correlated across the endpoints of a condition (a shared drug potency
times an endpoint scale, with a small endpoint-specific deviation); the sampling errors of an
arm's endpoints are correlated too (``endpoint_correlations[condition]``: corr = l_i * l_j from
endpoint loadings l). Posted arm means are true means plus noise with SE = sd / sqrt(n); responder
counts are true rate * n plus binomial noise. Phase, sponsor and start year have NO direct
causal effect: they act only through the design (doses, arm sizes, durations, regions).

Designs: dose-ranging (placebo + 3-4 doses of one drug, sometimes an active reference; ~32%),
placebo-controlled 2-arm, active-comparator head-to-head, multi-arm (placebo + two drugs or two
doses + a reference). Analyses compare each group against the control group (placebo, else the
active comparator) with z tests computed from the posted (rounded) group values: continuous -
difference of means, SE from the posted spreads and denominators; responder - risk difference
(unpooled SE) or odds ratio (Wald on the log odds ratio). p = 2 * (1 - Phi(|z|)).

Ground truth (``truth_document``): ``{"format_version", "registry_date", "key_format", "world",
"studies"}`` where ``studies[nct_id] = {"design", "region", "region_weights", "population":
{"age_group", "sex", "female_share"}, "placebo_factor", "phases", "arms": {arm_label: {"drug"
(drug id or null for placebo), "drug_name", "role" ("placebo"|"experimental"|"active_comparator"),
"dose", "dose_unit", "dose_mg" (null unless the unit is a mass), "frequency", "route",
"outcomes": {outcome_key: true_mean}}}, "outcomes": {outcome_key: {"endpoint", "weeks", "kind",
"better", "type", "scale" (per-participant SD: the endpoint's sd, or 100*sqrt(p(1-p)) at the
placebo rate p clipped to [0.1, 0.9] for responders), "value_scale" ("mean_change"|"percent")}}}``. ``outcome_key`` is ``outcome_measure_title + " | " + time_frame``,
exactly as posted in the record (``protocolSection.outcomesModule`` and, with results,
``resultsSection.outcomeMeasuresModule``). ``true_mean`` is on the endpoint's natural scale:
mean change (continuous) or percent responders (responder), also for measures posted as
COUNT_OF_PARTICIPANTS. ``true_mean(world, ...)`` recomputes any cell, also counterfactual ones.

Doses are per administration; the arm label and/or description states dose, unit, route and
schedule in varied free text for ~98% of arms (the rest say "low dose" etc.; truth has the dose).
"""
from __future__ import annotations

import logging
import math
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator, Optional

from ..mechanism import (FIXED_DOSE_UNITS, MG_PER_UNIT, _expit, _logit, _mixture,  # noqa: F401
                         _mixture_mean, true_mean)

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
REGISTRY_DATE = date(2026, 7, 1)  # the simulated registry's "today": no date depends on the clock
NCT_MULTIPLIER = 7_654_321  # coprime with 10**7: i -> NCT9xxxxxxx is a bijection on 0..10**7-1
Z95 = 1.959963984540054

# --------------------------------------------------------------------------- catalogue: places

REGIONS: dict[str, dict[str, float]] = {
    # placebo: multiplier of the placebo response; efficacy: of the drug effect;
    # exposure: of the effective dose for fixed (non weight-based) doses (body weight, clearance)
    "North America": {"placebo": 1.00, "efficacy": 1.00, "exposure": 1.00},
    "Europe": {"placebo": 0.90, "efficacy": 1.00, "exposure": 1.00},
    "Asia": {"placebo": 0.80, "efficacy": 1.10, "exposure": 1.35},
    "Latin America": {"placebo": 1.30, "efficacy": 1.00, "exposure": 1.10},
    "Oceania": {"placebo": 0.95, "efficacy": 1.00, "exposure": 1.00},
    "Middle East": {"placebo": 1.10, "efficacy": 0.95, "exposure": 1.05},
    "Africa": {"placebo": 1.15, "efficacy": 0.90, "exposure": 1.05},
}
REGION_WEIGHTS = {"North America": 0.30, "Europe": 0.30, "Asia": 0.20, "Latin America": 0.08,
                  "Oceania": 0.04, "Middle East": 0.04, "Africa": 0.04}

AGE_GROUPS: dict[str, dict[str, float]] = {
    "pediatric": {"placebo": 1.20, "efficacy": 0.85, "exposure": 1.00},
    "adult": {"placebo": 1.00, "efficacy": 1.00, "exposure": 1.00},
    "older_adult": {"placebo": 0.90, "efficacy": 0.90, "exposure": 1.15},
}
SEXES: dict[str, dict[str, float]] = {
    "FEMALE": {"placebo": 1.05, "efficacy": 1.08},
    "MALE": {"placebo": 0.97, "efficacy": 0.94},
}

# country -> (region, phone prefix, [(city, state, zip, lat, lon)])
COUNTRIES: dict[str, tuple[str, str, list[tuple[str, str, str, float, float]]]] = {
    "United States": ("North America", "+1", [
        ("Birmingham", "Alabama", "35233", 33.52066, -86.80249), ("Phoenix", "Arizona", "85006", 33.44838, -112.07404),
        ("Los Angeles", "California", "90048", 34.05223, -118.24368), ("San Diego", "California", "92123", 32.71571, -117.16472),
        ("Denver", "Colorado", "80218", 39.73915, -104.9847), ("Miami", "Florida", "33136", 25.77427, -80.19366),
        ("Tampa", "Florida", "33606", 27.94752, -82.45843), ("Atlanta", "Georgia", "30308", 33.749, -84.38798),
        ("Chicago", "Illinois", "60611", 41.85003, -87.65005), ("Boston", "Massachusetts", "02114", 42.35843, -71.05977),
        ("Houston", "Texas", "77030", 29.76328, -95.36327), ("Dallas", "Texas", "75390", 32.78306, -96.80667),
        ("New York", "New York", "10016", 40.71427, -74.00597), ("Seattle", "Washington", "98104", 47.60621, -122.33207),
        ("Cleveland", "Ohio", "44195", 41.4995, -81.69541), ("Nashville", "Tennessee", "37232", 36.16589, -86.78444)]),
    "Canada": ("North America", "+1", [
        ("Toronto", "Ontario", "M5G 2C4", 43.70011, -79.4163), ("Montreal", "Quebec", "H3A 1A1", 45.50884, -73.58781),
        ("Vancouver", "British Columbia", "V5Z 1M9", 49.24966, -123.11934), ("Calgary", "Alberta", "T2N 4N1", 51.05011, -114.08529)]),
    "Germany": ("Europe", "+49", [
        ("Berlin", "", "10117", 52.52437, 13.41053), ("Munich", "Bavaria", "81377", 48.13743, 11.57549),
        ("Hamburg", "", "20246", 53.57532, 10.01534), ("Frankfurt am Main", "Hesse", "60590", 50.11552, 8.68417)]),
    "France": ("Europe", "+33", [
        ("Paris", "Ile-de-France", "75010", 48.85341, 2.3488), ("Lyon", "", "69003", 45.74846, 4.84671),
        ("Marseille", "", "13005", 43.29695, 5.38107), ("Toulouse", "", "31059", 43.60426, 1.44367)]),
    "United Kingdom": ("Europe", "+44", [
        ("London", "", "SE1 9RT", 51.50853, -0.12574), ("Manchester", "", "M13 9WL", 53.48095, -2.23743),
        ("Glasgow", "", "G51 4TF", 55.86515, -4.25763), ("Leeds", "", "LS9 7TF", 53.79648, -1.54785)]),
    "Spain": ("Europe", "+34", [
        ("Madrid", "", "28046", 40.4165, -3.70256), ("Barcelona", "", "08036", 41.38879, 2.15899),
        ("Valencia", "", "46026", 39.46975, -0.37739)]),
    "Italy": ("Europe", "+39", [
        ("Milan", "", "20122", 45.46427, 9.18951), ("Rome", "", "00168", 41.89193, 12.51133),
        ("Naples", "", "80131", 40.85216, 14.26811)]),
    "Poland": ("Europe", "+48", [
        ("Warsaw", "", "02-097", 52.22977, 21.01178), ("Krakow", "", "31-501", 50.06143, 19.93658),
        ("Lodz", "", "90-153", 51.75, 19.46667)]),
    "Netherlands": ("Europe", "+31", [
        ("Amsterdam", "", "1105 AZ", 52.37403, 4.88969), ("Rotterdam", "", "3015 GD", 51.9225, 4.47917)]),
    "Hungary": ("Europe", "+36", [
        ("Budapest", "", "1083", 47.49801, 19.03991), ("Debrecen", "", "4032", 47.53333, 21.63333)]),
    "Czechia": ("Europe", "+420", [
        ("Prague", "", "128 08", 50.08804, 14.42076), ("Brno", "", "656 91", 49.19522, 16.60796)]),
    "Japan": ("Asia", "+81", [
        ("Tokyo", "", "113-8655", 35.6895, 139.69171), ("Osaka", "", "565-0871", 34.69374, 135.50218),
        ("Nagoya", "Aichi", "466-8560", 35.18147, 136.90641), ("Fukuoka", "", "812-8582", 33.60639, 130.41806)]),
    "China": ("Asia", "+86", [
        ("Beijing", "Beijing", "100730", 39.9075, 116.39723), ("Shanghai", "Shanghai", "200025", 31.22222, 121.45806),
        ("Guangzhou", "Guangdong", "510080", 23.11667, 113.25), ("Chengdu", "Sichuan", "610041", 30.66667, 104.06667)]),
    "Korea, Republic of": ("Asia", "+82", [
        ("Seoul", "", "03080", 37.566, 126.9784), ("Busan", "", "49241", 35.10278, 129.04028)]),
    "Taiwan": ("Asia", "+886", [
        ("Taipei", "", "100", 25.04776, 121.53185), ("Kaohsiung", "", "807", 22.61626, 120.31333)]),
    "India": ("Asia", "+91", [
        ("Mumbai", "Maharashtra", "400012", 19.07283, 72.88261), ("New Delhi", "Delhi", "110029", 28.63576, 77.22445),
        ("Bangalore", "Karnataka", "560034", 12.97194, 77.59369)]),
    "Brazil": ("Latin America", "+55", [
        ("Sao Paulo", "SP", "04023-062", -23.5475, -46.63611), ("Rio de Janeiro", "RJ", "20241-180", -22.90642, -43.18223),
        ("Porto Alegre", "RS", "90035-903", -30.03306, -51.23)]),
    "Mexico": ("Latin America", "+52", [
        ("Mexico City", "Distrito Federal", "14080", 19.42847, -99.12766), ("Guadalajara", "Jalisco", "44280", 20.66682, -103.39182),
        ("Monterrey", "Nuevo León", "64460", 25.67507, -100.31847)]),
    "Argentina": ("Latin America", "+54", [
        ("Buenos Aires", "", "C1199", -34.61315, -58.37723), ("Cordoba", "", "X5000", -31.4135, -64.18105)]),
    "Colombia": ("Latin America", "+57", [
        ("Bogota", "", "110111", 4.60971, -74.08175), ("Medellin", "", "050034", 6.25184, -75.56359)]),
    "Australia": ("Oceania", "+61", [
        ("Sydney", "New South Wales", "2050", -33.86785, 151.20732), ("Melbourne", "Victoria", "3050", -37.814, 144.96332),
        ("Brisbane", "Queensland", "4029", -27.46794, 153.02809)]),
    "New Zealand": ("Oceania", "+64", [
        ("Auckland", "", "1023", -36.84853, 174.76349), ("Christchurch", "", "8011", -43.53333, 172.63333)]),
    "Israel": ("Middle East", "+972", [
        ("Tel Aviv", "", "6423906", 32.08088, 34.78057), ("Haifa", "", "3109601", 32.81841, 34.9885),
        ("Jerusalem", "", "9112001", 31.76904, 35.21633)]),
    "Turkey": ("Middle East", "+90", [
        ("Istanbul", "", "34093", 41.01384, 28.94966), ("Ankara", "", "06100", 39.91987, 32.85427)]),
    "South Africa": ("Africa", "+27", [
        ("Johannesburg", "Gauteng", "2193", -26.20227, 28.04363), ("Cape Town", "Western Cape", "7925", -33.92584, 18.42322),
        ("Durban", "KwaZulu-Natal", "4001", -29.8579, 31.0292)]),
}
COUNTRIES_BY_REGION: dict[str, list[str]] = {}
for _c, (_r, _p, _cities) in COUNTRIES.items():
    COUNTRIES_BY_REGION.setdefault(_r, []).append(_c)

# --------------------------------------------------------------------------- catalogue: medicine

# Endpoint tuple: (id, kind, better, name, short, unit, placebo, sd, baseline_mean, baseline_sd,
#                  effect_scale, loading, tau_placebo_weeks, decimals, description)
# placebo: continuous -> plateau mean change (units); responder -> plateau response rate (0..1).
# effect_scale: continuous -> change per unit of drug potency (signed); responder -> log odds.
_E = tuple
CONDITIONS_SPEC: list[dict[str, Any]] = [
    {"id": "t2d", "name": "Type 2 Diabetes Mellitus", "aliases": ["Type 2 Diabetes", "Diabetes Mellitus, Type 2", "T2DM"],
     "mesh": ("D000003924", "Diabetes Mellitus, Type 2"),
     "ancestors": [("D000003920", "Diabetes Mellitus"), ("D000044882", "Glucose Metabolism Disorders"),
                   ("D000008659", "Metabolic Diseases"), ("D000004700", "Endocrine System Diseases")],
     "branches": [("BC18", "Nutritional and Metabolic Diseases"), ("BC19", "Gland and Hormone Related Diseases")],
     "female_share": 0.45, "weeks": [12, 24, 26, 52], "pediatric": 0.04, "older": 0.06,
     "severity": "inadequately controlled", "keywords": ["glycemic control", "HbA1c", "oral antidiabetic"],
     "endpoints": [
         _E(("hba1c", "continuous", "lower", "Glycated Hemoglobin (HbA1c)", "HbA1c", "percentage of HbA1c", -0.15, 1.0, 8.1, 0.9, -1.0, 0.90, 3.0, 2,
             "HbA1c is a measure of average blood glucose over the previous 2-3 months. Change from baseline was analysed with an ANCOVA model with treatment and region as fixed effects and baseline HbA1c as a covariate. A negative change indicates improvement.")),
         _E(("fpg", "continuous", "lower", "Fasting Plasma Glucose (FPG)", "FPG", "mg/dL", -5.0, 35.0, 170.0, 40.0, -35.0, 0.75, 2.0, 1,
             "Blood samples were drawn after an overnight fast of at least 8 hours. A negative change from baseline indicates improvement.")),
         _E(("weight", "continuous", "lower", "Body Weight", "body weight", "kg", -0.5, 3.5, 88.0, 17.0, -2.0, 0.40, 4.0, 2,
             "Body weight was measured in light clothing without shoes on a calibrated scale.")),
         _E(("hba1c_lt7", "responder", "higher", "HbA1c <7.0%", "HbA1c <7.0%", "", 0.20, 0, 0, 0, 1.6, 0.85, 3.0, 1,
             "Percentage of participants who reached the glycemic target of HbA1c below 7.0%. Participants with missing values or who received rescue medication were counted as non-responders.")),
     ]},
    {"id": "htn", "name": "Essential Hypertension", "aliases": ["Hypertension", "High Blood Pressure", "Essential Hypertension"],
     "mesh": ("D000006973", "Hypertension"),
     "ancestors": [("D000014652", "Vascular Diseases"), ("D000002318", "Cardiovascular Diseases")],
     "branches": [("BC14", "Heart and Blood Diseases")],
     "female_share": 0.48, "weeks": [4, 8, 12], "pediatric": 0.03, "older": 0.10,
     "severity": "stage 1 or 2", "keywords": ["blood pressure", "antihypertensive", "ambulatory blood pressure"],
     "endpoints": [
         _E(("sbp", "continuous", "lower", "Mean Seated Systolic Blood Pressure (SBP)", "seated SBP", "mmHg", -4.0, 14.0, 152.0, 10.0, -12.0, 0.95, 1.5, 1,
             "Trough seated systolic blood pressure was the mean of three consecutive measurements taken 2 minutes apart, 22-26 hours after the last dose.")),
         _E(("dbp", "continuous", "lower", "Mean Seated Diastolic Blood Pressure (DBP)", "seated DBP", "mmHg", -2.5, 9.0, 92.0, 8.0, -7.0, 0.85, 1.5, 1,
             "Trough seated diastolic blood pressure was the mean of three consecutive measurements taken 2 minutes apart.")),
         _E(("bp_control", "responder", "higher", "Blood Pressure Control (<140/90 mmHg)", "BP control", "", 0.25, 0, 0, 0, 1.5, 0.80, 1.5, 1,
             "Blood pressure control was defined as seated SBP <140 mmHg and seated DBP <90 mmHg.")),
     ]},
    {"id": "ra", "name": "Rheumatoid Arthritis", "aliases": ["Rheumatoid Arthritis", "Active Rheumatoid Arthritis", "RA"],
     "mesh": ("D000001172", "Arthritis, Rheumatoid"),
     "ancestors": [("D000001168", "Arthritis"), ("D000007592", "Joint Diseases"), ("D000009140", "Musculoskeletal Diseases"),
                   ("D000012216", "Rheumatic Diseases"), ("D000001327", "Autoimmune Diseases"), ("D000007154", "Immune System Diseases")],
     "branches": [("BC05", "Musculoskeletal Diseases"), ("BC17", "Skin and Connective Tissue Diseases"), ("BC20", "Immune System Diseases")],
     "female_share": 0.78, "weeks": [12, 24, 52], "pediatric": 0.03, "older": 0.04,
     "severity": "moderately to severely active", "keywords": ["methotrexate inadequate response", "DMARD", "ACR20"],
     "endpoints": [
         _E(("acr20", "responder", "higher", "ACR20 Response", "ACR20", "", 0.28, 0, 0, 0, 1.9, 0.90, 3.0, 1,
             "ACR20 response was defined as at least 20% improvement from baseline in tender and swollen joint counts and in at least 3 of 5 core set measures (patient and physician global assessments, pain, HAQ-DI, hsCRP). Non-responder imputation was used for missing data.")),
         _E(("acr50", "responder", "higher", "ACR50 Response", "ACR50", "", 0.10, 0, 0, 0, 2.0, 0.85, 4.0, 1,
             "ACR50 response was defined as at least 50% improvement in tender and swollen joint counts and in at least 3 of the 5 remaining ACR core set measures.")),
         _E(("das28", "continuous", "lower", "Disease Activity Score 28 Using C-Reactive Protein (DAS28-CRP)", "DAS28-CRP", "units on a scale", -0.8, 1.3, 5.8, 0.9, -1.8, 0.85, 3.0, 2,
             "DAS28-CRP is a composite score of 28 tender and swollen joint counts, hsCRP and the patient's global assessment; scores range from 0 to about 9.4, higher scores indicating more disease activity.")),
         _E(("haqdi", "continuous", "lower", "Health Assessment Questionnaire-Disability Index (HAQ-DI)", "HAQ-DI", "units on a scale", -0.15, 0.6, 1.6, 0.6, -0.45, 0.70, 3.0, 2,
             "The HAQ-DI assesses physical function in 8 domains; scores range from 0 (no disability) to 3 (completely disabled).")),
     ]},
    {"id": "pso", "name": "Plaque Psoriasis", "aliases": ["Psoriasis", "Plaque Psoriasis", "Moderate to Severe Plaque Psoriasis"],
     "mesh": ("D000011565", "Psoriasis"),
     "ancestors": [("D000017444", "Skin Diseases, Papulosquamous"), ("D000012871", "Skin Diseases")],
     "branches": [("BC17", "Skin and Connective Tissue Diseases")],
     "female_share": 0.32, "weeks": [12, 16, 52], "pediatric": 0.06, "older": 0.02,
     "severity": "moderate to severe", "keywords": ["PASI", "biologic", "systemic therapy"],
     "endpoints": [
         _E(("pasi75", "responder", "higher", "PASI 75 Response", "PASI 75", "", 0.06, 0, 0, 0, 3.2, 0.95, 4.0, 1,
             "PASI 75 response was defined as at least a 75% improvement from baseline in the Psoriasis Area and Severity Index (PASI) score. PASI ranges from 0 to 72.")),
         _E(("pasi90", "responder", "higher", "PASI 90 Response", "PASI 90", "", 0.02, 0, 0, 0, 3.4, 0.90, 5.0, 1,
             "PASI 90 response was defined as at least a 90% improvement from baseline in PASI score.")),
         _E(("spga", "responder", "higher", "sPGA Score of Clear or Almost Clear (0/1)", "sPGA 0/1", "", 0.07, 0, 0, 0, 3.0, 0.90, 4.0, 1,
             "The static Physician's Global Assessment (sPGA) rates psoriasis severity from 0 (clear) to 5 (very severe); response was a score of 0 or 1 with at least a 2-point improvement.")),
         _E(("dlqi", "continuous", "lower", "Dermatology Life Quality Index (DLQI)", "DLQI", "units on a scale", -2.0, 6.0, 13.0, 7.0, -8.0, 0.70, 3.0, 2,
             "The DLQI is a 10-item questionnaire; total scores range from 0 to 30, higher scores indicating greater impairment of quality of life.")),
     ]},
    {"id": "asthma", "name": "Asthma", "aliases": ["Asthma", "Persistent Asthma", "Severe Eosinophilic Asthma"],
     "mesh": ("D000001249", "Asthma"),
     "ancestors": [("D000001982", "Bronchial Diseases"), ("D000012140", "Respiratory Tract Diseases"), ("D000008173", "Lung Diseases, Obstructive"),
                   ("D000008171", "Lung Diseases"), ("D000012130", "Respiratory Hypersensitivity"), ("D000006969", "Hypersensitivity, Immediate")],
     "branches": [("BC08", "Respiratory Tract (Lung and Bronchial) Diseases"), ("BC20", "Immune System Diseases")],
     "female_share": 0.60, "weeks": [12, 24, 52], "pediatric": 0.15, "older": 0.03,
     "severity": "uncontrolled moderate to severe", "keywords": ["FEV1", "inhaled corticosteroid", "asthma control"],
     "endpoints": [
         _E(("fev1", "continuous", "higher", "Pre-Bronchodilator Forced Expiratory Volume in 1 Second (FEV1)", "FEV1", "mL", 40.0, 350.0, 1850.0, 550.0, 180.0, 0.85, 2.0, 0,
             "Pre-bronchodilator FEV1 was measured by spirometry in the morning before study drug administration.")),
         _E(("acq5", "continuous", "lower", "Asthma Control Questionnaire (ACQ-5) Score", "ACQ-5", "units on a scale", -0.5, 0.9, 2.6, 0.7, -0.6, 0.75, 2.0, 2,
             "The ACQ-5 comprises 5 symptom questions scored from 0 (totally controlled) to 6 (severely uncontrolled); the score is the mean of the items.")),
         _E(("acq_resp", "responder", "higher", "ACQ-5 Response (Decrease of at Least 0.5 Points)", "ACQ-5 response", "", 0.45, 0, 0, 0, 1.0, 0.70, 2.0, 1,
             "An ACQ-5 responder had a decrease from baseline of at least 0.5 points, the minimal clinically important difference.")),
     ]},
    {"id": "mdd", "name": "Major Depressive Disorder", "aliases": ["Major Depressive Disorder", "Depression", "MDD"],
     "mesh": ("D000003865", "Depressive Disorder, Major"),
     "ancestors": [("D000003866", "Depressive Disorder"), ("D000019964", "Mood Disorders"), ("D000001523", "Mental Disorders")],
     "branches": [("BXM", "Behaviors and Mental Disorders")],
     "female_share": 0.66, "weeks": [4, 6, 8], "pediatric": 0.07, "older": 0.06,
     "severity": "moderate to severe", "keywords": ["antidepressant", "MADRS", "depressive episode"],
     "endpoints": [
         _E(("madrs", "continuous", "lower", "Montgomery-Asberg Depression Rating Scale (MADRS) Total Score", "MADRS total score", "units on a scale", -10.0, 9.0, 32.0, 4.5, -7.0, 0.95, 2.0, 2,
             "The MADRS is a 10-item clinician-rated scale; total scores range from 0 to 60, higher scores indicating more severe depression.")),
         _E(("hamd", "continuous", "lower", "17-Item Hamilton Rating Scale for Depression (HAM-D17) Total Score", "HAM-D17 total score", "units on a scale", -8.0, 7.0, 24.0, 3.5, -5.5, 0.85, 2.0, 2,
             "The HAM-D17 total score ranges from 0 to 52, higher scores indicating more severe depression.")),
         _E(("madrs_resp", "responder", "higher", "MADRS Response (at Least 50% Reduction From Baseline)", "MADRS response", "", 0.35, 0, 0, 0, 1.2, 0.85, 2.0, 1,
             "Response was defined as a reduction of at least 50% from baseline in MADRS total score.")),
         _E(("remission", "responder", "higher", "Remission (MADRS Total Score of 10 or Less)", "remission", "", 0.20, 0, 0, 0, 1.2, 0.80, 3.0, 1,
             "Remission was defined as a MADRS total score of 10 or less.")),
     ]},
    {"id": "copd", "name": "Chronic Obstructive Pulmonary Disease", "aliases": ["COPD", "Chronic Obstructive Pulmonary Disease", "Pulmonary Disease, Chronic Obstructive"],
     "mesh": ("D000029424", "Pulmonary Disease, Chronic Obstructive"),
     "ancestors": [("D000008173", "Lung Diseases, Obstructive"), ("D000008171", "Lung Diseases"), ("D000012140", "Respiratory Tract Diseases"),
                   ("D000002908", "Chronic Disease")],
     "branches": [("BC08", "Respiratory Tract (Lung and Bronchial) Diseases")],
     "female_share": 0.38, "weeks": [12, 24, 52], "pediatric": 0.0, "older": 0.15,
     "severity": "moderate to very severe", "keywords": ["bronchodilator", "trough FEV1", "exacerbations"],
     "endpoints": [
         _E(("trough_fev1", "continuous", "higher", "Trough FEV1", "trough FEV1", "mL", 5.0, 220.0, 1300.0, 450.0, 160.0, 0.90, 1.0, 0,
             "Trough FEV1 was the mean of the FEV1 values measured 23 h 15 min and 23 h 45 min after the previous dose.")),
         _E(("sgrq", "continuous", "lower", "St. George's Respiratory Questionnaire (SGRQ) Total Score", "SGRQ total score", "units on a scale", -2.0, 13.0, 47.0, 16.0, -5.0, 0.70, 3.0, 2,
             "The SGRQ total score ranges from 0 to 100, higher scores indicating worse health status; a decrease of 4 units is clinically relevant.")),
         _E(("sgrq_resp", "responder", "higher", "SGRQ Response (Decrease of at Least 4 Units)", "SGRQ response", "", 0.38, 0, 0, 0, 0.9, 0.65, 3.0, 1,
             "An SGRQ responder had a decrease of at least 4 units from baseline in SGRQ total score.")),
     ]},
    {"id": "hf", "name": "Heart Failure", "aliases": ["Heart Failure", "Chronic Heart Failure", "Heart Failure With Reduced Ejection Fraction"],
     "mesh": ("D000006333", "Heart Failure"),
     "ancestors": [("D000006331", "Heart Diseases"), ("D000002318", "Cardiovascular Diseases")],
     "branches": [("BC14", "Heart and Blood Diseases")],
     "female_share": 0.30, "weeks": [12, 24, 52], "pediatric": 0.0, "older": 0.20,
     "severity": "NYHA class II-IV", "keywords": ["HFrEF", "NT-proBNP", "KCCQ"],
     "endpoints": [
         _E(("kccq", "continuous", "higher", "Kansas City Cardiomyopathy Questionnaire Clinical Summary Score (KCCQ-CSS)", "KCCQ-CSS", "units on a scale", 3.0, 17.0, 66.0, 20.0, 7.0, 0.80, 3.0, 2,
             "The KCCQ-CSS ranges from 0 to 100, higher scores indicating fewer symptoms and physical limitations.")),
         _E(("sixmwd", "continuous", "higher", "6-Minute Walk Distance (6MWD)", "6MWD", "meters", 5.0, 75.0, 330.0, 90.0, 35.0, 0.75, 3.0, 1,
             "The 6-minute walk test measured the distance a participant could walk on a flat, hard surface in 6 minutes.")),
         _E(("ntprobnp", "continuous", "lower", "N-Terminal Pro-B-Type Natriuretic Peptide (NT-proBNP)", "NT-proBNP", "percent change", -3.0, 45.0, 1800.0, 1500.0, -25.0, 0.70, 2.0, 1,
             "Percent change from baseline in plasma NT-proBNP, analysed on the log scale and back-transformed.")),
     ]},
    {"id": "ad", "name": "Atopic Dermatitis", "aliases": ["Atopic Dermatitis", "Atopic Eczema", "Dermatitis, Atopic"],
     "mesh": ("D000003876", "Dermatitis, Atopic"),
     "ancestors": [("D000017443", "Skin Diseases, Eczematous"), ("D000012871", "Skin Diseases"), ("D000006969", "Hypersensitivity, Immediate"),
                   ("D000006967", "Hypersensitivity"), ("D000007154", "Immune System Diseases")],
     "branches": [("BC17", "Skin and Connective Tissue Diseases"), ("BC20", "Immune System Diseases")],
     "female_share": 0.48, "weeks": [4, 12, 16], "pediatric": 0.20, "older": 0.01,
     "severity": "moderate to severe", "keywords": ["EASI", "eczema", "pruritus"],
     "endpoints": [
         _E(("easi75", "responder", "higher", "EASI-75 (at Least 75% Improvement in Eczema Area and Severity Index)", "EASI-75", "", 0.12, 0, 0, 0, 2.4, 0.95, 3.0, 1,
             "EASI-75 response was at least a 75% improvement from baseline in the EASI score, which ranges from 0 to 72.")),
         _E(("iga01", "responder", "higher", "Investigator's Global Assessment (IGA) Score of 0 or 1", "IGA 0/1", "", 0.08, 0, 0, 0, 2.1, 0.90, 3.0, 1,
             "IGA 0/1 response was a score of 0 (clear) or 1 (almost clear) with a reduction of at least 2 points from baseline.")),
         _E(("pruritus", "continuous", "lower", "Peak Pruritus Numerical Rating Scale (NRS) Score", "Peak Pruritus NRS", "units on a scale", -1.2, 2.5, 7.4, 1.5, -2.8, 0.80, 2.0, 2,
             "Weekly average of the daily peak pruritus NRS (0 = no itch, 10 = worst itch imaginable).")),
         _E(("easi_pct", "continuous", "lower", "Eczema Area and Severity Index (EASI) Score", "EASI", "percent change", -22.0, 35.0, 30.0, 12.0, -45.0, 0.90, 2.0, 1,
             "Percent change from baseline in EASI total score (0-72); a negative value indicates improvement.")),
     ]},
    {"id": "migraine", "name": "Migraine", "aliases": ["Migraine", "Episodic Migraine", "Chronic Migraine", "Migraine Disorders"],
     "mesh": ("D000008881", "Migraine Disorders"),
     "ancestors": [("D000020773", "Headache Disorders, Primary"), ("D000020901", "Headache Disorders"), ("D000001927", "Brain Diseases"),
                   ("D000002493", "Central Nervous System Diseases"), ("D000009422", "Nervous System Diseases")],
     "branches": [("BC10", "Nervous System Diseases")],
     "female_share": 0.85, "weeks": [4, 12, 24], "pediatric": 0.08, "older": 0.0,
     "severity": "episodic or chronic", "keywords": ["migraine prevention", "monthly migraine days", "CGRP"],
     "endpoints": [
         _E(("mmd", "continuous", "lower", "Monthly Migraine Days", "monthly migraine days", "days", -2.5, 4.0, 8.5, 3.0, -2.6, 0.90, 2.0, 2,
             "Migraine days were recorded in an electronic headache diary; the monthly number was averaged over the 4-week period ending at the time point.")),
         _E(("mmd50", "responder", "higher", "At Least 50% Reduction in Monthly Migraine Days", ">=50% responder", "", 0.28, 0, 0, 0, 1.3, 0.85, 2.0, 1,
             "Responders had a reduction of at least 50% from baseline in monthly migraine days.")),
         _E(("msq", "continuous", "higher", "Migraine-Specific Quality of Life Questionnaire (MSQ) Role Function-Restrictive Score", "MSQ-RFR", "units on a scale", 15.0, 20.0, 47.0, 18.0, 9.0, 0.60, 3.0, 2,
             "MSQ v2.1 role function-restrictive domain, transformed to a 0-100 scale; higher scores indicate better quality of life.")),
     ]},
    {"id": "hchol", "name": "Hypercholesterolemia", "aliases": ["Hypercholesterolemia", "Primary Hypercholesterolemia", "Mixed Dyslipidemia"],
     "mesh": ("D000006937", "Hypercholesterolemia"),
     "ancestors": [("D000006949", "Hyperlipidemias"), ("D000050171", "Dyslipidemias"), ("D000052439", "Lipid Metabolism Disorders"),
                   ("D000008659", "Metabolic Diseases")],
     "branches": [("BC18", "Nutritional and Metabolic Diseases")],
     "female_share": 0.44, "weeks": [12, 24, 52], "pediatric": 0.04, "older": 0.08,
     "severity": "primary", "keywords": ["LDL-C", "lipid lowering", "cardiovascular risk"],
     "endpoints": [
         _E(("ldl", "continuous", "lower", "Low-Density Lipoprotein Cholesterol (LDL-C)", "LDL-C", "percent change", -1.0, 18.0, 135.0, 30.0, -45.0, 0.95, 1.0, 1,
             "Percent change from baseline in calculated LDL-C (Friedewald formula); baseline LDL-C in mg/dL.")),
         _E(("ldl_goal", "responder", "higher", "LDL-C <70 mg/dL", "LDL-C <70 mg/dL", "", 0.05, 0, 0, 0, 3.0, 0.85, 1.0, 1,
             "Percentage of participants with calculated LDL-C below 70 mg/dL.")),
         _E(("nonhdl", "continuous", "lower", "Non-High-Density Lipoprotein Cholesterol (Non-HDL-C)", "non-HDL-C", "percent change", -1.0, 17.0, 165.0, 35.0, -38.0, 0.90, 1.0, 1,
             "Percent change from baseline in non-HDL-C (total cholesterol minus HDL-C).")),
     ]},
    {"id": "nsclc", "name": "Non-Small Cell Lung Cancer", "aliases": ["Non-Small Cell Lung Cancer", "NSCLC", "Advanced Non-small Cell Lung Cancer"],
     "mesh": ("D000002289", "Carcinoma, Non-Small-Cell Lung"),
     "ancestors": [("D000002283", "Carcinoma, Bronchogenic"), ("D000001984", "Bronchial Neoplasms"), ("D000008175", "Lung Neoplasms"),
                   ("D000009369", "Neoplasms")],
     "branches": [("BC04", "Neoplasms"), ("BC08", "Respiratory Tract (Lung and Bronchial) Diseases")],
     "female_share": 0.36, "weeks": [12, 24, 48], "pediatric": 0.0, "older": 0.10,
     "severity": "locally advanced or metastatic", "keywords": ["RECIST", "objective response", "second line"],
     "endpoints": [
         _E(("orr", "responder", "higher", "Objective Response (Complete or Partial Response per RECIST v1.1)", "objective response", "", 0.08, 0, 0, 0, 2.0, 0.90, 4.0, 1,
             "Objective response rate was the percentage of participants with a confirmed complete or partial response per RECIST v1.1 by blinded independent central review.")),
         _E(("dcr", "responder", "higher", "Disease Control (Complete Response, Partial Response or Stable Disease)", "disease control", "", 0.35, 0, 0, 0, 1.5, 0.80, 3.0, 1,
             "Disease control rate was the percentage of participants with complete response, partial response or stable disease per RECIST v1.1.")),
         _E(("tumour", "continuous", "lower", "Sum of Target Lesion Diameters", "tumour size", "percent change", 8.0, 30.0, 75.0, 35.0, -30.0, 0.85, 4.0, 1,
             "Best percent change from baseline in the sum of diameters of target lesions per RECIST v1.1.")),
     ]},
]
ENDPOINT_FIELDS = ("id", "kind", "better", "name", "short", "unit", "placebo", "sd", "baseline_mean", "baseline_sd",
                   "effect_scale", "loading", "tau_placebo_weeks", "decimals", "description")

# Mechanism classes: (id, class name, description phrase, stem, route, unit, frequency, dose ladder,
#                     typical dose, intervention type, tau weeks, {condition: potency}, AE terms)
CLASSES_SPEC: list[tuple] = [
    ("sglt2", "SGLT2 inhibitor", "selective sodium-glucose co-transporter 2 (SGLT2) inhibitor", "gliflozin", "oral", "mg", "QD",
     [1, 2.5, 5, 10, 25, 50], 10, "DRUG", 6.0, {"t2d": 0.8, "hf": 0.5}, ["Genital mycotic infection", "Urinary tract infection", "Pollakiuria"]),
    ("glp1", "GLP-1 receptor agonist", "long-acting glucagon-like peptide-1 (GLP-1) receptor agonist", "glutide", "sc", "mg", "QW",
     [0.25, 0.5, 1, 2, 4], 1, "DRUG", 8.0, {"t2d": 1.3}, ["Nausea", "Vomiting", "Decreased appetite", "Diarrhoea"]),
    ("dpp4", "DPP-4 inhibitor", "dipeptidyl peptidase-4 (DPP-4) inhibitor", "gliptin", "oral", "mg", "QD",
     [12.5, 25, 50, 100, 200], 100, "DRUG", 4.0, {"t2d": 0.55}, ["Nasopharyngitis", "Headache"]),
    ("biguanide", "Biguanide", "extended-release biguanide that reduces hepatic glucose output", "formin", "oral", "g", "QD",
     [0.5, 1, 1.5, 2], 1.5, "DRUG", 4.0, {"t2d": 0.9}, ["Diarrhoea", "Nausea", "Abdominal pain"]),
    ("acei", "ACE inhibitor", "angiotensin-converting enzyme (ACE) inhibitor", "pril", "oral", "mg", "QD",
     [2.5, 5, 10, 20, 40], 10, "DRUG", 2.0, {"htn": 0.8, "hf": 0.35}, ["Cough", "Dizziness", "Hyperkalaemia"]),
    ("arb", "Angiotensin II receptor blocker", "angiotensin II type 1 receptor blocker (ARB)", "sartan", "oral", "mg", "QD",
     [20, 40, 80, 160, 320], 80, "DRUG", 2.0, {"htn": 0.85, "hf": 0.35}, ["Dizziness", "Hyperkalaemia"]),
    ("ccb", "Calcium channel blocker", "dihydropyridine calcium channel blocker", "dipine", "oral", "mg", "QD",
     [1.25, 2.5, 5, 10], 5, "DRUG", 2.0, {"htn": 0.9}, ["Peripheral oedema", "Flushing", "Headache"]),
    ("asi", "Aldosterone synthase inhibitor", "highly selective aldosterone synthase (CYP11B2) inhibitor", "drostat", "oral", "mg", "QD",
     [0.5, 1, 2, 4, 8], 2, "DRUG", 3.0, {"htn": 0.75}, ["Hyperkalaemia", "Hyponatraemia"]),
    ("tnf", "TNF inhibitor", "fully human monoclonal antibody against tumour necrosis factor alpha (TNF-alpha)", "limumab", "sc", "mg", "Q2W",
     [20, 40, 80, 160], 40, "BIOLOGICAL", 4.0, {"ra": 1.0, "pso": 0.9}, ["Injection site reaction", "Upper respiratory tract infection", "Sinusitis"]),
    ("jak", "JAK inhibitor", "oral, selective Janus kinase 1 (JAK1) inhibitor", "citinib", "oral", "mg", "QD",
     [3, 7.5, 15, 30, 45], 15, "DRUG", 2.0, {"ra": 0.95, "pso": 0.75, "ad": 1.0}, ["Herpes zoster", "Blood creatine phosphokinase increased", "Acne"]),
    ("il6r", "IL-6 receptor antagonist", "humanized monoclonal antibody against the interleukin-6 receptor (IL-6R)", "talizumab", "iv", "mg/kg", "Q4W",
     [1, 2, 4, 8], 8, "BIOLOGICAL", 3.0, {"ra": 0.95}, ["Alanine aminotransferase increased", "Neutropenia", "Infusion related reaction"]),
    ("il17", "IL-17A inhibitor", "humanized monoclonal antibody that selectively neutralizes interleukin-17A (IL-17A)", "kizumab", "sc", "mg", "Q4W",
     [25, 75, 150, 300], 150, "BIOLOGICAL", 3.0, {"pso": 1.4, "ra": 0.5}, ["Oral candidiasis", "Nasopharyngitis", "Injection site erythema"]),
    ("il23", "IL-23 p19 inhibitor", "monoclonal antibody targeting the p19 subunit of interleukin-23 (IL-23)", "rakizumab", "sc", "mg", "Q8W",
     [25, 50, 100, 200], 100, "BIOLOGICAL", 5.0, {"pso": 1.3}, ["Upper respiratory tract infection", "Injection site reaction"]),
    ("pde4", "PDE4 inhibitor", "oral phosphodiesterase 4 (PDE4) inhibitor", "milast", "oral", "mg", "BID",
     [10, 20, 30, 40], 30, "DRUG", 3.0, {"pso": 0.5, "ad": 0.35, "copd": 0.3}, ["Diarrhoea", "Nausea", "Headache", "Weight decreased"]),
    ("il4r", "IL-4 receptor alpha antagonist", "monoclonal antibody blocking the interleukin-4 receptor alpha subunit (IL-4Ralpha), inhibiting IL-4 and IL-13 signalling", "plumab", "sc", "mg", "Q2W",
     [75, 150, 300, 600], 300, "BIOLOGICAL", 3.0, {"ad": 1.2, "asthma": 0.7}, ["Conjunctivitis", "Injection site reaction", "Oral herpes"]),
    ("il13", "IL-13 inhibitor", "monoclonal antibody that binds interleukin-13 (IL-13) with high affinity", "trokinumab", "sc", "mg", "Q2W",
     [75, 150, 300, 600], 300, "BIOLOGICAL", 4.0, {"ad": 0.9}, ["Conjunctivitis", "Injection site pain"]),
    ("ics", "Inhaled corticosteroid", "inhaled corticosteroid with high glucocorticoid receptor affinity", "sonide", "inhaled", "mcg", "BID",
     [50, 100, 200, 400], 200, "DRUG", 3.0, {"asthma": 0.9, "copd": 0.4}, ["Oral candidiasis", "Dysphonia", "Pharyngitis"]),
    ("lama", "Long-acting muscarinic antagonist", "long-acting muscarinic antagonist (LAMA) bronchodilator", "clidinium", "inhaled", "mcg", "QD",
     [6.25, 12.5, 25, 50, 100], 50, "DRUG", 1.0, {"copd": 0.9, "asthma": 0.5}, ["Dry mouth", "Cough", "Urinary retention"]),
    ("laba", "Long-acting beta2-agonist", "long-acting beta2-adrenergic agonist (LABA) bronchodilator", "vaterol", "inhaled", "mcg", "QD",
     [12.5, 25, 50, 100], 50, "DRUG", 1.0, {"copd": 0.8, "asthma": 0.6}, ["Tremor", "Palpitations", "Muscle spasms"]),
    ("il5", "Anti-IL-5 monoclonal antibody", "humanized monoclonal antibody against interleukin-5 (IL-5) that depletes eosinophils", "polizumab", "sc", "mg", "Q4W",
     [30, 100, 300], 100, "BIOLOGICAL", 4.0, {"asthma": 0.8}, ["Headache", "Injection site reaction", "Back pain"]),
    ("ssri", "Selective serotonin reuptake inhibitor", "selective serotonin reuptake inhibitor (SSRI)", "opram", "oral", "mg", "QD",
     [5, 10, 20, 40], 20, "DRUG", 3.0, {"mdd": 0.45}, ["Nausea", "Insomnia", "Somnolence", "Sexual dysfunction"]),
    ("snri", "Serotonin-norepinephrine reuptake inhibitor", "serotonin and norepinephrine reuptake inhibitor (SNRI)", "nacipran", "oral", "mg", "QD",
     [25, 50, 100, 200], 100, "DRUG", 3.0, {"mdd": 0.5}, ["Nausea", "Hyperhidrosis", "Dry mouth", "Dizziness"]),
    ("nmda", "NMDA receptor antagonist", "intranasal N-methyl-D-aspartate (NMDA) receptor antagonist", "tamine", "intranasal", "mg", "TWICE_WEEKLY",
     [14, 28, 56, 84], 56, "DRUG", 0.7, {"mdd": 0.6}, ["Dissociation", "Dizziness", "Dysgeusia", "Nausea"]),
    ("arni", "Angiotensin receptor-neprilysin inhibitor", "angiotensin receptor-neprilysin inhibitor (ARNI)", "sartilat", "oral", "mg", "BID",
     [50, 100, 200, 400], 200, "DRUG", 4.0, {"hf": 0.8, "htn": 0.6}, ["Hypotension", "Hyperkalaemia", "Renal impairment"]),
    ("mra", "Mineralocorticoid receptor antagonist", "non-steroidal mineralocorticoid receptor antagonist (MRA)", "renone", "oral", "mg", "QD",
     [5, 10, 20, 40], 20, "DRUG", 4.0, {"hf": 0.6, "htn": 0.5}, ["Hyperkalaemia", "Hypotension"]),
    ("cells", "Mesenchymal stromal cell therapy", "allogeneic bone marrow-derived mesenchymal stromal cell (MSC) therapy", "", "iv", "cells/kg", "ONCE",
     [1e6, 2e6, 5e6, 1e7], 2e6, "BIOLOGICAL", 8.0, {"hf": 0.3}, ["Infusion related reaction", "Pyrexia"]),
    ("cgrp_mab", "CGRP monoclonal antibody", "humanized monoclonal antibody that binds calcitonin gene-related peptide (CGRP)", "nezumab", "sc", "mg", "Q4W",
     [35, 70, 140, 280], 140, "BIOLOGICAL", 3.0, {"migraine": 0.8}, ["Injection site pain", "Constipation", "Injection site erythema"]),
    ("gepant", "CGRP receptor antagonist (gepant)", "oral small-molecule calcitonin gene-related peptide (CGRP) receptor antagonist", "gepant", "oral", "mg", "QD",
     [10, 25, 50, 75, 100], 50, "DRUG", 3.0, {"migraine": 0.55}, ["Nausea", "Constipation", "Fatigue"]),
    ("statin", "HMG-CoA reductase inhibitor (statin)", "HMG-CoA reductase inhibitor (statin)", "vastatin", "oral", "mg", "QD",
     [5, 10, 20, 40, 80], 20, "DRUG", 1.5, {"hchol": 1.2}, ["Myalgia", "Alanine aminotransferase increased"]),
    ("pcsk9", "PCSK9 inhibitor", "fully human monoclonal antibody against proprotein convertase subtilisin/kexin type 9 (PCSK9)", "rocumab", "sc", "mg", "Q2W",
     [50, 75, 150, 300], 150, "BIOLOGICAL", 1.5, {"hchol": 1.6}, ["Injection site reaction", "Nasopharyngitis", "Influenza-like illness"]),
    ("cai", "Cholesterol absorption inhibitor", "intestinal cholesterol absorption inhibitor (NPC1L1 blocker)", "timibe", "oral", "mg", "QD",
     [2.5, 5, 10, 20], 10, "DRUG", 1.5, {"hchol": 0.5}, ["Diarrhoea", "Arthralgia"]),
    ("taxane", "Taxane chemotherapy", "microtubule-stabilising taxane cytotoxic agent", "taxel", "iv", "mg/m2", "Q3W",
     [50, 60, 75, 100], 75, "DRUG", 6.0, {"nsclc": 0.45}, ["Neutropenia", "Alopecia", "Peripheral sensory neuropathy", "Fatigue"]),
    ("pd1", "Anti-PD-1 monoclonal antibody", "humanized IgG4 monoclonal antibody against programmed cell death protein 1 (PD-1)", "tilimab", "iv", "mg/kg", "Q3W",
     [0.3, 1, 3, 10], 3, "BIOLOGICAL", 6.0, {"nsclc": 0.75}, ["Fatigue", "Hypothyroidism", "Pruritus", "Rash"]),
    ("egfr", "EGFR tyrosine kinase inhibitor", "third-generation, irreversible epidermal growth factor receptor (EGFR) tyrosine kinase inhibitor", "ertinib", "oral", "mg", "QD",
     [40, 80, 160, 240], 80, "DRUG", 4.0, {"nsclc": 0.85}, ["Rash", "Diarrhoea", "Paronychia", "Stomatitis"]),
]
CLASS_FIELDS = ("id", "name", "phrase", "stem", "route", "unit", "frequency", "ladder", "typical", "intervention_type",
                "tau_weeks", "potency", "ae_terms")

NAME_PREFIXES = ["tori", "vela", "emna", "sota", "bexa", "dori", "lumi", "pela", "cora", "neva", "zelo", "mira", "tavo",
                 "quila", "rexi", "olva", "fema", "gani", "hira", "iva", "jolo", "kema", "lira", "mosa", "nuvo", "opre",
                 "pira", "savi", "tera", "ulma", "vexo", "wira", "yalo", "zumi", "abri", "celo", "dara", "efo", "gela"]
NAME_MIDDLES = ["", "", "ra", "li", "no", "ta", "mi", "ve"]
BRAND_SUFFIXES = ["ra", "vix", "lyn", "zo", "tra", "nix", "vera", "dia", "qua"]

INDUSTRY_SPONSORS = [
    ("Novaterra Pharmaceuticals", "NVT"), ("Helixon Biosciences", "HLX"), ("Arcadia Therapeutics", "ARC"),
    ("Meridian BioPharma", "MBP"), ("Quantis Pharma AG", "QTP"), ("Sakura Medica Co., Ltd.", "SKM"),
    ("Boreal Life Sciences", "BLS"), ("Castellan Pharmaceuticals", "CSP"), ("Vireo Biologics", "VRB"),
    ("Lumen Therapeutics Inc.", "LMT"), ("Orison Health Sciences", "ORH"), ("Kestrel Pharma", "KSP"),
]
ACADEMIC_SPONSORS = [
    ("University of Eastbrook", "Eastbrook University Hospital"), ("Northfield Medical Center", "Northfield Medical Center"),
    ("Institut Clinique de Lorraine", "Institut Clinique de Lorraine"), ("Kansai Clinical Research Institute", "Kansai University Hospital"),
    ("Universidade Federal do Sul", "Hospital de Clinicas do Sul"), ("Rhine Valley University Hospital", "Rhine Valley University Hospital"),
]
FIRST_NAMES = ["Anna", "David", "Maria", "James", "Yuki", "Wei", "Sofia", "Lukas", "Priya", "Carlos", "Emma", "Hiroshi",
               "Fatima", "Olivier", "Ingrid", "Rafael", "Mei", "Thomas", "Elena", "Samuel", "Aisha", "Jonas", "Laura", "Kenji"]
LAST_NAMES = ["Schmidt", "Tanaka", "Garcia", "Novak", "Chen", "Rossi", "Kowalski", "Dubois", "Patel", "Silva", "Kim",
              "Andersen", "Cohen", "Yilmaz", "Nakamura", "Martinez", "Fischer", "Moreau", "Singh", "Okafor", "Larsen", "Weber"]

SERIOUS_EVENTS = [("Pneumonia", "Infections and infestations"), ("Myocardial infarction", "Cardiac disorders"),
                  ("Cellulitis", "Infections and infestations"), ("Atrial fibrillation", "Cardiac disorders"),
                  ("Cholecystitis", "Hepatobiliary disorders"), ("Acute kidney injury", "Renal and urinary disorders"),
                  ("Sepsis", "Infections and infestations"), ("Pulmonary embolism", "Respiratory, thoracic and mediastinal disorders"),
                  ("Appendicitis", "Infections and infestations"), ("Cerebrovascular accident", "Nervous system disorders"),
                  ("Osteoarthritis", "Musculoskeletal and connective tissue disorders"), ("Syncope", "Nervous system disorders")]
OTHER_EVENTS = [("Headache", "Nervous system disorders"), ("Nasopharyngitis", "Infections and infestations"),
                ("Upper respiratory tract infection", "Infections and infestations"), ("Nausea", "Gastrointestinal disorders"),
                ("Diarrhoea", "Gastrointestinal disorders"), ("Fatigue", "General disorders"),
                ("Back pain", "Musculoskeletal and connective tissue disorders"), ("Arthralgia", "Musculoskeletal and connective tissue disorders"),
                ("Dizziness", "Nervous system disorders"), ("Hypertension", "Vascular disorders"),
                ("Cough", "Respiratory, thoracic and mediastinal disorders"), ("Urinary tract infection", "Infections and infestations")]
ORGAN_OF = dict(SERIOUS_EVENTS + OTHER_EVENTS)
ORGAN_OF.update({
    "Genital mycotic infection": "Infections and infestations", "Pollakiuria": "Renal and urinary disorders",
    "Vomiting": "Gastrointestinal disorders", "Decreased appetite": "Metabolism and nutrition disorders",
    "Abdominal pain": "Gastrointestinal disorders", "Hyperkalaemia": "Metabolism and nutrition disorders",
    "Peripheral oedema": "General disorders", "Flushing": "Vascular disorders", "Hyponatraemia": "Metabolism and nutrition disorders",
    "Injection site reaction": "General disorders", "Sinusitis": "Infections and infestations", "Herpes zoster": "Infections and infestations",
    "Blood creatine phosphokinase increased": "Investigations", "Acne": "Skin and subcutaneous tissue disorders",
    "Alanine aminotransferase increased": "Investigations", "Neutropenia": "Blood and lymphatic system disorders",
    "Infusion related reaction": "Injury, poisoning and procedural complications", "Oral candidiasis": "Infections and infestations",
    "Injection site erythema": "General disorders", "Weight decreased": "Investigations", "Conjunctivitis": "Eye disorders",
    "Oral herpes": "Infections and infestations", "Injection site pain": "General disorders", "Dysphonia": "Respiratory, thoracic and mediastinal disorders",
    "Pharyngitis": "Infections and infestations", "Dry mouth": "Gastrointestinal disorders", "Urinary retention": "Renal and urinary disorders",
    "Tremor": "Nervous system disorders", "Palpitations": "Cardiac disorders", "Muscle spasms": "Musculoskeletal and connective tissue disorders",
    "Insomnia": "Psychiatric disorders", "Somnolence": "Nervous system disorders", "Sexual dysfunction": "Reproductive system and breast disorders",
    "Hyperhidrosis": "Skin and subcutaneous tissue disorders", "Dissociation": "Psychiatric disorders", "Dysgeusia": "Nervous system disorders",
    "Hypotension": "Vascular disorders", "Renal impairment": "Renal and urinary disorders", "Pyrexia": "General disorders",
    "Constipation": "Gastrointestinal disorders", "Myalgia": "Musculoskeletal and connective tissue disorders",
    "Influenza-like illness": "General disorders", "Alopecia": "Skin and subcutaneous tissue disorders",
    "Peripheral sensory neuropathy": "Nervous system disorders", "Hypothyroidism": "Endocrine disorders",
    "Pruritus": "Skin and subcutaneous tissue disorders", "Rash": "Skin and subcutaneous tissue disorders",
    "Paronychia": "Infections and infestations", "Stomatitis": "Gastrointestinal disorders",
})

# --------------------------------------------------------------------------- world


def _round_sig(x: float, sig: int = 4) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, sig - 1 - int(math.floor(math.log10(abs(x)))))


def build_world(seed: int) -> dict:
    """The generative world: conditions, endpoints, drugs with Emax parameters, effect modifiers.

    Deterministic for ``seed`` and JSON-serialisable; it is written verbatim into truth.json.
    """
    rng = random.Random(f"deepimagine-world:{seed}")
    endpoints: dict[str, dict] = {}
    conditions: dict[str, dict] = {}
    correlations: dict[str, dict] = {}
    for spec in CONDITIONS_SPEC:
        ep_ids = []
        for tup in spec["endpoints"]:
            ep = dict(zip(ENDPOINT_FIELDS, tup))
            ep["condition"] = spec["id"]
            ep["value_scale"] = "mean_change" if ep["kind"] == "continuous" else "percent"
            # per-participant SD, the scale for standardised effects: sd, or the binomial SD at the placebo rate
            pr = min(max(ep["placebo"], 0.1), 0.9)
            ep["scale_sd"] = ep["sd"] if ep["kind"] == "continuous" else round(100.0 * math.sqrt(pr * (1.0 - pr)), 4)
            endpoints[ep["id"]] = ep
            ep_ids.append(ep["id"])
        cond = {k: v for k, v in spec.items() if k != "endpoints"}
        cond["endpoints"] = ep_ids
        cond["mesh"] = list(spec["mesh"])
        cond["ancestors"] = [list(a) for a in spec["ancestors"]]
        cond["branches"] = [list(b) for b in spec["branches"]]
        conditions[spec["id"]] = cond
        loads = [endpoints[e]["loading"] for e in ep_ids]
        correlations[spec["id"]] = {
            "endpoints": ep_ids,
            "matrix": [[1.0 if i == j else round(li * lj, 4) for j, lj in enumerate(loads)] for i, li in enumerate(loads)],
        }

    classes: dict[str, dict] = {}
    drugs: dict[str, dict] = {}
    used_names: set[str] = set()
    prefixes = NAME_PREFIXES[:]
    rng.shuffle(prefixes)
    for tup in CLASSES_SPEC:
        cls = dict(zip(CLASS_FIELDS, tup))
        cls["ladder"] = [float(x) for x in cls["ladder"]]
        cls["typical"] = float(cls["typical"])
        classes[cls["id"]] = cls
        n_drugs = 2 if rng.random() < 0.15 else 1
        for _ in range(n_drugs):
            for _attempt in range(100):
                pre = prefixes[rng.randrange(len(prefixes))]
                mid = rng.choice(NAME_MIDDLES)
                base = pre + mid + (cls["stem"] or "stemcel")
                if base not in used_names:
                    break
            used_names.add(base)
            name = base.capitalize() + ("-L" if cls["id"] == "cells" else "")
            sponsor, code_prefix = INDUSTRY_SPONSORS[rng.randrange(len(INDUSTRY_SPONSORS))]
            code = f"{code_prefix}-{rng.randrange(100, 9999)}"
            other = [code]
            if rng.random() < 0.5:
                other.append((pre + rng.choice(BRAND_SUFFIXES)).capitalize())
            potency = {c: round(p * math.exp(rng.gauss(0.0, 0.25)), 4) for c, p in cls["potency"].items()}
            ed50_ratio = math.exp(rng.uniform(math.log(0.4), math.log(1.5)))
            hill = round(rng.uniform(0.8, 2.2), 3)
            emax: dict[str, dict] = {}
            for c, pot in potency.items():
                for ep_id in conditions[c]["endpoints"]:
                    ep = endpoints[ep_id]
                    dev = max(0.3, 1.0 + rng.gauss(0.0, 0.08 + 0.5 * (1.0 - ep["loading"])))
                    e0 = ep["placebo"] if ep["kind"] == "continuous" else _logit(ep["placebo"])
                    emax[ep_id] = {
                        "e0": round(e0, 4),
                        "emax": _round_sig(ep["effect_scale"] * pot * dev, 4),
                        "ed50": _round_sig(cls["typical"] * ed50_ratio * math.exp(rng.gauss(0.0, 0.1)), 4),
                        "hill": round(max(0.5, hill + rng.gauss(0.0, 0.1)), 3),
                        "emax_scale": "mean_change" if ep["kind"] == "continuous" else "log_odds",
                    }
            drug_id = base
            drugs[drug_id] = {
                "id": drug_id, "name": name, "code": code, "other_names": other,
                "mechanism_class": cls["name"], "class_id": cls["id"], "mechanism": cls["phrase"],
                "route": cls["route"], "dose_unit": cls["unit"], "frequency": cls["frequency"],
                "dose_levels": cls["ladder"], "typical_dose": cls["typical"],
                "intervention_type": cls["intervention_type"], "sponsor": sponsor,
                "conditions": sorted(potency), "potency": potency,
                "tau_weeks": round(cls["tau_weeks"] * rng.uniform(0.8, 1.25), 3),
                "emax": emax, "ae_terms": cls["ae_terms"],
            }
    return {
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "registry_date": REGISTRY_DATE.isoformat(),
        "regions": REGIONS,
        "age_groups": AGE_GROUPS,
        "sexes": SEXES,
        "countries": {c: v[0] for c, v in COUNTRIES.items()},
        "conditions": conditions,
        "endpoints": endpoints,
        "endpoint_correlations": correlations,
        "classes": {k: {kk: v[kk] for kk in ("name", "phrase", "route", "unit", "frequency", "ladder", "typical", "tau_weeks", "potency")}
                    for k, v in classes.items()},
        "drugs": drugs,
        "better_direction": {k: v["better"] for k, v in endpoints.items()},
    }


# --------------------------------------------------------------------------- mechanism
# The world's mechanism (true means of an arm) lives in deepimagine.mechanism: the contract the
# oracle teacher and the oracle operator read truth.json with.

def dose_mg(dose: Optional[float], unit: Optional[str]) -> Optional[float]:
    """Dose in mg when the unit is a mass (mg, mcg, g), else None."""
    if dose is None or unit not in MG_PER_UNIT:
        return None
    return _round_sig(dose * MG_PER_UNIT[unit], 6)


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


# --------------------------------------------------------------------------- study plan

CONDITION_WEIGHTS = {"t2d": 1.3, "htn": 1.0, "ra": 1.2, "pso": 1.1, "asthma": 1.0, "mdd": 0.9, "copd": 0.9, "hf": 0.8,
                     "ad": 1.0, "migraine": 0.8, "hchol": 0.8, "nsclc": 0.7}


def _choose(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _plan_design(world: dict, rng: random.Random) -> dict:
    """Condition, design, arms (drug, dose), phase, population."""
    cond_id = _choose(rng, CONDITION_WEIGHTS)
    cond = world["conditions"][cond_id]
    cands = sorted(d for d, v in world["drugs"].items() if cond_id in v["conditions"])
    u = rng.random()
    design = "dose_ranging" if u < 0.32 else "placebo" if u < 0.62 else "active" if u < 0.78 else "multi"
    test = world["drugs"][rng.choice(cands)]
    others = [d for d in cands if world["drugs"][d]["class_id"] != test["class_id"]] or [d for d in cands if d != test["id"]]
    comparator = world["drugs"][rng.choice(others)] if others else None
    if comparator is None and design in ("active", "multi"):
        design = "placebo"

    def arm(drug: Optional[dict], dose: float, role: str) -> dict:
        return {"drug": drug, "dose": dose, "role": role}

    ladder = test["dose_levels"]
    typ_idx = ladder.index(test["typical_dose"]) if test["typical_dose"] in ladder else len(ladder) // 2
    arms: list[dict] = []
    if design == "dose_ranging":
        k = min(len(ladder), 3 if rng.random() < 0.5 else 4)
        lo = max(0, min(len(ladder) - k, typ_idx - (k - 1) + rng.randrange(2)))  # doses span up to the typical dose
        arms.append(arm(None, 0.0, "placebo"))
        arms += [arm(test, ladder[j], "experimental") for j in range(lo, lo + k)]
        if comparator is not None and rng.random() < 0.15:
            arms.append(arm(comparator, comparator["typical_dose"], "active_comparator"))
        phases = rng.choices([["PHASE2"], ["PHASE1", "PHASE2"], ["PHASE2", "PHASE3"], ["PHASE1"]], [0.7, 0.1, 0.05, 0.15])[0]
    elif design == "placebo":
        dose = test["typical_dose"] if rng.random() < 0.6 else rng.choice(ladder)
        arms = [arm(None, 0.0, "placebo"), arm(test, dose, "experimental")]
        phases = rng.choices([["PHASE3"], ["PHASE2"], ["PHASE2", "PHASE3"]], [0.6, 0.3, 0.1])[0]
    elif design == "active":
        dose = test["typical_dose"] if rng.random() < 0.7 else rng.choice(ladder)
        arms = [arm(comparator, comparator["typical_dose"], "active_comparator"), arm(test, dose, "experimental")]
        phases = rng.choices([["PHASE3"], ["PHASE4"]], [0.5, 0.5])[0]
    else:
        arms = [arm(None, 0.0, "placebo")]
        if rng.random() < 0.5 and len(ladder) >= 2:
            j = max(0, min(len(ladder) - 2, typ_idx - rng.randrange(2)))
            arms += [arm(test, ladder[j], "experimental"), arm(test, ladder[j + 1], "experimental")]
        else:
            arms.append(arm(test, test["typical_dose"], "experimental"))
        arms.append(arm(comparator, comparator["typical_dose"], "active_comparator"))
        phases = rng.choices([["PHASE3"], ["PHASE2"]], [0.6, 0.4])[0]

    u = rng.random()
    age_group = "pediatric" if u < cond["pediatric"] else "older_adult" if u < cond["pediatric"] + cond["older"] else "adult"
    u = rng.random()
    sex = "FEMALE" if u < 0.03 and cond["female_share"] > 0.3 else "MALE" if u < 0.05 and cond["female_share"] < 0.7 else "ALL"
    if sex == "ALL":
        base = 0.5 if age_group == "pediatric" else cond["female_share"]
        female_share = min(0.95, max(0.05, base + rng.gauss(0.0, 0.05)))
    else:
        female_share = 1.0 if sex == "FEMALE" else 0.0
    return {"condition": cond_id, "design": design, "test": test, "comparator": comparator, "arms": arms,
            "phases": phases, "age_group": age_group, "sex": sex, "female_share": round(female_share, 4)}


def _plan_geography(rng: random.Random, phases: list[str], enrollment: int) -> dict:
    top = phases[-1]
    n_countries = {"PHASE1": (1, 2), "PHASE2": (1, 8), "PHASE3": (2, 15), "PHASE4": (1, 4)}[top]
    n = rng.randint(*n_countries)
    primary_region = _choose(rng, REGION_WEIGHTS)
    pool = COUNTRIES_BY_REGION[primary_region]
    first = "United States" if primary_region == "North America" and rng.random() < 0.8 else rng.choice(pool)
    countries = [first]
    all_countries = list(COUNTRIES)
    while len(countries) < n:
        c = rng.choice(pool) if rng.random() < 0.6 else rng.choice(all_countries)
        if c not in countries:
            countries.append(c)
        elif len(set(pool) - set(countries)) == 0 and len(countries) >= len(all_countries):
            break
    weights = [3.0 if k == 0 else rng.uniform(0.3, 1.5) for k in range(len(countries))]
    per_country = _apportion(enrollment, weights)
    sites = [max(1, min(30, round(nc / rng.uniform(8, 20)))) for nc in per_country]
    region_n: dict[str, int] = {}
    for c, nc in zip(countries, per_country):
        region_n[COUNTRIES[c][0]] = region_n.get(COUNTRIES[c][0], 0) + nc
    total = sum(region_n.values()) or 1
    region_weights = {r: round(v / total, 4) for r, v in sorted(region_n.items()) if v > 0}
    if not region_weights:
        region_weights = {COUNTRIES[first][0]: 1.0}
    main_region = max(region_weights, key=lambda r: (region_weights[r], r))
    return {"countries": countries, "per_country": per_country, "sites": sites, "region_weights": region_weights,
            "region": main_region}


def _add_months(d: date, months: float) -> date:
    return d + timedelta(days=int(round(months * 30.44)))


def _plan_dates(rng: random.Random, phases: list[str]) -> dict:
    span = (date(2026, 12, 31) - date(2008, 1, 1)).days  # a few start after REGISTRY_DATE: not yet recruiting
    start = date(2008, 1, 1) + timedelta(days=int(span * rng.random() ** 1.1))
    months = {"PHASE1": (8, 18), "PHASE2": (12, 30), "PHASE3": (16, 48), "PHASE4": (12, 36)}[phases[-1]]
    primary = _add_months(start, rng.uniform(*months))
    completion = _add_months(primary, rng.choice([0, 0, 0, 1, 2, 3, 6]))
    first_submit = start - timedelta(days=rng.randint(0, 120))
    first_submit = min(first_submit, REGISTRY_DATE - timedelta(days=rng.randint(10, 200)))
    results_submit = _add_months(primary, rng.uniform(6, 26))
    return {"start": start, "primary": primary, "completion": completion, "first_submit": first_submit,
            "results_submit": results_submit, "full_dates": rng.random() < 0.6 or start.year >= 2017}


def _status(rng: random.Random, dates: dict) -> tuple[str, bool]:
    ref = REGISTRY_DATE
    if dates["start"] > ref:
        return "NOT_YET_RECRUITING", False
    if dates["completion"] > ref:
        elapsed = (ref - dates["start"]).days / max(1, (dates["primary"] - dates["start"]).days)
        return ("RECRUITING" if elapsed < 0.6 else "ACTIVE_NOT_RECRUITING"), False
    u = rng.random()
    posted = dates["results_submit"] + timedelta(days=150) <= ref
    if u < 0.04:
        return "TERMINATED", posted and rng.random() < 0.6
    if u < 0.06 and dates["start"].year < 2017:
        return "UNKNOWN", False
    return "COMPLETED", posted and rng.random() < 0.96


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


class _Study:
    """Builds one study record and its truth from a per-study random generator."""

    def __init__(self, world: dict, seed: int, index: int):
        self.world = world
        self.rng = random.Random(f"deepimagine-study:{seed}:{index}")
        self.nct = nct_id(seed, index)
        self.index = index

    # ------------------------------------------------------------------ plan
    def plan(self) -> None:
        rng = self.rng
        p = _plan_design(self.world, rng)
        self.__dict__.update(p)
        self.cond = self.world["conditions"][self.condition]
        top = self.phases[-1]
        lo, hi = {"PHASE1": (40, 120), "PHASE2": (80, 450), "PHASE3": (250, 2000), "PHASE4": (100, 900)}[top]
        enrollment = int(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        enrollment = max(enrollment, 12 * len(self.arms))
        ratio = [1.0] * len(self.arms)
        if self.design == "placebo" and rng.random() < 0.3:
            ratio = [1.0, 2.0]
        self.ratio = ratio
        self.geo = _plan_geography(rng, self.phases, enrollment)
        self.dates = _plan_dates(rng, self.phases)
        self.status, self.has_results = _status(rng, self.dates)
        if self.status == "TERMINATED":
            enrollment = max(6 * len(self.arms), int(enrollment * rng.uniform(0.3, 0.8)))
            self.geo["per_country"] = _apportion(enrollment, self.geo["per_country"])
        self.enrollment = enrollment
        self.arm_n = _apportion(enrollment, ratio)
        weeks = sorted(rng.sample(self.cond["weeks"], rng.choice([2, 3]) if len(self.cond["weeks"]) > 2 else 2))
        if top == "PHASE1":
            weeks = weeks[:2]
        self.weeks = weeks
        self.max_weeks = weeks[-1]
        eps = self.cond["endpoints"]
        chosen = list(eps) if len(eps) <= 3 or rng.random() < 0.6 else [eps[0]] + rng.sample(eps[1:], len(eps) - 2)
        if rng.random() < 0.3:
            rng.shuffle(chosen)
        self.endpoint_ids = chosen
        self.placebo_factor = round(math.exp(rng.gauss(0.0, 0.15)), 4)
        self.academic = self.phases[-1] == "PHASE4" and rng.random() < 0.6 or rng.random() < 0.08
        self.style = {
            "dose": {},
            "label": rng.choices(range(8), weights=[4, 3, 1, 2 if self.design == "dose_ranging" else 0, 1, 1,
                                                    1 if self.design == "dose_ranging" and len(self.arms) <= 5 else 0, 1])[0],
            "desc": rng.choices(range(5), weights=[4, 3, 2, 2, 2])[0],
            "title": rng.randrange(3),
            "cont_tf": rng.randrange(len(CONT_TIMEFRAMES)),
            "resp_tf": rng.randrange(len(RESP_TIMEFRAMES)),
            "resp_param": rng.choices(["NUMBER", "NUMBER_CI", "COUNT"], [0.7, 0.15, 0.15])[0],
            "cont_param": rng.choices([("MEAN", "Standard Deviation"), ("LEAST_SQUARES_MEAN", "Standard Error"),
                                       ("LEAST_SQUARES_MEAN", "95% Confidence Interval"), ("MEAN", "Standard Error")],
                                      [0.35, 0.45, 0.1, 0.1])[0],
            "p": rng.randrange(3),
            "resp_unit": rng.choice(["percentage of participants", "Percentage of participants", "percent of participants"]),
            "nodose": self.design == "dose_ranging" and rng.random() < 0.03,
            "per_arm_interventions": self.design == "dose_ranging" and rng.random() < 0.25,
        }

    # ------------------------------------------------------------------ arms text
    def _dose_txt(self, drug: dict, dose: float) -> str:
        unit = drug["dose_unit"]
        st = self.style["dose"].setdefault(drug["id"], _dose_style(self.rng, unit))
        return _dose_text(dose, unit, st)

    def build_arms(self) -> None:
        rng = self.rng
        st = self.style
        test = self.test
        route_idx = rng.randrange(5)
        freq_idx = rng.randrange(6)
        levels = ["Low", "Medium", "High", "Highest"]
        n_exp = sum(1 for a in self.arms if a["role"] == "experimental")
        letters = "ABCDEFGH"
        labels: list[str] = []
        weeks = self.max_weeks
        background = BACKGROUND.get(self.condition)
        for k, a in enumerate(self.arms):
            drug = a["drug"] if a["drug"] is not None else test
            route = drug["route"]
            freq = drug["frequency"]
            route_txt = ROUTE_TEXT[route][route_idx % len(ROUTE_TEXT[route])]
            freq_txt = FREQ_TEXT[freq][freq_idx % len(FREQ_TEXT[freq])]
            abbr = FREQ_ABBR[freq]
            dur = f"and were followed for {weeks} weeks" if freq == "ONCE" else f"for {weeks} weeks"
            name = drug["name"]
            lstyle = st["label"] if (a["role"] != "active_comparator" or st["label"] in (0, 1, 7)) else 0
            if a["role"] == "placebo":
                label = {0: "Placebo", 1: f"Placebo {abbr}", 2: "Placebo", 3: f"Cohort {letters[k]}: Placebo", 4: "Placebo",
                         5: f"Placebo {ROUTE_ABBR[route]} {abbr}", 6: "Placebo", 7: f"Arm {k + 1}: Placebo"}[lstyle]
                if lstyle in (0, 2, 4, 6) and rng.random() < 0.3:
                    label = rng.choice(["Matching Placebo", "Placebo Comparator", "Placebo Group"])
                pform = PLACEBO_FORM[route]
                ds = st["desc"]
                if ds == 3 and not background:
                    ds = 0
                desc = [
                    f"Participants received placebo matching {name} {route_txt} {freq_txt} {dur}.",
                    f"Matching placebo administered {route_txt} {freq_txt} from Day 1 to Week {weeks}.",
                    f"Placebo {pform} identical in appearance to {name}, given {route_txt} {freq_txt} {dur}.",
                    f"Placebo {route_txt} {freq_txt} {dur}, in addition to {background}.",
                    f"Subjects randomized to this arm received placebo {freq_txt}, {route_txt}, {dur}.",
                ][ds]
            else:
                dose_txt = self._dose_txt(drug, a["dose"])
                exp_rank = sum(1 for b in self.arms[:k] if b["role"] == "experimental")
                level = levels[min(exp_rank, 3)] if n_exp > 1 else "Standard"
                code_or_name = drug["code"] if rng.random() < 0.5 else name
                label = {0: f"{name} {dose_txt}", 1: f"{name} {dose_txt} {abbr}", 2: f"{drug['code']} {dose_txt}",
                         3: f"Cohort {letters[k]}: {dose_txt} {abbr}", 4: f"{dose_txt} {name}",
                         5: f"{code_or_name} {dose_txt} {ROUTE_ABBR[route]} {abbr}",
                         6: f"{name} {level} Dose", 7: f"Arm {k + 1}: {name} {dose_txt}"}[lstyle]
                ds = st["desc"]
                if ds == 3 and not background:
                    ds = 0
                if route == "sc" and rng.random() < 0.05:
                    ds = 5
                nm = name if rng.random() < 0.85 else f"{name} ({drug['code']})"
                form = FORM[route][rng.randrange(len(FORM[route]))]
                if st["nodose"] and a["role"] == "experimental" and lstyle in (3, 6):
                    lstyle = 6
                    label = f"{name} {level} Dose"
                    desc = f"Participants received {nm} ({level.lower()} dose) {route_txt} {freq_txt} {dur}."
                else:
                    desc = [
                        f"Participants received {nm} {dose_txt} {route_txt} {freq_txt} {dur}.",
                        f"{nm} {dose_txt} administered {route_txt} {freq_txt} from Day 1 to Week {weeks}.",
                        f"Participants will receive {dose_txt} of {nm} {route_txt} {freq_txt}.",
                        f"{nm} {dose_txt} {form} {route_txt} {freq_txt} {dur}, in addition to {background}.",
                        f"Subjects randomized to this arm received {nm} at a dose of {dose_txt} {freq_txt}, {route_txt}, {dur}.",
                        f"{nm} {dose_txt} {route_txt} {freq_txt} after a loading dose of {self._dose_txt(drug, 2 * a['dose'])} on Day 1, {dur}.",
                    ][ds]
                a["dose_text"] = dose_txt
            while label in labels:
                label += " (2)" if not label.endswith(")") else "I"
            labels.append(label)
            a["label"] = label
            a["description"] = desc
            a["arm_type"] = {"placebo": "PLACEBO_COMPARATOR", "experimental": "EXPERIMENTAL",
                             "active_comparator": "ACTIVE_COMPARATOR"}[a["role"]]
            a["route"] = route
            a["frequency"] = freq
            a["route_txt"] = route_txt
            a["freq_txt"] = freq_txt
        self._build_interventions()

    def _build_interventions(self) -> None:
        rng = self.rng
        interventions: list[dict] = []
        by_drug: dict[str, list[dict]] = {}
        for a in self.arms:
            if a["drug"] is not None:
                by_drug.setdefault(a["drug"]["id"], []).append(a)
        for a in self.arms:
            a["interventions"] = []
        for drug_id, arms in by_drug.items():
            drug = self.world["drugs"][drug_id]
            itype = drug["intervention_type"]
            word = "Drug" if itype == "DRUG" else "Biological"
            form = FORM[drug["route"]][0]
            use_code = rng.random() < 0.15
            base_name = drug["code"] if use_code else drug["name"]
            other = [n for n in ([drug["name"]] if use_code else []) + drug["other_names"] if n != base_name]
            doses = sorted({a["dose"] for a in arms})
            dose_list = ", ".join(self._dose_txt(drug, d) for d in doses)
            arm0 = arms[0]
            desc = f"{drug['name']} {dose_list} {form} administered {arm0['route_txt']} {arm0['freq_txt']}."
            if rng.random() < 0.5:
                desc = f"{drug['name']} is a {drug['mechanism']}. " + desc
            groups = [arms] if not (self.style["per_arm_interventions"] and len(arms) > 1) else [[a] for a in arms]
            for grp in groups:
                name = base_name if len(groups) == 1 else f"{base_name} {self._dose_txt(drug, grp[0]['dose'])}"
                iv = {"type": itype, "name": name, "description": desc, "armGroupLabels": [a["label"] for a in grp]}
                if other:
                    iv["otherNames"] = list(other)
                interventions.append(iv)
                for a in grp:
                    a["interventions"].append(f"{word}: {name}")
        placebos = [a for a in self.arms if a["role"] == "placebo"]
        if placebos:
            test = self.test
            name = "Placebo" if rng.random() < 0.7 else f"Placebo to match {test['name']}"
            interventions.append({"type": "DRUG", "name": name,
                                  "description": f"Matching placebo {PLACEBO_FORM[test['route']]} containing no active ingredient.",
                                  "armGroupLabels": [a["label"] for a in placebos]})
            for a in placebos:
                a["interventions"].append(f"Drug: {name}")
        self.interventions = interventions

    # ------------------------------------------------------------------ outcomes + truth
    def build_outcomes(self) -> None:
        rng = self.rng
        st = self.style
        eps = self.world["endpoints"]
        primary_ep = self.endpoint_ids[0]
        co_primary = self.endpoint_ids[1] if len(self.endpoint_ids) > 1 and rng.random() < 0.1 else None
        order = [(primary_ep, self.max_weeks)] + [(e, self.max_weeks) for e in self.endpoint_ids[1:]]
        for w in reversed(self.weeks[:-1]):  # earlier time points: the primary endpoint and some others
            order += [(e, w) for j, e in enumerate(self.endpoint_ids) if j == 0 or rng.random() < 0.4]
        measures = []
        for e, w in order:
            ep = eps[e]
            if ep["kind"] == "continuous":
                tmpl = (PCT_TITLES if ep["unit"] == "percent change" else CONT_TITLES)[st["title"]]
                tf = CONT_TIMEFRAMES[st["cont_tf"]].format(w=w)
                param, disp = st["cont_param"]
                unit = ep["unit"] if ep["unit"] != "percent change" else "percent change"
            else:
                param = "COUNT_OF_PARTICIPANTS" if st["resp_param"] == "COUNT" else "NUMBER"
                tmpl = COUNT_TITLE if param == "COUNT_OF_PARTICIPANTS" else RESP_TITLES[st["title"]]
                tf = RESP_TIMEFRAMES[st["resp_tf"]].format(w=w)
                disp = "95% Confidence Interval" if st["resp_param"] == "NUMBER_CI" else None
                unit = "Participants" if param == "COUNT_OF_PARTICIPANTS" else st["resp_unit"]
            title = tmpl.format(name=ep["name"], short=ep["short"], w=w)
            mtype = "PRIMARY" if (e == primary_ep or e == co_primary) and w == self.max_weeks else "SECONDARY"
            measures.append({"endpoint": e, "weeks": w, "title": title, "time_frame": tf, "type": mtype, "kind": ep["kind"],
                             "param": param, "disp": disp, "unit": unit, "description": ep["description"],
                             "key": f"{title} | {tf}"})
        self.measures = measures
        # truth
        truth_arms: dict[str, dict] = {}
        rw = self.geo["region_weights"]
        strata = _mixture(self.world, rw, self.age_group, self.female_share)
        for a in self.arms:
            drug = a["drug"]
            dose = a["dose"] if drug is not None else 0.0
            a["true"] = {}
            for m in measures:
                a["true"][m["key"]] = _mixture_mean(self.world, drug["id"] if drug else None, dose, m["endpoint"], m["weeks"],
                                                    strata, self.placebo_factor)
            unit = drug["dose_unit"] if drug else None
            truth_arms[a["label"]] = {
                "drug": drug["id"] if drug else None, "drug_name": drug["name"] if drug else "Placebo",
                "role": a["role"], "dose": dose if drug else None, "dose_unit": unit,
                "dose_mg": dose_mg(dose, unit) if drug else None,
                "frequency": a["frequency"], "route": a["route"],
                "outcomes": {k: round(v, 4) for k, v in a["true"].items()},
            }
        self.truth = {
            "design": self.design, "condition": self.condition, "phases": self.phases,
            "region": self.geo["region"], "region_weights": rw,
            "population": {"age_group": self.age_group, "sex": self.sex, "female_share": self.female_share},
            "placebo_factor": self.placebo_factor, "has_results": self.has_results,
            "arms": truth_arms,
            "outcomes": {m["key"]: {"endpoint": m["endpoint"], "weeks": m["weeks"], "kind": m["kind"],
                                    "better": eps[m["endpoint"]]["better"], "type": m["type"],
                                    "scale": eps[m["endpoint"]]["scale_sd"],
                                    "value_scale": eps[m["endpoint"]]["value_scale"]} for m in measures},
        }

    # ------------------------------------------------------------------ results
    def _groups(self, prefix: str) -> list[dict]:
        return [{"id": f"{prefix}{k:03d}", "title": a["label"], "description": a["description"]} for k, a in enumerate(self.arms)]

    def build_results(self) -> dict:
        rng = self.rng
        arms = self.arms
        self.control = next((k for k, a in enumerate(arms) if a["role"] == "placebo"), None)
        if self.control is None:
            self.control = next(k for k, a in enumerate(arms) if a["role"] == "active_comparator")
        self.dropout = [rng.uniform(0.03, 0.15) for _ in arms]
        og = self._groups("OG")
        outcome_measures = [self._outcome_measure(m, og) for m in self.measures]
        return {
            "participantFlowModule": self._flow(),
            "baselineCharacteristicsModule": self._baseline(),
            "outcomeMeasuresModule": {"outcomeMeasures": outcome_measures},
            "adverseEventsModule": self._adverse_events(),
            "moreInfoModule": self._more_info(),
        }

    def _outcome_measure(self, m: dict, og: list[dict]) -> dict:
        rng = self.rng
        ep = self.world["endpoints"][m["endpoint"]]
        load = ep["loading"]
        nd = ep["decimals"]
        frac_time = m["weeks"] / self.max_weeks
        ns = []
        for k, a in enumerate(self.arms):
            n = self.arm_n[k]
            if m["kind"] == "continuous" or self.style["resp_param"] == "COUNT" or rng.random() < 0.3:
                n = n - int(round(n * self.dropout[k] * frac_time)) - rng.randrange(0, 3)
            ns.append(max(2, n))
        # noise correlated across the endpoints of an arm at one time point: corr = load_i * load_j
        zs = self._z_shared.setdefault(m["weeks"], [rng.gauss(0.0, 1.0) for _ in self.arms])
        meas, stats = [], []
        for k, a in enumerate(self.arms):
            eps = load * zs[k] + math.sqrt(1.0 - load * load) * rng.gauss(0.0, 1.0)
            n = ns[k]
            true = a["true"][m["key"]]
            gid = og[k]["id"]
            if m["kind"] == "continuous":
                sd = ep["sd"] * rng.uniform(0.9, 1.1)
                se = sd / math.sqrt(n)
                value = _fmt(true + se * eps, nd)
                v = float(value)
                if m["disp"] == "Standard Deviation":
                    spread = _fmt(sd, nd + 1)
                    meas.append({"groupId": gid, "value": value, "spread": spread})
                    se_post = float(spread) / math.sqrt(n)
                elif m["disp"] == "Standard Error":
                    spread = _fmt(max(se, 10 ** -(nd + 1)), nd + 1)
                    meas.append({"groupId": gid, "value": value, "spread": spread})
                    se_post = float(spread)
                else:
                    lo, hi = _fmt(v - Z95 * se, nd + 1), _fmt(v + Z95 * se, nd + 1)
                    meas.append({"groupId": gid, "value": value, "lowerLimit": lo, "upperLimit": hi})
                    se_post = (float(hi) - float(lo)) / (2 * Z95)
                stats.append((v, se_post, n))
            else:
                p = true / 100.0
                x = int(round(n * p + math.sqrt(n * p * (1 - p)) * eps))
                x = min(n, max(0, x))
                if m["param"] == "COUNT_OF_PARTICIPANTS":
                    meas.append({"groupId": gid, "value": str(x)})
                elif m["disp"] == "95% Confidence Interval":
                    ph = x / n
                    half = Z95 * math.sqrt(ph * (1 - ph) / n)
                    meas.append({"groupId": gid, "value": _fmt(100 * ph, 1), "lowerLimit": _fmt(max(0.0, 100 * (ph - half)), 1),
                                 "upperLimit": _fmt(min(100.0, 100 * (ph + half)), 1)})
                else:
                    meas.append({"groupId": gid, "value": _fmt(100 * x / n, 1)})
                stats.append((x, None, n))
        out = {"type": m["type"], "title": m["title"], "description": m["description"],
               "populationDescription": rng.choice([
                   "Full analysis set: all randomized participants who received at least one dose of study drug.",
                   "Intent-to-treat (ITT) population; participants with an assessment at the time point were analysed.",
                   "Modified intent-to-treat population. Missing data were handled by multiple imputation." if m["kind"] == "continuous"
                   else "Full analysis set; participants with missing data were counted as non-responders."]),
               "reportingStatus": "POSTED", "paramType": m["param"]}
        if m["disp"]:
            out["dispersionType"] = m["disp"]
        out["unitOfMeasure"] = m["unit"]
        out["timeFrame"] = m["time_frame"]
        out["groups"] = og
        out["denoms"] = [{"units": "Participants", "counts": [{"groupId": og[k]["id"], "value": str(n)} for k, n in enumerate(ns)]}]
        out["classes"] = [{"categories": [{"measurements": meas}]}]
        if m["type"] == "PRIMARY" or rng.random() < 0.8:
            out["analyses"] = self._analyses(m, og, stats)
        return out

    def _analyses(self, m: dict, og: list[dict], stats: list[tuple]) -> list[dict]:
        rng = self.rng
        c = self.control
        ctrl_name = "placebo" if self.arms[c]["role"] == "placebo" else self.arms[c]["drug"]["name"]
        nd = self.world["endpoints"][m["endpoint"]]["decimals"] + 1
        out = []
        method_roll = rng.random()
        for k in range(len(self.arms)):
            if k == c:
                continue
            an: dict[str, Any] = {"groupIds": [og[c]["id"], og[k]["id"]]}
            if m["kind"] == "continuous":
                (vc, sec, _), (va, sea, _) = stats[c], stats[k]
                est = va - vc
                se = math.sqrt(sea * sea + sec * sec)
                z = est / se if se > 0 else 0.0
                if m["param"] == "LEAST_SQUARES_MEAN":
                    method = "ANCOVA" if method_roll < 0.6 else "Mixed Models Analysis"
                    ptype = "LS Mean Difference" if method_roll < 0.8 else "Difference"
                    desc = (f"{'ANCOVA' if method == 'ANCOVA' else 'Mixed model for repeated measures (MMRM)'} with treatment and region as "
                            f"factors and baseline value as covariate; difference = {self.arms[k]['label']} minus {ctrl_name}.")
                else:
                    method = "t-test, 2 sided" if method_roll < 0.6 else "ANCOVA"
                    ptype = "Mean Difference (Final Values)" if method_roll < 0.8 else "Mean Difference (Net)"
                    desc = f"Comparison of {self.arms[k]['label']} with {ctrl_name}."
                lo, hi = est - Z95 * se, est + Z95 * se
                an.update({"groupDescription": desc, "nonInferiorityType": rng.choice(["SUPERIORITY", "OTHER"]),
                           "pValue": _fmt_p(_p_two_sided(z), self.style["p"]), "statisticalMethod": method, "paramType": ptype,
                           "paramValue": _fmt(est, nd), "ciPctValue": "95", "ciNumSides": "TWO_SIDED",
                           "ciLowerLimit": _fmt(lo, nd), "ciUpperLimit": _fmt(hi, nd)})
                if rng.random() < 0.3:
                    an["dispersionType"] = "STANDARD_ERROR_OF_MEAN"
                    an["dispersionValue"] = _fmt(se, nd)
                if rng.random() < 0.2:
                    an["estimateComment"] = f"Difference = {self.arms[k]['label']} minus {ctrl_name}."
            else:
                (xc, _, nc), (xa, _, na) = stats[c], stats[k]
                if method_roll < 0.5:
                    pa, pc = xa / na, xc / nc
                    pa_s, pc_s = (xa + 0.5) / (na + 1), (xc + 0.5) / (nc + 1)  # continuity for the SE only
                    est = 100 * (pa - pc)
                    se = 100 * math.sqrt(pa_s * (1 - pa_s) / na + pc_s * (1 - pc_s) / nc)
                    z = est / se
                    method = "Cochran-Mantel-Haenszel" if method_roll < 0.35 else "Chi-squared"
                    an.update({"groupDescription": f"Risk difference ({self.arms[k]['label']} minus {ctrl_name}) in percentage points, "
                                                   f"stratified by region.",
                               "nonInferiorityType": rng.choice(["SUPERIORITY", "OTHER"]),
                               "pValue": _fmt_p(_p_two_sided(z), self.style["p"]), "statisticalMethod": method,
                               "paramType": "Risk Difference (RD)", "paramValue": _fmt(est, 2), "ciPctValue": "95",
                               "ciNumSides": "TWO_SIDED", "ciLowerLimit": _fmt(est - Z95 * se, 2),
                               "ciUpperLimit": _fmt(est + Z95 * se, 2)})
                else:
                    a_, b_, c_, d_ = xa, na - xa, xc, nc - xc
                    if min(a_, b_, c_, d_) == 0:
                        a_, b_, c_, d_ = a_ + 0.5, b_ + 0.5, c_ + 0.5, d_ + 0.5
                    log_or = math.log(a_ * d_ / (b_ * c_))
                    se = math.sqrt(1 / a_ + 1 / b_ + 1 / c_ + 1 / d_)
                    z = log_or / se
                    an.update({"groupDescription": f"Odds ratio ({self.arms[k]['label']} / {ctrl_name}) from a logistic regression "
                                                   f"model with treatment as factor.",
                               "nonInferiorityType": rng.choice(["SUPERIORITY", "OTHER"]),
                               "pValue": _fmt_p(_p_two_sided(z), self.style["p"]), "statisticalMethod": "Regression, Logistic",
                               "paramType": "Odds Ratio (OR)", "paramValue": _fmt(math.exp(log_or), 3), "ciPctValue": "95",
                               "ciNumSides": "TWO_SIDED", "ciLowerLimit": _fmt(math.exp(log_or - Z95 * se), 3),
                               "ciUpperLimit": _fmt(math.exp(log_or + Z95 * se), 3)})
            out.append(an)
        return out

    def _flow(self) -> dict:
        rng = self.rng
        fg = self._groups("FG")
        started, completed, not_completed, reasons = [], [], [], []
        drops = []
        for k, a in enumerate(self.arms):
            n = self.arm_n[k]
            d = int(round(n * self.dropout[k]))
            drops.append(d)
            started.append({"groupId": fg[k]["id"], "numSubjects": str(n)})
            completed.append({"groupId": fg[k]["id"], "numSubjects": str(n - d)})
            not_completed.append({"groupId": fg[k]["id"], "numSubjects": str(d)})
        w = [rng.uniform(0.2, 1.0) for _ in DROP_REASONS]
        per_arm = [_apportion(d, w) for d in drops]
        for j, reason in enumerate(DROP_REASONS):
            if sum(p[j] for p in per_arm) == 0:
                continue
            reasons.append({"type": reason, "reasons": [{"groupId": fg[k]["id"], "numSubjects": str(per_arm[k][j])}
                                                        for k in range(len(self.arms))]})
        s, e = self.dates["start"], self.dates["primary"]
        n_sites = sum(self.geo["sites"])
        screened = int(self.enrollment * rng.uniform(1.15, 1.8))
        ratio = ":".join(_num(r) for r in self.ratio)
        period: dict[str, Any] = {"title": "Overall Study", "milestones": [
            {"type": "STARTED", "achievements": started}, {"type": "COMPLETED", "achievements": completed},
            {"type": "NOT COMPLETED", "achievements": not_completed}]}
        if reasons:
            period["dropWithdraws"] = reasons
        return {
            "preAssignmentDetails": f"A total of {screened} participants were screened, of whom {self.enrollment} were randomized in a "
                                    f"{ratio} ratio to {len(self.arms)} treatment groups.",
            "recruitmentDetails": f"The study was conducted at {n_sites} sites in {len(self.geo['countries'])} "
                                  f"{'country' if len(self.geo['countries']) == 1 else 'countries'} between "
                                  f"{MONTHS[s.month - 1]} {s.year} and {MONTHS[e.month - 1]} {e.year}.",
            "groups": fg,
            "periods": [period],
        }

    def _baseline(self) -> dict:
        rng = self.rng
        bg = self._groups("BG")
        total_id = f"BG{len(self.arms):03d}"
        bg.append({"id": total_id, "title": "Total", "description": "Total of all reporting groups"})
        ns = list(self.arm_n)
        ns_all = ns + [sum(ns)]
        ids = [g["id"] for g in bg]
        denoms = [{"units": "Participants", "counts": [{"groupId": i, "value": str(n)} for i, n in zip(ids, ns_all)]}]

        def counts_measure(title: str, cats: list[str], shares: list[float]) -> dict:
            per = [_apportion(n, [max(1e-6, s * rng.uniform(0.85, 1.15)) for s in shares]) for n in ns]
            tot = [sum(p[j] for p in per) for j in range(len(cats))]
            per.append(tot)
            return {"title": title, "paramType": "COUNT_OF_PARTICIPANTS", "unitOfMeasure": "Participants",
                    "classes": [{"denoms": denoms, "categories": [
                        {"title": cat, "measurements": [{"groupId": ids[g], "value": str(per[g][j])} for g in range(len(ids))]}
                        for j, cat in enumerate(cats)]}]}

        def mean_measure(title: str, unit: str, mu: float, sd: float, nd: int, description: Optional[str] = None) -> dict:
            vals = []
            for n in ns:
                vals.append((mu + rng.gauss(0, sd / math.sqrt(max(n, 1))), sd * rng.uniform(0.9, 1.1)))
            tw = sum(ns)
            tm = sum(v[0] * n for v, n in zip(vals, ns)) / tw
            ts = math.sqrt(sum((v[1] ** 2 + (v[0] - tm) ** 2) * n for v, n in zip(vals, ns)) / tw)
            vals.append((tm, ts))
            out = {"title": title}
            if description:
                out["description"] = description
            out.update({"paramType": "MEAN", "dispersionType": "STANDARD_DEVIATION", "unitOfMeasure": unit,
                        "classes": [{"denoms": denoms, "categories": [{"measurements": [
                            {"groupId": ids[g], "value": _fmt(v[0], nd), "spread": _fmt(v[1], nd + 1)} for g, v in enumerate(vals)]}]}]})
            return out

        age_mu, age_sd = {"pediatric": (12.5, 3.0), "older_adult": (71.5, 5.0)}.get(
            self.age_group, (CONDITION_AGE[self.condition], 11.0))
        measures = [mean_measure("Age, Continuous", "years", age_mu, age_sd, 1)]
        phi = 0.5 * math.erfc(-((65 - age_mu) / age_sd) / math.sqrt(2))
        if self.age_group == "pediatric":
            shares = [1.0, 0.0, 0.0]
        else:
            shares = [0.0, phi, 1 - phi] if self.age_group == "adult" else [0.0, 0.02, 0.98]
        measures.append(counts_measure("Age, Categorical", ["<=18 years", "Between 18 and 65 years", ">=65 years"], shares))
        measures.append(counts_measure("Sex: Female, Male", ["Female", "Male"], [self.female_share, 1 - self.female_share]))
        rw = self.geo["region_weights"]
        if "United States" in self.geo["countries"]:
            hisp = 0.15 * rw.get("North America", 0) + 0.9 * rw.get("Latin America", 0) + 0.01
            measures.append(counts_measure("Ethnicity (NIH/OMB)", ["Hispanic or Latino", "Not Hispanic or Latino", "Unknown or Not Reported"],
                                           [hisp, 1 - hisp, 0.02]))
        asian = rw.get("Asia", 0) + 0.03
        black = 0.12 * rw.get("North America", 0) + 0.75 * rw.get("Africa", 0) + 0.02
        white = max(0.02, 1 - asian - black - 0.04)
        if "United States" in self.geo["countries"]:
            measures.append(counts_measure("Race (NIH/OMB)", ["American Indian or Alaska Native", "Asian", "Native Hawaiian or Other Pacific Islander",
                                                              "Black or African American", "White", "More than one race", "Unknown or Not Reported"],
                                           [0.004, asian, 0.003, black, white, 0.01, 0.02]))
        else:
            measures.append(counts_measure("Race/Ethnicity, Customized", ["Asian", "Black", "White", "Other"],
                                           [asian, black, white, 0.03]))
        # region of enrollment: one class per country
        classes = []
        per_group = [_apportion(n, self.geo["per_country"]) for n in ns]
        for j, c in enumerate(self.geo["countries"]):
            vals = [p[j] for p in per_group]
            vals.append(sum(vals))
            classes.append({"title": c, "categories": [{"measurements": [
                {"groupId": ids[g], "value": str(v)} for g, v in enumerate(vals)]}]})
        measures.append({"title": "Region of Enrollment", "paramType": "NUMBER", "unitOfMeasure": "participants", "classes": classes})
        for e in self.endpoint_ids:
            ep = self.world["endpoints"][e]
            if ep["kind"] != "continuous":
                continue
            unit = BASELINE_UNIT.get(e, ep["unit"])
            measures.append(mean_measure(ep["name"], unit, ep["baseline_mean"], ep["baseline_sd"], max(1, ep["decimals"]),
                                         description=ep["description"].split(". ")[0].rstrip(".") + "."))
        return {"populationDescription": "All randomized participants.", "groups": bg, "denoms": denoms, "measures": measures}

    def _adverse_events(self) -> dict:
        rng = self.rng
        eg = self._groups("EG")
        with_events = rng.random() < 0.5
        terms_class: list[str] = []
        for a in self.arms:
            if a["drug"] is not None:
                for t in a["drug"]["ae_terms"]:
                    if t not in terms_class:
                        terms_class.append(t)
        generic = rng.sample(OTHER_EVENTS, rng.randint(2, 5))
        other_terms = terms_class + [t for t, _ in generic if t not in terms_class]
        serious_terms = [t for t, _ in rng.sample(SERIOUS_EVENTS, rng.randint(1, 4))]
        duration_factor = min(1.5, 0.5 + self.max_weeks / 52)

        def n_affected(n: int, rate: float) -> int:
            mu = n * rate
            return min(n, max(0, int(round(mu + math.sqrt(mu * (1 - rate)) * rng.gauss(0, 1)))))

        def stats(term_rate) -> list[dict]:
            out = []
            for k, a in enumerate(self.arms):
                n = self.arm_n[k]
                x = n_affected(n, term_rate(a))
                st = {"groupId": eg[k]["id"]}
                if with_events:
                    st["numEvents"] = x + (rng.randrange(0, 1 + x // 3) if x else 0)
                st["numAffected"] = x
                st["numAtRisk"] = n
                out.append(st)
            return out

        def class_rate(term: str):
            def f(a):
                drug = a["drug"]
                if drug is not None and term in drug["ae_terms"]:
                    frac = a["dose"] / (a["dose"] + drug["typical_dose"])
                    return min(0.6, (0.03 + 0.12 * frac) * duration_factor)
                return 0.025 * duration_factor
            return f

        serious, other = [], []
        vocab = rng.choice(["MedDRA (18.0)", "MedDRA (21.1)", "MedDRA (24.0)", "MedDRA (26.0)"])
        for t in serious_terms:
            rate = rng.uniform(0.002, 0.012)
            serious.append({"term": t, "organSystem": ORGAN_OF[t], "sourceVocabulary": vocab, "assessmentType": "SYSTEMATIC_ASSESSMENT",
                            "stats": stats(lambda a, r=rate: r)})
        for t in other_terms:
            if t in terms_class:
                f = class_rate(t)
            else:
                rate = rng.uniform(0.02, 0.09) * duration_factor
                f = (lambda a, r=rate: r)
            other.append({"term": t, "organSystem": ORGAN_OF.get(t, "General disorders"), "sourceVocabulary": vocab,
                          "assessmentType": "SYSTEMATIC_ASSESSMENT", "stats": stats(f)})
        for k, g in enumerate(eg):
            n = self.arm_n[k]
            s_aff = min(n, sum(ev["stats"][k]["numAffected"] for ev in serious))
            o_aff = min(n, int(max((ev["stats"][k]["numAffected"] for ev in other), default=0) * rng.uniform(1.2, 2.0)))
            g.update({"deathsNumAffected": n_affected(n, 0.002) if self.condition in ("hf", "nsclc", "copd") else 0,
                      "deathsNumAtRisk": n, "seriousNumAffected": s_aff, "seriousNumAtRisk": n,
                      "otherNumAffected": o_aff, "otherNumAtRisk": n})
        return {"frequencyThreshold": "5",
                "timeFrame": f"From first dose of study drug up to Week {self.max_weeks + 4} (end of safety follow-up)",
                "description": "Treatment-emergent adverse events are presented for the safety population (all participants who received at "
                               "least one dose of study drug), analysed according to the treatment actually received.",
                "eventGroups": eg, "seriousEvents": serious, "otherEvents": other}

    def _more_info(self) -> dict:
        rng = self.rng
        sponsor = self.sponsor_name
        restriction = rng.choice(["LTE60", "GT60", "OTHER"])
        agreement: dict[str, Any] = {"piSponsorEmployee": False, "restrictionType": restriction, "restrictiveAgreement": True}
        if restriction == "OTHER":
            agreement["otherDetails"] = ("The investigator may publish results from the investigator's site after the multi-center "
                                         "publication, or 12 months after study completion, subject to prior review by the sponsor.")
        domain = "".join(ch for ch in sponsor.lower().split()[0] if ch.isalpha())
        return {"certainAgreement": agreement,
                "pointOfContact": {"title": rng.choice(["Clinical Trial Disclosure", "Study Director", "Medical Information"]),
                                   "organization": sponsor, "email": f"clinicaltrials@{domain}.example.com",
                                   "phone": f"+1 555-{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}"}}

    # ------------------------------------------------------------------ protocol
    def _population_phrase(self) -> str:
        base = {"pediatric": self.rng.choice(["Children and Adolescents", "Pediatric Participants"]),
                "older_adult": self.rng.choice(["Older Adults", "Participants Aged 65 Years and Older"]),
                "adult": self.rng.choice(["Adults", "Adult Participants", "Participants"])}[self.age_group]
        if self.sex == "FEMALE":
            return "Women" if self.age_group == "adult" else f"Female {base}"
        if self.sex == "MALE":
            return "Men" if self.age_group == "adult" else f"Male {base}"
        return base

    def build_protocol(self) -> dict:
        rng = self.rng
        test, cond = self.test, self.cond
        dates = self.dates
        pop = self._population_phrase()
        cond_name = cond["name"]
        sev = cond["severity"]
        if self.academic:
            sponsor, site = ACADEMIC_SPONSORS[rng.randrange(len(ACADEMIC_SPONSORS))]
            sponsor_class = "OTHER"
            org_id = f"{dates['start'].year}-{rng.randrange(1, 999):04d}"
        else:
            sponsor, sponsor_class = test["sponsor"], "INDUSTRY"
            site = sponsor
            org_id = f"{test['code']}-{self.condition.upper()}-{rng.randrange(100, 999)}"
        self.sponsor_name = sponsor
        comp = self.comparator
        control_words = {"placebo": "Placebo-Controlled", "dose_ranging": "Placebo-Controlled, Dose-Ranging",
                         "active": "Active-Controlled", "multi": "Placebo- and Active-Controlled"}[self.design]
        masked = self.design != "active" or rng.random() < 0.5
        masking = rng.choice(["DOUBLE", "TRIPLE", "QUADRUPLE"]) if masked else "NONE"
        mask_words = {"NONE": "Open-Label", "DOUBLE": "Double-Blind", "TRIPLE": "Double-Blind", "QUADRUPLE": "Double-Blind"}[masking]
        phase_words = "/".join(p.replace("PHASE", "") for p in self.phases)
        multicenter = "Multicenter " if sum(self.geo["sites"]) > 1 else ""
        official = (f"A Phase {phase_words}, Randomized, {mask_words}, {control_words}, {multicenter}Study to Evaluate the Efficacy and "
                    f"Safety of {test['name']} in {pop} With {sev[0].upper() + sev[1:]} {cond_name}")
        if self.design == "active":
            official = (f"A Phase {phase_words}, Randomized, {mask_words}, {multicenter}Study Comparing {test['name']} With "
                        f"{comp['name']} in {pop} With {cond_name}")
        brief = rng.choice([
            f"A Study of {test['name']} in {pop} With {cond_name}",
            f"Efficacy and Safety of {test['name']} ({test['code']}) in {cond_name}",
            f"{test['name']} in {pop} With {sev[0].upper() + sev[1:]} {cond_name}",
        ])
        if self.design == "active":
            brief = f"{test['name']} Versus {comp['name']} in {pop} With {cond_name}"
        elif self.design == "dose_ranging" and rng.random() < 0.5:
            brief = f"Dose-Ranging Study of {test['name']} in {pop} With {cond_name}"
        ident: dict[str, Any] = {"nctId": self.nct, "orgStudyIdInfo": {"id": org_id},
                                 "organization": {"fullName": sponsor, "class": sponsor_class},
                                 "briefTitle": brief, "officialTitle": official}
        if rng.random() < 0.25:
            ident["acronym"] = f"{test['name'][:4].upper()}-{cond['aliases'][-1].split()[0][:3].upper()}{rng.randint(1, 4)}"

        primary_m = self.measures[0]
        control_txt = {"placebo": "placebo", "dose_ranging": "placebo", "active": comp["name"] if comp else "",
                       "multi": f"placebo and {comp['name']}" if comp else "placebo"}[self.design]
        summary = (f"{test['name']} is an investigational {test['mechanism']}. The purpose of this study is to evaluate the efficacy "
                   f"and safety of {test['name']} compared with {control_txt} in {pop.lower()} with {sev} {cond_name.lower()}")
        if self.design == "dose_ranging":
            summary += f", and to characterize the dose-response relationship across {sum(1 for a in self.arms if a['role'] == 'experimental')} dose levels"
        summary += f". The primary endpoint is {primary_m['title'][0].lower() + primary_m['title'][1:]}."
        desc: dict[str, Any] = {"briefSummary": summary}
        if rng.random() < 0.5:
            ratio = ":".join(_num(r) for r in self.ratio)
            desc["detailedDescription"] = (
                f"This is a {mask_words.lower()}, randomized, {control_words.lower()} study. Approximately {self.enrollment} participants "
                f"will be randomized in a {ratio} ratio to {len(self.arms)} treatment groups. Randomization is stratified by region and "
                f"by baseline disease severity. The study consists of a screening period of up to 4 weeks, a {self.max_weeks}-week "
                f"treatment period and a 4-week safety follow-up period. Efficacy is assessed at Weeks "
                f"{', '.join(str(w) for w in self.weeks)}.")
        status = self._status_module()
        n_sites = sum(self.geo["sites"])
        design: dict[str, Any] = {"studyType": "INTERVENTIONAL", "phases": list(self.phases), "designInfo": {
            "allocation": "RANDOMIZED", "interventionModel": "PARALLEL", "primaryPurpose": "TREATMENT",
            "maskingInfo": {"masking": masking}}}
        if masking != "NONE":
            design["designInfo"]["maskingInfo"]["whoMasked"] = {
                "DOUBLE": ["PARTICIPANT", "INVESTIGATOR"], "TRIPLE": ["PARTICIPANT", "INVESTIGATOR", "OUTCOMES_ASSESSOR"],
                "QUADRUPLE": ["PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR"]}[masking]
        actual = self.status in ("COMPLETED", "TERMINATED", "ACTIVE_NOT_RECRUITING", "UNKNOWN")
        design["enrollmentInfo"] = {"count": self.enrollment, "type": "ACTUAL" if actual else "ESTIMATED"}
        sponsor_mod: dict[str, Any] = {"responsibleParty": {"type": "SPONSOR"}, "leadSponsor": {"name": sponsor, "class": sponsor_class}}
        if self.academic:
            pi = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            sponsor_mod["responsibleParty"] = {"type": "PRINCIPAL_INVESTIGATOR", "investigatorFullName": pi,
                                               "investigatorTitle": "Professor of Medicine", "investigatorAffiliation": sponsor}
            sponsor_mod["collaborators"] = [{"name": test["sponsor"], "class": "INDUSTRY"}]
        elif rng.random() < 0.15:
            other = INDUSTRY_SPONSORS[rng.randrange(len(INDUSTRY_SPONSORS))][0]
            if other != sponsor:
                sponsor_mod["collaborators"] = [{"name": other, "class": "INDUSTRY"}]
        oversight: dict[str, Any] = {"oversightHasDmc": self.phases[-1] in ("PHASE3",) or rng.random() < 0.3}
        if dates["start"].year >= 2017:
            oversight["isFdaRegulatedDrug"] = "United States" in self.geo["countries"]
            oversight["isFdaRegulatedDevice"] = False
        conditions = [cond["aliases"][rng.randrange(len(cond["aliases"]))]]
        if rng.random() < 0.3:
            alt = cond["aliases"][rng.randrange(len(cond["aliases"]))]
            if alt not in conditions:
                conditions.append(alt)
        keywords = [test["name"], test["mechanism_class"]] + cond["keywords"][: rng.randint(1, 3)]
        primary = [{"measure": m["title"], "description": m["description"], "timeFrame": m["time_frame"]}
                   for m in self.measures if m["type"] == "PRIMARY"]
        secondary = [{"measure": m["title"], "description": m["description"], "timeFrame": m["time_frame"]}
                     for m in self.measures if m["type"] == "SECONDARY"]
        outcomes: dict[str, Any] = {"primaryOutcomes": primary}
        if secondary:
            outcomes["secondaryOutcomes"] = secondary
        self._conditions_text = conditions
        return {
            "identificationModule": ident,
            "statusModule": status,
            "sponsorCollaboratorsModule": sponsor_mod,
            "oversightModule": oversight,
            "descriptionModule": desc,
            "conditionsModule": {"conditions": conditions, "keywords": keywords},
            "designModule": design,
            "armsInterventionsModule": {
                "armGroups": [{"label": a["label"], "type": a["arm_type"], "description": a["description"],
                               "interventionNames": a["interventions"]} for a in self.arms],
                "interventions": self.interventions},
            "outcomesModule": outcomes,
            "eligibilityModule": self._eligibility(),
            "contactsLocationsModule": self._locations(site, n_sites),
        }

    def _status_module(self) -> dict:
        rng = self.rng
        d = self.dates
        ref = REGISTRY_DATE
        fmt = _d if d["full_dates"] else _ym
        started = self.status not in ("NOT_YET_RECRUITING",)
        done = self.status in ("COMPLETED", "TERMINATED", "UNKNOWN")
        out: dict[str, Any] = {}
        first_qc = d["first_submit"] + timedelta(days=rng.randint(0, 10))
        first_post = first_qc + timedelta(days=rng.randint(1, 5))
        last_update = first_post
        results: dict[str, Any] = {}
        if self.has_results:
            rs = d["results_submit"]
            rqc = rs + timedelta(days=rng.randint(10, 110))
            rpost = rqc + timedelta(days=rng.randint(1, 20))
            results = {"resultsFirstSubmitDate": _d(rs), "resultsFirstSubmitQcDate": _d(rqc),
                       "resultsFirstPostDateStruct": {"date": _d(rpost), "type": "ACTUAL"}}
            last_update = rpost
        elif done:
            last_update = min(ref, d["completion"] + timedelta(days=rng.randint(10, 200)))
        else:
            last_update = max(first_post, ref - timedelta(days=rng.randint(5, 120)))
        last_update = max(first_post, min(last_update, ref))
        out["statusVerifiedDate"] = _ym(last_update)
        out["overallStatus"] = self.status
        if self.status == "UNKNOWN":
            out["lastKnownStatus"] = "ACTIVE_NOT_RECRUITING"
        if self.status == "TERMINATED":
            out["whyStopped"] = rng.choice(["Sponsor decision", "Slow recruitment", "Business reasons unrelated to safety",
                                            "Futility at the pre-specified interim analysis"])
        out["expandedAccessInfo"] = {"hasExpandedAccess": False}
        out["startDateStruct"] = {"date": fmt(d["start"]), "type": "ACTUAL" if started else "ESTIMATED"}
        out["primaryCompletionDateStruct"] = {"date": fmt(d["primary"]), "type": "ACTUAL" if done else "ESTIMATED"}
        out["completionDateStruct"] = {"date": fmt(d["completion"]), "type": "ACTUAL" if done else "ESTIMATED"}
        out["studyFirstSubmitDate"] = _d(d["first_submit"])
        out["studyFirstSubmitQcDate"] = _d(first_qc)
        out["studyFirstPostDateStruct"] = {"date": _d(first_post), "type": "ESTIMATED" if first_post.year < 2017 else "ACTUAL"}
        out.update(results)
        out["lastUpdateSubmitDate"] = _d(last_update)
        out["lastUpdatePostDateStruct"] = {"date": _d(min(ref, last_update + timedelta(days=rng.randint(1, 4)))), "type": "ACTUAL"}
        return out

    def _eligibility(self) -> dict:
        rng = self.rng
        if self.age_group == "pediatric":
            lo, hi = rng.choice([6, 12]), 17
        elif self.age_group == "older_adult":
            lo, hi = 65, rng.choice([None, 85])
        else:
            lo, hi = 18, rng.choice([65, 75, 80, None])
        std = []
        if lo < 18:
            std.append("CHILD")
        if (hi is None or hi >= 18) and lo <= 64:
            std.append("ADULT")
        if hi is None or hi >= 65:
            std.append("OLDER_ADULT")
        sex_words = {"ALL": "Male or female participants", "FEMALE": "Female participants", "MALE": "Male participants"}[self.sex]
        age_words = f"aged {lo} to {hi} years" if hi else f"aged {lo} years or older"
        inc = [f"{sex_words} {age_words} at the time of signing informed consent"] + INCLUSION[self.condition]
        if self.age_group == "pediatric":
            inc.append("Parent or legal guardian able to provide written informed consent, with assent from the participant")
        else:
            inc.append("Able to understand and willing to sign the informed consent form")
        exc = [f"Previous treatment with any {self.test['mechanism_class']}"] + rng.sample(EXCLUSION_COMMON, rng.randint(5, 8))
        criteria = ("Inclusion Criteria:\n\n" + "\n".join(f"* {x}" for x in inc) +
                    "\n\nExclusion Criteria:\n\n" + "\n".join(f"* {x}" for x in exc))
        out: dict[str, Any] = {"eligibilityCriteria": criteria, "healthyVolunteers": False, "sex": self.sex,
                               "minimumAge": f"{lo} Years"}
        if hi:
            out["maximumAge"] = f"{hi} Years"
        out["stdAges"] = std
        return out

    def _locations(self, site: str, n_sites: int) -> dict:
        rng = self.rng
        recruiting = self.status in ("RECRUITING", "NOT_YET_RECRUITING")
        official = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}, MD"
        out: dict[str, Any] = {}
        if recruiting:
            out["centralContacts"] = [{"name": rng.choice(["Clinical Trials Information Desk", "Study Contact", official]),
                                       "role": "CONTACT", "phone": f"555-{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}",
                                       "email": "trials@example.com"}]
        out["overallOfficials"] = [{"name": official, "affiliation": site,
                                    "role": "PRINCIPAL_INVESTIGATOR" if self.academic else "STUDY_DIRECTOR"}]
        locs = []
        short = site.split()[0]
        budget = 30
        for c, k in zip(self.geo["countries"], self.geo["sites"]):
            cities = COUNTRIES[c][2]
            for _ in range(min(k, budget)):
                city, state, zip_code, lat, lon = cities[rng.randrange(len(cities))]
                fac = FACILITY_STYLES[rng.randrange(len(FACILITY_STYLES))].format(city=city, sponsor_short=short)
                loc: dict[str, Any] = {"facility": fac}
                if recruiting:
                    loc["status"] = "RECRUITING" if self.status == "RECRUITING" else "NOT_YET_RECRUITING"
                loc["city"] = city
                if state:
                    loc["state"] = state
                loc["zip"] = zip_code
                loc["country"] = c
                loc["geoPoint"] = {"lat": lat, "lon": lon}
                locs.append(loc)
            budget -= min(k, budget)
        out["locations"] = locs
        return out

    def build_derived(self) -> dict:
        cond = self.cond
        mesh_id, mesh_term = cond["mesh"]
        leaves = [{"id": f"M{int(mesh_id[1:]) % 29000 + 1000}", "name": mesh_term, "asFound": self._conditions_text[0], "relevance": "HIGH"}]
        leaves += [{"id": f"M{int(a[0][1:]) % 29000 + 1000}", "name": a[1], "relevance": "LOW"} for a in cond["ancestors"]]
        branches = [{"abbrev": b[0], "name": b[1]} for b in cond["branches"]] + [{"abbrev": "All", "name": "All Conditions"}]
        drug_leaves = []
        for a in self.arms:
            if a["drug"] is not None:
                name = a["drug"]["mechanism_class"]
                leaf = {"id": f"M{sum(map(ord, name)) % 29000 + 1000}", "name": name, "relevance": "LOW"}
                if leaf not in drug_leaves:
                    drug_leaves.append(leaf)
        return {"miscInfoModule": {"versionHolder": _d(REGISTRY_DATE - timedelta(days=3))},
                "conditionBrowseModule": {"meshes": [{"id": mesh_id, "term": mesh_term}],
                                          "ancestors": [{"id": a[0], "term": a[1]} for a in cond["ancestors"]],
                                          "browseLeaves": leaves, "browseBranches": branches},
                "interventionBrowseModule": {"browseLeaves": drug_leaves,
                                             "browseBranches": [{"abbrev": "All", "name": "All Drugs and Chemicals"}]}}

    # ------------------------------------------------------------------ all
    def build(self) -> tuple[dict, dict]:
        self.plan()
        self.build_arms()
        self.build_outcomes()
        protocol = self.build_protocol()
        record: dict[str, Any] = {"protocolSection": protocol}
        if self.has_results:
            self._z_shared: dict[float, list[float]] = {}
            record["resultsSection"] = self.build_results()
        record["derivedSection"] = self.build_derived()
        record["hasResults"] = self.has_results
        return record, self.truth


# --------------------------------------------------------------------------- public API


def make_study(world: dict, seed: int, index: int) -> tuple[dict, dict]:
    """Study ``index`` of the registry with ``seed``: (API v2 record, its truth). Independent of registry size."""
    return _Study(world, seed, index).build()


def iter_studies(world: dict, n_studies: int, seed: int, truth_sink: Optional[dict] = None) -> Iterator[dict]:
    """Yield ``n_studies`` API v2 study records, one at a time (streaming, deterministic).

    Study ``i`` depends only on (world, seed, i), so a registry of 300 is a prefix of one of 600.
    When ``truth_sink`` is a dict, each study's truth is stored in it under its NCT id.
    """
    if n_studies < 0:
        raise ValueError(f"n_studies must be >= 0, got {n_studies}")
    for i in range(n_studies):
        record, truth = make_study(world, seed, i)
        if truth_sink is not None:
            truth_sink[record["protocolSection"]["identificationModule"]["nctId"]] = truth
        yield record


def truth_document(world: dict, truth_sink: dict) -> dict:
    """The content of data/raw/truth.json: the world and every study's ground truth."""
    return {
        "format_version": FORMAT_VERSION,
        "registry_date": REGISTRY_DATE.isoformat(),
        "key_format": "studies[nct_id].arms[arm_label].outcomes[outcome_measure_title + ' | ' + time_frame] = true mean "
                      "(mean change for continuous endpoints, percent responders for responder endpoints)",
        "world": world,
        "studies": truth_sink,
    }


def ground_truth(world: dict, truth_sink: dict) -> dict:
    """Alias of ``truth_document``."""
    return truth_document(world, truth_sink)


def simulate_to_files(n_studies: int, seed: int, studies_path: str | Path, truth_path: str | Path) -> dict:
    """Write ``n_studies`` simulated records (JSON Lines, gzipped if .gz) and truth.json. Returns counts."""
    from tqdm import tqdm

    from deepimagine.io import write_json, write_jsonl

    world = build_world(seed)
    sink: dict[str, dict] = {}
    counts = {"studies": 0, "with_results": 0, "dose_ranging": 0, "arms": 0, "outcome_measures": 0}

    def rows() -> Iterator[dict]:
        for rec in tqdm(iter_studies(world, n_studies, seed, sink), total=n_studies, desc="simulate", mininterval=2.0):
            counts["studies"] += 1
            counts["with_results"] += int(rec["hasResults"])
            yield rec

    write_jsonl(studies_path, rows())
    for t in sink.values():
        counts["dose_ranging"] += int(t["design"] == "dose_ranging")
        counts["arms"] += len(t["arms"])
        counts["outcome_measures"] += len(t["outcomes"])
    write_json(truth_path, truth_document(world, sink))
    log.info("simulated %d studies (%d with results) -> %s", counts["studies"], counts["with_results"], studies_path)
    return counts
