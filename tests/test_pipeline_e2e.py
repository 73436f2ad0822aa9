"""End to end: the whole DVC pipeline on a tiny config, in a fresh copy of the repository.

One module-scoped run serves several checks (each would otherwise rebuild everything):
- `dvc repro` runs every stage offline and a second `dvc repro` has nothing to do;
- `dvc push` to a local remote, a fresh `git clone` + `dvc pull` gives a clean `dvc status`
  and byte-identical outputs;
- a second run of the data stages reproduces identical data files and baseline metrics;
- a queued sweep of 3 experiments runs and `dvc exp show` lists them with their metrics.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

# Small enough to run every stage in a few minutes on 2 CPU cores.
TINY = {
    "data.n_studies": 160,
    "pairs.max_natural_per_study": 12,
    "model.tiny_hidden_size": 64,
    "model.tiny_layers": 2,
    "model.tiny_vocab_size": 1024,
    "model.tiny_pretrain_steps": 30,
    "sft.epochs": 1,
    "sft.max_examples": 200,
    "rl.max_steps": 2,
    "rl.max_prompts": 16,
    "baselines.rf_n_estimators": 50,
    "baselines.lgbm_n_estimators": 50,
    "evaluate.max_llm_questions": 24,
    "evaluate.max_llm_questions_local": 24,
    "evaluate.imagine_k": 2,
    "evaluate.bootstrap": 50,
    "traces.imagined_paths": 100,
}


def run(cmd: list[str], cwd: Path, timeout: int = 1200) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "DVC_NO_ANALYTICS": "1", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    if out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}")
    return out.stdout + out.stderr


def set_params(path: Path, overrides: dict) -> None:
    raw = yaml.safe_load(path.read_text())
    for key, value in overrides.items():
        node = raw
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p]
        assert leaf in node, key
        node[leaf] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def fresh_copy(dest: Path) -> Path:
    """The working tree's files (tracked + untracked-not-ignored) as a new git repo."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for f in filter(None, files):
        src = ROOT / f
        if src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)
    run(["git", "init", "-q", "-b", "main"], dest)
    run(["git", "config", "user.email", "ci@deepimagine.test"], dest)
    run(["git", "config", "user.name", "ci"], dest)
    return dest


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def tree_digest(path: Path) -> dict[str, str]:
    if path.is_file():
        return {path.name: md5(path)}
    return {str(p.relative_to(path)): md5(p) for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    repo = fresh_copy(tmp_path_factory.mktemp("repo"))
    set_params(repo / "params.yaml", TINY)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "tiny config"], repo)
    started = time.perf_counter()
    log = run(["dvc", "repro"], repo, timeout=1800)
    seconds = time.perf_counter() - started
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "repro"], repo)
    return repo, log, seconds


def test_repro_runs_every_stage_and_is_then_up_to_date(pipeline):
    repo, log, seconds = pipeline
    print(f"dvc repro on the tiny config: {seconds:.0f}s")
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert set(lock) == set(stages)
    again = run(["dvc", "repro"], repo)
    assert "didn't change" in again or "up to date" in again.lower()
    assert run(["dvc", "status"], repo).strip().endswith("Data and pipelines are up to date.")
    evaluation = json.loads((repo / "metrics" / "eval.json").read_text())
    assert "test" in evaluation and "lightgbm" in evaluation["test"] and "majority" in evaluation["test"]
    assert any(name.startswith("sft") for name in evaluation["test"])
    # the mechanism is learnable from the features: LightGBM beats the majority class on the whole test split
    full = evaluation["test_full"]
    assert full["lightgbm"]["overall_bacc"] > full["majority"]["overall_bacc"] + 0.05, full
    # `dvc plots show` renders every declared plot
    run(["dvc", "plots", "show", "-o", "plots_html"], repo)
    html = (repo / "plots_html" / "index.html").read_text()
    assert "calibration" in html and "confusion" in html and "by_factor" in html


def test_push_then_fresh_clone_pull_is_clean_and_identical(pipeline, tmp_path):
    repo, _, _ = pipeline
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "--local", "-f", "-d", "ci", str(remote)], repo)
    run(["dvc", "push"], repo)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    run(["dvc", "remote", "add", "--local", "-f", "-d", "ci", str(remote)], clone)
    run(["dvc", "pull"], clone)
    assert run(["dvc", "status"], clone).strip().endswith("Data and pipelines are up to date.")
    for out in ["data/raw", "data/registry.duckdb", "data/pairs", "models/base", "models/sft", "models/rl",
                "models/baselines"]:
        assert tree_digest(clone / out) == tree_digest(repo / out), out


def _table_digest(db: Path) -> dict[str, str]:
    con = duckdb.connect(str(db), read_only=True)
    tables = [r[0] for r in con.execute("select table_name from information_schema.tables order by 1").fetchall()]
    out = {}
    for t in tables:
        rows = con.execute(f'select * from "{t}"').fetchall()
        out[t] = hashlib.md5(repr(sorted(map(repr, rows))).encode()).hexdigest()
    con.close()
    return out


def test_data_stages_are_reproducible(pipeline, tmp_path):
    repo, _, _ = pipeline
    again = tmp_path / "again"
    run(["git", "clone", "-q", str(repo), str(again)], tmp_path)
    run(["dvc", "repro", "-f", "--no-run-cache", "baselines"], again, timeout=1800)
    for out in ["data/raw/studies.jsonl.gz", "data/raw/truth.json", "data/pairs/train.jsonl", "data/pairs/test.jsonl",
                "data/pairs/cells.parquet"]:
        assert md5(again / out) == md5(repo / out), out
    assert _table_digest(again / "data/registry.duckdb") == _table_digest(repo / "data/registry.duckdb")
    baseline_files = sorted(p.relative_to(repo) for p in (repo / "models/baselines").rglob("*.jsonl"))
    assert baseline_files, "no baseline predictions to compare"
    for rel in baseline_files:
        assert md5(again / rel) == md5(repo / rel), rel


SWEEP = ["baselines.lgbm_n_estimators=20", "sft.lora_r=8", "data.n_studies=120"]


def test_queued_sweep_of_three_experiments(pipeline):
    """A baseline hyperparameter, the LoRA rank and the registry size: three queued experiments."""
    repo, _, _ = pipeline
    for override in SWEEP:
        run(["dvc", "exp", "run", "--queue", "-S", override], repo)
    run(["dvc", "queue", "start", "-j", "1"], repo)
    deadline = time.time() + 1200
    while time.time() < deadline:
        status = run(["dvc", "queue", "status"], repo)
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(3)
    assert status.count("Success") == 3, status
    table = json.loads(run(["dvc", "exp", "show", "--json"], repo))
    seen = []
    for commit in table:
        for exp in (commit.get("experiments") or []):
            for rev in exp.get("revs", []):
                data = rev.get("data") or {}
                p = data.get("params", {}).get("params.yaml", {}).get("data", {})
                seen.append((p["baselines"]["lgbm_n_estimators"], p["sft"]["lora_r"], p["data"]["n_studies"]))
                evaluation = data.get("metrics", {}).get("metrics/eval.json", {}).get("data", {})
                assert 0 < evaluation["test"]["lightgbm"]["overall_bacc"] <= 1, "metrics missing from dvc exp show"
    base = (TINY["baselines.lgbm_n_estimators"], 16, TINY["data.n_studies"])
    assert sorted(seen) == sorted([(20, *base[1:]), (base[0], 8, base[2]), (*base[:2], 120)]), seen
