"""parse_dose against a hand-labelled set of real-style texts (tests/data/doses_labelled.jsonl).

Each line: text, kind (the failure kind it exercises, issue 12 point 13), placebo (the expected
is_placebo of every row), doses (value, value_upper, unit, basis, optional multiplier, and, when
checked, frequency and route; [] means "no dose").

tests/data/doses_holdout.jsonl has the same format: 124 further texts written after the parser was
fixed, to measure it on text it was not tuned to (first measurement: precision 0.993, recall 0.993).

A predicted numeric dose row is correct when its value, value_upper and unit (the unit carries the
per-kg / per-m2 basis, e.g. 'mg/kg') equal a labelled row's; precision is over predicted rows with a
value, recall over labelled rows. Run as a script to print the table:
``python tests/test_doses_labelled.py [--holdout] [-v]``.
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import pytest

from deepimagine.tables.doses import parse_dose

LABELLED = Path(__file__).parent / "data" / "doses_labelled.jsonl"
HOLDOUT = Path(__file__).parent / "data" / "doses_holdout.jsonl"
KINDS = {"gauge", "product_name", "per_kg", "per_m2", "multiplier", "combination", "alternatives",
         "percent_not_dose", "percent_concentration", "rate", "placebo", "multi_drug", "ordinary"}


def load_labelled(path: Path = LABELLED) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)


def basis(unit) -> str | None:
    if unit is None:
        return None
    return "per_kg" if "/kg" in unit else "per_m2" if "/m2" in unit else None


def _same(pred, lab: dict) -> bool:
    return (_close(pred.value, lab["value"]) and _close(pred.value_upper, lab["value_upper"])
            and pred.unit == lab["unit"] and basis(pred.unit) == lab["basis"])


def match(pred: list, labels: list[dict]) -> list[tuple[object, dict]]:
    """Pairs (predicted row, labelled row), each used at most once, in text order."""
    free = list(labels)
    out = []
    for p in pred:
        for k, lab in enumerate(free):
            if _same(p, lab):
                out.append((p, free.pop(k)))
                break
    return out


def evaluate(rows: list[dict]) -> dict[str, dict]:
    """Counts and rates overall ('all') and per kind."""
    acc: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        doses = parse_dose(r["text"])
        numeric = [d for d in doses if d.value is not None]
        pairs = match(numeric, r["doses"])
        placebo_ok = ({d.is_placebo for d in doses} == {True}) if r["placebo"] else not any(d.is_placebo for d in doses)
        if r["placebo"] and not r["doses"]:
            placebo_ok = placebo_ok and len(doses) == 1 and doses[0].value is None
        for key in ("all", r["kind"]):
            a = acc[key]
            a["texts"] += 1
            a["predicted"] += len(numeric)
            a["labelled"] += len(r["doses"])
            a["correct"] += len(pairs)
            a["placebo_ok"] += placebo_ok
            for p, lab in pairs:
                for field in ("frequency", "route"):
                    if field in lab:
                        a[f"{field}_n"] += 1
                        a[f"{field}_ok"] += getattr(p, field) == lab[field]
    out = {}
    for key, a in acc.items():
        out[key] = dict(a)
        out[key]["precision"] = a["correct"] / a["predicted"] if a["predicted"] else 1.0
        out[key]["recall"] = a["correct"] / a["labelled"] if a["labelled"] else 1.0
        out[key]["placebo_accuracy"] = a["placebo_ok"] / a["texts"]
        for field in ("frequency", "route"):
            out[key][f"{field}_accuracy"] = a[f"{field}_ok"] / a[f"{field}_n"] if a[f"{field}_n"] else 1.0
    return out


@pytest.fixture(scope="module")
def rows():
    return load_labelled()


@pytest.fixture(scope="module")
def stats(rows):
    return evaluate(rows)


def _check_format(rows: list[dict]) -> None:
    assert {r["kind"] for r in rows} == KINDS
    assert len({r["text"] for r in rows}) == len(rows), "duplicate texts"
    for r in rows:
        assert set(r) == {"text", "kind", "placebo", "doses"}, r
        for lab in r["doses"]:
            assert {"value", "value_upper", "unit", "basis"} <= set(lab) <= {
                "value", "value_upper", "unit", "basis", "multiplier", "frequency", "route"}, r
            assert lab["basis"] == basis(lab["unit"]), r


def test_labelled_set_is_well_formed(rows):
    assert len(rows) >= 150
    _check_format(rows)
    # every kind has at least a handful of texts, and the no-dose kinds hold real negatives
    per_kind = defaultdict(int)
    for r in rows:
        per_kind[r["kind"]] += 1
    assert min(per_kind.values()) >= 10, per_kind
    assert sum(1 for r in rows if not r["doses"]) >= 30


def test_precision_and_recall_overall(stats):
    s = stats["all"]
    assert s["precision"] >= 0.97, s
    assert s["recall"] >= 0.90, s


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_precision_and_recall_per_kind(stats, kind):
    s = stats[kind]
    # every kind of point 13 must be read right, not only on average
    assert s["precision"] >= 0.90, (kind, s)
    assert s["recall"] >= 0.85, (kind, s)


def test_placebo_route_and_frequency(stats):
    s = stats["all"]
    assert s["placebo_accuracy"] >= 0.97, s
    assert s["frequency_accuracy"] >= 0.90, s
    assert s["route_accuracy"] >= 0.90, s
    assert stats["multi_drug"]["route_accuracy"] >= 0.90, stats["multi_drug"]
    assert stats["multi_drug"]["frequency_accuracy"] >= 0.85, stats["multi_drug"]


def test_holdout_set():
    """The texts written after the fix: the same overall thresholds (too few per kind for per-kind ones)."""
    hold = load_labelled(HOLDOUT)
    _check_format(hold)
    assert not {r["text"] for r in hold} & {r["text"] for r in load_labelled()}
    s = evaluate(hold)["all"]
    assert s["precision"] >= 0.97 and s["recall"] >= 0.90, s
    assert s["placebo_accuracy"] >= 0.97 and s["frequency_accuracy"] >= 0.90 and s["route_accuracy"] >= 0.90, s


def _table(stats: dict) -> str:
    lines = [f"{'kind':24} {'texts':>5} {'pred':>5} {'lab':>5} {'prec':>6} {'recall':>6} {'plac':>6} {'freq':>6} {'route':>6}"]
    for key in sorted(stats, key=lambda k: (k != "all", k)):
        s = stats[key]
        lines.append(f"{key:24} {s['texts']:5d} {s['predicted']:5d} {s['labelled']:5d} {s['precision']:6.3f} "
                     f"{s['recall']:6.3f} {s['placebo_accuracy']:6.3f} {s['frequency_accuracy']:6.3f} {s['route_accuracy']:6.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    data = load_labelled(HOLDOUT if "--holdout" in sys.argv else LABELLED)
    print(_table(evaluate(data)))
    if "-v" in sys.argv:  # every text whose rows are not exactly right
        for r in data:
            doses = parse_dose(r["text"])
            numeric = [d for d in doses if d.value is not None]
            pairs = match(numeric, r["doses"])
            bad_fr = [(p.frequency, p.route, lab.get("frequency"), lab.get("route")) for p, lab in pairs
                      if ("frequency" in lab and p.frequency != lab["frequency"]) or ("route" in lab and p.route != lab["route"])]
            plac = {d.is_placebo for d in doses}
            if len(pairs) != len(numeric) or len(pairs) != len(r["doses"]) or bad_fr or (r["placebo"] and plac != {True}) or (not r["placebo"] and True in plac):
                print(f"\n[{r['kind']}] {r['text']}")
                print("  got:", [(d.value, d.value_upper, d.unit, d.frequency, d.route, d.is_placebo) for d in doses])
                print("  want:", [(lab["value"], lab["value_upper"], lab["unit"], lab.get("frequency"), lab.get("route")) for lab in r["doses"]], "placebo" if r["placebo"] else "")
