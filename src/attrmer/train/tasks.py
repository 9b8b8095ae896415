"""One (seed, fold) training as a unit of work: what it reads, what it returns, and where a
finished one waits for the rest of the run.

Every executor (attrmer.train.executors) runs `run_task`, in this process or on a Ray worker;
what comes back is a `FoldOutcome`, which holds plain tables and CPU tensors so that it crosses
processes and machines. `FinishedFolds` keeps each finished outcome beside the checkpoints
until the whole run has written its outputs, so an interrupted run trains no finished fold
twice. Not for writing a seed's outputs (see attrmer.train.outputs).
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from attrmer.config import Params
from attrmer.io import atomic_path
from attrmer.train.checkpoint import CheckpointMismatchError
from attrmer.train.data import TrainingSetupError, TrainingTable, load_training_table
from attrmer.train.distributed import DistributedContext
from attrmer.train.loop import FoldResult, fit_fold, prediction_frame
from attrmer.train.runtime import Runtime
from attrmer.train.warm_start import init_source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingInputs:
    """The files every training of a run reads."""

    manifest: Path
    rgb: Path
    flow: Path
    # The sentences, read only with train.attribute_branch (None: there are none).
    attributes: Path | None
    # What `train.init: pretrained` starts from (the pretrain stage's output).
    pretrained: Path

    def resolved(self) -> TrainingInputs:
        """The same inputs as absolute paths, valid in a worker started elsewhere."""
        return TrainingInputs(*(None if p is None else Path(p).resolve() for p in (
            self.manifest, self.rgb, self.flow, self.attributes, self.pretrained)))


@dataclass(frozen=True)
class TrainingTask:
    seed: int
    fold: str
    # The seed's last fold: its network is the one the seed's model directory holds.
    keep_model: bool
    # Where the fold's checkpoints go (None: train.checkpoint is off).
    checkpoint: Path | None

    def __str__(self) -> str:
        return f"seed {self.seed}, fold {self.fold}"


@dataclass
class FoldOutcome:
    """A finished fold, as its seed's outputs need it."""

    predictions: pd.DataFrame
    validation: pd.DataFrame
    history: list[dict[str, float]]
    selected_epoch: int
    n_train: int
    n_val: int
    epochs: int
    # The selected network's weights (CPU), for the fold whose task keeps its model.
    state: dict[str, torch.Tensor] | None = field(default=None, repr=False)
    # The validation side at epochs chosen without each clip: what calibration is fitted on.
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)
    # The test side at the epoch that scores best on it (reported beside, never chosen on).
    best_on_test: pd.DataFrame = field(default_factory=pd.DataFrame)

    @classmethod
    def of(cls, result: FoldResult, *, keep_model: bool) -> FoldOutcome:
        state = None
        if keep_model:
            state = {k: v.detach().to("cpu").contiguous()
                     for k, v in result.model.state_dict().items()}
        validation = result.validation if result.validation is not None else pd.DataFrame()
        calibration = result.calibration if result.calibration is not None else pd.DataFrame()
        best_on_test = (result.best_on_test if result.best_on_test is not None
                        else pd.DataFrame())
        return cls(result.predictions, validation, result.history, result.selected_epoch,
                   result.n_train, result.n_val, result.epochs, state, calibration,
                   best_on_test)


def load_table(params: Params, inputs: TrainingInputs) -> TrainingTable:
    """The split's folds over the run's stores, as every training of the run reads them."""
    return load_training_table(
        inputs.manifest, inputs.rgb, inputs.flow,
        inputs.attributes if params.train.attribute_branch else None,
        protocol=params.split.protocol, validation_fraction=params.split.validation_fraction,
        split_seed=params.split.seed,
    )


def run_task(params: Params, inputs: TrainingInputs, task: TrainingTask, *,
             table: TrainingTable | None = None, runtime: Runtime | None = None,
             dist: DistributedContext | None = None, progress: bool = False) -> FoldOutcome:
    """Train the task's fold (resumed from its checkpoint when one fits) and return it."""
    table = table or load_table(params, inputs)
    folds = {fold.name: fold for fold in table.folds}
    if task.fold not in folds:
        raise TrainingSetupError(f"{task}: the split has no fold {task.fold!r} "
                                 f"(it has {', '.join(folds)})")
    run = functools.partial(fit_fold, params, table, folds[task.fold], seed=task.seed,
                            runtime=runtime, dist=dist, progress=progress,
                            checkpoint_path=task.checkpoint,
                            init=init_source(params, inputs.pretrained))
    try:
        result = run()
    except CheckpointMismatchError as exc:
        # DVC re-runs training only when its parameters, data or code changed, so a
        # checkpoint from before the change can never be resumed: start this fold afresh.
        log.warning("%s\nstarting %s afresh", exc, task)
        remove_checkpoint(task.checkpoint)
        result = run()
    return FoldOutcome.of(result, keep_model=task.keep_model)


def remove_checkpoint(path: Path | None) -> None:
    if path is not None:
        for suffix in (".json", ".safetensors"):
            path.with_suffix(suffix).unlink(missing_ok=True)


# The prediction tables of a finished fold, as FoldOutcome names them.
SIDES = ("predictions", "validation", "calibration", "best_on_test")


class FinishedFolds:
    """Finished folds kept on disk (`<checkpoints>/seed_<s>/<fold>.result.*`) until the run
    has written every seed's outputs; a kept one counts only under the settings hash it was
    trained under. Tables keep their exact float32 probabilities (tensors, not text), so a
    run resumed from here writes what an uninterrupted one writes."""

    def __init__(self, checkpoints: Path) -> None:
        self.checkpoints = Path(checkpoints)

    def _stem(self, task: TrainingTask) -> Path:
        return self.checkpoints / f"seed_{task.seed}" / task.fold

    def save(self, task: TrainingTask, outcome: FoldOutcome, settings_hash: str) -> None:
        stem = self._stem(task)
        stem.parent.mkdir(parents=True, exist_ok=True)
        tensors = {f"model.{k}": v for k, v in (outcome.state or {}).items()}
        meta: dict[str, Any] = {
            "settings_hash": settings_hash, "history": outcome.history,
            "selected_epoch": outcome.selected_epoch, "n_train": outcome.n_train,
            "n_val": outcome.n_val, "epochs": outcome.epochs,
            "has_model": outcome.state is not None,
        }
        for side in SIDES:
            frame = getattr(outcome, side)
            probabilities = frame.filter(like="prob_").to_numpy(np.float32)
            meta[side] = {
                "rows": {"key": _plain(frame.get("key", [])),
                         "subject": _plain(frame.get("subject", [])),
                         "label": [int(v) for v in frame.get("y_true", [])]},
                "fold": None if frame.empty else str(frame["fold"].iloc[0]),
            }
            if len(probabilities):
                tensors[f"{side}.probabilities"] = torch.from_numpy(probabilities.copy())
        # Tensors first, then the JSON that makes the result count (as for checkpoints).
        with atomic_path(stem.with_suffix(".result.safetensors")) as tmp:
            save_file(tensors, str(tmp))
        with atomic_path(stem.with_suffix(".result.json")) as tmp:
            tmp.write_text(json.dumps(meta) + "\n")

    def load(self, task: TrainingTask, settings_hash: str,
             classes: list[str]) -> FoldOutcome | None:
        """The kept outcome of `task` trained under `settings_hash`, else None."""
        stem = self._stem(task)
        meta_path = stem.with_suffix(".result.json")
        tensor_path = stem.with_suffix(".result.safetensors")
        if not meta_path.is_file() or not tensor_path.is_file():
            return None
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            return None
        if any(side not in meta for side in SIDES):
            return None  # kept by an older attrmer
        if meta.get("settings_hash") != settings_hash or (task.keep_model
                                                          and not meta["has_model"]):
            return None
        with safe_open(str(tensor_path), "pt") as handle:
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        frames = {}
        for side in SIDES:
            record = meta[side]
            rows = pd.DataFrame(record["rows"])
            probabilities = tensors.get(f"{side}.probabilities")
            probabilities = (np.zeros((0, len(classes))) if probabilities is None
                             else probabilities.numpy())
            frame = prediction_frame(rows, probabilities, classes)
            if not frame.empty:
                frame.insert(2, "fold", record["fold"])
            frames[side] = frame
        state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")} or None
        return FoldOutcome(frames["predictions"], frames["validation"], meta["history"],
                           meta["selected_epoch"], meta["n_train"], meta["n_val"],
                           meta["epochs"], state if task.keep_model else None,
                           frames["calibration"], frames["best_on_test"])

    def remove(self, task: TrainingTask) -> None:
        stem = self._stem(task)
        for suffix in (".result.json", ".result.safetensors"):
            stem.with_suffix(suffix).unlink(missing_ok=True)


def _plain(values: Any) -> list[Any]:
    """A column as JSON-ready Python values (numpy scalars unwrapped)."""
    return [v.item() if isinstance(v, np.generic) else v for v in values]
