"""The simulated registry: determinism, v2 schema fidelity, size, designs, consistent statistics, truth."""
from __future__ import annotations

import glob
import json
import math
import re
from pathlib import Path

import pytest

from deepimagine.core.io import read_json, read_jsonl
from deepimagine.registry import simulate as sim

SHARED_V2 = Path(__file__).parents[1].parent / "shared" / "data" / "ctgov_v2"
SEED = 42
N = 200
Z95 = 1.959963984540054


@pytest.fixture(scope="module")
def world():
    return sim.build_world(SEED)


@pytest.fixture(scope="module")
def registry(world):
    truth: dict = {}
    records = list(sim.iter_studies(world, N, SEED, truth_sink=truth))
    return records, truth


def _nct(rec: dict) -> str:
    return rec["protocolSection"]["identificationModule"]["nctId"]


def _paths(obj, prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, f"{prefix}.{k}")
    elif isinstance(obj, list):
        for v in obj:
            yield from _paths(v, prefix + "[]")
    else:
        yield prefix, type(obj).__name__


# --------------------------------------------------------------------------- determinism


def test_deterministic_byte_identical_and_prefix(world, registry):
    records, truth = registry
    again_truth: dict = {}
    again = list(sim.iter_studies(sim.build_world(SEED), 60, SEED, truth_sink=again_truth))
    dump = lambda rs: [json.dumps(r, sort_keys=True, ensure_ascii=False) for r in rs]  # noqa: E731
    assert dump(again) == dump(records[:60])  # same seed -> same bytes; 60 is a prefix of 200
    assert json.dumps(again_truth, sort_keys=True) == json.dumps({_nct(r): truth[_nct(r)] for r in records[:60]}, sort_keys=True)
    other = list(sim.iter_studies(world, 5, SEED + 1))
    assert dump(other) != dump(records[:5])


def test_nct_ids_unique_and_never_real(registry):
    records, _ = registry
    ids = [_nct(r) for r in records]
    assert all(re.fullmatch(r"NCT9\d{7}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    many = {sim.nct_id(SEED, i) for i in range(20000)}
    assert len(many) == 20000


# --------------------------------------------------------------------------- schema


@pytest.mark.skipif(not SHARED_V2.is_dir(), reason="shared real v2 records absent")
def test_key_paths_mirror_real_records(registry):
    records, _ = registry
    real: set = set()
    for f in glob.glob(str(SHARED_V2 / "*.json")):
        d = json.loads(Path(f).read_text())
        if "protocolSection" in d:
            real |= set(_paths(d))
    simulated: set = set()
    for r in records:
        simulated |= set(_paths(r))
    invented = sorted(simulated - real)
    assert not invented, f"key paths (or value types) never seen in a real v2 record: {invented[:10]}"
    ref = set(_paths(json.loads((SHARED_V2 / "NCT02210780.json").read_text())))
    modules = {".".join(p.split(".")[:3]) for p, _ in simulated}
    ref_in_modules = {x for x in ref if ".".join(x[0].split(".")[:3]) in modules}
    covered = len(ref_in_modules & simulated) / len(ref_in_modules)
    assert covered >= 0.9, sorted(ref_in_modules - simulated)


def test_value_types_and_enums(registry):
    records, _ = registry
    date_re = re.compile(r"\d{4}-\d{2}(-\d{2})?$")
    for r in records:
        ps = r["protocolSection"]
        assert ps["designModule"]["phases"] and set(ps["designModule"]["phases"]) <= {"PHASE1", "PHASE2", "PHASE3", "PHASE4"}
        for a in ps["armsInterventionsModule"]["armGroups"]:
            assert a["type"] in {"EXPERIMENTAL", "PLACEBO_COMPARATOR", "ACTIVE_COMPARATOR"}
        sm = ps["statusModule"]
        for k in ("startDateStruct", "primaryCompletionDateStruct", "completionDateStruct"):
            assert date_re.match(sm[k]["date"]) and sm[k]["type"] in {"ACTUAL", "ESTIMATED"}
        assert ps["eligibilityModule"]["minimumAge"].endswith(" Years")
        if not r["hasResults"]:
            assert "resultsSection" not in r
            continue
        assert date_re.match(sm["resultsFirstPostDateStruct"]["date"])
        for m in r["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"]:
            assert m["paramType"] in {"MEAN", "LEAST_SQUARES_MEAN", "NUMBER", "COUNT_OF_PARTICIPANTS"}
            for c in m["denoms"][0]["counts"]:
                assert isinstance(c["value"], str) and int(c["value"]) > 0
            for meas in m["classes"][0]["categories"][0]["measurements"]:
                for k in ("value", "spread", "lowerLimit", "upperLimit"):
                    if k in meas:
                        assert isinstance(meas[k], str)
                        float(meas[k])
            for an in m.get("analyses", []):
                assert isinstance(an["pValue"], str) and isinstance(an["paramValue"], str)


def test_sizes_results_share_designs_and_dates(registry):
    records, truth = registry
    sizes = [len(json.dumps(r, ensure_ascii=False)) for r in records if r["hasResults"]]
    assert 0.6 <= len(sizes) / len(records) <= 0.9
    assert sum(sizes) / len(sizes) >= 20_000
    dose_ranging = sum(1 for t in truth.values() if t["design"] == "dose_ranging")
    assert dose_ranging / len(truth) >= 0.25
    assert {t["design"] for t in truth.values()} == {"dose_ranging", "placebo", "active", "multi"}
    years = [int(r["protocolSection"]["statusModule"]["startDateStruct"]["date"][:4]) for r in records]
    assert min(years) >= 2008 and max(years) <= 2026
    assert min(years) <= 2009 and max(years) >= 2025
    statuses = {r["protocolSection"]["statusModule"]["overallStatus"] for r in records}
    assert {"COMPLETED", "RECRUITING"} <= statuses
    enroll = [r["protocolSection"]["designModule"]["enrollmentInfo"]["count"] for r in records]
    assert min(enroll) >= 12 and max(enroll) <= 2000
    n_countries = [len({loc["country"] for loc in r["protocolSection"]["contactsLocationsModule"]["locations"]}) for r in records]
    assert max(n_countries) >= 8 and min(n_countries) == 1


# --------------------------------------------------------------------------- statistics


def _p_ok(p: float, posted: str) -> bool:
    if posted.startswith("<"):
        return p < float(posted[1:]) + 1e-12
    decimals = len(posted.split(".")[1]) if "." in posted else 0
    return abs(p - float(posted)) <= 0.5 * 10 ** -decimals + 1e-9


def test_p_values_follow_from_posted_group_values(registry):
    records, _ = registry
    checked = {"continuous": 0, "rd": 0, "or": 0}
    for r in records:
        if not r["hasResults"]:
            continue
        for m in r["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"]:
            n = {c["groupId"]: int(c["value"]) for c in m["denoms"][0]["counts"]}
            meas = {x["groupId"]: x for x in m["classes"][0]["categories"][0]["measurements"]}
            for an in m.get("analyses", []):
                gc, ga = an["groupIds"]
                if m["paramType"] in ("MEAN", "LEAST_SQUARES_MEAN"):
                    def se(g):
                        x = meas[g]
                        if m["dispersionType"] == "Standard Deviation":
                            return float(x["spread"]) / math.sqrt(n[g])
                        if m["dispersionType"] == "Standard Error":
                            return float(x["spread"])
                        return (float(x["upperLimit"]) - float(x["lowerLimit"])) / (2 * Z95)
                    est = float(meas[ga]["value"]) - float(meas[gc]["value"])
                    s = math.hypot(se(ga), se(gc))
                    p = math.erfc(abs(est / s) / math.sqrt(2))
                    assert abs(float(an["paramValue"]) - est) < 1e-6 + 10 ** -len(an["paramValue"].split(".")[-1])
                    checked["continuous"] += 1
                else:
                    def count(g):
                        v = float(meas[g]["value"])
                        return int(v) if m["paramType"] == "COUNT_OF_PARTICIPANTS" else round(v * n[g] / 100)
                    xa, xc, na, nc = count(ga), count(gc), n[ga], n[gc]
                    if an["paramType"] == "Odds Ratio (OR)":
                        a, b, c, d = xa, na - xa, xc, nc - xc
                        if min(a, b, c, d) == 0:
                            a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
                        z = math.log(a * d / (b * c)) / math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
                        checked["or"] += 1
                    else:
                        pa, pc = (xa + 0.5) / (na + 1), (xc + 0.5) / (nc + 1)
                        z = (xa / na - xc / nc) / math.sqrt(pa * (1 - pa) / na + pc * (1 - pc) / nc)
                        checked["rd"] += 1
                    p = math.erfc(abs(z) / math.sqrt(2))
                assert _p_ok(p, an["pValue"]), (_nct(r), m["title"], an["pValue"], p)
                assert float(an["ciLowerLimit"]) <= float(an["paramValue"]) <= float(an["ciUpperLimit"])
    assert min(checked.values()) > 20, checked


def test_posted_means_scatter_around_truth_with_standard_error(registry):
    records, truth = registry
    zs = []
    for r in records:
        if not r["hasResults"]:
            continue
        t = truth[_nct(r)]
        for m in r["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"]:
            if m["paramType"] not in ("MEAN", "LEAST_SQUARES_MEAN") or m["dispersionType"] != "Standard Deviation":
                continue
            key = f"{m['title']} | {m['timeFrame']}"
            n = {c["groupId"]: int(c["value"]) for c in m["denoms"][0]["counts"]}
            for g, x in zip(m["groups"], m["classes"][0]["categories"][0]["measurements"]):
                true = t["arms"][g["title"]]["outcomes"][key]
                zs.append((float(x["value"]) - true) / (float(x["spread"]) / math.sqrt(n[g["id"]])))
    assert len(zs) > 100
    mean = sum(zs) / len(zs)
    sd = math.sqrt(sum((z - mean) ** 2 for z in zs) / len(zs))
    assert abs(mean) < 0.25 and 0.75 < sd < 1.3, (mean, sd)


# --------------------------------------------------------------------------- truth


def test_truth_is_recomputable_and_dose_response_follows_emax(world, registry):
    records, truth = registry
    n_dr = 0
    for r in records:
        t = truth[_nct(r)]
        labels = [a["label"] for a in r["protocolSection"]["armsInterventionsModule"]["armGroups"]]
        assert sorted(labels) == sorted(t["arms"])
        for arm in t["arms"].values():
            for key, value in arm["outcomes"].items():
                o = t["outcomes"][key]
                assert isinstance(o["scale"], float) and o["scale"] > 0 and o["value_scale"] in ("mean_change", "percent")
                again = sim.true_mean(world, arm["drug"], arm["dose"] or 0.0, o["endpoint"], o["weeks"], t["region_weights"],
                                      t["population"]["age_group"], t["population"]["female_share"], t["placebo_factor"])
                assert abs(again - value) < 1e-3 * max(1.0, abs(value))
        if t["design"] != "dose_ranging":
            continue
        n_dr += 1
        test_arms = [a for a in t["arms"].values() if a["role"] == "experimental"]
        assert len({a["drug"] for a in test_arms}) == 1 and len(test_arms) >= 3
        test_arms.sort(key=lambda a: a["dose"])
        placebo = next(a for a in t["arms"].values() if a["role"] == "placebo")
        for key, o in t["outcomes"].items():
            sign = 1 if o["better"] == "higher" else -1
            seq = [sign * placebo["outcomes"][key]] + [sign * a["outcomes"][key] for a in test_arms]
            assert all(b > a for a, b in zip(seq, seq[1:])), (key, seq)  # strictly better with each higher dose
    assert n_dr >= 0.25 * len(records)


def test_mechanism_matches_reference_formula(world):
    drug = next(d for d in world["drugs"].values() if "t2d" in d["conditions"] and d["dose_unit"] == "mg")
    par = drug["emax"]["hba1c"]
    ep = world["endpoints"]["hba1c"]
    for region in ("North America", "Asia"):
        for dose in (0.0, drug["typical_dose"] / 2, drug["typical_dose"], drug["typical_dose"] * 4):
            reg = world["regions"][region]
            d_eff = dose * reg["exposure"]
            f = 1 - math.exp(-24 / drug["tau_weeks"])
            emax_term = par["emax"] * d_eff ** par["hill"] / (par["ed50"] ** par["hill"] + d_eff ** par["hill"]) if dose else 0.0
            expected = (par["e0"] * reg["placebo"] * world["sexes"]["MALE"]["placebo"] * (1 - math.exp(-24 / ep["tau_placebo_weeks"]))
                        + emax_term * reg["efficacy"] * world["sexes"]["MALE"]["efficacy"] * f)
            got = sim.true_mean(world, drug["id"], dose, "hba1c", 24, {region: 1.0}, "adult", 0.0)
            assert abs(got - expected) < 1e-9
    # Asia: higher exposure for fixed doses -> larger effect below the plateau
    half = drug["typical_dose"] / 2
    assert sim.true_mean(world, drug["id"], half, "hba1c", 24, {"Asia": 1.0}) < sim.true_mean(world, drug["id"], half, "hba1c", 24)


def test_world_contents(world):
    json.dumps(world)
    assert 8 <= len(world["conditions"]) <= 12 and 25 <= len(world["drugs"]) <= 45
    assert set(world["better_direction"].values()) == {"higher", "lower"}
    assert {d["dose_unit"] for d in world["drugs"].values()} >= {"mg", "mcg", "g", "mg/kg", "mg/m2", "cells/kg"}
    for d in world["drugs"].values():
        assert d["mechanism_class"] and d["conditions"]
        for c in d["conditions"]:
            for e in world["conditions"][c]["endpoints"]:
                assert {"e0", "emax", "ed50", "hill"} <= set(d["emax"][e])
    for c, corr in world["endpoint_correlations"].items():
        assert len(corr["matrix"]) == len(world["conditions"][c]["endpoints"])
    assert world["regions"]["Asia"]["placebo"] != world["regions"]["North America"]["placebo"]


def _dose_in_text(text: str, dose: float, unit: str) -> bool:
    if unit == "cells/kg":
        for m, e in re.findall(r"(\d+(?:\.\d+)?)\s*(?:x|×)\s*10\^(\d+)", text):
            if abs(float(m) * 10 ** int(e) - dose) < 1e-6 * dose:
                return True
        return any(abs(float(m) * 1e6 - dose) < 1e-6 * dose for m in re.findall(r"(\d+(?:\.\d+)?) million", text))
    targets = {dose, dose * 1000} if unit == "g" else {dose}
    return any(abs(float(x) - t) < 1e-9 for x in re.findall(r"\d+(?:\.\d+)?", text) for t in targets)


def test_doses_recoverable_from_arm_text(registry):
    records, truth = registry
    total = found = 0
    for r in records:
        t = truth[_nct(r)]
        for arm in r["protocolSection"]["armsInterventionsModule"]["armGroups"]:
            a = t["arms"][arm["label"]]
            if a["drug"] is None:
                continue
            total += 1
            found += _dose_in_text(arm["label"] + " " + arm.get("description", ""), a["dose"], a["dose_unit"])
    assert total > 300 and found / total >= 0.95, (found, total)


def test_simulate_to_files(tmp_path):
    studies, truth_path = tmp_path / "raw" / "studies.jsonl.gz", tmp_path / "raw" / "truth.json"
    counts = sim.simulate_to_files(12, 3, studies, truth_path)
    rows = list(read_jsonl(studies))
    assert counts["studies"] == len(rows) == 12 and counts["with_results"] == sum(r["hasResults"] for r in rows)
    doc = read_json(truth_path)
    assert set(doc["studies"]) == {_nct(r) for r in rows}
    assert doc["world"]["drugs"] and doc["key_format"]
    first = studies.read_bytes()
    sim.simulate_to_files(12, 3, studies, truth_path)
    assert studies.read_bytes() == first
