"""What the SFT and GRPO stages share: precision flags, seeds, dvclive, resumable checkpoints and the
multi-GPU re-launch under ``accelerate launch`` (base-model resolution and loading: ``core/base_model.py``)."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

from ..core import io
from ..core import params as params_mod
from ..core.base_model import torch_dtype

log = logging.getLogger(__name__)

CHECKPOINTS_DIR = Path("checkpoints")          # outside the DVC outs, so a killed run can resume
ACCELERATE_DIR = Path("configs/accelerate")
FINGERPRINT_FILE = "fingerprint.json"


# ---------------------------------------------------------------- the model in training

def precision_flags(dtype: str = "auto") -> dict:
    """Trainer precision flags: bf16 autocast on a capable GPU, full precision on CPU."""
    import torch

    use_bf16 = torch_dtype(dtype) == torch.bfloat16 and torch.cuda.is_available()
    return {"bf16": use_bf16, "fp16": False}


def trainable_and_frozen(model) -> tuple[dict, dict]:
    """Copies of the LoRA (trainable) and base (frozen) weights, for before/after comparisons."""
    trainable, frozen = {}, {}
    for name, p in model.named_parameters():
        (trainable if p.requires_grad else frozen)[name] = p.detach().float().cpu().clone()
    return trainable, frozen


# ---------------------------------------------------------------- reproducibility and resumption

def file_digest(path: str | Path) -> Optional[str]:
    path = Path(path)
    if not path.exists():
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fingerprint(**parts: Any) -> str:
    """A digest of everything a run depends on: a checkpoint is resumed only by the same run."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def prepare_checkpoints(directory: Path, run_fingerprint: str) -> Optional[str]:
    """Make ``directory`` hold checkpoints of this run only; return the last one to resume from.

    Checkpoints written by a run with a different fingerprint (other params or inputs) are removed.
    """
    directory = Path(directory)
    stamp = directory / FINGERPRINT_FILE
    if directory.exists() and (not stamp.exists() or io.read_json(stamp).get("fingerprint") != run_fingerprint):
        log.info("removing stale checkpoints in %s (made by another configuration)", directory)
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    io.write_json(stamp, {"fingerprint": run_fingerprint})
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(str(directory))
    if last:
        log.info("resuming from %s", last)
    return last


def make_live(directory: str | Path, resume: bool = False):
    """A dvclive logger writing ``<directory>/metrics.json`` and ``<directory>/plots/metrics``
    (on the main process only; it leaves dvc.yaml and DVC experiments alone)."""
    if not is_main_process():
        return None
    from dvclive import Live

    return Live(str(directory), resume=resume, dvcyaml=False, save_dvc_exp=False, report=None)


# Trainer log keys that are wall-clock numbers: they go to the untracked metrics/timings/<stage>.json,
# never to the tracked dvclive metrics, so two runs of a stage give identical tracked metrics.
WALL_CLOCK_KEY = re.compile(r"(^|_)(runtime|samples_per_second|steps_per_second|step_time)$")


def split_wall_clock(logs: dict) -> tuple[dict, dict]:
    """(the logs without wall-clock keys, the wall-clock ones)."""
    clock = {k: v for k, v in logs.items() if WALL_CLOCK_KEY.search(k)}
    return {k: v for k, v in logs.items() if k not in clock}, clock


def dvclive_callback(directory: str | Path, timings_path: str | Path | None = None):
    """TRL/transformers' ``DVCLiveCallback`` into ``<directory>`` minus the wall-clock keys, which are
    written to ``timings_path`` (default: ``metrics/timings/<directory name>.json``, git-ignored).

    A run resumed from a checkpoint starts a fresh log and first replays the checkpoint's own log
    history (``state.log_history``, restored by the Trainer), so the curves and the last values
    cover the whole run: DVC removes a stage's outputs before it runs, and a log kept from the
    killed run could hold steps past its last checkpoint."""
    from transformers.integrations import DVCLiveCallback

    timings_path = Path(timings_path) if timings_path else Path(directory).parent / "timings" / f"{Path(directory).name}.json"

    timings: dict = {}

    class TrackedMetricsCallback(DVCLiveCallback):
        def on_log(self, args, state, control, model=None, logs=None, **kwargs):
            kept, clock = split_wall_clock(dict(logs or {}))
            if clock and state.is_world_process_zero:
                timings.update(clock)
                io.write_json(timings_path, timings)
            return super().on_log(args, state, control, model=model, logs=kept, **kwargs)

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            super().on_train_begin(args, state, control, model=model, **kwargs)
            if state.global_step > 0:   # resumed: the history up to the checkpoint, as it was logged
                for entry in state.log_history:
                    if entry.get("step", 0) <= state.global_step:
                        self.on_log(args, state, control, model=model,
                                    logs={k: v for k, v in entry.items() if k != "step"})

    return TrackedMetricsCallback(live=make_live(directory), log_model=False)


def save_adapter(trainer, tokenizer, out_dir: str | Path, info: dict) -> None:
    """Replace ``out_dir`` with the trained LoRA adapter, its tokenizer and ``train_info.json`` (main process)."""
    if trainer.accelerator.is_main_process:
        if Path(out_dir).exists():
            shutil.rmtree(out_dir)
        trainer.model.save_pretrained(str(out_dir))      # the LoRA adapter only
        stable_adapter_config(Path(out_dir) / "adapter_config.json")
        tokenizer.save_pretrained(str(out_dir))
        io.write_json(Path(out_dir) / "train_info.json", info)
    trainer.accelerator.wait_for_everyone()


def stable_adapter_config(path: Path) -> None:
    """PEFT writes ``target_modules`` from a set, in an order that changes with Python's string hash
    seed: sort it, so that one training run gives one adapter hash (and DVC does not re-run
    evaluate for a byte-different but equal adapter)."""
    if not path.exists():
        return
    config = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
        path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


# ---------------------------------------------------------------- multi-GPU

def maybe_relaunch(module: str, params: params_mod.Params, accelerate_config: str) -> bool:
    """With several CUDA devices and no distributed launcher yet, run ``module`` under
    ``accelerate launch`` (one process per GPU) and return True; otherwise return False.

    The resolved params travel as a JSON file, so command-line overrides survive the re-launch.
    """
    if os.environ.get("WORLD_SIZE") or os.environ.get("DEEPIMAGINE_NO_RELAUNCH"):
        return False
    import torch

    n_gpus = torch.cuda.device_count()
    if n_gpus <= 1:
        return False
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(params_mod.to_dict(params), f)  # dvc-params: -   # the re-launched stage reads its own
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", accelerate_config,
           "--num_processes", str(n_gpus), "-m", module, "--params-json", f.name]
    log.info("%d GPUs: re-launching as %s", n_gpus, " ".join(cmd))
    try:
        subprocess.run(cmd, check=True)
    finally:
        os.unlink(f.name)
    return True


def params_from_argv(argv: Optional[list[str]] = None) -> params_mod.Params:
    """Params for ``python -m deepimagine.train.<stage>``: ``--params-json`` (from a re-launch) or params.yaml."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--params-json", default=None)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("-S", "--set", action="append", default=[])
    args = parser.parse_args(argv)
    if args.params_json:
        return params_mod.from_dict(json.loads(Path(args.params_json).read_text()))
    return params_mod.load(args.params, args.set)
