"""``deepimagine <stage>``: run one pipeline stage from params.yaml (DVC calls these)."""
from __future__ import annotations

import argparse
import importlib
import logging
import shlex
import sys
import time

from .core import params as params_mod

# stage name -> module exposing run(params)
STAGES = {
    "download": "deepimagine.registry.stage",
    "tables": "deepimagine.tables.stage",
    "pairs": "deepimagine.pairs.stage",
    "base": "deepimagine.models.stage",
    "traces": "deepimagine.traces.stage",
    "sft": "deepimagine.train.sft",
    "rl": "deepimagine.train.rl",
    "baselines": "deepimagine.baselines.stage",
    "evaluate": "deepimagine.evaluate.stage",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deepimagine", description=__doc__)
    parser.add_argument("stage", choices=[*STAGES, "check-params", "profile"],
                        help="a pipeline stage; 'check-params' validates; 'profile FILE' prints its -S overrides")
    parser.add_argument("file", nargs="?", help="the profile file for 'profile'")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--profile", default=None, help="a params profile merged over params.yaml (e.g. profiles/real.yaml)")
    parser.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE", help="override a parameter")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.stage == "profile":
        if not args.file:
            parser.error("profile needs a file, e.g. deepimagine profile profiles/real.yaml")
        try:
            # one shell-quoted "-S key=value" per line: `deepimagine profile F | xargs dvc exp run`
            print("\n".join(f"-S {shlex.quote(o)}" for o in params_mod.profile_overrides(args.file)))
        except params_mod.ParamsError as e:
            print(f"deepimagine: invalid profile {args.file}: {e}", file=sys.stderr)
            return 2
        return 0
    try:
        params = params_mod.load(args.params, args.set, profile=args.profile)
    except params_mod.ParamsError as e:
        print(f"deepimagine: invalid parameters: {e}", file=sys.stderr)
        return 2
    if args.stage == "check-params":
        print(f"{args.params}{' + ' + args.profile if args.profile else ''}: ok")
        return 0
    started = time.perf_counter()
    importlib.import_module(STAGES[args.stage]).run(params)
    logging.getLogger("deepimagine").info("stage %s done in %.1fs", args.stage, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
