"""params.yaml validation: typos and wrong types fail fast, naming the key; profiles validate."""
import json
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import yaml

from deepimagine.core import params as P

ROOT = Path(__file__).resolve().parents[1]


def test_repo_params_validate_and_match_dataclass_defaults_shape():
    params = P.load(ROOT / "params.yaml")
    assert params.data.source == "simulated"
    # every key of params.yaml is a dataclass field (checked by load) and every section is present
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert set(raw) == set(P.to_dict(params))


@pytest.mark.parametrize(
    "override, message",
    [
        ("pairs.alpah=0.1", "unknown parameter 'pairs.alpah'"),
        ("pairs.alpha=abc", "pairs.alpha: expected a number"),
        ("data.source=kaggle", "data.source: 'kaggle' is not one of"),
        ("data.n_studies=1.5", "data.n_studies: expected an integer"),
        ("data.ctgov.phases=PHASE2", "data.ctgov.phases: expected a list"),
        ("sft.lora_r=true", "sft.lora_r: expected an integer"),
        ("seeed=1", "unknown parameter 'seeed'"),
        ("data.ctgov.page_sise=10", "did you mean 'page_size'"),
        ("evaluate.comparisons=[sft/direct minus base/direct]", "evaluate.comparisons: 'sft/direct minus base/direct'"),
        ("sft.factor_weights={drug: 2}", "sft.factor_weights: unknown factor 'drug'"),
        ("sft.factor_weights={arm: 0}", "sft.factor_weights.arm must be > 0"),
        ("sft.factor_weights={arm: many}", "sft.factor_weights.arm: expected a number"),
        ("sft.factor_weights=[arm]", "sft.factor_weights: expected a mapping"),
    ],
)
def test_bad_key_or_type_names_the_key(override, message):
    with pytest.raises(P.ParamsError, match=message.replace("(", r"\(").replace("[", r"\[")):
        P.load(ROOT / "params.yaml", [override])


def test_factor_weights_are_a_mapping_of_factor_to_weight():
    params = P.load(ROOT / "params.yaml", ["sft.factor_weights={arm: 4, region: 0.25}"])
    assert params.sft.factor_weights == {"arm": 4.0, "region": 0.25}


def test_dates_and_nulls_from_dvc_set_param():
    params = P.load(ROOT / "params.yaml", ["pairs.test_cutoff=2023-06-01", "pairs.ct_open_path=null"])
    assert params.pairs.test_cutoff == "2023-06-01"  # YAML date -> ISO string
    assert params.pairs.ct_open_path is None


def test_real_profile_validates_and_flattens_to_existing_keys():
    profile = ROOT / "profiles" / "real.yaml"
    params = P.load(ROOT / "params.yaml", profile=profile)
    assert params.data.source == "ctgov" and params.model.base.startswith("Qwen/")
    overrides = P.profile_overrides(profile)
    assert "data.source=ctgov" in overrides
    # re-applying the flattened overrides gives the same params as merging the profile
    assert P.load(ROOT / "params.yaml", overrides) == params


def test_bad_profile_is_rejected(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  bsae: x\n")
    with pytest.raises(P.ParamsError, match="model.bsae"):
        P.load(ROOT / "params.yaml", profile=bad)


def test_cli_fails_fast_before_stage_work(tmp_path):
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text().replace("n_studies:", "n_studys:"))
    out = subprocess.run([sys.executable, "-m", "deepimagine.cli", "download"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "data.n_studys" in out.stderr
    assert not (tmp_path / "data").exists()  # nothing was written


def test_profile_cli_output_survives_the_shell(tmp_path):
    """`deepimagine profile F | xargs dvc exp run` as the README says: the shell-quoted -S lines, re-read
    by xargs, give back exactly the profile's params (lists and strings with spaces included)."""
    import shutil

    if not shutil.which("xargs"):
        pytest.skip("no xargs")
    dest = tmp_path / "args.json"
    catcher = ("import json, sys; a = sys.argv[1:]; "
               f"json.dump([a[i + 1] for i in range(0, len(a), 2) if a[i] == '-S'], open({str(dest)!r}, 'w'))")
    cmd = (f"{sys.executable} -m deepimagine.cli profile profiles/real.yaml | "
           f"xargs {sys.executable} -c \"{catcher}\"")
    subprocess.run(cmd, shell=True, cwd=ROOT, check=True)
    received = json.loads(dest.read_text())
    profile = ROOT / "profiles" / "real.yaml"
    assert received == P.profile_overrides(profile)
    assert any(" " in o for o in received)                 # a value with spaces came through whole
    assert P.load(ROOT / "params.yaml", received) == P.load(ROOT / "params.yaml", profile=profile)


# ---------------------------------------------------------------- one home for every default (params.yaml)


def test_dataclasses_hold_types_and_checks_not_values():
    import dataclasses

    todo, seen = [P.Params], []
    while todo:
        cls = todo.pop()
        seen.append(cls.__name__)
        for f in dataclasses.fields(cls):
            assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, \
                f"{cls.__name__}.{f.name} has a default: the value belongs in params.yaml"
            tp = typing.get_type_hints(cls)[f.name]
            if dataclasses.is_dataclass(tp):
                todo.append(tp)
    assert len(seen) == 11


def test_default_params_are_the_repository_params_yaml():
    assert P.DEFAULTS_FILE == ROOT / "params.yaml"
    params = P.default_params()
    assert params == P.load(ROOT / "params.yaml")
    # a partial mapping is overlaid on params.yaml: what it leaves out is the pipeline's value
    assert P.from_dict({}) == params
    changed = P.from_dict({"model": {"decision": "generate"}})
    assert changed.model.decision == "generate" and changed.sft == params.sft
    assert P.from_dict(P.to_dict(changed)) == changed          # a complete one is taken as it is


def test_a_missing_key_is_an_error_not_a_hidden_default(tmp_path):
    text = (ROOT / "params.yaml").read_text()
    assert "  alpha: 0.05" in text
    (tmp_path / "params.yaml").write_text(text.replace("  alpha: 0.05", "", 1))
    with pytest.raises(P.ParamsError, match="missing parameter 'pairs.alpha'"):
        P.load(tmp_path / "params.yaml")


@pytest.mark.parametrize(
    "override, message",
    [
        ("pairs.test_cutoff=2024-13-01", "pairs.test_cutoff: '2024-13-01' is not an ISO date"),
        ("pairs.test_cutoff=next year", "pairs.test_cutoff: 'next year' is not an ISO date"),
        ("pairs.ct_open_cutoff=2025-02-30", "pairs.ct_open_cutoff: '2025-02-30' is not an ISO date"),
        ("pairs.alpha=1.5", "pairs.alpha: must be in (0, 1)"),
        ("pairs.ct_open_path=items.csv", "pairs.ct_open_path: 'items.csv' is not a CT Open file"),
        ("rl.reward_weights=[1.0]", "rl.reward_weights has 1 values for 3 rewards"),
        ("rl.rewards=[correctness, brevity]", "rl.rewards[1]: 'brevity' is not one of"),
        ("rl.rewards=[]", "rl.rewards: at least one reward"),
        ("rl.use_vllm=sometimes", "rl.use_vllm: 'sometimes' is none of: true | false | auto"),
        ("rl.num_generations=1", "rl.num_generations: GRPO needs >= 2"),
        ("rl.vllm_gpu_memory_utilization=1.5", "rl.vllm_gpu_memory_utilization: must be in (0, 1]"),
        ("evaluate.predictors=[majority, gpt4]", "evaluate.predictors: 'gpt4' is no predictor"),
        ("evaluate.predictors=[sft, sft]", "evaluate.predictors: ['sft'] listed more than once"),
        ("evaluate.modes=[direct, think]", "evaluate.modes[1]: 'think' is not one of"),
        ("evaluate.imagine_order=[dose, weather]", "evaluate.imagine_order[1]: 'weather' is not one of"),
        ("evaluate.bootstrap_unit=arm", "evaluate.bootstrap_unit: 'arm' is not one of"),
        ("evaluate.imagine_k=0", "evaluate.imagine_k: must be > 0"),
        ("evaluate.imagine_k=8", "evaluate.imagine_k (8) cannot exceed pairs.anchor_k (7)"),
        ("pairs.reverse_natural=[dose]", "pairs.reverse_natural ['dose'] asks dose pairs down the dose"),
        ("evaluate.max_llm_questions=0", "evaluate.max_llm_questions: must be >= 1"),
        ("evaluate.calibration_questions=-5", "evaluate.calibration_questions: must be >= 0"),
        ("evaluate.bootstrap=-1", "evaluate.bootstrap: must be >= 0"),
        ("evaluate.ece_bins=0", "evaluate.ece_bins: must be > 0"),
        ("evaluate.comparisons=[sft/imagine vs gpt4]", "names 'gpt4', which is no predictor"),
        ("evaluate.comparisons=[sft vs base]", "names 'sft', which is no predictor"),
        ("evaluate.comparisons=[sft/rag vs sft/rag]", "compares a predictor with itself"),
        ("data.source=dump", "data.source is 'dump' but data.dump_path is not set"),
        ("data.ctgov.max_studies=0", "data.ctgov.max_studies must be >= 1"),
        ("data.ctgov.page_size=5000", "data.ctgov.page_size must be in 1..1000"),
        ("data.ctgov.start_date_from=01/01/2008", "data.ctgov.start_date_from: '01/01/2008' is not a date"),
        ("tables.memory_limit=plenty", "tables.memory_limit: 'plenty' is not a size"),
        ("traces.teacher=vllm", "traces.teacher 'vllm' needs traces.vllm_model"),
        ("model.tiny_heads=3", "model.tiny_hidden_size (128) must be a multiple of model.tiny_heads (3)"),
        ("sft.learning_rate=0", "sft.learning_rate: must be > 0"),
        ("sft.warmup_ratio=1.0", "sft.warmup_ratio: must be in [0, 1)"),
        ("baselines.lgbm_num_leaves=1", "baselines.lgbm_num_leaves: must be >= 2"),
    ],
)
def test_a_bad_value_fails_fast_naming_the_key(override, message):
    with pytest.raises(P.ParamsError, match=re.escape(message)):
        P.load(ROOT / "params.yaml", [override])


@pytest.mark.parametrize("override, message", [
    ("pairs.test_cutoff=2024-13-01", "pairs.test_cutoff: '2024-13-01' is not an ISO date"),
    ("rl.reward_weights=[1.0, 2.0]", "rl.reward_weights has 2 values for 3 rewards"),
    ("rl.use_vllm=maybe", "rl.use_vllm: 'maybe' is none of"),
    ("evaluate.comparisons=[sft/imagine vs gpt4]", "names 'gpt4'"),
])
def test_check_params_runs_every_check(tmp_path, override, message):
    """`deepimagine check-params` runs the same checks as every stage, before any work (exit 2, the key named)."""
    out = subprocess.run([sys.executable, "-m", "deepimagine.cli", "check-params", "--params", str(ROOT / "params.yaml"),
                          "-S", override], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    ok = subprocess.run([sys.executable, "-m", "deepimagine.cli", "check-params", "--params", str(ROOT / "params.yaml"),
                         "--profile", str(ROOT / "profiles" / "real.yaml")], cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr


def test_accepted_names_match_what_implements_them():
    """The names params.py accepts are the registries the stages use (so a new reward or predictor is added
    in both places, or this fails)."""
    from deepimagine.core import states
    from deepimagine.evaluate import predictors
    from deepimagine.pairs import ct_open
    from deepimagine.train import rewards

    assert set(P.REWARDS) == set(rewards.REWARDS)
    assert set(P.LLM_PREDICTORS) == set(predictors.LLM_MODELS)
    assert set(P.PREDICTORS) == {"majority", "retrieval", "prior", "oracle", *predictors.BASELINE_NAMES, *predictors.LLM_MODELS}
    assert P.FACTORS == states.FACTOR_ORDER
    assert set(P.CT_OPEN_SUFFIXES) == set(ct_open.PICKLE_SUFFIXES + ct_open.JSONL_SUFFIXES)


def test_reversible_kinds_are_the_natural_pair_kinds():
    """core/params.py cannot import a stage (tests/test_layers.py), so it names the natural pair kinds
    that pairs.reverse_natural accepts itself; they must stay pairs.natural.KIND_ORDER."""
    from deepimagine.core.params import REVERSIBLE_KINDS
    from deepimagine.pairs.natural import KIND_ORDER

    assert tuple(REVERSIBLE_KINDS) == tuple(KIND_ORDER)
