"""The GPU figures of the paper's setting, in one run: meant for a machine with an NVIDIA GPU.

1. `bench/train.py` at `params-paper.yaml` (width 64, 16×112×112, batch 32): the tuned path
   (bf16 autocast, channels_last_3d, fused Adam, cuDNN autotuning) against fp32 eager.
2. A CASME II-sized corpus (the built-in data rendered at `--clips` clips, 150 by default)
   through the pipeline in a scratch clone of this repository's last commit, then the train
   stage at the paper's network and optimiser settings for `--epochs` epochs of each of five
   seeds (from scratch, so that pretraining's time is not counted), twice:
   - `train.executor: local`, the five seeds one after another on the GPU;
   - `train.executor: ray` with `--gpus-per-task` of the GPU each (0.2: all five at once).
   For each: the stage's wall time and the median seconds per epoch (training and validation
   scoring, from the epoch lines of the stage's log).

Prints a table (and writes it as JSON with `--json FILE`). `--smoke` runs the same steps at a
tiny size on any machine, to check the script before spending GPU time on it.

    python bench/gpu_figures.py --json gpu.json          # on the GPU machine
    python bench/gpu_figures.py --smoke                  # anywhere, about 3 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SEEDS = [0, 1, 2, 3, 4]
# The paper's network and optimiser (params-paper.yaml), on the built-in data's inputs.
PAPER_SECTIONS = ("model",)
PAPER_TRAIN_KEYS = ("batch_size", "lr", "weight_decay", "text_lr_scale", "min_steps", "alpha")
SMOKE = {
    "synth": {"min_frames": 12, "max_frames": 20, "frame_height": 180},
    "preprocess": {"frames": 8},
    "model": {"width": 4, "input_size": 32, "feature_dim": 16},
    "train": {"batch_size": 8},
}


def _run(command: list[str], cwd: Path) -> tuple[float, str]:
    """Run `command` in `cwd`; its wall time and its output (stdout, then stderr)."""
    # The stages' `python` is this interpreter, as in the environment the script runs in.
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return seconds, result.stdout + result.stderr


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def scratch_params(work: Path, args: argparse.Namespace) -> dict:
    """params.yaml of the scratch clone: the built-in data at `--clips` clips, the paper's
    network and optimiser, `--epochs` epochs of five seeds from scratch."""
    params = yaml.safe_load((work / "params.yaml").read_text())
    paper = yaml.safe_load((work / "params-paper.yaml").read_text())
    for section in PAPER_SECTIONS:
        params[section].update(paper[section])
    params["train"].update({k: paper["train"][k] for k in PAPER_TRAIN_KEYS})
    params["synth"]["clips"] = args.clips
    params["train"].update({"epochs": args.epochs, "seeds": SEEDS[:args.seeds],
                            "init": "scratch", "patience": 0})
    if args.smoke:
        for section, values in SMOKE.items():
            params[section].update(values)
    return params


def epoch_seconds(stage_log: str) -> float:
    """Median seconds per epoch over every training's epoch lines (`... seconds 1.234`)."""
    values = [float(v) for v in re.findall(r"epoch \d+/\d+ .*?\bseconds (\d+\.\d+)",
                                           stage_log)]
    if not values:
        sys.exit("no epoch line with its seconds in the train stage's output")
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=150)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--gpus-per-task", type=float, default=0.2)
    parser.add_argument("--cpus-per-task", type=float, default=2.0)
    parser.add_argument("--steps", type=int, default=20, help="bench/train.py's steps")
    parser.add_argument("--smoke", action="store_true", help="a tiny run of the same steps")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.smoke:
        args.clips, args.epochs, args.seeds, args.steps = 70, 2, 2, 2
        args.gpus_per_task = 0.0 if not _has_gpu() else args.gpus_per_task
        args.cpus_per_task = 1.0
    python = sys.executable
    figures: dict = {"clips": args.clips, "epochs": args.epochs, "seeds": args.seeds}

    step_params = "params.yaml" if args.smoke else "params-paper.yaml"
    _, out = _run([python, "bench/train.py", "--params", step_params, "--steps",
                   str(args.steps)], REPO)
    print(out.strip())
    figures["bench_train"] = out.strip().splitlines()

    with tempfile.TemporaryDirectory(prefix="attrmer-gpu-") as tmp:
        work = Path(tmp) / "repo"
        _run(["git", "clone", "-q", str(REPO), str(work)], Path(tmp))
        params = scratch_params(work, args)
        dvc = [python, "-m", "dvc"]
        _run(["git", "config", "user.email", "bench@attrmer"], work)
        _run(["git", "config", "user.name", "bench"], work)
        layouts = {"local": {"executor": "local"},
                   "ray": {"executor": "ray",
                           "ray": params["train"]["ray"] | {
                               "gpus_per_task": args.gpus_per_task,
                               "cpus_per_task": args.cpus_per_task}}}
        for name, train in layouts.items():
            params["train"].update(train)
            (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
            if name == "local":
                # Everything the train stage reads, before the stopwatch starts.
                _run([*dvc, "repro", "pretrain", "interpolate", "flow", "attributes"], work)
            seconds, stage_log = _run([*dvc, "repro", "-f", "-s", "train"], work)
            figures[name] = {"stage_seconds": round(seconds, 1),
                             "epoch_seconds": round(epoch_seconds(stage_log), 3)}
            figures[name]["seed_0_accuracy"] = json.loads(
                (work / "metrics/seeds/seed_0.json").read_text())["accuracy"]
    local, ray = figures["local"], figures["ray"]
    print(f"\n{args.seeds} seeds x {args.epochs} epochs on {args.clips} clips")
    print(f"  local: {local['stage_seconds']:7.1f} s   {local['epoch_seconds']:.3f} s/epoch")
    print(f"  ray:   {ray['stage_seconds']:7.1f} s   {ray['epoch_seconds']:.3f} s/epoch "
          f"({args.gpus_per_task:g} GPU, {args.cpus_per_task:g} CPUs per training)")
    print(f"  ratio local / ray: {local['stage_seconds'] / ray['stage_seconds']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
