"""params.yaml validation: typos and wrong types fail fast, naming the key; profiles validate."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deepimagine import params as P

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
    ],
)
def test_bad_key_or_type_names_the_key(override, message):
    with pytest.raises(P.ParamsError, match=message.replace("(", r"\(").replace("[", r"\[")):
        P.load(ROOT / "params.yaml", [override])


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
