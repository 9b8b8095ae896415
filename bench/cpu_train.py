"""Does training give the same weights on another x86-64 CPU, and what would pinning cost?

Emulated on this machine as `bench/cpu_bytes.py` does (its `PROFILES`): the train stage of
dvc.yaml (`stages/train.py`, one seed, from scratch) runs on the stores a `cpu_bytes.py` run left
(its reference run's folder) once per CPU profile and per `train.amp`, and the trained
weights and test predictions are compared with the reference profile's. Then optimiser steps
of the video network at the params.yaml setting (batch, frames, input size, width; random
inputs) are timed per profile and amp: what pinning PyTorch's kernels (ATen's
ATEN_CPU_CAPABILITY, oneDNN's ONEDNN_MAX_CPU_ISA, MKL's MKL_ENABLE_INSTRUCTIONS) to AVX2 costs
an AVX-512 machine.

    python bench/cpu_bytes.py --work /tmp/cpu_bytes      # the stores, first
    python bench/cpu_train.py --stores /tmp/cpu_bytes/plain [--profiles avx2] [--steps 6]
                              [--json bench/results/cpu_train.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_bytes import PROFILES, REPO

STEPS = r'''
import json, sys, time
import torch, torch.nn.functional as F
from attrmer.config import load_params
from attrmer.cpus import size_thread_pools
from attrmer.model import VideoNet
from attrmer.train.runtime import Runtime

size_thread_pools()
params = load_params(sys.argv[1])
steps = int(sys.argv[2])
runtime = Runtime.choose(params, torch.device("cpu"))
torch.manual_seed(0)
model = params.model
net = VideoNet.from_config(model, num_classes=5)
optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
batch, size, frames = params.train.batch_size, model.input_size, params.preprocess.frames
rgb, flow = torch.randn(batch, 3, frames, size, size), torch.randn(batch, 2, frames, size, size)
labels = torch.arange(batch) % 5
if runtime.channels_last:
    net = net.to(memory_format=torch.channels_last_3d)
rgb, flow = runtime.to_device(rgb), runtime.to_device(flow)
times = []
for _ in range(steps + 1):
    start = time.perf_counter()
    with runtime.autocast():
        logits, _ = net(rgb, flow)
    loss = F.cross_entropy(logits.float(), labels)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    times.append(time.perf_counter() - start)
print(json.dumps({"capability": torch.backends.cpu.get_cpu_capability(),
                  "autocast": str(runtime.autocast_dtype), "threads": torch.get_num_threads(),
                  "seconds_per_step": sorted(times[1:])[len(times[1:]) // 2],
                  "loss": float(loss)}))
'''


def _params(stores: Path, amp: str, out: Path) -> Path:
    params = yaml.safe_load((stores / "params.yaml").read_text())
    params["train"].update(seeds=[0], amp=amp, init="scratch", checkpoint=False)
    path = out / f"params_{amp}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def train_once(stores: Path, params: Path, caps: dict[str, str], out: Path) -> float:
    """The attributes and train stages on `stores` into `out`; the train stage's seconds."""
    env = {**os.environ, **caps, "PYTHONHASHSEED": "0"}
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    attributes = out / "attributes.csv"
    subprocess.run([sys.executable, "stages/attributes.py", "--params", str(params),
                    "--manifest", str(stores / "interim/manifest.csv"), "--out",
                    str(attributes)], cwd=REPO, env=env, check=True, capture_output=True)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "stages/train.py", "--params", str(params), "--no-progress",
         "--manifest", str(stores / "interim/manifest.csv"), "--rgb", str(stores / "rgb.h5"),
         "--flow", str(stores / "flow.h5"), "--attributes", str(attributes),
         "--models", str(out / "models"), "--metrics-dir", str(out / "metrics"),
         "--checkpoints", str(out / "checkpoints"), "--live-dir", str(out / "live")],
        cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"train failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return time.perf_counter() - start


def compare_training(a: Path, b: Path) -> dict:
    """Weights (every tensor of the seed's model) and test predictions of two runs."""
    from safetensors.numpy import load_file

    wa = load_file(a / "models/seed_0/model.safetensors")
    wb = load_file(b / "models/seed_0/model.safetensors")
    differ = {k: float(np.abs(wa[k].astype(np.float64) - wb[k].astype(np.float64)).max())
              for k in wa if not np.array_equal(wa[k], wb[k])}
    pa = (a / "metrics/seed_0_predictions.csv").read_text().splitlines()
    pb = (b / "metrics/seed_0_predictions.csv").read_text().splitlines()
    return {"weights_identical": not differ, "tensors_differ": len(differ), "of": len(wa),
            "max_weight_gap": max(differ.values(), default=0.0),
            "predictions_identical": pa == pb,
            "prediction_rows_differ": sum(x != y for x, y in zip(pa, pb, strict=False))}


def time_steps(params: Path, caps: dict[str, str], steps: int) -> dict:
    env = {**os.environ, **caps}
    done = subprocess.run([sys.executable, "-c", STEPS, str(params), str(steps)], cwd=REPO,
                          env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=Path, default=Path("/tmp/cpu_bytes/plain"),
                        help="a cpu_bytes.py run's reference folder (interim, rgb.h5, flow.h5)")
    parser.add_argument("--profiles", nargs="+", default=["avx2"])
    parser.add_argument("--amp", nargs="+", default=["auto", "off"])
    parser.add_argument("--steps", type=int, default=6, help="timed optimiser steps")
    parser.add_argument("--no-train", action="store_true", help="only time the steps")
    parser.add_argument("--work", type=Path, default=Path("/tmp/cpu_train"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    report: dict = {"training": {}, "steps": {}}
    labels = ["avx512", *args.profiles]
    for amp in args.amp:
        params = _params(args.stores, amp, args.work)
        for label in labels:
            timing = time_steps(params, PROFILES[label], args.steps)
            report["steps"][f"{label}/amp={amp}"] = timing
            print(f"steps {label:6s} amp={amp:4s}: {timing}", flush=True)
        if args.no_train:
            continue
        for label in labels:
            seconds = train_once(args.stores, params, PROFILES[label],
                                 args.work / f"{label}_{amp}")
            entry = {"train_stage_seconds": round(seconds, 1)}
            if label != "avx512":
                entry.update(compare_training(args.work / f"avx512_{amp}",
                                              args.work / f"{label}_{amp}"))
            report["training"][f"{label}/amp={amp}"] = entry
            print(f"train {label:6s} amp={amp:4s}: {entry}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
