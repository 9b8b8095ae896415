"""Training and inference while another process keeps every core busy: how much slower?

Times optimiser steps of the CPU-default video network (batch 8, 16 frames at 64 px, the
train stage's arithmetic) and single-clip forward passes (what `attrmer predict` runs per
clip), each in a fresh process: alone, then beside a competing process that spins one thread
per available core. Each is run with OpenMP's idle threads spinning (its default) and sleeping
(`OMP_WAIT_POLICY=PASSIVE`, what attrmer sets, `attrmer.cpus`); the ratio is loaded / alone in
the same run. Goal: loaded ≤ 3× alone.

    python bench/threads.py [--steps 6] [--json bench/results/threads.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

WORK = r'''
import json, sys, time
import torch
from attrmer.config import ModelConfig
from attrmer.cpus import size_thread_pools
from attrmer.model import VideoNet

threads = size_thread_pools()
torch.manual_seed(0)
net = VideoNet.from_config(ModelConfig(), num_classes=5)
optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
size = ModelConfig().input_size
rgb, flow = torch.randn(8, 3, 16, size, size), torch.randn(8, 2, 16, size, size)
labels = torch.randint(0, 5, (8,))
def step():
    logits, _ = net(rgb, flow)
    loss = torch.nn.functional.cross_entropy(logits, labels)
    optimiser.zero_grad(); loss.backward(); optimiser.step()
step()
start = time.perf_counter()
for _ in range(int(sys.argv[1])):
    step()
train = (time.perf_counter() - start) / int(sys.argv[1])
net.eval()
with torch.inference_mode():
    net(rgb[:1], flow[:1])
    start = time.perf_counter()
    for _ in range(4 * int(sys.argv[1])):
        net(rgb[:1], flow[:1])
    infer = (time.perf_counter() - start) / (4 * int(sys.argv[1]))
print(json.dumps({"train_step_s": train, "forward_s": infer, "threads": threads}))
'''


def _spin(stop: multiprocessing.Event) -> None:
    while not stop.is_set():
        sum(range(10_000))


def measure(steps: int, policy: str | None, loaded: bool) -> dict:
    from attrmer.cpus import available_cpus

    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    env.pop("OMP_WAIT_POLICY", None)
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    stop = multiprocessing.Event()
    spinners = [multiprocessing.Process(target=_spin, args=(stop,), daemon=True)
                for _ in range(available_cpus() if loaded else 0)]
    for spinner in spinners:
        spinner.start()
    try:
        # torch is imported first there, so the environment alone sets the policy.
        done = subprocess.run([sys.executable, "-c", WORK, str(steps)], env=env, check=True,
                              capture_output=True, text=True)
    finally:
        stop.set()
        for spinner in spinners:
            spinner.join()
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    from attrmer.cpus import available_cpus

    results = {"machine": f"{available_cpus()} CPUs available, {platform.processor() or ''}"
               .strip(), "steps": args.steps, "policies": {}}
    for name, policy in (("spinning (OpenMP default)", "ACTIVE"),
                         ("passive (attrmer's setting)", "PASSIVE")):
        alone = measure(args.steps, policy, loaded=False)
        busy = measure(args.steps, policy, loaded=True)
        ratios = {key: busy[key] / alone[key] for key in ("train_step_s", "forward_s")}
        results["policies"][name] = {"alone": alone, "loaded": busy, "ratio": ratios}
        print(f"{name}: training step {alone['train_step_s']:.3f} s alone, "
              f"{busy['train_step_s']:.3f} s loaded ({ratios['train_step_s']:.1f}x); "
              f"one-clip forward {1000 * alone['forward_s']:.0f} ms alone, "
              f"{1000 * busy['forward_s']:.0f} ms loaded ({ratios['forward_s']:.1f}x); "
              f"{alone['threads']} threads")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
