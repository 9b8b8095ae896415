"""Training one deep baseline network on one fold: the epochs, the validation choice, the
test probabilities.

Every deep baseline trains the same way, so that Table III compares networks, not training
recipes: Adam with decoupled weight decay (AdamW), cross-entropy, mini-batches drawn in a
seeded order, the epoch kept whose validation UF1 is highest (the first such epoch when
several tie; the last epoch when the fold has no validation subjects). The validation
subjects are the ones the method itself is selected on (`attrmer.train.data`), never a test
subject. Given the test side, every epoch also predicts it, for one figure only: the epoch of
best test UF1 (as many papers report), kept apart and never chosen on. Not for the method's
own training (`attrmer.train`), which adds the text branch, the contrastive loss, checkpoints
and logging.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from attrmer.evaluate.metrics import uf1


@dataclass(frozen=True)
class Schedule:
    """How long and how fast one network trains."""

    epochs: int
    lr: float
    batch_size: int
    weight_decay: float


@dataclass
class FitResult:
    model: nn.Module  # with the weights of the chosen epoch
    epoch: int  # the chosen epoch, from 1
    history: list[dict[str, float]] = field(default_factory=list)  # per epoch: loss, val_uf1
    # The test side's probabilities at the epoch of best test UF1 (None without test inputs):
    # the inflated figure reported beside the honest one, never a choice.
    best_on_test: np.ndarray | None = None


@dataclass(frozen=True)
class FoldInputs:
    """One fold's prepared inputs and labels (class indices), as tensors."""

    train: torch.Tensor
    train_labels: torch.Tensor
    val: torch.Tensor
    val_labels: torch.Tensor
    test: torch.Tensor
    # Read only for the figure "best epoch on test", after the honest choice is made.
    test_labels: np.ndarray
    # The training clips' apex positions among the prepared frames (TLCNN's static images).
    train_apex: torch.Tensor


@dataclass(frozen=True)
class FoldOutcome:
    probabilities: np.ndarray  # (n_test, n_classes)
    epochs: dict[str, int]  # the chosen epoch of each trained step
    # The test side at the last step's epoch of best test UF1 (as many papers report).
    best_on_test: np.ndarray | None = None


def apex_positions(rows: pd.DataFrame, stored_frames: int,
                   chosen: np.ndarray | None = None) -> np.ndarray:
    """Which frame of each clip is nearest its apex: an index into `chosen` (the stored frames
    a network reads; default all `stored_frames`). The stores hold TIM instants 1..T of T + 1
    spread from onset (instant 0) to offset, so stored frame k shows the fraction (k + 1) / T
    of the way; an apex that is not annotated or lies outside the clip counts as its middle."""
    chosen = np.arange(stored_frames) if chosen is None else np.asarray(chosen)
    onset, apex, offset = (pd.to_numeric(rows[c], errors="coerce").to_numpy(float)
                           for c in ("onset", "apex", "offset"))
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = (apex - onset) / (offset - onset)
    fraction = np.where(np.isfinite(fraction) & (fraction >= 0) & (fraction <= 1), fraction, 0.5)
    shown = (chosen + 1) / stored_frames
    return np.abs(fraction[:, None] - shown[None, :]).argmin(axis=1).astype(np.int64)


def predict_probabilities(model: nn.Module, inputs: Tensor, *, batch_size: int = 64) -> np.ndarray:
    """(N, n_classes) softmax of the network's logits, in evaluation mode, without gradients."""
    model.eval()
    parts = []
    with torch.inference_mode():
        for start in range(0, len(inputs), batch_size):
            parts.append(torch.softmax(model(inputs[start:start + batch_size]).float(), dim=1))
    return torch.cat(parts).numpy()


def fit_classifier(
    model: nn.Module,
    inputs: Tensor,
    labels: Tensor,
    *,
    schedule: Schedule,
    seed: int,
    val_inputs: Tensor | None = None,
    val_labels: Tensor | None = None,
    parameters: Callable[[nn.Module], list[nn.Parameter]] | None = None,
    test: tuple[Tensor, np.ndarray] | None = None,
) -> FitResult:
    """Train `model` on (inputs, labels) for `schedule.epochs`; keep the epoch of best
    validation UF1. `parameters` picks what the optimiser updates (default: every parameter
    that requires a gradient), for steps that train only part of a network. `test` (inputs,
    labels) is predicted after every epoch for `FitResult.best_on_test` alone."""
    generator = torch.Generator().manual_seed(seed)
    chosen = [p for p in (parameters(model) if parameters else model.parameters())
              if p.requires_grad]
    optimiser = torch.optim.AdamW(chosen, lr=schedule.lr, weight_decay=schedule.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    validating = val_inputs is not None and val_labels is not None and len(val_labels) > 0
    best_score, best_epoch, best_state = -np.inf, schedule.epochs, None
    on_test_score, on_test = -np.inf, None
    history = []
    for epoch in range(1, schedule.epochs + 1):
        model.train()
        order = torch.randperm(len(labels), generator=generator)
        total, seen = 0.0, 0
        for start in range(0, len(order), schedule.batch_size):
            batch = order[start:start + schedule.batch_size]
            if len(batch) < 2 and len(order) > 1:
                continue  # a batch of one cannot be normalised over the batch
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn(model(inputs[batch]), labels[batch])
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
            seen += len(batch)
        record = {"epoch": epoch, "loss": total / max(seen, 1)}
        if validating:
            predicted = predict_probabilities(model, val_inputs).argmax(axis=1)
            record["val_uf1"] = uf1(val_labels.numpy(), predicted)
            if record["val_uf1"] > best_score:
                best_score, best_epoch = record["val_uf1"], epoch
                best_state = copy.deepcopy(model.state_dict())
        if test is not None and len(test[1]):
            tested = predict_probabilities(model, test[0])
            score = uf1(test[1], tested.argmax(axis=1))
            if score > on_test_score:
                on_test_score, on_test = score, tested
        history.append(record)
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return FitResult(model=model, epoch=best_epoch, history=history, best_on_test=on_test)
