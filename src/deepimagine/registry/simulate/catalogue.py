"""The simulated registry's catalogue, as data: registry constants, places (regions, countries, cities),
medicine (conditions and their endpoints, mechanism classes), names, sponsors and adverse events.

Plain constants only (no randomness): ``world.build_world`` draws the world from them.
"""
from __future__ import annotations

from datetime import date
from typing import Any

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
