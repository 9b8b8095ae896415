"""The reliability diagram of the evaluate stage: are the models' probabilities honest?

For every seed, the validation predictions its temperature was fitted on (cross-fitted: each
clip at the epoch chosen on the other validation clips, `seed_<s>_calibration.csv`) and its
test predictions (which the temperature never saw), pooled over seeds, each shown raw and
calibrated. Under LOSO a seed saves the last fold's model and temperature, so only that
fold's predictions are drawn: the other folds' models were never calibrated. Written as
`metrics/reliability.png` and, in numbers, `metrics/calibration.json`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from attrmer.evaluate.calibration import (
    apply_temperature,
    expected_calibration_error,
    reliability_bins,
)
from attrmer.evaluate.summary import PROBABILITY_PREFIX, PredictionsError
from attrmer.io import write_json


def _seed_record(directory: Path, seed: int) -> tuple[float, str | None]:
    """The seed's temperature and the fold of its saved model (the last; None if unknown)."""
    path = directory / f"seed_{seed}.json"
    try:
        record = json.loads(path.read_text())
        folds = list(record.get("folds") or {})
        return float(record.get("temperature", 1.0)), (folds[-1] if folds else None)
    except (OSError, ValueError) as exc:
        raise PredictionsError(f"{path}: cannot read the seed's temperature ({exc})") from None


def _probabilities(path: Path, fold: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and labels of a predictions CSV; with several folds (LOSO), only the rows
    of `fold`, the one whose model (and temperature) the seed saved."""
    frame = pd.read_csv(path, dtype={"fold": str})
    columns = [c for c in frame.columns if c.startswith(PROBABILITY_PREFIX)]
    if "y_true" not in frame.columns or not columns:
        raise PredictionsError(f"{path}: needs y_true and {PROBABILITY_PREFIX}<class> columns")
    if fold is not None and "fold" in frame.columns and frame["fold"].nunique() > 1:
        frame = frame[frame["fold"] == fold]
    return frame[columns].to_numpy(np.float64), frame["y_true"].to_numpy(np.int64)


def calibration_report(directory: str | Path, seeds: Sequence[int]) -> dict[str, Any]:
    """{side: {"raw"|"calibrated": (bins, ece)}} pooled over seeds, plus the temperatures."""
    directory = Path(directory)
    pooled: dict[str, dict[str, list[np.ndarray]]] = {}
    temperatures = {}
    for seed in seeds:
        temperature, fold = _seed_record(directory, seed)
        temperatures[str(seed)] = temperature
        fitted_on = directory / f"seed_{seed}_calibration.csv"
        if not fitted_on.is_file():  # written before calibration was cross-fitted
            fitted_on = directory / f"seed_{seed}_validation.csv"
        for side, path in (("validation", fitted_on),
                           ("test", directory / f"seed_{seed}_predictions.csv")):
            if not path.is_file() or path.stat().st_size == 0:
                continue
            try:
                probabilities, labels = _probabilities(path, fold)
            except pd.errors.EmptyDataError:
                continue
            entry = pooled.setdefault(side, {"raw": [], "calibrated": [], "labels": []})
            entry["raw"].append(probabilities)
            entry["calibrated"].append(apply_temperature(probabilities, temperature)
                                       if len(probabilities) else probabilities)
            entry["labels"].append(labels)
    panels = {}
    for side, entry in pooled.items():
        labels = np.concatenate(entry["labels"])
        if not len(labels):
            continue
        panels[side] = {
            kind: (reliability_bins(np.concatenate(entry[kind]), labels),
                   expected_calibration_error(np.concatenate(entry[kind]), labels))
            for kind in ("raw", "calibrated")
        }
    return {"panels": panels, "temperatures": temperatures}


def write_reliability(directory: str | Path, seeds: Sequence[int], png: str | Path,
                      json_path: str | Path, *, title: str = "") -> dict[str, Any]:
    """Draw the reliability diagram and write the ECEs and temperatures."""
    from attrmer.evaluate.plots import plot_reliability

    report = calibration_report(directory, seeds)
    notes = {"validation": "cross-fitted; temperature fitted here", "test": "held out"}
    panels = {f"{side} subjects ({notes.get(side, side)})": series
              for side, series in report["panels"].items()}
    plot_reliability(panels, png, title=title or "Reliability of the top-class probability, "
                     f"{len(seeds)} seeds pooled")
    summary = {
        "temperature": report["temperatures"],
        "ece": {side: {kind: round(ece, 4) for kind, (_, ece) in series.items()}
                for side, series in report["panels"].items()},
    }
    write_json(json_path, summary)
    return summary
