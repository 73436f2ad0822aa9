"""Teacher-imagined intermediate results: operator training steps for the factors without natural pairs.

Between two retrieved train trials S and T that share an outcome block (same outcome text and
unit), the path S -> T changes one factor per step (``states.build_path``); the teacher imagines
the result after each step, and each step becomes a ``change`` question (source ``synthetic``)
whose answer is the bin of the imagined change. This is the paper's synthetic data for factors
(region, population, phase, time frame, intervention across trials) that no single trial varies.

Teachers:
- the **oracle** (``template`` teacher on the simulated registry): the intermediate value is S's
  posted value plus the change of the TRUE mean (``truth.json``'s mechanism) between the states,
  so the labels are exact. It is an oracle: it knows the simulator. Reported as such.
- a **model** teacher (``openai`` / ``vllm``, real scale): the teacher answers each step question;
  the argmax of its DECISION is the label (invalid answers dropped and counted).
"""
from __future__ import annotations

import logging
import math
import random
from collections import Counter, defaultdict
from typing import Optional, Sequence

from ..core.operator import cell_sd, change_bin, standardised_change
from ..core.oracle import ORACLE_FIELDS, Oracle
from ..core.questions import Question, parse_answer
from ..core.states import FACTOR_ORDER, build_path, cell_state, step_question

log = logging.getLogger(__name__)


def _clean(row: dict) -> dict:
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}


def path_pairs(cells: Sequence[dict], n: int, seed: int) -> list[tuple[dict, dict]]:
    """Up to ``n`` (S, T) cell pairs from different trials of one outcome block (seeded)."""
    blocks: dict[tuple, list[dict]] = defaultdict(list)
    for c in cells:
        blocks[(" ".join(str(c.get("measure") or "").lower().split()), str(c.get("unit") or "").lower())].append(c)
    keys = sorted(k for k, v in blocks.items() if len({c["nct_id"] for c in v}) >= 2)
    rng = random.Random(seed)
    out, tries = [], 0
    while keys and len(out) < n and tries < 20 * n:
        tries += 1
        block = blocks[keys[rng.randrange(len(keys))]]
        s, t = rng.choice(block), rng.choice(block)
        if s["nct_id"] != t["nct_id"]:
            out.append((s, t))
    return out


def oracle_steps(pairs: Sequence[tuple[dict, dict]], oracle: Oracle, edges_sd, edges_rel,
                 order: Sequence[str] = FACTOR_ORDER) -> tuple[list[Question], Counter]:
    """Synthetic change questions along each S -> T path, labelled by the oracle."""
    questions, counts = [], Counter()
    for i, (s_row, t_row) in enumerate(pairs):
        ps, pt = oracle.params(s_row), oracle.params(t_row)
        if ps is None or pt is None or ps["endpoint"] != pt["endpoint"]:
            counts["pair_without_truth"] += 1
            continue
        s, t = cell_state(s_row), cell_state(t_row)
        steps = build_path(s, t, order)
        if not steps:
            counts["pair_without_steps"] += 1
            continue
        sd = cell_sd(s_row)
        value, cur = float(s["value"]), dict(ps)
        m_prev = oracle.mean(cur)
        for j, step in enumerate(steps):
            for f in ORACLE_FIELDS[step.factor]:
                cur[f] = pt[f]
            m = oracle.mean(cur)
            z, how = standardised_change(value, value + (m - m_prev), sd)
            answer = change_bin(z, edges_sd if how == "sd" else edges_rel)
            q = step_question(step, value, sd, s.get("n"), j > 0, f"S-{i:06d}-{j}", unit=s.get("unit"),
                              answer_index=answer, source="synthetic")
            q.meta.update(z=round(z, 6), teacher="oracle", scale_from=how)
            questions.append(q)
            counts[f"steps_{step.factor}"] += 1
            value += m - m_prev
            m_prev = m
    counts["questions"] = len(questions)
    return questions, counts


def teacher_steps(pairs: Sequence[tuple[dict, dict]], teacher, edges_sd, edges_rel,
                  order: Sequence[str] = FACTOR_ORDER) -> tuple[list[Question], Counter]:
    """Synthetic change questions along each path, labelled by a model teacher, level by level so the
    imagined value the teacher gave is carried into its next step."""
    from ..core.operator import bin_centres, expected_change

    counts: Counter = Counter()
    chains = []
    for i, (s_row, t_row) in enumerate(pairs):
        s, t = cell_state(s_row), cell_state(t_row)
        steps = build_path(s, t, order)
        if steps:
            sd = cell_sd(s_row)
            chains.append({"i": i, "steps": steps, "sd": sd, "value": float(s["value"]), "n": s.get("n"),
                           "unit": s.get("unit"), "alive": True})
    questions = []
    for level in range(max((len(c["steps"]) for c in chains), default=0)):
        todo = [c for c in chains if c["alive"] and level < len(c["steps"])]
        batch = [step_question(c["steps"][level], c["value"], c["sd"], c["n"], level > 0, f"S-{c['i']:06d}-{level}",
                               unit=c["unit"], source="synthetic") for c in todo]
        for c, q, text in zip(todo, batch, teacher.complete(batch)):
            parsed = parse_answer(q, text)
            if not parsed.valid:
                counts["invalid_teacher_answer"] += 1
                c["alive"] = False
                continue
            q.answer_index = parsed.choice
            q.meta.update(teacher=getattr(teacher, "name", "model"))
            questions.append(q)
            counts[f"steps_{c['steps'][level].factor}"] += 1
            scale = c["sd"] if c["sd"] else max(abs(c["value"]), 1e-9)
            mean, _ = expected_change(parsed.probs, bin_centres(edges_sd if c["sd"] else edges_rel))
            c["value"] += mean * scale
    counts["questions"] = len(questions)
    return questions, counts


def split_paths(pairs: Sequence[tuple[dict, dict]], n_train: int) -> tuple[list, list]:
    """The first ``n_train`` paths for training; of the rest, those whose (S, T) cells no training
    path has, for calibration (a calibration step is never one SFT saw)."""
    def key(st):
        return tuple((c.get("nct_id"), c.get("outcome_id"), c.get("group_id")) for c in st)

    train = list(pairs[:n_train])
    seen = {key(st) for st in train}
    calibration = []
    for st in pairs[n_train:]:
        if key(st) not in seen:
            seen.add(key(st))
            calibration.append(st)
    return train, calibration


def _label(pairs, truth, teacher, edges_sd, edges_rel, order) -> tuple[list[Question], Counter, str]:
    if truth and (truth.get("studies") or {}) and getattr(teacher, "name", "") == "template":
        qs, counts = oracle_steps(pairs, Oracle(truth), edges_sd, edges_rel, order)
        return qs, counts, "oracle (simulated truth.json)"
    if getattr(teacher, "name", "") != "template":
        qs, counts = teacher_steps(pairs, teacher, edges_sd, edges_rel, order)
        return qs, counts, f"model teacher ({getattr(teacher, 'name', '?')})"
    return [], Counter({"no_truth_for_template_teacher": len(pairs)}), "none"


def imagined_questions(cells_rows: Sequence[dict], truth: Optional[dict], teacher, n_paths: int, seed: int,
                       edges_sd, edges_rel, order: Sequence[str] = FACTOR_ORDER, calibration_paths: int = 0
                       ) -> tuple[list[Question], list[Question], dict]:
    """The synthetic steps of ``n_paths`` train paths, and of up to ``calibration_paths`` more train
    paths kept apart (``split_paths``) to calibrate the operator on the kind of step a chain asks:
    oracle-labelled with a simulated truth and the template teacher, model-labelled otherwise (a
    template teacher without truth writes none). Returns (training steps, calibration steps, metrics)."""
    train = [_clean(r) for r in cells_rows if r.get("split") == "train" and r.get("value") is not None
             and not (isinstance(r.get("value"), float) and math.isnan(r["value"]))]
    pairs, cal_pairs = split_paths(path_pairs(train, n_paths + calibration_paths, seed), n_paths)
    qs, counts, how = _label(pairs, truth, teacher, edges_sd, edges_rel, order)
    cal, cal_counts, _ = _label(cal_pairs, truth, teacher, edges_sd, edges_rel, order) if cal_pairs else ([], Counter(), how)
    for q in cal:
        q.id = "C" + q.id[1:]
    log.info("imagined steps: %d questions from %d paths, %d calibration steps from %d more (%s)",
             len(qs), len(pairs), len(cal), len(cal_pairs), how)
    return qs, cal, {"teacher": how, "paths": len(pairs), **dict(sorted(counts.items())),
                     "answers": dict(sorted(Counter(q.answer_index for q in qs).items())),
                     "calibration_paths": len(cal_pairs), "calibration_questions": len(cal)}
