"""`attrmer sweep NAME`: queue one of the paper's experiment sets as DVC experiments.

The sets live in `experiments.yaml` (data, not code). Each experiment is queued with
`dvc exp run --queue -n <set>-<k> -S key=value ...` (start the queue with `dvc queue start`);
with `--run` they run one after another in the foreground instead (`dvc exp run` without
`--queue`), which is what a single machine usually wants. Every override is validated against
params.yaml first, so a typo fails here, not an hour into a queue.
Not for collecting results (see `attrmer report`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from attrmer.config import ConfigError, Params


def experiment_sets() -> dict[str, dict[str, Any]]:
    text = resources.files("attrmer").joinpath("experiments.yaml").read_text()
    return yaml.safe_load(text)


def _nested(overrides: dict[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for dotted, value in overrides.items():
        node = tree
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(
            base.get(key), dict) else value
    return merged


def queue_commands(name: str, params_path: Path = Path("params.yaml"), *,
                   queue: bool = True) -> list[list[str]]:
    """The `dvc exp run [--queue]` command lines of set `name`, each override validated."""
    sets = experiment_sets()
    if name not in sets:
        raise ConfigError(f"no experiment set {name!r}; known: {', '.join(sets)}")
    base = yaml.safe_load(params_path.read_text()) or {}
    commands = []
    for k, overrides in enumerate(sets[name]["experiments"]):
        Params.from_dict(_merge(base, _nested(overrides)))  # fail fast on a bad override
        command = ["dvc", "exp", "run", *(["--queue"] if queue else []), "-n", f"{name}-{k}"]
        for key, value in overrides.items():
            command += ["-S", f"{key}={yaml.safe_dump(value, default_flow_style=True).strip()}"]
        commands.append(command)
    return commands


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="attrmer sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", nargs="?", help="experiment set (omit to list them)")
    parser.add_argument("--params", default="params.yaml", type=Path)
    parser.add_argument("--run", action="store_true",
                        help="run the experiments now, one after another, instead of queueing")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    sets = experiment_sets()
    if args.name is None:
        for name, spec in sets.items():
            print(f"{name:<8} {len(spec['experiments']):>2} experiments  {spec['description']}")
        return 0
    try:
        commands = queue_commands(args.name, args.params, queue=not args.run)
    except ConfigError as exc:
        print(f"attrmer sweep: {exc}", file=sys.stderr)
        return 2
    for command in commands:
        print(" ".join(command))
        if not args.dry_run:
            subprocess.run(command, check=True)
    if not args.run and not args.dry_run:
        print("queued; start with `dvc queue start` and follow with `dvc queue status`")
    return 0
