"""`attrmer sweep NAME`: queue one of the paper's experiment sets as DVC experiments.

The sets live in `experiments.yaml` (data, not code). Each experiment is queued with
`dvc exp run --queue -n <set>-<k> -S key=value ...` (start the queue with `dvc queue start`);
with `--run` they run one after another in the foreground instead (`dvc exp run` without
`--queue`), which is what a single machine usually wants. Every override is validated against
params.yaml first, so a typo fails here, not an hour into a queue.

With `--ray` every experiment trains its (seed, fold)s as Ray tasks (`train.executor=ray`) on
one shared cluster: the one of RAY_ADDRESS (or train.ray.address), else a Ray head started
here for the set. The queue is then started at once with `--jobs` experiments running side by
side (default: all), each still a DVC experiment in its own workspace, their trainings
scheduled together by Ray over the cluster's CPUs and GPUs.
Not for collecting results (see `attrmer report`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from attrmer.config import ConfigError, Params
from attrmer.cpus import CHOSEN_WAIT_POLICY
from attrmer.errors import EXIT_CODES_HELP, EXIT_DATA, EXIT_MODEL, EXIT_USAGE


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


_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")


def _override_value(value: Any) -> str:
    """`value` as `-S` reads it back: a plain word as it is, anything else as JSON, which is
    YAML that reads back as written (a YAML dump of a scalar ends in the marker "...")."""
    if isinstance(value, str) and _BARE.fullmatch(value) and value.lower() not in (
            "true", "false", "null", "none", "yes", "no", "on", "off"):
        return value
    return json.dumps(value, ensure_ascii=False)


def queue_commands(name: str, params_path: Path = Path("params.yaml"), *,
                   queue: bool = True, ray: bool = False) -> list[list[str]]:
    """The `dvc exp run [--queue]` command lines of set `name`, each override validated;
    with `ray`, each experiment's trainings run as Ray tasks."""
    sets = experiment_sets()
    if name not in sets:
        raise ConfigError(f"no experiment set {name!r}; known: {', '.join(sets)}")
    base = yaml.safe_load(params_path.read_text()) or {}
    commands = []
    for k, overrides in enumerate(sets[name]["experiments"]):
        if ray:
            overrides = overrides | {"train.executor": "ray"}
        Params.from_dict(_merge(base, _nested(overrides)))  # fail fast on a bad override
        command = ["dvc", "exp", "run", *(["--queue"] if queue else []), "-n", f"{name}-{k}"]
        for key, value in overrides.items():
            if isinstance(value, dict):
                raise ConfigError(f"experiment set {name!r}: {key} is a mapping; write each "
                                  "of its keys as a dotted override")
            command += ["-S", f"{key}={_override_value(value)}"]
        commands.append(command)
    return commands


def ray_address(params_path: Path) -> str | None:
    """The cluster the set's experiments share, as their trainings will find it:
    train.ray.address, else RAY_ADDRESS; None when neither names one."""
    base = yaml.safe_load(params_path.read_text()) or {}
    configured = ((base.get("train") or {}).get("ray") or {}).get("address")
    return configured or os.environ.get("RAY_ADDRESS") or None


class RayHeadError(ConfigError):
    """A Ray head could not be started here."""


def start_ray_head() -> str:
    """Start a Ray head on this machine (it outlives this command: a queue runs in the
    background) and return its address."""
    result = subprocess.run([sys.executable, "-m", "ray.scripts.scripts", "start", "--head",
                             "--include-dashboard=false", "--disable-usage-stats"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        raise RayHeadError("could not start a Ray head here (if one runs already, set "
                           f"RAY_ADDRESS=auto): {lines[-1].strip() if lines else 'no output'}")
    for line in result.stdout.splitlines():
        if "ray start --address=" in line:
            return line.split("--address=", 1)[1].strip().strip("'\"")
    return "auto"


def stop_ray_head() -> None:
    subprocess.run([sys.executable, "-m", "ray.scripts.scripts", "stop"], capture_output=True,
                   check=False)


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="attrmer sweep", description=__doc__,
                                     epilog=EXIT_CODES_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", nargs="?", help="experiment set (omit to list them)")
    parser.add_argument("--params", default="params.yaml", type=Path)
    parser.add_argument("--run", action="store_true",
                        help="run the experiments now, one after another, instead of queueing")
    parser.add_argument("--ray", action="store_true",
                        help="train every experiment's (seed, fold)s as Ray tasks on one "
                             "cluster, and start the queue with --jobs experiments at once")
    parser.add_argument("--jobs", type=int, default=None,
                        help="with --ray: experiments running side by side (default: all)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    sets = experiment_sets()
    if args.name is None:
        for name, spec in sets.items():
            print(f"{name:<8} {len(spec['experiments']):>2} experiments  {spec['description']}")
        return 0
    try:
        commands = queue_commands(args.name, args.params, queue=not args.run, ray=args.ray)
    except ConfigError as exc:
        print(f"attrmer sweep: {exc}", file=sys.stderr)
        return EXIT_DATA
    if args.jobs is not None and (args.jobs < 1 or not args.ray or args.run):
        print("attrmer sweep: --jobs needs --ray without --run, and at least 1",
              file=sys.stderr)
        return EXIT_USAGE
    env = dict(os.environ)
    # Whether OpenMP spins is chosen by each process from the machine's load as it starts,
    # not fixed by this one's (attrmer.cpus).
    if CHOSEN_WAIT_POLICY.get("set"):
        env.pop("OMP_WAIT_POLICY", None)
    started_head = False
    if args.ray and not args.dry_run:
        address = ray_address(args.params)
        if address is None:
            try:
                address = start_ray_head()
            except RayHeadError as exc:
                print(f"attrmer sweep: {exc}", file=sys.stderr)
                return EXIT_MODEL
            started_head = True
            if not args.run:
                print(f"started a Ray head here at {address}; stop it with `ray stop` once "
                      "`dvc queue status` shows the set finished")
        env["RAY_ADDRESS"] = address
    try:
        for command in commands:
            print(shlex.join(command))
            if not args.dry_run and subprocess.run(command, env=env).returncode != 0:
                done = "run" if args.run else "queued"
                print(f"attrmer sweep: {shlex.join(command)} failed; the experiments "
                      f"before it are {done}", file=sys.stderr)
                return EXIT_DATA
    finally:
        # A head started for points run here in the foreground has no use after them.
        if started_head and args.run:
            stop_ray_head()
    if args.ray and not args.run:
        start = ["dvc", "queue", "start", "--jobs", str(args.jobs or len(commands))]
        print(shlex.join(start))
        if not args.dry_run:
            subprocess.run(start, check=True, env=env)
            print("running; follow with `dvc queue status`, collect with `attrmer report`")
    elif not args.run and not args.dry_run:
        print("queued; start with `dvc queue start` and follow with `dvc queue status`")
    return 0
