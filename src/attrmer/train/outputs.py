"""A run's outputs, written once all its folds have finished: per seed the model directory,
the test and validation predictions and the seed's metrics; for the run the DVCLive curves.

The folds may have trained anywhere (this process, Ray workers, an earlier interrupted run);
what is written depends only on their `FoldOutcome`s, in fold order. Not for training.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from attrmer.config import Params
from attrmer.evaluate.calibration import (
    apply_temperature,
    fit_temperature,
    negative_log_likelihood,
)
from attrmer.evaluate.summary import BEST_ON_TEST_SUFFIX
from attrmer.io import atomic_path, write_json
from attrmer.model import VideoNet
from attrmer.model.inputs import motion_levels
from attrmer.modelfile import save_model_dir
from attrmer.preprocess.store import ClipStore
from attrmer.train.data import Fold, TrainingTable
from attrmer.train.loop import coded_clips, prediction_accuracy
from attrmer.train.tasks import FoldOutcome


@dataclass(frozen=True)
class SeedPaths:
    """Where one seed's outputs go."""

    model_dir: Path
    # seed_<s>.json, seed_<s>_predictions.csv, seed_<s>_validation.csv,
    # seed_<s>_calibration.csv, seed_<s>_best_epoch_on_test.csv
    metrics_dir: Path


def write_seed_outputs(params: Params, table: TrainingTable, seed: int,
                       outcomes: list[FoldOutcome], paths: SeedPaths, *,
                       init: Path | None) -> dict[str, Any]:
    """Write the seed's model (its last fold's), predictions, metrics and curves; return the
    metrics. `outcomes` are the seed's folds in `table.folds` order."""
    from attrmer.evaluate.metrics import accuracy, uar, uf1

    predictions = pd.concat([o.predictions for o in outcomes], ignore_index=True)
    y_true, y_pred = predictions["y_true"].to_numpy(), predictions["y_pred"].to_numpy()
    labels = list(range(len(table.classes)))
    folds = {
        fold.name: {"n_train": outcome.n_train, "n_val": outcome.n_val,
                    "n_test": len(outcome.predictions), "epochs": outcome.epochs,
                    "selected_epoch": outcome.selected_epoch,
                    "accuracy": prediction_accuracy(outcome.predictions)}
        for fold, outcome in zip(table.folds, outcomes, strict=True)
    }
    metrics = {
        "seed": seed,
        "accuracy": accuracy(y_true, y_pred),
        "uf1": uf1(y_true, y_pred, labels),
        "uar": uar(y_true, y_pred, labels),
        # Means over the folds (one fold under holdout); each fold's own figures follow.
        "n_train": float(np.mean([f["n_train"] for f in folds.values()])),
        "n_test": len(predictions),
        # Epochs trained (mean over folds): train.epochs raised by min_steps, cut by patience.
        "epochs": float(np.mean([f["epochs"] for f in folds.values()])),
        "selected_epoch": float(np.mean([f["selected_epoch"] for f in folds.values()])),
        "selection": "validation" if any(f["n_val"] for f in folds.values()) else "last epoch",
        "folds": folds,
    }
    if params.train.attribute_branch:
        # Clips without AU codes leave the attribute losses (attrmer.model.losses): how many
        # training clips the branch learnt from, mean over the folds.
        metrics["n_train_with_au_codes"] = float(np.mean([coded_clips(fold.train)
                                                          for fold in table.folds]))
    final, final_fold = outcomes[-1], table.folds[-1]
    calibration = fit_calibration(final.calibration, table.classes)
    metrics["temperature"] = calibration["temperature"]
    network = VideoNet.from_config(params.model, num_classes=len(table.classes))
    network.load_state_dict(final.state)
    save_model_dir(
        paths.model_dir, network, params=params, classes=table.classes,
        extra={"seed": seed, "fold": final_fold.name, "protocol": params.split.protocol,
               "selected_epoch": final.selected_epoch,
               "selection": "validation" if not final_fold.val.empty else "last epoch",
               "test_subjects": sorted(map(str, set(final_fold.test["subject"]))),
               "motion": training_motion(table, final_fold, params),
               "init": params.train.init if init is None else str(init),
               "calibration": calibration},
    )
    paths.metrics_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(paths.metrics_dir / f"seed_{seed}_predictions.csv") as tmp:
        predictions.to_csv(tmp, index=False, float_format="%.6f")
    sides = [o.validation for o in outcomes if not o.validation.empty]
    # Without validation subjects the file still has the predictions' columns, and no row.
    validation = pd.concat(sides, ignore_index=True) if sides else predictions.iloc[0:0]
    with atomic_path(paths.metrics_dir / f"seed_{seed}_validation.csv") as tmp:
        validation.to_csv(tmp, index=False, float_format="%.6f")
    # What the temperature was fitted on: the saved model's fold, cross-fitted.
    fitted_on = final.calibration if not final.calibration.empty else predictions.iloc[0:0]
    with atomic_path(paths.metrics_dir / f"seed_{seed}_calibration.csv") as tmp:
        fitted_on.to_csv(tmp, index=False, float_format="%.6f")
    # The figure many papers report, each fold's test side at the epoch best on it: beside
    # the honest one in the summary; nothing reads it to choose.
    on_test_path = paths.metrics_dir / f"seed_{seed}{BEST_ON_TEST_SUFFIX}"
    if all(not o.best_on_test.empty for o in outcomes):
        with atomic_path(on_test_path) as tmp:
            pd.concat([o.best_on_test for o in outcomes], ignore_index=True).to_csv(
                tmp, index=False, float_format="%.6f")
    else:  # a fold without a scored epoch: no figure rather than a partial one
        on_test_path.unlink(missing_ok=True)
    write_json(paths.metrics_dir / f"seed_{seed}.json", metrics)
    return metrics


def fit_calibration(validation: pd.DataFrame | None, classes: list[str]) -> dict[str, Any]:
    """The temperature that calibrates the saved model, fitted on its validation subjects'
    cross-fitted predictions (each clip predicted at the epoch chosen on the other half of
    them: attrmer.train.selection); 1.0, i.e. none, without validation subjects."""
    if validation is None or validation.empty:
        return {"temperature": 1.0, "validation_clips": 0,
                "note": "no validation subjects: probabilities are not calibrated"}
    probabilities = validation[[f"prob_{c}" for c in classes]].to_numpy()
    labels = validation["y_true"].to_numpy()
    temperature = fit_temperature(probabilities, labels)
    return {"temperature": temperature, "validation_clips": len(validation),
            "fitted_on": "validation clips, each at the epoch chosen on the other half",
            "validation_nll": round(negative_log_likelihood(probabilities, labels), 4),
            "validation_nll_calibrated": round(negative_log_likelihood(
                apply_temperature(probabilities, temperature), labels), 4)}


def training_motion(table: TrainingTable, fold: Fold, params: Params) -> dict[str, float]:
    """How strongly the training clips move (`motion_level`, pixels at the network's input):
    `attrmer predict` warns when a clip lies far outside this range."""
    levels = []
    with ClipStore(table.flow_path) as store:
        for key in fold.train["key"]:
            flow = torch.from_numpy(store.read(store.index_of(key)).astype(np.float32))
            levels.append(float(motion_levels(flow[None], params.flow,
                                              params.model.input_size)[0]))
    quantiles = np.percentile(levels, [0, 5, 50, 95, 100])
    return {name: round(float(q), 4)
            for name, q in zip(("min", "p05", "median", "p95", "max"), quantiles, strict=True)}


# History entries that are no curve: the epoch is the step, and an epoch's wall time would
# make the stage's outputs differ from run to run (it is in the training log instead).
NOT_CURVES = frozenset({"epoch", "seconds"})


def write_curves(directory: Path, table: TrainingTable,
                 outcomes: dict[int, list[FoldOutcome]]) -> None:
    """Every seed's per-epoch curves through DVCLive, for `dvc plots show`: one folder for the
    run, the metrics named `seed_<s>/<name>` (`seed_<s>/<fold>/<name>` beyond holdout), each
    seed's steps counted from 0, whichever process trained its folds and whenever."""
    from dvclive import Live

    os.environ.setdefault("DVCLIVE_LOGLEVEL", "WARNING")
    live = Live(dir=str(directory), dvcyaml=None, save_dvc_exp=False, report=None)
    for seed, seed_outcomes in outcomes.items():
        live.step = 0
        for fold, outcome in zip(table.folds, seed_outcomes, strict=True):
            prefix = f"seed_{seed}/" + ("" if fold.name == "holdout" else f"{fold.name}/")
            for record in outcome.history:
                for name, value in record.items():
                    if name not in NOT_CURVES:
                        live.log_metric(f"{prefix}{name}", float(value), plot=True)
                live.next_step()
    live.end()
