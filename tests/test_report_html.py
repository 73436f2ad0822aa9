"""metrics/report.html (evaluate/report_html.py), written by the evaluate stage: a well-formed static page
(checked with html.parser) that holds every predictor of eval.json, the headline, the operator probes and,
for the sampled questions, every imagining path with its steps; and (where Debian's chromium is installed)
it loads in headless Chromium with no console message and its filter script runs."""
from __future__ import annotations

import json
import math
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from deepimagine.core import params as params_mod
from deepimagine.evaluate import stage as evaluate_stage
from deepimagine.evaluate.predictors import MajorityPredictor
from deepimagine.evaluate.prediction import Prediction
from deepimagine.core.questions import format_answer
from fixtures.baselines import make_questions
from test_probes import DoseOperator, cells, world

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
SVG_SELF_CLOSING = {"circle", "line", "polyline", "polygon", "rect", "path"}


class Page(HTMLParser):
    """Checks nesting (every element closed, in order) and collects the cards, predictor rows and text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.cards: list[dict] = []
        self.predictor_rows: set[str] = set()
        self.factor_rows: set[str] = set()
        self.ids: list[str] = []
        self.doctype = False

    def handle_decl(self, decl):
        self.doctype = self.doctype or decl.lower() == "doctype html"

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if "card" in (a.get("class") or "").split():
            self.cards.append({**a, "text": [], "chains": 0, "depth": len(self.stack)})
        if self.cards and "data-chain" in a and self._in_card():
            self.cards[-1]["chains"] += 1
        if "data-predictor" in a:
            self.predictor_rows.add(a["data-predictor"])
        if tag == "tr" and "data-factor" in a:
            self.factor_rows.add(a["data-factor"])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}> at {self.getpos()}")
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()

    def _in_card(self) -> bool:
        return bool(self.cards) and len(self.stack) > self.cards[-1]["depth"]

    def handle_data(self, data):
        if self._in_card():
            self.cards[-1]["text"].append(data)


def parse(page: str) -> Page:
    p = Page()
    p.feed(page)
    p.close()
    return p


def trajectory(q, i: int) -> dict:
    """An imagine-mode trajectory as evaluate/imagine.py writes it: one or two chains of dose / region steps."""
    chains = []
    for c in range(1 + i % 2):
        steps, mean, sd = [], 10.0 + c, 0.0
        for k, (factor, frm, to) in enumerate((("dose", "10 mg", f"{20 + i} mg"), ("region", "Europe", "Asia"))[: 1 + (i + c) % 2]):
            mean, sd = mean + 0.5, math.sqrt(sd ** 2 + 0.25)
            steps.append({"factor": factor, "from": frm, "to": to, "probs": [0.1, 0.1, 0.2, 0.5, 0.1],
                          "mean": round(mean, 4), "sd": round(sd, 4)})
        chains.append({"arm": "target", "start": {"nct_id": f"NCTA{i:04d}{c}", "arm_label": "drug", "value": 10.0 + c, "sd": 4.0},
                       "weight": 1.0, "steps": steps, "final": {"mean": mean, "sd": sd}, "invalid_steps": 0})
    return {"probs": None, "chains": chains}


class FakeImagine:
    """Stands in for an LLM in imagine mode: answers with a trajectory; its ``ask`` is a hand-built operator."""

    def __init__(self, name: str):
        self.name, self.operator = name, DoseOperator(-0.6)
        self.trajectories: dict = {}

    def ask(self, questions):
        return self.operator.ask(questions)

    def predict(self, questions):
        out = []
        for i, q in enumerate(questions):
            probs = [1.0 / len(q.options)] * len(q.options)
            probs[i % len(q.options)] += 0.2
            probs = [p / sum(probs) for p in probs]
            t = trajectory(q, i)
            t["probs"] = probs
            out.append(Prediction(q.id, probs, True, json.dumps(t)))
        return out


class FakeDirect:
    def __init__(self, name: str):
        self.name = name

    def predict(self, questions):
        return [Prediction(q.id, [1.0] + [0.0] * (len(q.options) - 1), True,
                           format_answer([1.0] + [0.0] * (len(q.options) - 1), f"because of the dose <{q.id}>"))
                for q in questions]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The evaluate stage's outputs on fixture questions with majority, an imagine-mode and a direct-mode
    stand-in, and the hand-built probe world."""
    pd = pytest.importorskip("pandas")
    tmp = tmp_path_factory.mktemp("report")
    truth = world()
    pd.DataFrame(cells(truth)).to_parquet(tmp / "cells.parquet")
    (tmp / "truth.json").write_text(json.dumps(truth))
    params = params_mod.from_dict({"evaluate": {"bootstrap": 50, "max_llm_questions": 30, "max_llm_questions_local": None}})
    train, test = make_questions(120, 31), make_questions(60, 32, "test")
    predictors = {"majority": MajorityPredictor(train), "sft/direct": FakeDirect("sft/direct"),
                  "sft/imagine": FakeImagine("sft/imagine")}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)                       # no models/: the probe asks the stand-in's own operator
        evaluate_stage.evaluate_all(params, train, {"test": test}, predictors, metrics_dir=tmp / "metrics",
                                    cells_path=tmp / "cells.parquet", truth_path=tmp / "truth.json")
    return tmp / "metrics"


def test_report_is_wellformed_html_with_every_predictor(report):
    page = (report / "report.html").read_text(encoding="utf-8")
    p = parse(page)
    assert p.doctype and not p.errors and not p.stack, (p.errors[:5], p.stack)
    assert len(p.ids) == len(set(p.ids)), "duplicate ids"
    ev = json.loads((report / "eval.json").read_text())
    assert set(ev) == {"test", "test_full"}
    for preds in ev.values():
        assert set(preds) <= p.predictor_rows
    assert {"sft/imagine", "sft/direct", "majority"} <= p.predictor_rows
    for section in ("headline", "results", "operators", "trajectories"):
        assert section in p.ids
    assert {"dose", "region", "phase"} <= p.factor_rows           # the probe table, one row per factor
    assert "<svg" in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")   # nothing fetched
    assert "<script src" not in page and "<link" not in page


def test_report_holds_the_sampled_trajectories(report):
    page = (report / "report.html").read_text(encoding="utf-8")
    p = parse(page)
    rows = [json.loads(x) for x in (report / "predictions/test/sft_imagine.jsonl").read_text().splitlines()]
    by_id = {r["id"]: json.loads(r["text"]) for r in rows}
    cards = [c for c in p.cards if c.get("data-pred") == "sft/imagine"]
    assert 0 < len(cards) <= len(rows)
    assert {c["data-outcome"] for c in cards} <= {"correct", "wrong"}
    for card in cards:
        traj = by_id[card["data-qid"]]
        text = " ".join(card["text"])
        assert card["chains"] == len(traj["chains"])
        factors = set()
        for chain in traj["chains"]:
            assert chain["start"]["nct_id"] in text
            for step in chain["steps"]:
                factors.add(step["factor"])
                assert step["factor"] in text and f"{step['from']} → {step['to']}" in text
                assert f"{step['mean']:.4f}" in text
        assert set(card["data-factors"].split()) == factors
        assert f"because of the dose <{card['data-qid']}>" in text     # the REASON of the same model's direct answer
    headline = json.loads((report / "headline.json").read_text())
    assert headline["local"]["about"]["method"] == "sft/imagine" and headline["local"]["base"] is not None
    ops = json.loads((report / "operators.json").read_text())
    assert ops["models"]["sft"]["dose"]["sign_agreement"] == 1.0


CHROMIUM = next((c for c in ("/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or "")
                 if c and Path(c).exists()), None)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium package is not installed")
def test_report_loads_in_headless_chromium_without_console_errors(report, tmp_path):
    proc = subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
                           "--virtual-time-budget=3000", "--dump-dom", (report / "report.html").resolve().as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
    dom = proc.stdout
    assert "DeepImagine" in dom and 'id="shown"' in dom
    assert " shown</span>" in dom          # the filter script ran: "<n> of <m> shown"
