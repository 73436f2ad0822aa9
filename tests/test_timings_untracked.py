"""Tracked metrics hold no wall-clock numbers: the tables and pairs stages, run twice through the CLI
as DVC runs them, write byte-identical metrics, and their timings land in the git-ignored
metrics/timings/ instead."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from deepimagine import cli
from deepimagine.core import io

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("tables", "pairs")
# a key that names a duration or a rate over one: seconds, *_s, *_per_second, elapsed, runtime, timings, ...
TIMING_KEY = re.compile(r"(^|_)(seconds?|secs?|s|elapsed|duration|runtime|timings?|wall_?time|took)$")


def timing_keys(obj, path: str = "") -> list[str]:
    """Dotted paths of every key in ``obj`` (nested dicts and lists) that names a duration."""
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            here = f"{path}.{k}" if path else str(k)
            if TIMING_KEY.search(str(k)):
                found.append(here)
            found += timing_keys(v, here)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found += timing_keys(v, f"{path}[{i}]")
    return found


def test_timing_key_pattern():
    doc = {"seconds": 1, "retrieval": {"embed_s": 2, "trials_embedded": 3}, "timings_s": {}, "by_factor":
           {"time_frame": 1, "time_point": 2}, "runs": [{"elapsed": 1}], "rows": {"studies": 4},
           "train": {"runtime": 3.5, "samples_per_second": 2.0, "loss": 0.3}}
    assert timing_keys(doc) == ["seconds", "retrieval.embed_s", "timings_s", "runs[0].elapsed", "train.runtime",
                               "train.samples_per_second"]


def _run_stages(root: Path, n_studies: int) -> None:
    overrides = ["-S", f"data.n_studies={n_studies}", "-S", "tables.threads=1", "-S", "tables.memory_limit=1GB"]
    for stage in ("download", *STAGES):
        assert cli.main([stage, "--params", str(root / "params.yaml"), *overrides]) == 0, stage


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The download, tables and pairs stages run twice from scratch in two repository-shaped dirs."""
    roots = []
    for name in ("first", "second"):
        root = tmp_path_factory.mktemp(name)
        shutil.copy(ROOT / "params.yaml", root / "params.yaml")
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(root)
            _run_stages(root, n_studies=40)
        roots.append(root)
    return roots


@pytest.mark.parametrize("stage", STAGES)
def test_metrics_hold_no_timings(two_runs, stage):
    metrics = io.read_json(two_runs[0] / io.METRICS_DIR / f"{stage}.json")
    assert timing_keys(metrics) == [], f"metrics/{stage}.json holds wall-clock keys; write them to metrics/timings/"


@pytest.mark.parametrize("stage", STAGES)
def test_two_runs_give_identical_metrics(two_runs, stage):
    first, second = ((r / io.METRICS_DIR / f"{stage}.json").read_text() for r in two_runs)
    assert first == second, f"metrics/{stage}.json differs between two runs of the same inputs"


@pytest.mark.parametrize("stage", STAGES)
def test_timings_go_to_the_untracked_file(two_runs, stage):
    path = two_runs[0] / io.TIMINGS_DIR / f"{stage}.json"
    timings = json.loads(path.read_text())
    assert timing_keys(timings), f"{path} holds no timings: {timings}"
    rel = (io.TIMINGS_DIR / f"{stage}.json").as_posix()
    ignored = subprocess.run(["git", "check-ignore", "-q", rel], cwd=ROOT)
    assert ignored.returncode == 0, f"{rel} must be git-ignored (.gitignore)"


def test_training_callback_keeps_wall_clock_out_of_tracked_metrics(tmp_path):
    """SFT / GRPO log Trainer's runtime and throughput; the dvclive callback drops them from the
    tracked metrics (metrics/<stage>/) and writes them to metrics/timings/<stage>.json."""
    from types import SimpleNamespace

    from deepimagine.train.common import dvclive_callback, split_wall_clock

    kept, clock = split_wall_clock({"loss": 0.5, "train_runtime": 3.2, "train_samples_per_second": 9.1,
                                    "train_steps_per_second": 0.7, "step_time": 1.4, "epoch": 1.0})
    assert kept == {"loss": 0.5, "epoch": 1.0} and set(clock) == {"train_runtime", "train_samples_per_second",
                                                                  "train_steps_per_second", "step_time"}
    live_dir = tmp_path / "metrics" / "sft"
    callback = dvclive_callback(live_dir)
    state = SimpleNamespace(is_world_process_zero=True)
    callback._initialized = True                   # no Trainer here: skip its setup
    callback.on_log(None, state, None, logs={"loss": 0.25, "train_runtime": 12.5, "step_time": 0.9})
    callback.live.end()
    tracked = json.loads((live_dir / "metrics.json").read_text())
    assert tracked["loss"] == 0.25 and not timing_keys(tracked) and "step_time" not in tracked
    assert json.loads((tmp_path / "metrics" / "timings" / "sft.json").read_text()) == {"train_runtime": 12.5,
                                                                                        "step_time": 0.9}
