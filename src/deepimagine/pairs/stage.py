"""``deepimagine pairs``: registry -> counterfactual questions (train / test), cells, card, leakage report.

Reads ``data/registry.duckdb`` (read-only) and ``data/raw/truth.json``; writes ``data/pairs/``
(train.jsonl, test.jsonl, [ct_open.jsonl], cells.parquet, README.md) and ``metrics/pairs.json``.
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Optional

import pyarrow as pa
from tqdm import tqdm

from ..core import io
from ..core.embed import embed_texts
from ..core.params import Params
from ..core.questions import Question
from ..core.semantics import compared_arms
from ..core.states import question_states
from . import approximate, natural
from .anchors import AnchorIndex, attach_anchors
from .better import better_from_text
from .build import BuildCounts, BuildSettings, questions_for_pair
from .card import render_card
from .cells import build_working_tables, open_registry
from .ct_open import import_ct_open
from .prospective import attach_states, prospective_items, protocol_states
from .split import add_split_column, audit, parse_cutoff
from .truth import Truth

log = logging.getLogger(__name__)

METRICS_FILE = io.METRICS_DIR / "pairs.json"


class BetterLookup:
    """Better direction of a cell's outcome: simulated truth first, else the measure lexicon."""

    def __init__(self, truth: Truth):
        self.truth = truth
        self.counts: Counter = Counter()

    def __call__(self, cell: dict) -> tuple[Optional[str], str]:
        if self.truth:
            b = self.truth.better(cell)
            if b is not None:
                return b, "truth"
            self.counts["better_not_in_truth"] += 1
        b = better_from_text(cell.get("measure"))
        return (b, "lexicon") if b is not None else (None, "unknown")


class QuestionWriter:
    """Streams question rows into train.jsonl / test.jsonl and counts them."""

    def __init__(self, stack: ExitStack, out_dir: Path):
        self.files = {}
        for split in ("train", "test"):
            tmp = stack.enter_context(io.atomic_path(out_dir / f"{split}.jsonl"))
            self.files[split] = stack.enter_context(open(tmp, "w", encoding="utf-8"))
        self.counts: dict[str, Counter] = {k: Counter() for k in
                                           ("split", "source", "kind", "factor", "category", "source_split_category",
                                            "kind_category", "answer")}
        self.n = Counter()

    def write(self, q) -> None:
        row = q.to_row()
        self.files[q.split].write(json.dumps(row, ensure_ascii=False, sort_keys=True, default=str) + "\n")
        c = self.counts
        c["split"][q.split] += 1
        c["source"][q.source] += 1
        c["kind"][q.kind] += 1
        c["factor"][q.factor] += 1
        c["category"][q.category] += 1
        c["source_split_category"][f"{q.source}/{q.split}/{q.category}"] += 1
        c["kind_category"][f"{q.kind}/{q.category}"] += 1
        c["answer"][f"{q.category}/{q.answer_index}"] += 1
        self.n[q.split] += 1


def _settings(params: Params) -> BuildSettings:
    p = params.pairs
    return BuildSettings(alpha=p.alpha, margin_sd=p.direction_margin_sd, margin_rel=p.direction_margin_rel,
                         comparative_wording=p.comparative_wording, change_edges_sd=tuple(p.change_edges_sd),
                         change_edges_rel=tuple(p.change_edges_rel))


def _write_cells(con, better: BetterLookup, path: Path) -> int:
    """cells.parquet: the retrieval pool, one row per posted numeric (trial, group, outcome) cell."""
    outs = con.execute("SELECT DISTINCT nct_id, outcome_id, measure, time_frame FROM cells ORDER BY nct_id, outcome_id").fetchall()
    rows = {"nct_id": [], "outcome_id": [], "better": []}
    for nct, oid, measure, tf in outs:
        rows["nct_id"].append(nct)
        rows["outcome_id"].append(oid)
        rows["better"].append(better({"nct_id": nct, "measure": measure, "time_frame": tf})[0])
    con.register("cell_better", pa.table({"nct_id": pa.array(rows["nct_id"], pa.string()),
                                          "outcome_id": pa.array(rows["outcome_id"], pa.int32()),
                                          "better": pa.array(rows["better"], pa.string())}))
    with io.atomic_path(path) as tmp:
        con.execute(f"""
        COPY (
            SELECT c.nct_id, t.split, t.results_first_posted AS posted_date, c.outcome_id, c.group_id, c.arm_id,
                   c.arm_label, c.design_label, c.arm_type, c.arm_description, c.is_placebo,
                   c.intervention, c.intervention_name, c.intervention_type, c.interventions_key,
                   c.dose_value, c.dose_unit, c.dose_value_mg, c.dose_frequency, c.dose_route,
                   t.conditions, t.conditions_norm, t.phase, t.enrollment, t.regions, t.countries,
                   t.sex, t.min_age, t.max_age, t.comparator,
                   c.outcome_type, c.measure, c.measure_norm, c.time_frame, c.time_weeks, c.unit, c.param_type,
                   b.better, c.value, c.spread, c.lower_limit, c.upper_limit, c.dispersion_type, c.n,
                   t.title, t.trial_text
            FROM cells c JOIN trials t ON t.nct_id = c.nct_id
            LEFT JOIN cell_better b ON b.nct_id = c.nct_id AND b.outcome_id = c.outcome_id
            ORDER BY c.nct_id, c.outcome_id, c.group_id
        ) TO '{tmp.as_posix()}' (FORMAT parquet, COMPRESSION zstd)""")
    con.unregister("cell_better")
    return con.execute("SELECT count(*) FROM cells").fetchall()[0][0]   # fetch all: no unfinished result left


def _targets_local(q: Question):
    _, target = question_states(q)
    return (target.get("measure"), {"target": target}) if target.get("measure") else None


def _targets_ct_format(q: Question):
    states = q.context.get("arm_states") or {}
    arms = {x for pair in compared_arms(q) for x in pair}
    if not arms or not arms <= set(states):
        return None
    return ((q.context.get("outcome") or {}).get("measure"), {a: states[a] for a in sorted(arms)})


def _attach_all_anchors(bench: dict, cells_path: Path, p) -> dict:
    """Anchors (train-split posted cells, through the AnchorIndex) for every benchmark question."""
    import pandas as pd

    cells = pd.read_parquet(cells_path)
    train = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}   # NaN -> None
             for r in cells[(cells["split"] == "train") & cells["value"].notna()].to_dict("records")]

    def embed(texts):
        return embed_texts(list(texts), p.approx_embedding_model)

    index = AnchorIndex.build(train, embed)
    counts = {}
    for name, questions in bench.items():
        targets = _targets_local if name == "test" else _targets_ct_format
        before = p.ct_open_cutoff if name == "ct_open" else None
        counts[name] = attach_anchors(questions, targets, index, embed, p.anchor_k, p.anchor_min_similarity, before,
                                      pool=p.anchor_pool, outcome_weight=p.anchor_outcome_weight)
    log.info("anchors: %s", counts)
    return counts


def run(params: Params, registry: Path | str = io.REGISTRY_DB, truth_path: Path | str = io.TRUTH_FILE,
        out_dir: Path | str = io.PAIRS_DIR, metrics_path: Path | str = METRICS_FILE,
        timings_path: Path | str | None = None) -> dict:
    """Write the pairs, their card and the metrics; returns the metrics. Wall-clock timings go to
    ``timings_path`` (default: ``timings/<name>`` beside the metrics, i.e. io.TIMINGS_DIR), never the metrics."""
    p = params.pairs
    started = time.perf_counter()
    timings: dict[str, float] = {}
    out_dir, metrics_path = Path(out_dir), Path(metrics_path)
    timings_path = Path(timings_path) if timings_path else metrics_path.parent / "timings" / metrics_path.name
    if out_dir.exists():
        shutil.rmtree(out_dir)          # a DVC out: never leave a stale file (e.g. an old ct_open.jsonl)
    out_dir.mkdir(parents=True)
    cutoff = parse_cutoff(p.test_cutoff)
    truth = Truth.load(truth_path)
    truth_doc_source = "simulated truth" if truth else "none (real source)"
    better = BetterLookup(truth)
    settings = _settings(params)
    skipped = BuildCounts()

    con = open_registry(registry)
    cell_counts = build_working_tables(con)
    split_counts = add_split_column(con, cutoff)
    split_of = dict(con.execute("SELECT nct_id, split FROM trials").fetchall())
    timings["tables"] = time.perf_counter() - started

    pair_counts = {"natural": Counter(), "approximate": Counter(), "natural_reversed": Counter()}
    retrieval: dict = {}
    with ExitStack() as stack:
        writer = QuestionWriter(stack, out_dir)

        def emit(pair: dict, split: str) -> None:
            pair_counts[pair["source"]][pair["kind"]] += 1
            b, how = better(pair["anchor"])
            for q in questions_for_pair(pair, split, settings, b, how, truth.expected_effect, skipped):
                writer.write(q)
            if split == "train" and pair["source"] == "natural" and pair["kind"] in p.reverse_natural:
                back = natural.reversed_pair(pair)     # only its change question: the operator's training
                pair_counts["natural_reversed"][pair["kind"]] += 1
                for q in questions_for_pair(back, split, settings, b, how, truth.expected_effect, skipped):
                    if q.category == "change":
                        writer.write(q)

        # ---- natural pairs, study by study
        t0 = time.perf_counter()
        n_studies = con.execute("SELECT count(DISTINCT nct_id) FROM cells").fetchone()[0]
        for nct, pairs in tqdm(natural.iter_natural_pairs(con, p.max_natural_per_study), total=n_studies,
                               desc="natural pairs", mininterval=5, disable=n_studies < 2000):
            for pair in pairs:
                emit(pair, split_of[nct])
        timings["natural"] = time.perf_counter() - t0

        # ---- approximate pairs across trials
        t0 = time.perf_counter()
        retrieval.update(approximate.build_blocks(con, p.approx_block_size))
        retrieval.update(approximate.build_candidates(con, p.approx_embedding_model, p.approx_top_k,
                                                      p.approx_min_similarity))
        retrieval.update(approximate.build_cell_pairs(con, getattr(p, "approx_max_per_trial_pair", 10)))
        timings["approximate_retrieval"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        spanning = con.execute("""SELECT count(*) FROM approx_pairs p JOIN trials ta ON ta.nct_id = p.anchor_nct
                                  JOIN trials tb ON tb.nct_id = p.target_nct WHERE ta.split <> tb.split""").fetchone()[0]
        written_spanning = 0
        for pair in approximate.iter_approx_pairs(con, where="ta.split = tb.split"):
            split = split_of[pair["anchor"]["nct_id"]]
            if split_of[pair["target"]["nct_id"]] != split:
                written_spanning += 1
                continue
            emit(pair, split)
        timings["approximate_questions"] = time.perf_counter() - t0

    # ---- CT Open, cells, audit, card, metrics
    ct_counts = None
    files = {"train.jsonl": writer.n["train"], "test.jsonl": writer.n["test"]}
    ct_questions: list = []
    if p.ct_open_path:
        ct_questions, ct_counts = import_ct_open(p.ct_open_path)
        ct_counts["by_category"] = dict(sorted(Counter(q.category for q in ct_questions).items()))
    t0 = time.perf_counter()
    files["cells.parquet"] = _write_cells(con, better, out_dir / "cells.parquet")
    timings["cells"] = time.perf_counter() - t0

    # ---- the prospective benchmark, arm states and anchors of every benchmark question
    t0 = time.perf_counter()
    bench = {"test": [Question.from_row(r) for r in io.read_jsonl(out_dir / "test.jsonl")]}
    if p.prospective:
        items = list(prospective_items(con, lambda c: better(c)[0], p.alpha))
        io.write_jsonl(out_dir / "prospective_items.jsonl", items)
        bench["prospective"], prospective_counts = import_ct_open(out_dir / "prospective_items.jsonl")
    if ct_questions:
        bench["ct_open"] = ct_questions
    ct_format = [q for name in ("prospective", "ct_open") for q in bench.get(name, [])]
    state_counts = attach_states(ct_format, protocol_states(con, {q.nct_ids[0] for q in ct_format}))
    con.close()
    anchor_counts = _attach_all_anchors(bench, out_dir / "cells.parquet", p)
    for name, questions in bench.items():
        files[f"{name}.jsonl"] = io.write_jsonl(out_dir / f"{name}.jsonl", (q.to_row() for q in questions))
    timings["benchmarks"] = time.perf_counter() - t0
    if ct_counts is not None:
        ct_counts["by_category"] = dict(sorted(Counter(q.category for q in ct_questions).items()))

    overlap = audit(out_dir / "train.jsonl", out_dir / "test.jsonl")
    overlap["approximate_pairs_spanning_splits"] = written_spanning
    c = writer.counts
    report = {
        "registry": str(registry),
        "data_source": truth_doc_source,
        "files": files,
        "counts": {
            "total": sum(writer.n.values()),
            "by_split": dict(sorted(c["split"].items())),
            "by_source": dict(sorted(c["source"].items())),
            "by_kind": dict(sorted(c["kind"].items())),
            "by_factor": dict(sorted(c["factor"].items())),
            "by_category": dict(sorted(c["category"].items())),
            "by_source_split_category": dict(sorted(c["source_split_category"].items())),
            "by_kind_category": dict(sorted(c["kind_category"].items())),
            "answers": dict(sorted(c["answer"].items())),
        },
        "pairs": {k: dict(sorted(v.items())) for k, v in pair_counts.items()},
        "split": split_counts,
        "overlap": overlap,
        "dropped": {"approximate_pairs_spanning_splits": spanning},
        "skipped": dict(sorted({**skipped.counts, **better.counts,
                                "result_groups_multi_row_measure": cell_counts["groups_multi_row"],
                                "result_groups_no_numeric_value": cell_counts["groups_no_value"]}.items())),
        "cells": cell_counts,
        "retrieval": retrieval,
        "ct_open": ct_counts,
        "benchmarks": {name: {"questions": len(qs), "by_category": dict(sorted(Counter(q.category for q in qs).items()))}
                       for name, qs in bench.items()},
        "prospective_items": len(items) if p.prospective else 0,
        "arm_states": dict(sorted(state_counts.items())),
        "anchors": anchor_counts,
        "params": {k: getattr(p, k) for k in p.__dataclass_fields__},
    }
    timings["embed"] = retrieval.pop("embed_s", 0.0)       # wall clock: kept out of the tracked metrics
    (out_dir / "README.md").write_text(render_card(report), encoding="utf-8")
    io.write_json(metrics_path, report)
    io.write_json(timings_path, {"timings_s": {k: round(v, 2) for k, v in timings.items()},
                                 "total_s": round(time.perf_counter() - started, 2)})
    leaks = {k: v for k, v in overlap.items() if v}
    if leaks:
        raise RuntimeError(f"pairs: leakage checks failed: {leaks} (see {metrics_path})")
    log.info("pairs: %s questions (%s), %.1fs", report["counts"]["total"], report["counts"]["by_split"],
             time.perf_counter() - started)
    return report
