"""How a training uses the hardware: device, autocast dtype, memory format, and what of that
changes its numbers. Not for what a training computes (see attrmer.train.loop)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from attrmer.config import Params


@dataclass(frozen=True)
class Runtime:
    """How the hardware is used: device, autocast dtype, memory format."""

    device: torch.device
    autocast_dtype: torch.dtype | None
    channels_last: bool

    @classmethod
    def choose(cls, params: Params, device: torch.device | None = None) -> Runtime:
        device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        dtype = None
        if params.train.amp == "auto" and bf16_supported(device):
            dtype = torch.bfloat16
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        return cls(device, dtype, params.train.channels_last)

    def autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        tensor = tensor.to(self.device, non_blocking=True)
        if self.channels_last and tensor.dim() == 5:
            tensor = tensor.contiguous(memory_format=torch.channels_last_3d)
        return tensor


def bf16_supported(device: torch.device) -> bool:
    """bf16 autocast pays only where the hardware computes bf16 natively."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    capability = torch.backends.cpu.get_cpu_capability()
    return capability in ("AVX512", "AMX") and _cpu_has_bf16()


def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def runtime_arithmetic(runtime: Runtime) -> dict[str, Any]:
    """What of the hardware use changes a training's numbers (in this process, now)."""
    return {"threads": torch.get_num_threads(), "device": runtime.device.type,
            "autocast": str(runtime.autocast_dtype)}
