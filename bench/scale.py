"""Scale-out: the same trainings on the local executor and as Ray tasks, timed in one run.

Reads a finished pipeline's manifest and stores (`dvc repro` on the built-in corpus), lays a
leave-one-subject-out split over its first `--subjects` subjects, and trains every (seed,
fold) of `--seeds` under params.yaml's setting (`--epochs` epochs each) three times:
- local: one training after another, each with torch's threads (all cores);
- ray, serial: Ray tasks asking for every core each, so one runs at a time with as many
  threads as local: what Ray costs (start, workers, transfers) for the same arithmetic;
- ray, parallel: Ray tasks with `--cpus-per-task` CPUs and as many threads each, so
  cores / cpus-per-task trainings run at once.
Prints each layout's wall time and its ratio to local, and checks that the serial Ray run
wrote local's predictions to the bit (the parallel one computes with other thread counts,
which changes the order of floating-point sums).

    python bench/scale.py                       # 4 subjects (4 folds) x 2 seeds, 1 epoch
    python bench/scale.py --subjects 6 --seeds 0 1 2 --epochs 2
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import torch

from attrmer.config import Params, load_params
from attrmer.datasets.splits import loso_folds
from attrmer.manifest import read_manifest, usable, write_manifest
from attrmer.train import TrainingLayout, train_seeds
from attrmer.train.tasks import TrainingInputs


def loso_manifest(manifest: Path, subjects: int, out: Path) -> int:
    """The first `subjects` subjects' usable clips, one fold each; the clip count."""
    rows = usable(read_manifest(manifest))
    kept = sorted(set(rows["subject"]))[:subjects]
    rows = rows[rows["subject"].isin(kept)].copy()
    rows["split"] = rows["subject"].map(loso_folds(kept))
    write_manifest(rows, out)
    return len(rows)


def setting(params: Params, **train) -> Params:
    return dataclasses.replace(params, train=dataclasses.replace(params.train, **train))


def run(params: Params, inputs: TrainingInputs, out: Path) -> float:
    layout = TrainingLayout(inputs=inputs, models=out / "models", metrics=out / "metrics",
                            checkpoints=out / "checkpoints", live=out / "dvclive")
    start = time.perf_counter()
    train_seeds(params, layout, progress=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--root", type=Path, default=Path("."), help="the finished pipeline")
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--cpus-per-task", type=float, default=1.0)
    args = parser.parse_args()

    cores = os.cpu_count() or 1
    base = load_params(args.params)
    base = dataclasses.replace(
        base, split=dataclasses.replace(base.split, protocol="loso"),
        train=dataclasses.replace(base.train, seeds=args.seeds, epochs=args.epochs,
                                  min_steps=0, patience=0))
    with tempfile.TemporaryDirectory(prefix="attrmer-scale-") as tmp:
        work = Path(tmp)
        clips = loso_manifest(args.root / "data/interim/manifest.csv", args.subjects,
                              work / "manifest.csv")
        inputs = TrainingInputs(
            manifest=work / "manifest.csv", rgb=args.root / "data/processed/rgb.h5",
            flow=args.root / "data/processed/flow.h5",
            attributes=args.root / "data/processed/attributes.csv",
            pretrained=args.root / "models/pretrained")
        trainings = args.subjects * len(args.seeds)
        print(f"{trainings} trainings ({args.subjects} LOSO folds x {len(args.seeds)} seeds, "
              f"{clips} clips, {args.epochs} epoch(s) each) on {cores} cores, "
              f"torch {torch.get_num_threads()} threads")
        layouts = {
            "local": setting(base, executor="local"),
            "ray, serial": setting(base, executor="ray", threads=torch.get_num_threads(),
                                   ray=dataclasses.replace(base.train.ray,
                                                           cpus_per_task=float(cores))),
            "ray, parallel": setting(base, executor="ray", threads=0,
                                     ray=dataclasses.replace(
                                         base.train.ray, cpus_per_task=args.cpus_per_task)),
        }
        seconds = {}
        for name, params in layouts.items():
            seconds[name] = run(params, inputs, work / name.replace(", ", "-"))
        local = seconds["local"]
        for name, value in seconds.items():
            print(f"{name:<14} {value:7.1f} s   ratio to local {local / value:.2f}x")
        same = all(
            (work / "local/metrics" / f"seed_{s}_predictions.csv").read_bytes()
            == (work / "ray-serial/metrics" / f"seed_{s}_predictions.csv").read_bytes()
            for s in args.seeds)
        print(f"ray, serial wrote local's predictions to the bit: {same}")
        print(f"Ray's cost on this work: {100 * (seconds['ray, serial'] / local - 1):+.0f} % "
              f"(serial); {cores / args.cpus_per_task:g} trainings at once in the parallel "
              "layout")


if __name__ == "__main__":
    main()
