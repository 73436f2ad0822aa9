"""Intervention identity: development codes stay whole, codes and generic names listed together as
other names are one compound, and prompts show that compound's one name (its key), however a trial
lists it (code, brand or generic name with its dose)."""
from deepimagine.pairs.cells import canonical_names
from deepimagine.core.questions import render_prompt
from deepimagine.core.states import PathStep, describe, factor_key, step_question


def test_code_and_generic_name_listed_together_are_one_compound():
    names = [("sotaratamine", []), ("sotaratamine", []), ("bls3589", ["Sotaratamine"]),
             ("bls6886", []), ("pirataopram", ["PRT 20"])]
    canon = canonical_names(names)
    assert canon == {"bls3589": "sotaratamine", "prt": "pirataopram"}   # the more frequent name is canonical
    assert "bls6886" not in canon                    # another code of the same sponsor stays apart


def test_links_are_transitive_and_placebo_never_links():
    canon = canonical_names([("abc1234", ["Drugamab"]), ("drugamab", ["Drugamab-X"]), ("drugamab", []),
                             ("placebo", ["Drugamab"]), ("xyz9999", ["matching placebo"])])
    assert canon == {"abc1234": "drugamab", "drugamab-x": "drugamab"}
    assert "placebo" not in canon and "xyz9999" not in canon


def _state(**kw):
    base = {"nct_id": "NCT1", "conditions": ["Depression"], "phase": "PHASE2", "regions": ["Asia"],
            "arm_label": "A", "arm_type": "EXPERIMENTAL", "is_placebo": False, "dose_value": 56.0,
            "dose_unit": "mg", "dose_frequency": "BIW", "measure": "MADRS", "time_frame": "Week 8", "unit": "points"}
    return {**base, **kw}


def test_step_prompt_shows_one_name_per_compound_and_steps_compare_keys():
    before = _state(intervention="pirataopram", intervention_name="Pirataopram", arm_label="Pirataopram 20 mg")
    after = _state(intervention="sotaratamine", intervention_name="BLS-3589", arm_label="BLS-3589 56 mg")
    assert factor_key(before, "intervention") != factor_key(after, "intervention")
    assert describe(after, "intervention") == "sotaratamine 56 mg BIW"
    prompt = render_prompt(step_question(PathStep("intervention", before, after), -10.0, 9.0, 40, True, "q"))
    assert "change: arm: pirataopram 56 mg BIW -> sotaratamine 56 mg BIW" in prompt
    # a trial that lists the compound by its code (and the dose in the name) reads the same name
    coded = _state(intervention="sotaratamine", intervention_name="BLS-3589 56 mg", arm_label="B")
    assert describe(coded, "intervention") == describe(after, "intervention")
    assert describe(_state(intervention=None, intervention_name="Newdrug"), "intervention") == "Newdrug 56 mg BIW"


def test_natural_pair_arms_show_the_compound_name_steps_show():
    from deepimagine.pairs.build import arm_context
    cell = {"arm_label": "BLS-3589 56 mg", "arm_type": "EXPERIMENTAL", "intervention": "sotaratamine",
            "intervention_name": "BLS-3589", "is_placebo": False, "dose_value": 56.0, "dose_unit": "mg"}
    assert arm_context(cell, with_result=False)["intervention"] == "sotaratamine"
    assert arm_context({**cell, "is_placebo": True, "intervention": None, "intervention_name": "Matching placebo"},
                       with_result=False)["intervention"] == "placebo"


def test_built_path_carries_the_target_name_with_the_intervention():
    """The intervention step brings the target's registry name with its key: a placebo start must not
    leave 'Placebo' as the shown name of the active arm the walk reaches (it once did)."""
    from deepimagine.core.states import build_path
    start = _state(intervention="placebo", intervention_name="Placebo", is_placebo=True, arm_type="PLACEBO_COMPARATOR",
                   arm_label="Placebo", dose_value=None)
    target = _state(intervention="sotaratamine", intervention_name="BLS-3589", arm_label="BLS-3589 56 mg",
                    regions=["Europe"])
    steps = build_path(start, target, ("intervention", "dose", "region"))
    assert [s.factor for s in steps] == ["intervention", "region"]
    prompt = render_prompt(step_question(steps[0], -10.0, 9.0, 40, True, "q"))
    assert "change: arm: placebo -> sotaratamine 56 mg BIW" in prompt
    assert "Placebo 56" not in prompt
    # the next step's state shows the drug reached, not the start's name
    second = render_prompt(step_question(steps[1], -12.0, 9.0, 40, True, "q2"))
    assert "sotaratamine" in second and "Placebo" not in second
    # drug A -> drug B: B's name, not A's
    other = build_path(_state(intervention="pirataopram", intervention_name="Pirataopram"), target, ("intervention",))
    assert describe(other[0].after, "intervention") == "sotaratamine 56 mg BIW"
