"""Training and inference while another process keeps every core busy: how much slower?

Times optimiser steps of the video network as params.yaml sets it (batch 8, 16 frames, fp32)
and single-clip forward passes (what `attrmer predict` runs per clip), each in a fresh
process: alone, then beside a competing PyTorch process (matrix products on its default
threads, as another user's job or a second experiment would run). Each is run with OpenMP's
idle threads spinning (its default) and sleeping (`OMP_WAIT_POLICY=PASSIVE`), and as attrmer
chooses (`attrmer.cpus`: passive when other
threads are running as it starts); the ratio is loaded / alone in the same run. Goal: loaded
≤ 3× alone.

    python bench/threads.py [--steps 6] [--json bench/results/threads.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

WORK = r'''
import json, sys, time
import torch
from attrmer.config import load_params
from attrmer.cpus import size_thread_pools
from attrmer.model import VideoNet

threads = size_thread_pools()
torch.manual_seed(0)
model = load_params(sys.argv[2]).model
net = VideoNet.from_config(model, num_classes=5)
optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
size = model.input_size
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


# The competing process: another PyTorch job (its own default threads and OpenMP policy),
# multiplying matrices until stopped.
COMPETITOR = r'''
import torch
a = torch.randn(512, 512)
while True:
    a = torch.tanh(a @ a)
'''


def measure(steps: int, setting: dict[str, str] | None, loaded: bool) -> dict:
    """One fresh process's timings; `setting` None: attrmer's own choice (attrmer imported
    before torch, nothing in the environment)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env |= {"PYTHONPATH": str(REPO / "src"), **(setting or {})}
    # torch first: the environment alone sets the policy; attrmer first: attrmer chooses.
    work = WORK if setting is not None else "import attrmer\n" + WORK
    competitor = None
    if loaded:
        other = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        competitor = subprocess.Popen([sys.executable, "-c", COMPETITOR], env=other)
        time.sleep(2.0)  # running at full speed before the measurement starts
    try:
        done = subprocess.run([sys.executable, "-c", work, str(steps),
                               str(REPO / "params.yaml")], env=env, check=True,
                              capture_output=True, text=True)
    finally:
        if competitor is not None:
            competitor.kill()
            competitor.wait()
    return json.loads(done.stdout.strip().splitlines()[-1])


# OpenMP's waiting: spinning (libgomp's default), sleeping at once, spinning briefly.
SETTINGS = {
    "spinning (OpenMP default)": {},
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
    "attrmer's choice (attrmer.cpus.choose_wait_policy)": None,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    from attrmer.cpus import machine_description

    results = {"machine": machine_description(),
               "steps": args.steps, "policies": {}}
    for name, setting in SETTINGS.items():
        alone = measure(args.steps, setting, loaded=False)
        busy = measure(args.steps, setting, loaded=True)
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
