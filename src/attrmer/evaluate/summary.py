"""The five-seed summary: per-seed prediction files in, one JSON tree of scalars out.

Every training seed (and every baseline) writes one predictions CSV — ``key, subject, fold,
y_true, y_pred, prob_<class>...`` with the class columns in class-index order — and this module
recomputes all metrics from those files, which are the source of truth (a seed's own JSON is
informational only). For each seed it scores accuracy, UF1 and UAR over all of that seed's
predictions; under LOSO these are the pooled predictions of every fold, the MEGC convention.
Across seeds it reports the mean and the *sample* standard deviation (ddof = 1), which is what
"mean ± std over five runs" means in the papers we compare with; a single seed has std 0.

The summary holds scalar leaves only, so `dvc metrics show/diff` and `dvc exp show` print it::

    accuracy.mean, accuracy.std, uf1.mean, uf1.std, uar.mean, uar.std,
    recall.<class>.mean, n_seeds, n_test, n_folds, n_classes

Accuracy, UF1 and UAR are fractions in [0, 1]; the report turns them into percent. A class with
no test sample in any seed has no recall and no ``recall.<class>`` key.

Several datasets read as one (a composite data.name: the MEGC 2019 composite, or
leave-one-dataset-out) name each subject ``<dataset>/<subject>``; the summary then scores each
dataset's predictions apart as well, the MEGC report format, beside the pooled figures above::

    datasets.<dataset>.accuracy.mean, ....uf1.mean, ....uf1.std, ....uar.mean, ....n_test

Beside the summary it writes the confusion data for `dvc plots` (template ``confusion``: one row
per prediction of every seed with ``actual`` and ``predicted`` class names) and a PNG of the
confusion matrix summed over seeds. Not for training or for the paper's tables (`attrmer.report`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from attrmer.config import Params
from attrmer.errors import AttrmerError
from attrmer.evaluate.metrics import accuracy, confusion_matrix, per_class_recall, uar, uf1
from attrmer.io import atomic_path, write_json

REQUIRED_COLUMNS = ("key", "subject", "fold", "y_true", "y_pred")
PROBABILITY_PREFIX = "prob_"
HOLDOUT_FOLD = "holdout"
DATASET_LABELS = {
    "synthetic": "built-in synthetic data",
    "casme2": "CASME II",
    "mmew": "MMEW",
    "samm": "SAMM",
    "casme3": "CAS(ME)^3",
    "casme3c": "CAS(ME)^3 part C",
    "casme": "CASME",
    "smic": "SMIC-HS",
    "smic_vis": "SMIC-VIS",
    "smic_nir": "SMIC-NIR",
    "megc2019": "MEGC 2019 composite",
    "composite": "composite",
}
# Each seed's test predictions at the epoch that scores best on the test side itself, beside
# its honest predictions (`seed_<s>_predictions.csv`): the figure many papers report.
BEST_ON_TEST_SUFFIX = "_best_epoch_on_test.csv"
BEST_ON_TEST_KEY = "best_epoch_on_test"
# How the report and the pages name that figure.
BEST_EPOCH_ON_TEST = "best epoch on test (as many papers report)"

# Between a composite's dataset name and the dataset's own subject (attrmer.datasets.composite
# writes it; repeated here so that evaluation does not depend on the dataset readers, and a
# test keeps the two equal).
DATASET_SEPARATOR = "/"


@dataclass(frozen=True)
class SeedPredictions:
    """One run's test predictions, as read from its CSV."""

    path: Path
    classes: tuple[str, ...]
    keys: np.ndarray
    folds: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    subjects: np.ndarray

    @property
    def datasets(self) -> np.ndarray | None:
        """Each prediction's dataset, when every subject names one (a composite), else None."""
        parts = [s.split(DATASET_SEPARATOR, 1) for s in self.subjects]
        if not parts or any(len(p) != 2 or not p[0] for p in parts):
            return None
        return np.array([p[0] for p in parts])

    @property
    def labels(self) -> list[int]:
        return list(range(len(self.classes)))



class PredictionsError(AttrmerError, ValueError):
    """A predictions file is malformed or the seeds' files disagree; the message names it."""

def read_predictions(path: str | Path) -> SeedPredictions:
    """Read and check one predictions CSV; errors name the file, the column or the row."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype={"key": str, "subject": str, "fold": str})
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such predictions file") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise PredictionsError(f"{path}: not a readable CSV: {exc}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise PredictionsError(f"{path}: missing column(s) {', '.join(missing)}")
    classes = tuple(c[len(PROBABILITY_PREFIX):] for c in frame.columns
                    if c.startswith(PROBABILITY_PREFIX))
    if len(classes) < 2:
        raise PredictionsError(
            f"{path}: needs one {PROBABILITY_PREFIX}<class> column per class (at least two), "
            f"found {len(classes)}"
        )
    if frame.empty:
        raise PredictionsError(f"{path}: has no predictions")
    labels = {}
    for column in ("y_true", "y_pred"):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() | (values % 1 != 0) | (values < 0) | (values >= len(classes))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise PredictionsError(
                f"{path}: row {row + 2}: {column} = {frame[column].iloc[row]} is not a class "
                f"index in 0..{len(classes) - 1} ({', '.join(classes)})"
            )
        labels[column] = values.to_numpy(np.int64)
    if frame["fold"].isna().any():
        row = int(np.flatnonzero(frame["fold"].isna().to_numpy())[0])
        raise PredictionsError(f"{path}: row {row + 2}: empty fold")
    return SeedPredictions(
        path=path,
        classes=classes,
        keys=frame["key"].to_numpy(str),
        folds=frame["fold"].to_numpy(str),
        y_true=labels["y_true"],
        y_pred=labels["y_pred"],
        subjects=frame["subject"].fillna("").to_numpy(str),
    )


def _check_consistent(runs: Sequence[SeedPredictions]) -> None:
    first = runs[0]
    for run in runs[1:]:
        if run.classes != first.classes:
            raise PredictionsError(
                f"{run.path}: classes ({', '.join(run.classes)}) differ from {first.path} "
                f"({', '.join(first.classes)}); seeds of one summary must share one class set"
            )
        if len(run.y_true) != len(first.y_true):
            raise PredictionsError(
                f"{run.path}: {len(run.y_true)} test predictions but {first.path} has "
                f"{len(first.y_true)}; seeds of one summary must share one test protocol"
            )


def _mean_std(values: Sequence[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    std = float(np.std(array, ddof=1)) if len(array) > 1 else 0.0
    return {"mean": round(float(np.mean(array)), 6), "std": round(std, 6)}


def summarize_runs(prediction_csvs: Sequence[str | Path]) -> dict[str, Any]:
    """Accuracy, UF1, UAR (mean and sample std over runs) and per-class recall, as a JSON tree."""
    return _summarize(_read_runs(prediction_csvs))


def _read_runs(prediction_csvs: Sequence[str | Path]) -> list[SeedPredictions]:
    if not prediction_csvs:
        raise PredictionsError("no prediction files to summarize")
    runs = [read_predictions(p) for p in prediction_csvs]
    _check_consistent(runs)
    return runs


def _summarize(runs: Sequence[SeedPredictions]) -> dict[str, Any]:
    classes, labels = runs[0].classes, runs[0].labels
    recalls = np.stack([per_class_recall(r.y_true, r.y_pred, labels) for r in runs])
    recall_tree = {}
    for name, column in zip(classes, recalls.T, strict=True):
        seen = column[~np.isnan(column)]
        if seen.size:
            recall_tree[name] = {"mean": round(float(seen.mean()), 6)}
    summary = {
        "accuracy": _mean_std([accuracy(r.y_true, r.y_pred) for r in runs]),
        "uf1": _mean_std([uf1(r.y_true, r.y_pred, labels) for r in runs]),
        "uar": _mean_std([uar(r.y_true, r.y_pred, labels) for r in runs]),
        "recall": recall_tree,
        "n_seeds": len(runs),
        "n_test": len(runs[0].y_true),
        "n_folds": len(set(runs[0].folds)),
        "n_classes": len(classes),
    }
    per_dataset = _per_dataset(runs)
    if per_dataset:
        summary["datasets"] = per_dataset
    return summary


def _per_dataset(runs: Sequence[SeedPredictions]) -> dict[str, Any]:
    """{dataset: accuracy, UF1, UAR (mean and std over runs), n_test} for a composite's
    predictions, in the order the datasets first appear; {} for one dataset's."""
    datasets = [r.datasets for r in runs]
    if any(d is None for d in datasets):
        return {}
    labels = runs[0].labels
    tree: dict[str, Any] = {}
    for name in dict.fromkeys(datasets[0]):
        masks = [d == name for d in datasets]
        tree[str(name)] = {
            "accuracy": _mean_std([accuracy(r.y_true[m], r.y_pred[m])
                                   for r, m in zip(runs, masks, strict=True)]),
            # Over the composite's classes; a class neither true nor predicted in a dataset is
            # left out, as in the pooled figures (attrmer.evaluate.metrics).
            "uf1": _mean_std([uf1(r.y_true[m], r.y_pred[m], labels)
                              for r, m in zip(runs, masks, strict=True)]),
            "uar": _mean_std([uar(r.y_true[m], r.y_pred[m], labels)
                              for r, m in zip(runs, masks, strict=True)]),
            "n_test": int(masks[0].sum()),
        }
    return tree


def per_seed_scores(runs: Sequence[SeedPredictions],
                    seeds: Sequence[int]) -> dict[str, dict[str, float]]:
    """{metric: {seed: value}} for accuracy, UF1 and UAR: what a paired comparison of two
    settings over the same seeds needs (`attrmer report`). Seeds are keys, not a list, so that
    DVC keeps them as metrics."""
    labels = runs[0].labels
    scores = {"accuracy": lambda r: accuracy(r.y_true, r.y_pred),
              "uf1": lambda r: uf1(r.y_true, r.y_pred, labels),
              "uar": lambda r: uar(r.y_true, r.y_pred, labels)}
    return {name: {str(seed): round(float(score(run)), 6)
                   for seed, run in zip(seeds, runs, strict=True)}
            for name, score in scores.items()}


def validation_accuracies(directory: Path, seeds: Sequence[int]) -> dict[str, float]:
    """{seed: accuracy} of each seed's `seed_<s>_validation.csv` (the selected model on the
    validation subjects); seeds without validation predictions are left out."""
    accuracies = {}
    for seed in seeds:
        path = directory / f"seed_{seed}_validation.csv"
        if not path.is_file():
            continue
        try:
            frame = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            continue
        if len(frame) and {"y_true", "y_pred"} <= set(frame.columns):
            accuracies[str(seed)] = round(accuracy(frame["y_true"].to_numpy(),
                                                   frame["y_pred"].to_numpy()), 6)
    return accuracies


def summed_confusion(runs: Sequence[SeedPredictions]) -> np.ndarray:
    """The confusion matrix (rows: truth) summed over runs, in class-index order."""
    return sum(confusion_matrix(r.y_true, r.y_pred, r.labels) for r in runs)


def protocol_label(runs: Sequence[SeedPredictions], protocol: str | None = None) -> str:
    """"holdout", "LOSO, k folds pooled" or "leave one dataset out, k folds pooled".

    `protocol` is the configured split.protocol (holdout, loso or lodo); without it the protocol
    is guessed from the fold and subject columns of the predictions, which cannot tell a lodo
    run whose test datasets hold one subject each from LOSO.
    """
    run = runs[0]
    protocol = protocol or _guessed_protocol(run)
    if protocol == "holdout":
        return "holdout"
    folds = len(set(run.folds))
    pooled = f"{folds} fold{'s' if folds > 1 else ''} pooled"
    return f"leave one dataset out, {pooled}" if protocol == "lodo" else f"LOSO, {pooled}"


def _guessed_protocol(run: SeedPredictions) -> str:
    folds = set(run.folds)
    if folds == {HOLDOUT_FOLD}:
        return "holdout"
    datasets = run.datasets
    if datasets is not None:
        of_fold = {f: set(datasets[run.folds == f]) for f in folds}
        subjects_of_fold = {f: set(run.subjects[run.folds == f]) for f in folds}
        # A fold that tests one whole dataset, not one subject, leaves a dataset out.
        if all(len(d) == 1 for d in of_fold.values()) and any(
                len(s) > 1 for s in subjects_of_fold.values()):
            return "lodo"
    return "loso"


def write_confusion_csv(runs: Sequence[SeedPredictions], path: str | Path) -> None:
    """One ``actual,predicted`` row of class names per prediction of every run (dvc plots)."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["actual", "predicted"])
        for run in runs:
            names = np.asarray(run.classes)
            writer.writerows(zip(names[run.y_true], names[run.y_pred], strict=True))


def write_summary(
    prediction_csvs: Sequence[str | Path],
    summary_path: str | Path,
    confusion_csv_path: str | Path | None = None,
    confusion_png_path: str | Path | None = None,
    *,
    title: str | None = None,
    seeds: Sequence[int] | None = None,
    by_seed_path: str | Path | None = None,
    protocol: str | None = None,
    best_on_test_csvs: Sequence[str | Path] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Summarize the runs into `summary_path` (JSON) and, if given, the confusion CSV and PNG,
    and each seed's scores into `by_seed_path` (the runs are the `seeds`, in order).
    `best_on_test_csvs`, the same runs at the epoch best on the test side, add their
    accuracy, UF1 and UAR under `best_epoch_on_test` (`with_best_on_test`); `extra` adds
    entries of the run's own (what trained the attribute branch).

    `title` heads the PNG (the dataset, say); the protocol (`protocol`, the configured
    split.protocol, else read from the fold column) and the number of runs are always added.
    Returns the summary.
    """
    runs = _read_runs(prediction_csvs)
    summary = with_best_on_test(_summarize(runs), best_on_test_csvs) | dict(extra or {})
    write_json(summary_path, summary)
    if by_seed_path is not None:
        if seeds is None or len(seeds) != len(runs):
            raise ValueError("write_summary: by_seed_path needs one seed per prediction file")
        scores = per_seed_scores(runs, seeds)
        validation = validation_accuracies(Path(prediction_csvs[0]).parent, seeds)
        if validation:
            # What settings may be chosen by: the selected model's validation accuracy.
            scores["val_accuracy"] = validation
        write_json(by_seed_path, scores)
    if confusion_csv_path is not None:
        write_confusion_csv(runs, confusion_csv_path)
    if confusion_png_path is not None:
        from attrmer.evaluate.plots import plot_confusion

        runs_text = "1 run" if len(runs) == 1 else f"{len(runs)} runs"
        caption = f"{protocol_label(runs, protocol)}, summed over {runs_text}"
        plot_confusion(
            summed_confusion(runs), runs[0].classes, confusion_png_path,
            title=f"{title}\n{caption}" if title else caption,
        )
    return summary


def with_best_on_test(summary: dict[str, Any],
                      best_on_test_csvs: Sequence[str | Path] | None) -> dict[str, Any]:
    """The summary with `best_epoch_on_test`: accuracy, UF1 and UAR (mean, std over the runs)
    of the test predictions taken at the epoch that scores best on the test side, the figure
    many papers report. Shown beside the honest figures; it never feeds a choice. Unchanged
    without such files (a method without epochs)."""
    if not best_on_test_csvs:
        return summary
    runs = _read_runs(best_on_test_csvs)
    inflated = _summarize(runs)
    return summary | {BEST_ON_TEST_KEY: {name: inflated[name]
                                         for name in ("accuracy", "uf1", "uar")}}


def best_on_test_paths(directory: str | Path, seeds: Sequence[int]) -> list[Path] | None:
    """``<directory>/seed_<s>_best_epoch_on_test.csv`` for each seed, or None when any is
    missing (a run written before they were)."""
    paths = [Path(directory) / f"seed_{seed}{BEST_ON_TEST_SUFFIX}" for seed in seeds]
    return paths if all(p.is_file() for p in paths) else None


def seed_prediction_paths(directory: str | Path, seeds: Sequence[int]) -> list[Path]:
    """``<directory>/seed_<s>_predictions.csv`` for each seed; an error names any missing one."""
    directory = Path(directory)
    paths = [directory / f"seed_{seed}_predictions.csv" for seed in seeds]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{directory}: no predictions for seed(s) in train.seeds: "
            + ", ".join(str(p) for p in missing)
        )
    return paths


def dataset_title(params: Params) -> str:
    """How a figure names the data it comes from, e.g. "CASME II, classes: paper"."""
    name = dataset_label(params.data.name)
    if params.data.name == "composite":
        name = " + ".join(dataset_label(params.data.adapters.get(d, d)) for d in params.data.roots)
    classes = "megc2019" if params.data.name == "megc2019" else params.data.classes
    class_text = classes if isinstance(classes, str) else ", ".join(classes)
    title = f"{name}, classes: {class_text}"
    if params.data.name == "synthetic":
        title += " (not comparable with the paper)"
    return title


def dataset_label(name: str) -> str:
    """The dataset's usual spelling ("casme2" -> "CASME II"); unknown names pass through."""
    return DATASET_LABELS.get(name, name)


def evaluate_seeds(
    params: Params,
    predictions_dir: str | Path,
    summary_path: str | Path,
    confusion_csv_path: str | Path | None = None,
    confusion_png_path: str | Path | None = None,
    by_seed_path: str | Path | None = None,
) -> dict[str, Any]:
    """The `evaluate` stage: summarize the predictions of every seed in ``train.seeds``."""
    paths = seed_prediction_paths(predictions_dir, params.train.seeds)
    branch = attribute_branch_clips(predictions_dir, params.train.seeds)
    return write_summary(
        paths, summary_path, confusion_csv_path, confusion_png_path,
        title=dataset_title(params), seeds=params.train.seeds, by_seed_path=by_seed_path,
        protocol=params.split.protocol,
        best_on_test_csvs=best_on_test_paths(predictions_dir, params.train.seeds),
        extra={"attribute_branch": branch} if branch else None,
    )


def attribute_branch_clips(directory: str | Path, seeds: Sequence[int]) -> dict[str, float]:
    """How many training clips trained the attribute branch (those with AU codes) and how
    many trained at all, means over folds, from the seeds' `seed_<s>.json`; empty when the
    run had no attribute branch or predates the count."""
    for seed in seeds:
        try:
            metrics = json.loads((Path(directory) / f"seed_{seed}.json").read_text())
        except (OSError, ValueError):
            continue
        if "n_train_with_au_codes" in metrics:
            return {"clips_with_au_codes": float(metrics["n_train_with_au_codes"]),
                    "training_clips": float(metrics["n_train"])}
    return {}
