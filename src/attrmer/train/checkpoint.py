"""Per-epoch training checkpoints, so an interrupted run resumes where it stopped.

A checkpoint holds the model and optimizer tensors and the random-number states in one
safetensors file, and the epoch, history and a hash of the parameters in a JSON file beside it;
no pickle. A checkpoint written under other parameters is refused, not silently resumed.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from attrmer.errors import AttrmerError
from attrmer.io import atomic_path


class CheckpointMismatchError(AttrmerError, RuntimeError):
    """A checkpoint exists but was written under different parameters."""


# The code that decides what a training computes (the stage's code dependencies but the
# modules that only schedule trainings or write their outputs): a checkpoint or a finished
# fold kept from before a change to any of it is never taken up after it.
_RESULT_CODE = ("train", "model", "config", "evaluate/calibration.py", "preprocess/store.py",
                "modelfile.py", "resources.py", "manifest.py", "attributes.py")
_NOT_RESULT_CODE = ("train/run.py", "train/executors.py", "train/outputs.py",
                    "train/tasks.py")


@functools.cache
def training_code_fingerprint() -> str:
    """Hash of the source files that decide a training's result (`_RESULT_CODE`)."""
    import attrmer

    root = Path(attrmer.__file__).parent
    sources = set()
    for name in _RESULT_CODE:
        path = root / name
        sources.update(path.rglob("*.py") if path.is_dir() else [path])
    sources -= {root / name for name in _NOT_RESULT_CODE}
    digest = hashlib.sha256()
    for source in sorted(sources):
        digest.update(source.relative_to(root).as_posix().encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def params_hash(settings: dict[str, Any]) -> str:
    blob = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass
class Checkpoint:
    epoch: int  # epochs completed
    history: list[dict[str, float]]
    best: dict[str, Any]
    # Every scored epoch's validation probabilities ({epoch: rows x classes}), from which the
    # temperature's cross-fitted predictions are taken (attrmer.train.selection).
    validation: dict[str, list[list[float]]] = field(default_factory=dict)
    # Every epoch's test probabilities, likewise: only for the figure "best epoch on test",
    # reported beside the honest one and never read by a choice (attrmer.train.selection).
    test: dict[str, list[list[float]]] = field(default_factory=dict)


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in state["state"].items():
        for name, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for index, entries in meta["scalars"].items():
        state.setdefault(int(index), {}).update(entries)
    return {"state": state, "param_groups": meta["param_groups"]}


def _match_parameter_layout(optimizer: torch.optim.Optimizer) -> None:
    """Give each moment tensor its parameter's memory layout (e.g. channels_last_3d).

    Checkpoints store tensors contiguous; the fused Adam step walks a parameter and its
    moments as flat memory, so a moment in another layout would be silently scrambled.
    """
    for group in optimizer.param_groups:
        for param in group["params"]:
            state = optimizer.state.get(param, {})
            for name, value in state.items():
                if torch.is_tensor(value) and value.shape == param.shape \
                        and value.stride() != param.stride():
                    state[name] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def save_checkpoint(
    path: Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    checkpoint: Checkpoint,
    settings_hash: str,
    best_state: dict[str, torch.Tensor] | None = None,
) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    optim_tensors, optim_meta = _flatten_optimizer(optimizer.state_dict())
    tensors.update(optim_tensors)
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.loader"] = generator.get_state()
    for key, value in (best_state or {}).items():
        tensors[f"best.{key}"] = value.detach().cpu().contiguous()
    meta = {
        "params_hash": settings_hash,
        "epoch": checkpoint.epoch,
        "history": checkpoint.history,
        "best": checkpoint.best,
        "validation": checkpoint.validation,
        "test": checkpoint.test,
        "optimizer": optim_meta,
    }
    # Tensors first, then the JSON that makes the checkpoint count: a kill in between leaves
    # the previous JSON pointing at an epoch whose tensors are gone, which load refuses.
    with atomic_path(path.with_suffix(".safetensors")) as tmp:
        save_file(tensors, str(tmp), metadata={"epoch": str(checkpoint.epoch)})
    with atomic_path(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(meta) + "\n")


def load_checkpoint(
    path: Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    settings_hash: str,
) -> tuple[Checkpoint, dict[str, torch.Tensor] | None] | None:
    """Restore a checkpoint into the objects given; None when there is none to resume."""
    meta_path, tensor_path = path.with_suffix(".json"), path.with_suffix(".safetensors")
    if not meta_path.is_file() or not tensor_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    if meta["params_hash"] != settings_hash:
        raise CheckpointMismatchError(
            f"{meta_path}: written under different parameters (hash {meta['params_hash']}, now "
            f"{settings_hash}); delete it to start afresh"
        )
    with safe_open(str(tensor_path), "pt") as handle:
        if handle.metadata().get("epoch") != str(meta["epoch"]):
            raise CheckpointMismatchError(f"{tensor_path}: does not match {meta_path}")
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    optimizer.load_state_dict(_unflatten_optimizer(tensors, meta["optimizer"]))
    _match_parameter_layout(optimizer)
    torch.set_rng_state(tensors["rng.torch"])
    generator.set_state(tensors["rng.loader"])
    best_state = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")} or None
    return (Checkpoint(meta["epoch"], meta["history"], meta["best"],
                       meta.get("validation", {}), meta.get("test", {})), best_state)
