"""Data-parallel training across processes (PyTorch DDP), as started by `torchrun`.

`DistributedContext.from_environment()` reads the variables torchrun sets (RANK, WORLD_SIZE,
LOCAL_RANK) and joins the process group: NCCL on GPUs, gloo on CPUs. Only rank 0 ("main")
evaluates and writes files. Without those variables it is a single process and changes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist
from torch import nn


@dataclass(frozen=True)
class DistributedContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device | None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def single(cls) -> DistributedContext:
        return cls(rank=0, world_size=1, local_rank=0, device=None)

    @classmethod
    def from_environment(cls) -> DistributedContext:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size <= 1:
            return cls.single()
        rank = int(os.environ["RANK"])
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank)
            device = torch.device("cuda", local_rank)
            backend = "nccl"
        else:
            device = torch.device("cpu")
            backend = "gloo"
        if not torch_dist.is_initialized():
            torch_dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
        return cls(rank=rank, world_size=world_size, local_rank=local_rank, device=device)

    def wrap(self, model: nn.Module) -> nn.Module:
        """DDP-wrap `model` when there are several processes; the module itself otherwise."""
        if self.world_size <= 1:
            return model
        device_ids = [self.local_rank] if self.device is not None and self.device.type == "cuda" \
            else None
        # BERT's pooler layer is unused by the mean/CLS pooling of the attribute branch; DDP
        # must be told to expect parameters without gradients then.
        has_text = getattr(model, "attributes", None) is not None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids,
                                                   find_unused_parameters=has_text)

    def agree(self, decision: bool) -> bool:
        """The main process's `decision`, the same on every process (a decision only the
        main process can take, such as early stopping on its validation score, must not
        split the processes: the others would wait for it forever)."""
        if self.world_size == 1:
            return decision
        shared = [decision]
        torch_dist.broadcast_object_list(shared, src=0)
        return bool(shared[0])

    def barrier(self) -> None:
        if self.world_size > 1:
            torch_dist.barrier()

    def close(self) -> None:
        if self.world_size > 1 and torch_dist.is_initialized():
            torch_dist.destroy_process_group()
