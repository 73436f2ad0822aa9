"""Successive imagining: paths, value-carrying chains checked by hand, answers from imagined results,
the retrieval and RAG controls, the anchor index against a brute-force scan, and the operator bins."""
import math

import numpy as np
import pytest

from deepimagine.evaluate import answers
from deepimagine.evaluate import imagine as im
from deepimagine.core import operator as op
from deepimagine.pairs.anchors import AnchorIndex, attach_anchors
from deepimagine.core.semantics import CMP_NONE, CMP_WORSE, END_NO, END_YES, SUP_NO, SUP_YES, option_roles
from deepimagine.pairs.prospective import trial_items
from deepimagine.core.questions import CHANGE_OPTIONS, DIRECTION_OPTIONS, Question, format_answer, render_prompt
from deepimagine.core.states import FACTOR_ORDER, arm_similarity, build_path, factor_key


def state(**kw):
    base = {"nct_id": "NCT00000001", "intervention": "metformin", "is_placebo": False, "arm_type": "EXPERIMENTAL",
            "arm_label": "M 10", "dose_value": 10.0, "dose_value_mg": 10.0, "dose_unit": "mg", "regions": ["Europe"],
            "sex": "ALL", "phase": "PHASE2", "time_weeks": 12.0, "time_frame": "12 weeks", "conditions": ["T2D"],
            "measure": "HbA1c change", "unit": "%"}
    return {**base, **kw}


def test_build_path_changes_one_factor_at_a_time():
    start = state()
    target = state(dose_value=40.0, dose_value_mg=40.0, regions=["East Asia"], time_weeks=24.0, time_frame="24 weeks")
    path = build_path(start, target)
    assert [s.factor for s in path] == ["dose", "region", "time_frame"]
    assert path[0].after["dose_value_mg"] == 40.0 and path[0].after["regions"] == ["Europe"]
    assert all(factor_key(path[-1].after, f) == factor_key(target, f) for f in FACTOR_ORDER)
    assert build_path(target, target) == []
    other = state(intervention="sitagliptin", dose_value_mg=100.0, phase=None)
    assert [s.factor for s in build_path(start, other)] == ["intervention"]      # dose comes with the drug
    assert [s.factor for s in build_path(start, target, ("time_frame", "dose"))] == ["time_frame", "dose"]


def test_operator_bins_and_centres():
    edges = [-1.0, -0.3, 0.3, 1.0]
    assert [op.change_bin(z, edges) for z in (-2, -0.5, 0.0, 0.3, 0.99, 5)] == [0, 1, 2, 3, 3, 4]
    assert op.bin_centres(edges) == pytest.approx([-1.7, -0.65, 0.0, 0.65, 1.7])
    mean, var = op.expected_change([0, 0, 0.5, 0.5, 0], op.bin_centres(edges))
    assert mean == pytest.approx(0.325) and var == pytest.approx(0.325 ** 2)
    with pytest.raises(ValueError):
        op.change_bin(0.0, [0.3, 0.1])


def _ct_question(arm_states, anchors, category="superiority"):
    a, b = "Drug 20 mg", "Placebo"
    options = {"superiority": [SUP_YES.format(a=a, b=b), SUP_NO.format(a=a, b=b)],
               "comparative_effect": [CMP_WORSE.format(x=b, y=a), CMP_WORSE.format(x=a, y=b), CMP_NONE.format(a=a, b=b)],
               "endpoint": [END_YES, END_NO]}[category]
    return Question(id="q1", source="ct_open", kind="ct_open", category=category, split="test",
                    nct_ids=["NCT00000009"], factor="arm", from_value=b, to_value=a, options=options, answer_index=0,
                    context={"trial": {"nct_id": "NCT00000009", "arms": []}, "outcome": {"measure": "HbA1c change"},
                             "arm_states": arm_states, "anchors": {"arms": anchors}},
                    meta={"list_of_tuples": [[a, "?", b]]})


def _anchor(value, sd=1.0, n=100, **kw):
    return {**state(**kw), "value": value, "sd": sd, "n": n, "better": "higher", "score": 5.0}


def test_chain_with_fixed_step_answers_by_hand():
    """Two steps answered (0,0,0,1,0) then (0,0,.5,0,.5): the carried mean and variance by hand."""
    target = state(dose_value=40.0, dose_value_mg=40.0, regions=["Asia"], arm_label="Drug 20 mg")
    placebo = state(is_placebo=True, intervention=None, dose_value=None, dose_value_mg=None, arm_type="PLACEBO_COMPARATOR",
                    arm_label="Placebo")
    q = _ct_question({"Drug 20 mg": target, "Placebo": placebo},
                     {"Drug 20 mg": [_anchor(1.0, sd=2.0)], "Placebo": [_anchor(0.5, is_placebo=True, intervention=None,
                                                                                 dose_value=None, dose_value_mg=None,
                                                                                 arm_type="PLACEBO_COMPARATOR")]})
    s = im.Settings(k=1)
    answers = {"Drug 20 mg": [[0, 0, 0, 1, 0], [0, 0, 0.5, 0, 0.5]]}
    seen = []

    def ask(batch):
        out = []
        for sq in batch:
            seen.append(sq)
            arm_step = 0 if sq.factor == "dose" else 1
            out.append(format_answer(answers["Drug 20 mg"][arm_step]))
        return out

    probs, traj, counts = im.imagine([q], ask, s)
    assert counts["steps"] == 2 and counts["invalid_steps"] == 0
    chain = next(c for c in traj["q1"]["chains"] if c["arm"] == "Drug 20 mg")
    # step 1: +0.65 SD x 2 = +1.3 (var 0); step 2: mean 0.85 SD, var 0.7225 SD^2 -> +1.7, var 2.89
    assert chain["steps"][0]["mean"] == pytest.approx(2.3)
    assert chain["final"]["mean"] == pytest.approx(4.0)
    assert chain["final"]["sd"] == pytest.approx(math.sqrt(0.7225 * 4))
    assert seen[1].context["anchor"]["result"]["value"] == pytest.approx(2.3)   # the imagined value is carried
    assert "change: region" in render_prompt(seen[1]) and "Asia" in render_prompt(seen[1])
    # the placebo arm has no step: its belief is its anchor's value, variance 0
    pbo = next(c for c in traj["q1"]["chains"] if c["arm"] == "Placebo")
    assert pbo["steps"] == [] and pbo["final"] == {"mean": 0.5, "sd": 0.0}
    # final answer by hand: D ~ N(3.5, 2.89); SE = 1.5 * sqrt(2/100) (pooled SD of 2 and 1)
    se = math.sqrt((4 + 1) / 2) * math.sqrt(2 / 100)
    p_up = 1 - 0.5 * (1 + math.erf((1.959963984540054 * se - 3.5) / math.sqrt(2.89 + se * se) / math.sqrt(2)))
    assert probs["q1"][0] == pytest.approx(p_up, abs=1e-5)


def test_variance_scale_scales_each_steps_variance_and_keeps_its_mean():
    """evaluate.imagine_variance_scale: a step answered (0, 0, .5, 0, .5) moves the carried mean by
    0.525 SD either way; its variance 0.275625 SD^2 is multiplied by the scale (0: point estimate)."""
    edges = (-0.6, -0.15, 0.15, 0.6)
    out = {}
    for scale in (1.0, 0.25, 0.0):
        c = im.Chain("q", "a", {}, [], scale=2.0, relative=False, mean=1.0)
        im.apply_step(c, [0, 0, 0.5, 0, 0.5], im.Settings(edges_sd=edges, variance_scale=scale))
        out[scale] = (c.mean, c.var)
    assert all(m == pytest.approx(1.0 + 0.525 * 2.0) for m, _ in out.values())
    assert out[1.0][1] == pytest.approx(0.275625 * 4)
    assert out[0.25][1] == pytest.approx(0.275625)
    assert out[0.0][1] == 0.0


def test_mixture_of_paths():
    a = im.Chain("q", "x", {}, [], 1.0, False, 1.0, 1.0, 0.0)
    b = im.Chain("q", "x", {}, [], 1.0, False, 3.0, 3.0, 1.0)
    m, v = im.mixture([a, b])
    assert m == pytest.approx(2.5) and v == pytest.approx((1 + 3 * 10) / 4 - 2.5 ** 2)


def test_precision_weights_are_one_over_each_paths_variance_with_its_anchor_size_as_floor():
    """imagine_weights: precision: a chain weighs 1 / (imagined variance + scale^2 / n of its start);
    paired trials weigh 1 / (the difference's variance + both starts' sampling variances)."""
    a = im.Chain("q", "x", {"n": 100}, [], 2.0, False, 1.0, 1.0, 0.0)     # no step: variance 0, floor 4 / 100
    b = im.Chain("q", "x", {"n": 25}, [], 2.0, False, 1.0, 3.0, 0.36)     # a step: 0.36 + 4 / 25
    wa, wb = 1 / 0.04, 1 / (0.36 + 0.16)
    m, v = im.mixture([a, b], "pooled", precision=True)
    assert m == pytest.approx((wa * 1.0 + wb * 3.0) / (wa + wb))
    assert im.mixture([a, b], "pooled") == im.combine([1.0, 3.0], [0.0, 0.36], [1.0, 1.0], "pooled")
    assert im.sampling_var(im.Chain("q", "x", {}, [], 2.0, False)) == 4.0            # n not posted: 1
    # two trial-paired anchors: trial 0 without steps, trial 1 with one unshared step on the drug arm
    drug = [im.Chain("q", "d", {"n": 50}, [], 1.0, False, 1.0, 2.0, 0.0, pair=0),
            im.Chain("q", "d", {"n": 50}, [], 1.0, False, 1.0, 4.0, 0.5, pair=1)]
    pbo = [im.Chain("q", "p", {"n": 50}, [], 1.0, False, 1.0, 1.0, 0.0, pair=0),
           im.Chain("q", "p", {"n": 50}, [], 1.0, False, 1.0, 1.0, 0.0, pair=1)]
    w0, w1 = 1 / (0.0 + 0.02 + 0.02), 1 / (0.5 + 0.02 + 0.02)
    d, _ = im.paired_difference(drug, pbo, "pooled", precision=True)
    assert d == pytest.approx((w0 * 1.0 + w1 * 3.0) / (w0 + w1))
    assert im.paired_difference(drug, pbo, "pooled")[0] == pytest.approx(2.0)


def test_pooled_paths_are_k_estimates_of_one_target():
    """pooled: weighted mean; variance sum(w^2 v) / (sum w)^2 + between-path spread / k."""
    m, v = im.combine([1.0, 3.0], [1.0, 3.0], [1.0, 1.0], "pooled")
    assert m == pytest.approx(2.0) and v == pytest.approx((1 + 3) / 4 + 1.0 / 2)
    m, v = im.combine([1.0, 3.0], [1.0, 3.0], [1.0, 3.0], "pooled")
    assert m == pytest.approx(2.5) and v == pytest.approx((1 + 9 * 3) / 16 + (1 * 1.5 ** 2 + 3 * 0.5 ** 2) / 4 / 2)
    assert im.combine([2.0], [0.5], [1.0], "pooled") == im.combine([2.0], [0.5], [1.0], "mixture") == (2.0, 0.5)
    # k paths that agree: pooled is k times surer than the mixture
    assert im.combine([1.0] * 3, [0.9] * 3, [1.0] * 3, "pooled")[1] == pytest.approx(0.3)
    assert im.combine([1.0] * 3, [0.9] * 3, [1.0] * 3, "mixture")[1] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="unknown aggregation"):
        im.combine([1.0], [1.0], [1.0], "median")


def test_retrieval_control_equals_hand_computation():
    """No model: the anchors' posted values carried unchanged, mixed, compared."""
    target = state(arm_label="Drug 20 mg")
    placebo = state(is_placebo=True, intervention=None, dose_value=None, arm_type="PLACEBO_COMPARATOR", arm_label="Placebo")
    anchors = {"Drug 20 mg": [_anchor(1.0), _anchor(1.4)], "Placebo": [_anchor(0.0, is_placebo=True, intervention=None)]}
    q = _ct_question({"Drug 20 mg": target, "Placebo": placebo}, anchors, "comparative_effect")
    probs, _, _ = im.imagine([q], None, im.Settings(k=3, pairing="none", aggregate="mixture"))
    d_mean, d_var = 1.2, 0.04          # mixture of 1.0 and 1.4; placebo exact
    se = 1.0 * math.sqrt(2 / 100)
    up, down, none = answers.significance_probs(d_mean, d_var, se)
    # options: placebo worse than drug (= drug better, higher is better), drug worse, none
    assert probs["q1"] == pytest.approx(answers.normalise([up, down, none]), abs=1e-9)
    assert probs["q1"][0] > 0.99


def test_option_roles_and_endpoint_any_met():
    q = _ct_question({}, {}, "endpoint")
    assert option_roles(q) == [("any_met",), ("none_met",)]
    q2 = _ct_question({}, {}, "superiority")
    assert option_roles(q2)[0] == ("improves", "Drug 20 mg", "Placebo")
    assert option_roles(q2)[1][0] == "not_improves"


def test_any_significant_correlates_comparisons_through_their_shared_arm():
    # one pair: the normal tail, exactly
    assert answers.any_significant([("A", "P")], [1.0], [2.0], [0.5]) == pytest.approx(
        1 - answers._phi((0.5 - 1.0) / 2.0), abs=1e-12)
    # two drugs against one placebo, centred on their thresholds: correlation 0.5, so
    # P(neither) = 1/4 + asin(0.5) / (2 pi) = 1/3 (the bivariate normal orthant), P(any) = 2/3,
    # where treating them as independent gives 3/4
    two = answers.any_significant([("A", "P"), ("B", "P")], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0])
    assert two == pytest.approx(1 - (0.25 + math.asin(0.5) / (2 * math.pi)), abs=0.01)
    # the shared arm on opposite sides (A - P and P - B): correlation -0.5, P(any) = 1 - 1/6
    opposite = answers.any_significant([("A", "P"), ("P", "B")], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0])
    assert opposite == pytest.approx(1 - (0.25 + math.asin(-0.5) / (2 * math.pi)), abs=0.01)
    # no arm in common: independent
    apart = answers.any_significant([("A", "P"), ("B", "Q")], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0])
    assert apart == pytest.approx(0.75, abs=0.01)
    # A - P, B - P and A - B: a degenerate (rank-2) correlation is fine; seeded: the same twice
    args = ([("A", "P"), ("B", "P"), ("A", "B")], [0.3, 0.1, 0.2], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5])
    assert answers.any_significant(*args) == answers.any_significant(*args)
    assert max(1 - answers._phi((0.5 - m) / 1.0) for m in args[1]) <= answers.any_significant(*args) <= 1 - math.prod(
        answers._phi((0.5 - m) / 1.0) for m in args[1])


def test_local_question_starts_at_its_own_anchor():
    q = Question(id="L1", source="natural", kind="dose", category="direction", split="test", nct_ids=["NCT00000001"],
                 factor="dose", from_value="10 mg", to_value="40 mg", options=list(DIRECTION_OPTIONS), answer_index=0,
                 context={"trial": {"nct_id": "NCT00000001", "regions": ["Europe"]},
                          "outcome": {"measure": "HbA1c change"},
                          "anchor": {"label": "M 10", "intervention": "metformin", "dose": {"value": 10.0, "value_mg": 10.0},
                                     "result": {"value": 1.0, "spread": 2.0, "dispersion_type": "Standard Deviation", "n": 50}},
                          "target": {"label": "M 40", "intervention": "metformin", "dose": {"value": 40.0, "value_mg": 40.0}},
                          "anchors": {"arms": {"target": [_anchor(5.0)]}}},
                 meta={"margin": 0.4})
    s = im.Settings()
    probs, traj, counts = im.imagine([q], lambda b: [format_answer([0, 0, 0, 0, 1])] * len(b), s)
    # SD 2 (from the posted SD): +1.7 x 2 = 3.4 above the anchor, far past the margin
    assert traj["L1"]["chains"][0]["final"]["mean"] == pytest.approx(4.4)
    assert probs["L1"][0] > 0.99
    # the retrieval control uses the target's retrieved anchors instead (5.0 vs 1.0: higher)
    rprobs, _, _ = im.imagine([q], None, s)
    assert rprobs["L1"][0] > 0.99
    # a change question's bins come from its own edges and scale
    qc = Question(**{**q.__dict__, "id": "L2", "category": "change", "options": list(CHANGE_OPTIONS),
                     "meta": {"sd": 2.0, "edges": [-1.0, -0.3, 0.3, 1.0]}})
    cprobs, _, _ = im.imagine([qc], lambda b: [format_answer([0, 0, 0, 1, 0])] * len(b), s)
    assert max(range(5), key=cprobs["L2"].__getitem__) == 3


def test_rag_prompt_holds_the_anchors_results():
    target = state(arm_label="Drug 20 mg")
    anchors = {"Drug 20 mg": [_anchor(1.234), _anchor(9.876)], "Placebo": [_anchor(0.5)]}
    q = _ct_question({"Drug 20 mg": target, "Placebo": target}, anchors)
    text = render_prompt(im.rag_question(q, im.Settings(k=3, pairing="none")))
    assert "1.234" in text and "9.876" in text and "0.5" in text
    assert "1.234" not in render_prompt(q)
    assert "9.876" not in render_prompt(im.rag_question(q, im.Settings(k=1, pairing="none")))


def _paired_question(category="comparative_effect"):
    """Drug vs placebo; anchor trials T1 (both arms), T2 (both arms, less similar) and T3 (drug only)."""
    target = state(arm_label="Drug 20 mg", regions=["Asia"])
    placebo = state(is_placebo=True, intervention=None, dose_value=None, dose_value_mg=None,
                    arm_type="PLACEBO_COMPARATOR", arm_label="Placebo", regions=["Asia"])
    pbo = dict(is_placebo=True, intervention=None, dose_value=None, dose_value_mg=None, arm_type="PLACEBO_COMPARATOR")
    anchors = {"Drug 20 mg": [{**_anchor(3.0, nct_id="T3"), "score": 9.0}, {**_anchor(2.0, nct_id="T2"), "score": 4.0},
                              {**_anchor(1.5, nct_id="T1"), "score": 8.0}],
               "Placebo": [{**_anchor(1.0, nct_id="T1", **pbo), "score": 8.0},
                           {**_anchor(-1.0, nct_id="T2", **pbo), "score": 4.0}]}
    return _ct_question({"Drug 20 mg": target, "Placebo": placebo}, anchors, category)


def test_paired_anchors_share_trials_in_order_of_similarity():
    q = _paired_question()
    paired = im.paired_anchors(q, 3)
    assert [a["nct_id"] for a in paired["Drug 20 mg"]] == ["T1", "T2"]     # T3 has no placebo arm
    assert [a["nct_id"] for a in paired["Placebo"]] == ["T1", "T2"]
    assert [a["value"] for a in paired["Drug 20 mg"]] == [1.5, 2.0]
    assert im.paired_anchors(q, 1)["Placebo"][0]["nct_id"] == "T1"
    # the RAG control lists the same paired anchors
    text = render_prompt(im.rag_question(q, im.Settings(k=3)))
    assert "result 1.5" in text and "result 3" not in text


def test_paired_retrieval_compares_each_trial_with_itself():
    """Paired, the retrieval control's difference combines each anchor trial's own contrast:
    T1 1.5 - 1.0 = 0.5 and T2 2.0 - (-1.0) = 3.0 -> mean 1.75, spread 1.5625: the variance as a
    mixture, 1.5625 / 2 pooled (the two trials as two estimates of one difference)."""
    q = _paired_question()
    se = 1.0 * math.sqrt(2 / 100)
    for how, var in (("mixture", 1.5625), ("pooled", 1.5625 / 2)):
        probs, _, _ = im.imagine([q], None, im.Settings(k=3, aggregate=how))
        up, down, none = answers.significance_probs(1.75, var, se)
        assert probs["q1"] == pytest.approx(answers.normalise([up, down, none]), abs=1e-9)
    unpaired, _, _ = im.imagine([q], None, im.Settings(k=3, pairing="none"))
    assert unpaired["q1"] != pytest.approx(probs["q1"])


def test_paired_chains_share_the_uncertainty_of_a_common_step():
    """Both arms of one trial take the same region step (Europe -> Asia), answered (0,.5,0,.5,0)
    on each: its variance (0.65^2 = 0.4225 SD^2 per arm, bin centres +-0.65) cancels in the paired difference, while the
    unpaired comparison adds it twice."""
    q = _paired_question()
    s = im.Settings(k=1)
    ask = lambda b: [format_answer([0, 0.5, 0, 0.5, 0])] * len(b)  # noqa: E731
    _, traj, counts = im.imagine([q], ask, s)
    assert counts["steps"] == 2 and {c["steps"][0]["factor"] for c in traj["q1"]["chains"]} == {"region"}
    chains = im.plan_chains(q, s)
    for c in chains:
        im.apply_step(c, [0, 0.5, 0, 0.5, 0], s, im.step_key(c.steps[0]))
    d_mean, d_var = im.paired_difference([c for c in chains if c.arm == "Drug 20 mg"],
                                         [c for c in chains if c.arm == "Placebo"])
    assert d_mean == pytest.approx(0.5) and d_var == pytest.approx(0.0, abs=1e-12)
    assert sum(c.var for c in chains) == pytest.approx(2 * 0.4225)


def _pool(n=60):
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        measure = ["HbA1c change from baseline", "Fasting glucose", "Body weight change"][i % 3]
        out.append({**state(nct_id=f"NCT{i:08d}", intervention=["metformin", "sitagliptin", None][i % 3 if i % 5 else 2],
                            is_placebo=i % 5 == 0, arm_type="PLACEBO_COMPARATOR" if i % 5 == 0 else "EXPERIMENTAL",
                            dose_value_mg=float(rng.choice([5, 10, 20])), regions=[["Europe"], ["Asia"]][i % 2],
                            measure=measure), "value": float(i), "spread": 1.0, "dispersion_type": "Standard Deviation",
                    "n": 50, "split": "train"})
    return out


def _embed(texts):
    vocab = ["hba1c", "glucose", "weight", "change", "baseline", "fasting", "body", "from"]
    m = np.array([[t.lower().count(w) for w in vocab] for t in texts], dtype=np.float32) + 1e-3
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_anchor_index_matches_brute_force():
    pool = _pool()
    index = AnchorIndex.build(pool, _embed)
    target = state(nct_id="NCT99999999", measure="Change from baseline in HbA1c")
    q = Question(id="x", source="ct_open", kind="ct_open", category="endpoint", split="test", nct_ids=["NCT00000003"],
                 factor="", from_value="", to_value="", options=[END_YES, END_NO], answer_index=0, context={}, meta={})
    attach_anchors([q], lambda _: ("Change from baseline in HbA1c", {"t": target}), index, _embed, 4, 0.5)
    got = [(a["nct_id"], a["value"]) for a in q.context["anchors"]["arms"]["t"]]
    # brute force: every pool cell of the best outcome (HbA1c), own trial excluded, ranked by similarity
    best = [c for c in pool if c["measure"] == "HbA1c change from baseline" and c["nct_id"] != "NCT00000003"]
    brute = sorted(best, key=lambda c: (-arm_similarity(c, target), c["nct_id"], c["arm_label"]))[:4]
    assert got == [(c["nct_id"], c["value"]) for c in brute]
    assert all(a["nct_id"] != "NCT00000003" for a in q.context["anchors"]["arms"]["t"])
    # nothing similar enough -> no anchor (the question falls back, counted)
    q2 = Question(**{**q.__dict__, "id": "y", "context": {}})
    counts = attach_anchors([q2], lambda _: ("zzz", {"t": target}), index, lambda t: np.ones((len(t), 8), np.float32) /
                            np.sqrt(8) * np.array([[-1, -1, -1, -1, -1, -1, -1, -1]]), 4, 0.5)
    assert counts == {"no_anchor": 1} and q2.context["anchors"] is None


def test_prospective_items_follow_ct_open_format():
    cells = [{"nct_id": "NCT00000005", "outcome_id": 0, "group_id": "OG000", "arm_id": 0, "arm_label": "Placebo",
              "arm_type": "PLACEBO_COMPARATOR", "is_placebo": True, "arm_rank": 0, "value": 0.1, "measure": "HbA1c",
              "time_frame": "12 weeks", "outcome_type": "PRIMARY"},
             {"nct_id": "NCT00000005", "outcome_id": 0, "group_id": "OG001", "arm_id": 1, "arm_label": "Drug 20 mg",
              "arm_type": "EXPERIMENTAL", "is_placebo": False, "arm_rank": 6, "value": -0.9, "measure": "HbA1c",
              "time_frame": "12 weeks", "outcome_type": "PRIMARY", "intervention_name": "Drug"}]
    analyses = {(0, frozenset({"OG000", "OG001"})): {"p_value": 0.001, "p_value_modifier": "<"}}
    items = list(trial_items(cells, analyses, {"nct_id": "NCT00000005", "title": "t"}, lambda c: "lower", 0.05))
    assert [i["meta_label"] for i in items] == ["single_arm"]         # one item per (trial, outcome)
    sup, cmp_ = items[0]["questions"]
    assert sup["answer_index"] == 0 and sup["options"][0] == SUP_YES.format(a="Drug 20 mg", b="Placebo")
    assert cmp_["answer"] == CMP_WORSE.format(x="Placebo", y="Drug 20 mg")      # lower is better: placebo is worse
    assert all("value" not in arm for item in items for arm in item["arms"])     # no own result in the item
    # a second dose arm against the same placebo: the outcome is asked as one implicit endpoint question
    cells.append({**cells[1], "group_id": "OG002", "arm_id": 2, "arm_label": "Drug 40 mg", "value": -0.2})
    analyses[(0, frozenset({"OG000", "OG002"}))] = {"p_value": 0.4, "p_value_modifier": "="}
    (item,) = trial_items(cells, analyses, {"nct_id": "NCT00000005", "title": "t"}, lambda c: "lower", 0.05)
    assert item["meta_label"] == "no_arm" and [q["category"] for q in item["questions"]] == ["endpoint"]
    assert item["questions"][0]["answer"] == END_YES and len(item["list_of_tuples"]) == 2


def test_a_step_both_paired_arms_make_is_not_asked():
    """imagine_shared_steps: skip. Both arms of anchor trial T1 take the region step Europe -> Asia;
    the drug arm also takes a dose step 10 -> 20 mg. Only the dose step is asked; the region step
    is kept in the trajectories, flagged shared, and moves neither arm."""
    q = _paired_question()
    q.context["arm_states"]["Drug 20 mg"] = {**q.context["arm_states"]["Drug 20 mg"], "dose_value": 20.0,
                                             "dose_value_mg": 20.0}
    asked = []

    def ask(batch):
        asked.extend(batch)
        return [format_answer([0, 0, 0, 1, 0])] * len(b) if (b := batch) else []

    skip, ask_all = im.Settings(k=1, shared_steps="skip"), im.Settings(k=1, shared_steps="ask")
    chains = im.plan_chains(q, skip)
    assert [sorted(c.shared) for c in chains] == [[1], [0]]      # drug: dose, region; placebo: region
    assert all(not c.shared for c in im.plan_chains(q, ask_all))
    assert all(not c.shared for c in im.plan_chains(q, im.Settings(k=1, shared_steps="skip", pairing="none")))
    probs, traj, counts = im.imagine([q], ask, skip)
    assert [x.factor for x in asked] == ["dose"] and counts["steps"] == 1 and counts["shared_steps"] == 2
    drug, placebo = traj["q1"]["chains"]
    assert drug["steps"][1] == {"factor": "region", "from": "Europe", "to": "Asia", "shared": True,
                                "mean": drug["steps"][0]["mean"], "sd": drug["steps"][0]["sd"]}
    assert placebo["steps"][0]["shared"] and placebo["final"] == {"mean": 1.0, "sd": 0.0}
    # the drug arm moved by the dose step alone: the "higher" bin's centre (one-hot: no variance)
    assert drug["final"]["mean"] == pytest.approx(1.5 + op.bin_centres(skip.edges_sd)[3])
    asked.clear()
    _, _, counts = im.imagine([q], ask, ask_all)
    assert counts["steps"] == 3 and "shared_steps" not in counts


def test_placebo_paths_read_the_drug_effect_from_each_anchor_trials_placebo_arm():
    """imagine_placebo_paths: anchor trial T1 (drug 1.5, placebo 1.0, SD 1, n 100) gives its anchor
    pair and a placebo path: both chains start at T1's placebo cell (1.0); the drug's takes the one
    step placebo -> the target drug (answered (0, 0, 0, .5, .5): mean (0.375 + 0.9) / 2 SD); the
    region step both make is shared and not asked. Precision weights: the anchor pair
    1 / (0 + 2 x 1/100), the placebo path 1 / (its step variance) with no sampling term (one start)."""
    q = _paired_question()
    s = im.Settings(k=1, shared_steps="skip", weights="precision", placebo_paths=True)
    chains = im.plan_chains(q, s)
    path = [c for c in chains if c.from_placebo]
    assert [(c.arm, c.pair, c.start["nct_id"], c.start["is_placebo"]) for c in path] == [
        ("Drug 20 mg", im.PLACEBO_PAIR, "T1", True), ("Placebo", im.PLACEBO_PAIR, "T1", True)]
    drug_path = path[0]
    assert [x.factor for x in drug_path.steps] == ["intervention", "region"] and drug_path.shared == {1}
    assert all(not c.from_placebo for c in im.plan_chains(q, im.Settings(k=1, placebo_paths=False)))
    answer = [0, 0, 0, 0.5, 0.5]
    asked = []
    ask = lambda b: asked.extend(b) or [format_answer(answer)] * len(b)  # noqa: E731
    probs, traj, counts = im.imagine([q], ask, s)
    assert [x.factor for x in asked] == ["arm"] and "placebo" in asked[0].from_value   # an intervention step asks as an arm change
    mean, var = op.expected_change(answer, op.bin_centres(s.edges_sd))
    d, v = [1.5 - 1.0, mean], [0.0, var]
    w = [1 / (0.0 + 2 * 1 / 100), 1 / var]
    m = (w[0] * d[0] + w[1] * d[1]) / sum(w)
    within = (w[0] ** 2 * v[0] + w[1] ** 2 * v[1]) / sum(w) ** 2
    between = sum(wi * (x - m) ** 2 for wi, x in zip(w, d)) / sum(w) / 2
    se = math.sqrt(2 / 100)
    up, down, none = answers.significance_probs(m, within + between, se)
    assert probs["q1"] == pytest.approx(answers.normalise([up, down, none]), abs=1e-6)
    # the retrieval control takes no placebo path (nothing imagined would make the drug equal placebo)
    from deepimagine.evaluate.llm import RetrievalPredictor
    from deepimagine.core.params import default_params
    ctrl = RetrievalPredictor(default_params(["evaluate.imagine_placebo_paths=true", "evaluate.imagine_k=1"]))
    ctrl.predict([q])
    assert len(ctrl.trajectories["q1"]["chains"]) == 2


def _endpoint_question():
    """Two dose arms vs placebo (an endpoint question): trial T1 holds all three arms; T2 holds only
    the 40 mg arm and placebo; T3 only the 20 mg arm."""
    pbo = dict(is_placebo=True, intervention=None, dose_value=None, dose_value_mg=None, arm_type="PLACEBO_COMPARATOR")
    arms = {"Drug 20 mg": state(arm_label="Drug 20 mg", dose_value=20.0, dose_value_mg=20.0),
            "Drug 40 mg": state(arm_label="Drug 40 mg", dose_value=40.0, dose_value_mg=40.0),
            "Placebo": state(arm_label="Placebo", **pbo)}
    anchors = {"Drug 20 mg": [{**_anchor(3.0, nct_id="T3"), "score": 9.0}, {**_anchor(1.5, nct_id="T1"), "score": 8.0}],
               "Drug 40 mg": [{**_anchor(2.5, nct_id="T2"), "score": 7.0}, {**_anchor(2.0, nct_id="T1"), "score": 8.0}],
               "Placebo": [{**_anchor(1.0, nct_id="T1", **pbo), "score": 8.0},
                           {**_anchor(-1.0, nct_id="T2", **pbo), "score": 7.0}]}
    q = _ct_question(arms, anchors, "endpoint")
    q.meta["list_of_tuples"] = [["Drug 20 mg", "?", "Placebo"], ["Drug 40 mg", "?", "Placebo"]]
    return q


def test_each_compared_pair_of_an_endpoint_question_is_trial_paired():
    """Each arm-vs-placebo pair starts from the anchor trials that hold both its arms: 20 mg vs
    placebo from T1 only, 40 mg vs placebo from T1 and T2; placebo has one set of chains per pair.
    The retrieval control's answer is then the two pairs' own contrasts: 1.5 - 1.0 = 0.5 for the
    first, (2.0 - 1.0 + 2.5 - (-1.0)) / 2 = 2.25 (pooled, spread 1.5625 / 2) for the second."""
    q = _endpoint_question()
    s = im.Settings(k=3)
    groups = im.anchor_groups(q, s)
    assert [(g, {a: [x["nct_id"] for x in lst] for a, lst in got.items()}) for g, got in groups] == [
        (0, {"Drug 20 mg": ["T1"], "Placebo": ["T1"]}),
        (1, {"Drug 40 mg": ["T1", "T2"], "Placebo": ["T1", "T2"]})]
    chains = im.plan_chains(q, s, own_anchor=False)
    assert sorted((c.arm, c.group, c.pair) for c in chains) == [
        ("Drug 20 mg", 0, 0), ("Drug 40 mg", 1, 0), ("Drug 40 mg", 1, 1), ("Placebo", 0, 0), ("Placebo", 1, 0),
        ("Placebo", 1, 1)]
    probs, _, _ = im.imagine([q], None, s)
    se = 1.0 * math.sqrt(2 / 100)
    # P(neither pair significant): the two differences share the placebo arm, correlation 0.5
    from scipy.stats import multivariate_normal
    sd1, sd2 = se, math.sqrt(1.5625 / 2 + se * se)
    t = answers.Z_ALPHA * se
    p_none = multivariate_normal(mean=[0.5, 2.25], cov=[[sd1 ** 2, 0.5 * sd1 * sd2], [0.5 * sd1 * sd2, sd2 ** 2]]
                                 ).cdf([t, t])
    assert probs["q1"][1] == pytest.approx(p_none, abs=0.0015)   # 0.0051 (independent: 0.0008)
    p1 = answers.significance_probs(0.5, 0.0, se)[0]
    p2 = answers.significance_probs(2.25, 1.5625 / 2, se)[0]
    assert (1 - p1) * (1 - p2) < p_none    # as independent, P(neither) would be smaller still
    # unpaired, each arm takes its first k retrieved anchors, one set of chains per arm
    unpaired = im.anchor_groups(q, im.Settings(k=3, pairing="none"))
    assert [g for g, _ in unpaired] == [None] and [x["nct_id"] for x in unpaired[0][1]["Drug 20 mg"]] == ["T3", "T1"]
    # a pair without a shared trial falls back to its arms' own anchors, beside the paired pair
    q.context["anchors"]["arms"]["Drug 20 mg"] = [{**_anchor(3.0, nct_id="T3"), "score": 9.0}]
    groups = im.anchor_groups(q, s)
    assert [g for g, _ in groups] == [1, None] and set(groups[1][1]) == {"Drug 20 mg", "Placebo"}
    # the RAG control lists each anchor once, however many pairs start from it (T1's placebo: two pairs)
    text = render_prompt(im.rag_question(_endpoint_question(), s))
    assert [line.split("| result ")[1] for line in text.splitlines() if "| result " in line] == [
        "1.5 %, n=100", "2 %, n=100", "2.5 %, n=100", "1 %, n=100", "-1 %, n=100"]


def test_empirical_centres_are_each_bins_mean_change_with_the_midpoint_where_a_bin_is_thin():
    edges = (-0.6, -0.15, 0.15, 0.6)
    got = op.empirical_centres({4: [0.7, 1.3, 2.2], 2: [0.0, 0.1], 0: [-1.0]}, edges, min_count=2)
    assert got == pytest.approx([-1.05, -0.375, 0.05, 0.375, 1.4])   # bins 0, 1, 3: too few -> midpoints


def test_fit_step_centres_per_operator_group_falls_back_to_the_pooled_bin():
    """Placebo -> drug steps ('arm_placebo') and dose steps get their own outer-bin centres; a bin
    with too few examples of a group takes the scale's pooled centre; relative steps apart."""
    def step(factor, frm, to, b, z, scale="sd"):
        return Question(id=f"{factor}{b}{z}", source="synthetic", kind="imagined", category="change", split="train",
                        nct_ids=[], factor=factor, from_value=frm, to_value=to, options=list(CHANGE_OPTIONS),
                        answer_index=b, meta={"z": z, "scale_from": scale})
    steps = ([step("intervention", "placebo", "drug 5 mg", 4, z) for z in (2.0, 3.0)]
             + [step("dose", "5 mg", "10 mg", 4, z) for z in (0.8, 1.0)]
             + [step("dose", "5 mg", "10 mg", 2, 0.1)] + [step("dose", "5 mg", "10 mg", 3, 0.2, "relative")] * 2)
    c = im.fit_step_centres(steps, (-0.6, -0.15, 0.15, 0.6), (-0.3, -0.05, 0.05, 0.3), min_count=2)
    assert c["sd"][4] == pytest.approx(1.7) and c["sd"][2] == pytest.approx(0.0)   # 1 example in bin 2: midpoint
    assert c["sd/arm_placebo"][4] == pytest.approx(2.5) and c["sd/dose"][4] == pytest.approx(0.9)
    assert c["sd/arm_placebo"][0] == c["sd"][0] == pytest.approx(-1.05)
    assert c["relative"][3] == pytest.approx(0.2) and "sd/arm" not in c
    s = im.Settings(edges_sd=(-0.6, -0.15, 0.15, 0.6), centres=c)
    assert s.step_centres(False, "arm_placebo")[4] == pytest.approx(2.5)
    assert s.step_centres(False, "region") == c["sd"]                          # no group fit: the pooled one
    assert im.Settings(edges_sd=(-0.6, -0.15, 0.15, 0.6)).step_centres(False, "dose") == op.bin_centres((-0.6, -0.15, 0.15, 0.6))
    # a placebo -> drug step answered 'much higher' moves the carried value by its group's centre
    ch = im.Chain("q", "a", {}, [], scale=2.0, relative=False, mean=1.0)
    im.apply_step(ch, [0, 0, 0, 0, 1], s, ("intervention", "placebo", "drug 5 mg"))
    assert ch.mean == pytest.approx(1.0 + 2.5 * 2.0) and ch.var == 0.0
