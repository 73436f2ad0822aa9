"""The pairs stage on the default simulated registry (params.yaml as shipped): every natural and
approximate kind is produced, nothing leaks across the split, and each approximate pair differs
from its anchor in the one attribute it names (checked on the question's own context)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepimagine.core import io
from deepimagine.core import params as params_mod
from deepimagine.pairs.approximate import APPROX_KINDS
from deepimagine.pairs.natural import KIND_ORDER

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_pairs(tmp_path_factory):
    from deepimagine.pairs import stage
    from deepimagine.registry.simulate import simulate_to_files
    from deepimagine.tables.build import build

    params = params_mod.load(ROOT / "params.yaml")
    params.pairs.ct_open_path = None
    tmp = tmp_path_factory.mktemp("default_pairs")
    simulate_to_files(params.data.n_studies, params.seed, tmp / "studies.jsonl.gz", tmp / "truth.json")
    build(tmp / "studies.jsonl.gz", tmp / "registry.duckdb", threads=2)
    report = stage.run(params, registry=tmp / "registry.duckdb", truth_path=tmp / "truth.json",
                       out_dir=tmp / "pairs", metrics_path=tmp / "pairs.json")
    rows = [*io.read_jsonl(tmp / "pairs/train.jsonl"), *io.read_jsonl(tmp / "pairs/test.jsonl")]
    return report, rows


def test_every_kind_is_produced_without_leakage(default_pairs):
    report, rows = default_pairs
    assert set(report["pairs"]["natural"]) == set(KIND_ORDER)
    assert set(report["pairs"]["approximate"]) == set(APPROX_KINDS)
    for source, kinds in report["pairs"].items():
        for kind, n in kinds.items():
            assert n > 0, f"no {source} pairs of kind {kind}"
    assert all(v == 0 for v in report["overlap"].values()), report["overlap"]
    by_kind = {r["kind"] for r in rows}
    assert set(KIND_ORDER) | set(APPROX_KINDS) <= by_kind


def _main_region(value: str) -> str:
    return value.split(" (regions:")[0]


def test_approximate_pairs_differ_in_the_named_attribute_only(default_pairs):
    _, rows = default_pairs
    checked = dict.fromkeys(APPROX_KINDS, 0)
    for r in rows:
        if r["source"] != "approximate":
            continue
        ctx = json.loads(r["context"])
        anchor, cf = ctx["trial"], ctx["counterfactual_trial"]
        kind = r["kind"]
        assert r["from_value"] != r["to_value"], r["id"]
        assert json.loads(r["meta"])["differs"] == kind
        # phase: equal unless it is the change
        assert (anchor["phase"] != cf["phase"]) == (kind == "phase"), r["id"]
        # dose (amount, unit, schedule): equal unless it is the change
        a_dose, t_dose = (tuple((d or {}).get(k) for k in ("value_mg", "value", "unit", "frequency"))
                          for d in (ctx["anchor"]["dose"], ctx["target"]["dose"]))
        assert (a_dose == t_dose) == (kind != "dose_cross"), (r["id"], a_dose, t_dose)
        if kind == "geography":
            assert _main_region(r["from_value"]) != _main_region(r["to_value"])
        if kind == "population":
            assert r["from_value"].split(" (")[0] != r["to_value"].split(" (")[0]
        checked[kind] += 1
    assert all(checked.values()), checked
