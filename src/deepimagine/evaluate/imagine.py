"""Successive imagining with a learned local operator, and the controls that test it.

For each arm a question asks about, the pairs stage retrieved ``k`` anchors: train-split cells
with posted results (``context['anchors']``, the same anchors for every mode). Here:

1. **paths** (``plan_chains``, pure): from each anchor, a path that changes ONE differing factor
   per step (``evaluate.imagine_order``) until the state equals the target arm;
2. **the operator**: each step is a ``change`` question (the state before the step with the
   carried value, and the one change); the model answers a distribution over ordered bins of the
   standardised change (``pairs.change_edges_*``). Each step adds the expected change (bin centres,
   ``evaluate.step_centres``, x the scale: the anchor's SD, or |value| when no SD is posted) to the carried value, and its
   variance to the carried variance; the next step's prompt shows the imagined value;
3. **the arm's belief**: the k paths combined (uniform or similarity weights) as k estimates of
   one target (``evaluate.imagine_aggregate: pooled``: their mean, with variance (mean path
   variance + spread between paths) / k) or as a mixture (``mixture``: one of the paths is right);
4. **the answer** comes from the imagined results (``answer_probs``, with ``answers.py``): for a local question the
   imagined target vs the posted reference; for a CT Open-format question, two arms compared with
   their uncertainties and the sampling error of a two-group test at n per arm.

Controls on the same questions and anchors: ``retrieval`` (no model: each anchor's posted value
carried unchanged, the same mixture and the same final comparison) and ``rag`` (the anchors with
their posted results in one prompt; see llm.py).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from ..core.operator import bin_centres, cell_sd, empirical_centres, expected_change, finite_or_none
from ..core.questions import Question, parse_decision
from ..core.semantics import compared_arms, option_roles
from ..core.states import (FACTOR_ORDER, PathStep, build_path, describe, operator_group, question_states, shown_intervention,
                           step_question)
from .answers import MIN_SD, Z_ALPHA, ct_format_answer, local_answer, local_roles



@dataclass
class Settings:
    edges_sd: Sequence[float] = (-1.0, -0.3, 0.3, 1.0)
    edges_rel: Sequence[float] = (-0.3, -0.05, 0.05, 0.3)
    k: int = 3
    order: Sequence[str] = FACTOR_ORDER
    weights: str = "uniform"          # uniform | similarity | precision (1 / each path's variance)
    alpha_z: float = Z_ALPHA
    pairing: str = "trial"            # trial: two compared arms start from the two arms of one anchor trial | none
    aggregate: str = "pooled"         # pooled: the k paths as k estimates of one target | mixture
    shared_steps: str = "ask"         # skip: in trial-paired chains, a change both arms make is not asked | ask
    variance_scale: float = 1.0       # each step's variance (from its bins) times this: 1 as the operator says, 0 point estimates
    placebo_paths: bool = False       # trial-paired drug-vs-placebo pairs: + a path per anchor trial from its placebo arm (placebo -> drug)
    centres: dict = field(default_factory=dict)   # 'sd' | 'relative' [/ operator group] -> bin centres (fit_step_centres); {}: midpoints

    def step_centres(self, relative: bool, group: Optional[str] = None) -> list[float]:
        """The bins' centres a step is read with: its operator group's, else its scale's pooled
        ones, else the edges' midpoints (``bin_centres``)."""
        kind = "relative" if relative else "sd"
        got = self.centres.get(f"{kind}/{group}") or self.centres.get(kind)
        return list(got) if got else bin_centres(self.edges_rel if relative else self.edges_sd)


@dataclass
class Chain:
    """One path from one anchor to one target arm, with its carried belief at every step."""
    qid: str
    arm: str
    start: dict
    steps: list[PathStep]
    scale: float                      # the standardisation of every step: anchor SD, else |value|
    relative: bool                    # True when scale is |value| (no SD posted)
    weight: float = 1.0
    mean: float = 0.0
    var: float = 0.0
    trajectory: list[dict] = field(default_factory=list)
    invalid_steps: int = 0
    pair: Optional[int] = None        # index of the anchor trial shared with the other compared arm's chain
    from_placebo: bool = False        # a placebo path: this pair's two chains start at one placebo cell (placebo_paths)
    group: Optional[int] = None       # the compared pair (index in compared_arms) whose trial-paired chains these are
    step_vars: list[tuple] = field(default_factory=list)   # ((factor, from, to), variance added) per step
    shared: set = field(default_factory=set)   # indices of steps the other arm's chain of its trial makes too (not asked)


def chain_start(anchor: dict, exact: bool = True) -> tuple[float, float, bool]:
    """(value, scale, relative) of a start state."""
    value = finite_or_none(anchor.get("value")) or 0.0
    sd = finite_or_none(anchor.get("sd"))
    if sd is None or sd <= 0:
        return value, max(abs(value), MIN_SD), True
    return value, sd, False


def question_targets(q: Question) -> Optional[dict[str, dict]]:
    """{arm name: target state} for a question: 'target' for a local question, the compared arms
    for a CT Open-format question; None when it cannot be imagined."""
    if q.source == "ct_open":
        states = q.context.get("arm_states") or {}
        arms = {x for pair in compared_arms(q) for x in pair}
        return {a: states[a] for a in sorted(arms)} if arms and arms <= set(states) and option_roles(q) else None
    _, target = question_states(q)
    return {"target": target}


def fallback_reason(q: Question) -> Optional[str]:
    """Why imagining (and its controls) cannot answer ``q``, or None."""
    anchors = (q.context or {}).get("anchors")
    if question_targets(q) is None:
        return "no_target_state" if q.source == "ct_open" else "options_unknown"
    if q.source != "ct_open":
        anchor, _ = question_states(q)
        if finite_or_none(anchor.get("value")) is None:
            return "no_anchor_result"
        if q.kind == "outcome_measure":
            return "outcome_changes"
        if local_roles(q) is None:
            return "options_unknown"
        if not anchors or not (anchors.get("arms") or {}).get("target"):
            return "no_anchor"     # the retrieval control needs the target's anchors
        return None
    if not anchors or not anchors.get("arms"):
        return "no_anchor"
    return None


def paired_anchors(q: Question, k: int, arms: Optional[Sequence[str]] = None) -> Optional[dict[str, list[dict]]]:
    """Up to ``k`` anchor trials retrieved for every one of ``arms`` (default: the arms of the
    question's first compared pair), as {arm: [its anchor in trial 1, trial 2, ...]} (the same trial
    at the same index; trials ordered by the arms' summed similarity, then summed retrieval rank).
    The chains of one trial start from that trial's own arms, so the trial's level (its placebo
    response, population, region) is shared and cancels in the compared difference. None when the
    arms share no anchor trial."""
    if arms is None:
        pairs = compared_arms(q) if q.source == "ct_open" else []
        if len(pairs) != 1:
            return None
        arms = pairs[0]
    anchors = (q.context.get("anchors") or {}).get("arms") or {}
    if not arms or not all(anchors.get(a) for a in arms):
        return None

    def by_trial(lst):
        out = {}
        for rank, x in enumerate(lst):
            out.setdefault(x.get("nct_id"), (rank, x))
        return out

    trials = {a: by_trial(anchors[a]) for a in arms}
    shared = [t for t in trials[arms[0]] if t is not None and all(t in trials[a] for a in arms)]
    if not shared:
        return None
    score = lambda t: -sum(float(trials[a][t][1].get("score") or 0) for a in arms)  # noqa: E731
    shared.sort(key=lambda t: (score(t), sum(trials[a][t][0] for a in arms), str(t)))
    shared = shared[:k]
    return {a: [trials[a][t][1] for t in shared] for a in arms}


def anchor_groups(q: Question, s: Settings) -> list[tuple[Optional[int], dict[str, list[dict]]]]:
    """The anchors every anchor-using predictor (imagine, retrieval, oracle, rag) starts from, as
    [(group, {arm: anchors})]. With ``Settings.pairing`` "trial", each compared pair ``group`` (its
    index in ``compared_arms``) whose two arms share anchor trials gets its own trial-paired anchors
    (``paired_anchors``): an endpoint question's arm-vs-control pairs are each paired, so the control
    arm has one set of chains per pair. Arms of pairs without a shared trial (or every arm, unpaired)
    take their first ``k`` retrieved anchors, in a group None."""
    retrieved = (q.context.get("anchors") or {}).get("arms") or {}
    groups: list = []
    unpaired = set(retrieved)
    if s.pairing == "trial" and q.source == "ct_open":
        pairs = compared_arms(q)
        paired = {g: paired_anchors(q, s.k, pair) for g, pair in enumerate(pairs)}
        groups = [(g, got) for g, got in paired.items() if got]
        if groups:
            unpaired = {x for g, pair in enumerate(pairs) if not paired[g] for x in pair}
    rest = {arm: lst[: s.k] for arm, lst in retrieved.items() if arm in unpaired}
    return groups + ([(None, rest)] if rest else [])


def plan_chains(q: Question, s: Settings, own_anchor: bool = True) -> list[Chain]:
    """The chains of one question (pure). A local question's chain starts at its own anchor (its
    posted result is given) unless ``own_anchor`` is False (the retrieval control: the target's
    retrieved anchors); a CT Open-format question's chains start at the anchors of each arm
    (``anchor_groups``)."""
    targets = question_targets(q) or {}
    chains = []
    if q.source != "ct_open" and own_anchor:
        anchor, target = question_states(q)
        value, scale, rel = chain_start({**anchor, "sd": (q.meta or {}).get("sd") or cell_sd(anchor)})
        chains.append(Chain(q.id, "target", anchor, build_path(anchor, target, s.order), scale, rel, 1.0, value, 0.0))
        return chains
    for group, anchors in anchor_groups(q, s):
        for arm, target in targets.items():
            for j, a in enumerate(anchors.get(arm, [])):
                value, scale, rel = chain_start(a)
                w = max(float(a.get("score") or 0.0), 1e-3) if s.weights == "similarity" else 1.0
                chains.append(Chain(q.id, arm, a, build_path(a, target, s.order), scale, rel, w, value, 0.0,
                                    pair=None if group is None else j, group=group))
        if s.placebo_paths and group is not None:
            chains += placebo_paths(q.id, anchors, targets, s, group)
    if s.shared_steps == "skip":
        mark_shared_steps(chains)
    return chains


PLACEBO_PAIR = 1000   # pair index offset of the placebo paths (anchor trial j's placebo path is pair 1000 + j)


def placebo_paths(qid: str, anchors: dict[str, list[dict]], targets: dict[str, dict], s: Settings,
                  group: int) -> list[Chain]:
    """The placebo paths of one trial-paired drug-vs-placebo pair (``Settings.placebo_paths``, pure).

    For each anchor trial j whose anchor of the question's placebo arm is a placebo cell, one more
    pair of chains, both starting at that placebo cell: the drug arm's walks placebo -> the target
    drug and dose (then the context steps), the placebo arm's only the context steps, which both
    make and which cancel. Their difference is the operator's imagined effect of the target drug at
    its dose over placebo, read without the anchor trial's own drug arm: an estimate whose error is
    the operator's, not that arm's sampling error, combined with the anchor paths by precision. The
    retrieval control has no such path (it imagines nothing, so the drug arm would equal placebo)."""
    arms = [a for a in targets if anchors.get(a)]
    if len(arms) != 2:
        return []
    placebo = [a for a in arms if targets[a].get("is_placebo")]
    if len(placebo) != 1:
        return []
    pbo, drug = placebo[0], next(a for a in arms if a != placebo[0])
    out = []
    for j, cell in enumerate(anchors[pbo]):
        if not cell.get("is_placebo") or j >= len(anchors[drug]):
            continue
        value, scale, rel = chain_start(cell)
        for arm in (drug, pbo):
            out.append(Chain(qid, arm, cell, build_path(cell, targets[arm], s.order), scale, rel, 1.0, value, 0.0,
                             pair=PLACEBO_PAIR + j, group=group, from_placebo=True))
    return out


def mark_shared_steps(chains: Sequence[Chain]) -> None:
    """Mark (``Chain.shared``) the steps of trial-paired chains that the other compared arm's chain
    from the same anchor trial makes too (same factor, from and to: typically the anchor trial's
    region, population, phase or time frame -> the target trial's). Under an operator that adds the
    same change to both arms such a step cancels in their difference, which is all a two-arm
    comparison reads; asking it only adds the operator's noise to both arms."""
    by_pair: dict = {}
    for c in chains:
        if c.pair is not None:
            by_pair.setdefault((c.group, c.pair), []).append(c)
    for group in by_pair.values():
        if len(group) != 2:
            continue
        a, b = group
        common = {step_key(x) for x in a.steps} & {step_key(x) for x in b.steps}
        for c in group:
            c.shared = {i for i, x in enumerate(c.steps) if step_key(x) in common}


def step_key(step: PathStep) -> tuple:
    """What a step changes, in words: two chains' steps with one key make the same change."""
    return (step.factor, describe(step.before, step.factor), describe(step.after, step.factor))


def apply_step(chain: Chain, probs: Optional[Sequence[float]], s: Settings, key: tuple = ()) -> None:
    """Carry the chain's belief through one step answered with bin ``probs`` (None: invalid -> no move,
    the widest uncertainty of a uniform answer); ``key`` (``step_key``) records what it changed and
    picks its operator group's bin centres (``Settings.step_centres``)."""
    centres = s.step_centres(chain.relative, operator_group(*key) if key else None)
    if probs is None or len(probs) != len(centres):
        chain.invalid_steps += 1
        probs = [1.0 / len(centres)] * len(centres)
    mean, var = expected_change(probs, centres)
    var *= s.variance_scale
    chain.mean += mean * chain.scale
    chain.var += var * chain.scale ** 2
    chain.step_vars.append((key, var * chain.scale ** 2))


def fit_step_centres(steps: Sequence[Question], edges_sd: Sequence[float], edges_rel: Sequence[float],
                     min_count: int = 20) -> dict[str, list[float]]:
    """Bin centres (``empirical_centres``) from operator questions whose standardised change is known
    (``meta['z']``, ``meta['scale_from']``): per scale ('sd' | 'relative') pooled, and per scale and
    operator group (``states.operator_group``) where the group has ``min_count`` examples in a bin
    (else that bin takes the pooled centre). Pure."""
    by: dict[tuple, dict[int, list[float]]] = {}
    for q in steps:
        meta = q.meta or {}
        z, kind = finite_or_none(meta.get("z")), "relative" if meta.get("scale_from") == "relative" else "sd"
        if z is None or q.answer_index is None:
            continue
        for key in (kind, f"{kind}/{operator_group(q.factor, q.from_value, q.to_value)}"):
            by.setdefault((kind, key), {}).setdefault(int(q.answer_index), []).append(z)
    out: dict[str, list[float]] = {}
    for kind, edges in (("sd", edges_sd), ("relative", edges_rel)):
        if (kind, kind) not in by:
            continue
        pooled = empirical_centres(by[(kind, kind)], edges, min_count)
        out[kind] = pooled
        for (k, key), bins in sorted(by.items()):
            if k == kind and key != kind:
                out[key] = empirical_centres(bins, edges, min_count, fallback=pooled)
    return out


def sampling_var(c: Chain) -> float:
    """The sampling variance of a chain's start: its anchor's posted result, scale^2 / n (n = 1
    when not posted). The floor of the path's variance under ``precision`` weights, so that a path
    of no imagined step (the retrieval control's every path) weighs by its anchor's size."""
    n = finite_or_none(c.start.get("n"))
    return c.scale ** 2 / max(n or 1.0, 1.0)


def paired_difference(ca: Sequence[Chain], cb: Sequence[Chain], how: str = "mixture",
                      precision: bool = False) -> Optional[tuple[float, float]]:
    """(mean, variance) of arm a's result minus arm b's over trial-paired chains (``Chain.pair``):
    each anchor trial's imagined difference, combined over the trials as ``how`` says
    (``combine``). Within one trial, a step
    that makes the same change on both chains (same factor, from and to: a region, population,
    phase or time-frame step) is taken to err alike on both arms, so its uncertainty enters the
    difference once per arm minus twice the covariance sqrt(v_a v_b). With ``precision`` each
    trial's difference weighs 1 / (its imagined variance + both starts' sampling variances)
    instead of the chains' weights. None when unpaired."""
    pa, pb = {c.pair: c for c in ca if c.pair is not None}, {c.pair: c for c in cb if c.pair is not None}
    common = sorted(set(pa) & set(pb))
    if not common or len(common) != len(ca) or len(common) != len(cb):
        return None
    ds, vs, ws = [], [], []
    for j in common:
        a, b = pa[j], pb[j]
        vb = dict(b.step_vars)
        cov = sum(math.sqrt(max(v, 0.0) * max(vb[k], 0.0)) for k, v in a.step_vars if k and k in vb)
        ds.append(a.mean - b.mean)
        vs.append(max(a.var + b.var - 2.0 * cov, 0.0))
        # a placebo path's two chains start at one cell: its sampling error cancels in their difference
        start_var = 0.0 if a.from_placebo and b.from_placebo else sampling_var(a) + sampling_var(b)
        ws.append(1.0 / max(vs[-1] + start_var, 1e-12) if precision else (a.weight + b.weight) / 2)
    return combine(ds, vs, ws, how)


def combine(means: Sequence[float], variances: Sequence[float], weights: Sequence[float],
            how: str = "mixture") -> tuple[float, float]:
    """(mean, variance) of k path beliefs N(mean_i, var_i) with weights w_i.

    ``mixture``: one of the paths is right: the Gaussian mixture's mean and variance (mean of the
    variances + spread between the paths). ``pooled``: the paths are k estimates of one target whose
    errors are independent: the weighted mean, with variance sum(w_i^2 var_i) / (sum w)^2 (1/k of
    the mean variance at equal weights) plus the between-path spread / k, so anchors that disagree
    still widen the belief."""
    total = sum(weights)
    m = sum(w * x for w, x in zip(weights, means)) / total
    between = sum(w * (x - m) ** 2 for w, x in zip(weights, means)) / total
    if how == "mixture":
        return m, max(sum(w * v for w, v in zip(weights, variances)) / total + between, 0.0)
    if how == "pooled":
        within = sum(w * w * v for w, v in zip(weights, variances)) / total ** 2
        return m, max(within + between / len(means), 0.0)
    raise ValueError(f"unknown aggregation {how!r} (pooled | mixture)")


def mixture(chains: Sequence[Chain], how: str = "mixture", precision: bool = False) -> tuple[float, float]:
    """Mean and variance of the chains' beliefs combined as ``how`` says (``combine``); with
    ``precision`` each chain weighs 1 / (its imagined variance + its start's sampling variance)."""
    weights = [1.0 / (c.var + sampling_var(c)) if precision else c.weight for c in chains]
    return combine([c.mean for c in chains], [c.var for c in chains], weights, how)


# ---------------------------------------------------------------- the chains' answer (option probabilities: answers.py)


def arm_beliefs(chains: Sequence[Chain], how: str = "mixture", precision: bool = False) -> dict[str, tuple[float, float, float]]:
    """arm -> (mean, variance, SD of one participant's result) from its chains."""
    out = {}
    for arm in sorted({c.arm for c in chains}):
        cs = [c for c in chains if c.arm == arm]
        m, v = mixture(cs, how, precision)
        sds = [c.scale for c in cs if not c.relative]
        out[arm] = (m, v, sum(sds) / len(sds) if sds else max(abs(m), MIN_SD))
    return out


def answer_probs(q: Question, chains: Sequence[Chain], s: Settings) -> list[float]:
    precision = s.weights == "precision"
    if q.source == "ct_open":
        differences = {}
        for g, (a, b) in enumerate(compared_arms(q)):
            d = paired_difference([c for c in chains if c.arm == a and c.group == g],
                                  [c for c in chains if c.arm == b and c.group == g], s.aggregate, precision)
            if d is not None:
                differences[(a, b)] = d
        return ct_format_answer(q, arm_beliefs(chains, s.aggregate, precision), s, differences)
    m, v = mixture(chains, s.aggregate, precision)
    return local_answer(q, m, v, s)


# ---------------------------------------------------------------- running the chains


Ask = Callable[[list[Question]], list[str]]


def imagine(questions: Sequence[Question], ask: Optional[Ask], s: Settings
            ) -> tuple[dict[str, list[float]], dict[str, dict], Counter]:
    """Successive imagining for ``questions`` (none may have a ``fallback_reason``).

    ``ask`` answers a batch of step questions with one DECISION text each; ``ask=None`` is the
    ``retrieval`` control: no model, every step moves nothing (the anchors' posted values carried
    unchanged). Steps are asked level by level across every chain, so each model call is one batch.
    Returns (probabilities by question id, trajectories by id, counts)."""
    counts: Counter = Counter()
    chains = {q.id: plan_chains(q, s, own_anchor=ask is not None) for q in questions}
    flat = [c for cs in chains.values() for c in cs]
    depth = max((len(c.steps) for c in flat), default=0)
    for level in range(depth):
        for c in flat:
            if level in c.shared:     # made by both compared arms: cancels, not asked (counted)
                counts["shared_steps"] += ask is not None
                _, before, after = step_key(c.steps[level])
                c.trajectory.append({"factor": c.steps[level].factor, "from": before, "to": after, "shared": True,
                                     "mean": round(c.mean, 4), "sd": round(math.sqrt(c.var), 4)})
        todo = [c for c in flat if level < len(c.steps) and level not in c.shared]
        if ask is None:
            for c in todo:
                c.trajectory.append({"factor": c.steps[level].factor, "mean": c.mean, "var": c.var})
            continue
        batch = [step_question(c.steps[level], c.mean, None if c.relative else c.scale, c.start.get("n"), level > 0,
                               f"{c.qid}/{c.arm}/{i}/step{level}", unit=c.start.get("unit"))
                 for i, c in enumerate(todo)]
        for c, sq in zip(todo, batch):   # which calibration answers the step (LLMPredictor.operator_calibration)
            sq.meta["calibration"] = "local" if c.arm == "target" else "retrieved"
        texts = ask(batch)
        counts["steps"] += len(batch)
        for c, sq, text in zip(todo, batch, texts):
            parsed = parse_decision(text, len(sq.options))
            apply_step(c, parsed.probs if parsed.valid else None, s, step_key(c.steps[level]))
            counts["invalid_steps"] += not parsed.valid
            c.trajectory.append({"factor": c.steps[level].factor, "from": sq.from_value, "to": sq.to_value,
                                 "probs": [round(p, 4) for p in parsed.probs] if parsed.valid else None,
                                 "mean": round(c.mean, 4), "sd": round(math.sqrt(c.var), 4)})
    probs, trajectories = {}, {}
    for q in questions:
        cs = chains[q.id]
        counts["chains"] += len(cs)
        counts["zero_step_chains"] += sum(not c.steps for c in cs)
        probs[q.id] = answer_probs(q, cs, s)
        trajectories[q.id] = {"probs": probs[q.id], "chains": [
            {"arm": c.arm, "group": c.group, "start": {k: c.start.get(k) for k in ("nct_id", "arm_label", "value", "sd")},
             "weight": c.weight, "steps": c.trajectory, "final": {"mean": round(c.mean, 4), "sd": round(math.sqrt(c.var), 4)},
             "invalid_steps": c.invalid_steps} for c in cs]}
    return probs, trajectories, counts


def rag_question(q: Question, s: Settings) -> Question:
    """The RAG control's prompt: the question with its anchors' posted results listed
    (``context['rag']``): the same anchors imagining starts from (``anchor_groups``), each listed once."""
    listed, seen = [], set()
    chosen = [(arm, a) for _, group in anchor_groups(q, s) for arm, lst in group.items() for a in lst]
    for arm, a in sorted(chosen, key=lambda x: x[0]):    # by arm; within an arm, pair by pair
        if (arm, id(a)) in seen:       # the control arm's anchor of a trial that several pairs start from
            continue
        seen.add((arm, id(a)))
        listed.append({"condition": ", ".join(a.get("conditions") or []), "label": a.get("arm_label"),
                       "type": a.get("arm_type"), "intervention": shown_intervention(a),
                       "dose": None if a.get("dose_value") is None else {"value": a.get("dose_value"), "unit": a.get("dose_unit")},
                       "measure": a.get("measure"),
                       "result": {"value": a.get("value"), "unit": a.get("unit"), "spread": a.get("spread"),
                                  "dispersion_type": a.get("dispersion_type"), "n": a.get("n")}})
    ctx = dict(q.context)
    ctx["rag"] = listed
    return Question(**{**q.__dict__, "context": ctx})


def answer_or_uniform(questions: Sequence[Question], run, counts: Counter, trajectories: dict) -> list:
    """Predictions of a no-model imagining predictor (retrieval, oracle): ``run(questions)`` -> (probs,
    trajectories, counts) for the questions imagining can answer; the others get a uniform answer,
    counted as ``fallback_<reason>``."""
    import json

    from .prediction import Prediction

    reasons = {q.id: fallback_reason(q) for q in questions}
    counts.update(f"fallback_{r}" for r in reasons.values() if r)
    probs, traj, c = run([q for q in questions if not reasons[q.id]])
    counts.update(c)
    trajectories.update(traj)
    return [Prediction(q.id, probs[q.id], True, json.dumps(traj[q.id], default=str)) if q.id in probs
            else Prediction(q.id, [1.0 / len(q.options)] * len(q.options), True, "fallback: uniform")
            for q in questions]
