"""Training throughput of the two-stream video network: the tuned path against plain fp32.

Both paths train the same network (same depth, width, input size, batch) on the same random
batch, in one run, and report training samples per second:
- reference: fp32, contiguous tensors, Adam with its per-parameter loop;
- tuned: what `attrmer.train` uses — bf16 autocast where the hardware computes bf16, the
  channels_last_3d memory format, the fused Adam step, cuDNN autotuning on a GPU.
On a CPU it then profiles two steps of each path and prints the time their convolutions take:
a step cannot be shorter than its convolutions, so the tuned ones bound the speed-up.

Usage:
    python bench/train.py                    # the params.yaml model at its batch size
    python bench/train.py --params params-paper.yaml --steps 20   # the paper's setting (GPU)
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch
import torch.nn.functional as F

from attrmer.config import load_params
from attrmer.model import VideoNet
from attrmer.train.runtime import Runtime


def measure(net: VideoNet, rgb: torch.Tensor, flow: torch.Tensor, labels: torch.Tensor, *,
            tuned: bool, runtime: Runtime, steps: int, warmup: int) -> tuple[float, float | None]:
    """Training samples/s, and on a CPU the seconds per step spent in convolutions."""
    device = runtime.device
    net = net.to(device)
    if tuned and runtime.channels_last:
        net = net.to(memory_format=torch.channels_last_3d)
        rgb = rgb.contiguous(memory_format=torch.channels_last_3d)
        flow = flow.contiguous(memory_format=torch.channels_last_3d)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4, fused=tuned,
                                 foreach=False if not tuned else None)
    autocast = runtime.autocast() if tuned else contextlib.nullcontext()

    def step() -> None:
        with autocast:
            logits, _ = net(rgb, flow)
        loss = F.cross_entropy(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    samples_per_s = steps * len(labels) / (time.perf_counter() - start)
    return samples_per_s, _convolution_seconds(step) if device.type == "cpu" else None


def _convolution_seconds(step, steps: int = 2) -> float:
    """CPU time per step that the profiler books to convolution kernels."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    micros = sum(e.self_cpu_time_total for e in prof.key_averages() if "convolution" in e.key)
    return micros / 1e6 / steps


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, help="default: train.batch_size")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    cfg = params.model
    batch = args.batch_size or params.train.batch_size
    runtime = Runtime.choose(params)
    size, frames = cfg.input_size, params.preprocess.frames
    torch.manual_seed(0)
    rgb = torch.randn(batch, 3, frames, size, size, device=runtime.device)
    flow = torch.randn(batch, 2, frames, size, size, device=runtime.device)
    labels = torch.randint(0, 5, (batch,), device=runtime.device)
    device_name = (torch.cuda.get_device_name(runtime.device) if runtime.device.type == "cuda"
                   else f"CPU, {torch.get_num_threads()} threads")
    print(f"two-stream 3D-ResNet-{cfg.depth}, width {cfg.width}, input {frames}x{size}x{size}, "
          f"batch {batch}, on {device_name}")
    results, conv_seconds = {}, {}
    for name, tuned in (("reference fp32 eager", False), ("tuned", True)):
        torch.manual_seed(0)
        net = VideoNet.from_config(cfg, num_classes=5)
        results[name], conv_seconds[tuned] = measure(
            net, rgb, flow, labels, tuned=tuned, runtime=runtime, steps=args.steps,
            warmup=args.warmup)
        detail = ""
        if tuned:
            dtype = "bf16 autocast" if runtime.autocast_dtype is not None else "fp32"
            layout = "channels_last_3d" if runtime.channels_last else "contiguous"
            detail = f" ({dtype}, {layout}, fused Adam)"
        print(f"  {name:<22} {results[name]:8.1f} samples/s{detail}")
    ratio = results["tuned"] / results["reference fp32 eager"]
    print(f"  speed-up               {ratio:8.2f}x")
    if runtime.device.type == "cpu":
        # The floor under the tuned path: its convolutions alone, against a reference step.
        reference_step = batch / results["reference fp32 eager"]
        reference, tuned = conv_seconds[False], conv_seconds[True]
        print(f"  convolutions per step: reference {reference * 1e3:.0f} ms, tuned "
              f"{tuned * 1e3:.0f} ms ({reference / tuned:.2f}x); the tuned convolutions alone "
              f"bound the speed-up at {reference_step / tuned:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
