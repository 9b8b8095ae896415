"""Run a deep baseline (ELRCN, NetAB, TLCNN) on the method's own manifest, split, seeds and
validation subjects.

`run_deep_baseline(name, ...)` reads the clips that training would use through the method's
own `load_training_table` (the same folds, and the same validation subjects: under holdout the
manifest's "val" rows, under LOSO `split.validation_fraction` of each fold's training subjects
drawn with `split.seed`), turns each clip into the network's input once (`prepare` of the
method's module), and for every seed of `train.seeds` and every fold trains the network from
the seed (`attrmer.baselines.deep.fit`), keeps the epoch of best validation UF1 and predicts
the test side. Each seed's predictions go to `<out_dir>/seed_<s>.csv` in the format training
writes, their summary (mean ± sample std over seeds, as for the method) to `summary_path`,
with the chosen epochs.

TLCNN trains in the three steps of its paper (`attrmer.baselines.deep.transfer`); ELRCN and
NetAB end to end. Not for the classic baselines (`attrmer.baselines.run`) or the method
(`attrmer.train`).
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from attrmer.baselines import TITLES
from attrmer.baselines.deep.common import frame_indices
from attrmer.baselines.deep.fit import (
    FoldInputs,
    FoldOutcome,
    Schedule,
    apex_positions,
    fit_classifier,
    predict_probabilities,
)
from attrmer.baselines.deep.transfer import TRAINING_SOURCE, missing_source, train_tlcnn
from attrmer.baselines.shared import BaselineSetupError, flow_reference, prediction_rows
from attrmer.config import Params
from attrmer.evaluate.summary import BEST_ON_TEST_SUFFIX, summarize_runs, with_best_on_test
from attrmer.io import atomic_path, write_json
from attrmer.preprocess.store import ClipStore
from attrmer.train.data import Fold, TrainingSetupError, TrainingTable, load_training_table

# (module, config, fold inputs, *, seed, n_classes, params) -> the test probabilities
TrainFold = Callable[..., FoldOutcome]


def schedule_of(config: Any, prefix: str = "") -> Schedule:
    """The `Schedule` of a config's `<prefix>epochs`, `lr`, `batch_size`, `weight_decay`."""
    return Schedule(epochs=getattr(config, f"{prefix}epochs"), lr=config.lr,
                    batch_size=config.batch_size, weight_decay=config.weight_decay)


def train_end_to_end(module: ModuleType, config: Any, data: FoldInputs, *, seed: int,
                     n_classes: int, params: Params) -> FoldOutcome:
    """The network built from the seed, trained whole, its best validation epoch kept."""
    torch.manual_seed(seed)
    model = module.build(config, n_classes)
    result = fit_classifier(model, data.train, data.train_labels, schedule=schedule_of(config),
                            seed=seed, val_inputs=data.val, val_labels=data.val_labels,
                            test=(data.test, data.test_labels))
    return FoldOutcome(predict_probabilities(result.model, data.test), {"epoch": result.epoch},
                       result.best_on_test)


@dataclass(frozen=True)
class DeepBaseline:
    module: str  # the module with the method's `prepare` and `build`
    train_fold: TrainFold


DEEP_BASELINES: dict[str, DeepBaseline] = {
    "elrcn": DeepBaseline("attrmer.baselines.deep.elrcn", train_end_to_end),
    "netab": DeepBaseline("attrmer.baselines.deep.netab", train_end_to_end),
    "tlcnn": DeepBaseline("attrmer.baselines.deep.tlcnn", train_tlcnn),
    "ststnet": DeepBaseline("attrmer.baselines.deep.ststnet", train_end_to_end),
    "offapexnet": DeepBaseline("attrmer.baselines.deep.offapexnet", train_end_to_end),
}


def prepare_inputs(module: ModuleType, config: Any, params: Params, table: TrainingTable,
                   *, progress: bool = True) -> dict[str, np.ndarray]:
    """Every clip of the table as the network's input, by key. A module whose `prepare` takes
    `apex` (the apex-frame methods) is also given the stored frame nearest the clip's
    annotated apex (`fit.apex_positions`)."""
    inputs = {}
    reads_apex = "apex" in inspect.signature(module.prepare).parameters
    with ClipStore(table.rgb_path) as rgb, ClipStore(table.flow_path) as flow:
        reference = flow_reference(flow, params)
        for position, key in enumerate(tqdm(table.rows["key"], desc="inputs", unit="clip",
                                            file=sys.stderr, disable=not progress)):
            clip = rgb.read(rgb.index_of(key))
            apex = {"apex": int(apex_positions(table.rows.iloc[[position]],
                                               clip.shape[1])[0])} if reads_apex else {}
            try:
                inputs[key] = module.prepare(clip, flow.read(flow.index_of(key)), config,
                                             reference=reference, **apex)
            except ValueError as exc:
                raise BaselineSetupError(f"{table.rgb_path}: clip {key!r}: {exc}") from None
    return inputs


def fold_inputs(inputs: dict[str, np.ndarray], fold: Fold, *, stored_frames: int,
                frames: int) -> FoldInputs:
    """One fold's tensors; `frames` of the `stored_frames` are what the network reads."""
    def stack(rows: pd.DataFrame) -> torch.Tensor:
        if rows.empty:
            return torch.empty((0, *next(iter(inputs.values())).shape))
        return torch.from_numpy(np.stack([inputs[k] for k in rows["key"]]))

    def labels(rows: pd.DataFrame) -> torch.Tensor:
        return torch.tensor(rows["label"].to_numpy(np.int64))

    train = stack(fold.train)
    return FoldInputs(train=train, train_labels=labels(fold.train), val=stack(fold.val),
                      val_labels=labels(fold.val), test=stack(fold.test),
                      test_labels=fold.test["label"].to_numpy(np.int64),
                      train_apex=torch.from_numpy(apex_positions(
                          fold.train, stored_frames, frame_indices(stored_frames, frames))))


def refuse_tested_source(config: Any, table: TrainingTable) -> None:
    """TLCNN's step 1 must not see a face that any fold validates or tests on: a source store
    holding one of those subjects (as the run's own store does) is refused."""
    if config.source == TRAINING_SOURCE:
        return
    from attrmer.preprocess.store import StoreError

    source = Path(config.source)
    if not source.is_file():
        raise missing_source(source)
    held_out = pd.concat([pd.concat([fold.val, fold.test]) for fold in table.folds])
    try:
        with ClipStore(source) as store:
            meta = store.meta
    except StoreError as exc:
        raise BaselineSetupError(f"baselines.tlcnn.source: {source}: {exc}") from None
    # A store written without dataset names is compared by subject alone.
    named = "dataset" in meta.columns and bool(meta["dataset"].astype(str).str.len().all())

    def subjects(rows: pd.DataFrame) -> set[tuple[str, str]]:
        datasets = rows["dataset"].astype(str) if named else [""] * len(rows)
        return set(zip(datasets, rows["subject"].astype(str), strict=True))

    same_store = source.resolve() == Path(table.rgb_path).resolve()
    shared = sorted(subjects(held_out) & subjects(meta))
    if same_store and not shared:
        shared = sorted(subjects(held_out))
    if shared:
        dataset, subject = shared[0]
        raise BaselineSetupError(
            f"baselines.tlcnn.source: {source} holds {len(shared)} subject(s) this run "
            f"validates or tests on ({f'{dataset} ' if dataset else ''}{subject} first): step "
            "1 would see their faces; use another dataset's store")


def run_deep_baseline(
    name: str,
    params: Params,
    *,
    manifest_path: str | Path,
    rgb_path: str | Path,
    flow_path: str | Path,
    out_dir: str | Path,
    summary_path: str | Path,
    progress: bool = True,
) -> dict[str, Any]:
    """Every seed's training and test predictions, then the summary; returns the summary."""
    if name not in DEEP_BASELINES:
        raise BaselineSetupError(f"unknown deep baseline {name!r} (known: "
                                 f"{', '.join(DEEP_BASELINES)})")
    baseline = DEEP_BASELINES[name]
    module = importlib.import_module(baseline.module)
    config = getattr(params.baselines, name)
    try:
        table = load_training_table(
            Path(manifest_path), Path(rgb_path), Path(flow_path), None,
            protocol=params.split.protocol,
            validation_fraction=params.split.validation_fraction, split_seed=params.split.seed)
    except TrainingSetupError as exc:
        raise BaselineSetupError(str(exc)) from None
    if name == "tlcnn":
        refuse_tested_source(config, table)
    inputs = prepare_inputs(module, config, params, table, progress=progress)
    with ClipStore(table.rgb_path) as rgb:
        stored_frames = rgb.read(0).shape[1]
    folds = {fold.name: fold_inputs(inputs, fold, stored_frames=stored_frames,
                                    frames=config.frames) for fold in table.folds}
    chosen: dict[str, dict[str, Any]] = {}
    with atomic_path(out_dir, directory=True) as tmp_dir:
        paths, on_test_paths = [], []
        for seed in params.train.seeds:
            parts, on_test = [], []
            for fold in table.folds:
                outcome = baseline.train_fold(module, config, folds[fold.name], seed=seed,
                                              n_classes=len(table.classes), params=params)
                chosen.setdefault(f"seed_{seed}", {})[fold.name] = outcome.epochs
                parts.append(prediction_rows(fold.test, fold.name,
                                             outcome.probabilities.argmax(axis=1),
                                             outcome.probabilities, table.classes))
                if outcome.best_on_test is not None:
                    on_test.append(prediction_rows(fold.test, fold.name,
                                                   outcome.best_on_test.argmax(axis=1),
                                                   outcome.best_on_test, table.classes))
            path = tmp_dir / f"seed_{seed}.csv"
            pd.concat(parts, ignore_index=True).to_csv(path, index=False, float_format="%.6f")
            paths.append(path)
            if len(on_test) == len(table.folds):
                on_test_paths.append(tmp_dir / f"seed_{seed}{BEST_ON_TEST_SUFFIX}")
                pd.concat(on_test, ignore_index=True).to_csv(on_test_paths[-1], index=False,
                                                            float_format="%.6f")
            if progress:
                print(f"{name}: seed {seed} done", file=sys.stderr)
        # Inside the block: a summary that cannot be made leaves the previous outputs alone.
        summary = with_best_on_test(
            summarize_runs(paths),
            on_test_paths if len(on_test_paths) == len(paths) else None)
        summary["method"] = TITLES[name]
        validated = any(not fold.val.empty for fold in table.folds)
        summary["selection"] = (
            "the epoch of best validation UF1 (validation subjects carved from the training "
            "side)" if validated else "the last epoch (no validation subjects)")
        only = table.folds[0].name
        summary["epochs_chosen"] = chosen if len(table.folds) > 1 else {
            seed: epochs[only] for seed, epochs in chosen.items()}
    write_json(summary_path, summary)
    return summary

