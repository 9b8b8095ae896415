"""Run a classic baseline on the method's own manifest and split.

`run_baseline(name, ...)` (a name of `BASELINES`) computes the baseline's feature for every
usable clip that training would use (the manifest's usable rows present in both the RGB and the
flow store), once per run, then fits the baseline's SVM on the training side of each fold
(holdout: the "train" and "val" rows; LOSO: every other subject; leave-one-dataset-out: every
other dataset) and predicts the test side. The predictions go to `<out_dir>/predictions.csv`
in the format that training writes (key, subject, fold, y_true, y_pred, prob_<class>...), and
their summary to `summary_path` through `attrmer.evaluate.summary.summarize_runs`, so the
report shows the baselines beside the method.

The classifiers:

* LBP-TOP: square root of the L1-normalised histograms (the Hellinger map, so that a linear
  kernel on the result is the Bhattacharyya kernel on the histograms, close to the χ² kernel
  that histogram features want), the whole vector scaled to unit L2 norm (so C means the same
  whatever the grid, and the dual solver converges in a few hundred passes), then `LinearSVC`
  (one-vs-rest, squared hinge, dual coordinate descent, C = `baselines.lbptop.svm_c`).
* MDMO: each ROI's (ρ, θ) turned into the vector (ρ cos θ, ρ sin θ), then `SVC` with a linear
  kernel (C = `baselines.mdmo.svm_c`, one-vs-one). The vector carries the same information as
  the paper's (ρ, θ) but has no jump where θ wraps from π to −π: leftward motion, common on
  faces, would otherwise fall on both ends of the θ axis. No standardisation: ρ is already
  normalised to [0, 1] per clip, and scaling each dimension to unit variance would give the
  ROIs that barely move as much weight as those that do.
* FDM: the map's principal vectors (pixels per frame) scaled to unit L2 norm per clip, then
  a linear `SVC` as for MDMO. The scaling keeps the pattern of directions and relative
  strengths and drops the clip's overall motion amplitude, which varies with the subject
  more than with the emotion (MDMO's per-clip ρ normalisation does the same); it also makes
  C mean the same whatever the grid.
* Sparse MDMO: every frame's MDMO vector (`baselines.sparse_mdmo.frames` of them, evenly
  spaced) in the vector form above, coded by graph-regularised sparse coding on a graph of
  each clip's frames built with Liu, Li & Lai's sparsity-based distance, the codes of a clip
  pooled into one feature (`attrmer.baselines.sparse_mdmo`), then a linear `SVC`. The coder
  is a step of the classifier's pipeline, so the dictionary is learnt on each fold's training
  side only, and again on each inner training split while C is chosen.

C: `baselines.<name>.svm_c` is one value or a grid; from a grid, each fold picks the C with
the best mean UF1 in a subject-wise cross-validation inside its own training subjects (grouped
by subject, up to 5 folds; ties go to the smaller C), so the test side never informs it. The
chosen C of every fold is in the summary.

Runs: every classifier is deterministic (`LinearSVC` solves the primal problem, `SVC` without
probability estimates has no randomness, the sparse coder's atoms start from a seeded draw),
so a baseline runs once and its summary has no spread: a "± 0 over 5 seeds" would not be a
variance.

`prob_<class>` columns: a softmax over the SVM's decision values (one-vs-rest margins for
LinearSVC, one-vs-one vote-based scores for SVC), not calibrated probabilities; a class absent
from a fold's training side gets 0. Not for training the method or for the report's layout.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, Normalizer
from sklearn.svm import SVC, LinearSVC
from tqdm import tqdm

from attrmer.baselines.fdm import fdm_feature_length, fdm_from_config
from attrmer.baselines.lbptop import feature_length, lbp_top_from_config
from attrmer.baselines.mdmo import FEATURE_LENGTH as MDMO_LENGTH
from attrmer.baselines.mdmo import atomic_features, mdmo_feature
from attrmer.baselines.shared import (
    BaselineSetupError,
    flow_reference,
    frame_indices,
    prediction_rows,
)
from attrmer.baselines.sparse_mdmo import GraphSparseCoder
from attrmer.config import Params
from attrmer.evaluate.summary import summarize_runs
from attrmer.io import atomic_path, write_json
from attrmer.manifest import ManifestError, class_names, read_manifest, usable
from attrmer.preprocess.store import ClipStore

HOLDOUT_FOLD = "holdout"
PREDICTIONS_NAME = "predictions.csv"
# The SVM chooses C by cross-validation inside the training side, so validation rows train it.
TRAINING_SIDES = ("train", "val")


@dataclass(frozen=True)
class Baseline:
    """A classic baseline: which store feeds it, its feature, its classifier and its C (its
    name in tables: `attrmer.baselines.TITLES`)."""

    store: str  # "rgb" or "flow"
    feature_length: Callable[[Params], int]
    features: Callable[[ClipStore, list[int], Params], np.ndarray]
    classifier: Callable[[Params, float], Pipeline]  # (params, C)
    svm_c: Callable[[Params], float | list[float]]


def _lbptop_features(store: ClipStore, indexes: list[int], params: Params) -> np.ndarray:
    config = params.baselines.lbptop
    rows = [
        lbp_top_from_config(store.read(i), config)
        for i in tqdm(indexes, desc="LBP-TOP", unit="clip", file=sys.stderr)
    ]
    return np.stack(rows)


def _mdmo_features(store: ClipStore, indexes: list[int], params: Params) -> np.ndarray:
    landmarks = store.meta_array("landmarks")
    reference = flow_reference(store, params)
    rows = []
    for i in tqdm(indexes, desc="MDMO", unit="clip", file=sys.stderr):
        try:
            rows.append(mdmo_feature(store.read(i), landmarks[i], reference=reference))
        except ValueError as exc:
            raise BaselineSetupError(f"{store.path}: clip {store.keys[i]!r}: {exc}") from None
    return np.stack(rows)


def _sparse_mdmo_features(store: ClipStore, indexes: list[int], params: Params) -> np.ndarray:
    """Each clip's atomic MDMO vectors, `frames` of them laid end to end (frame-major)."""
    landmarks = store.meta_array("landmarks")
    reference = flow_reference(store, params)
    frames = params.baselines.sparse_mdmo.frames
    rows = []
    for i in tqdm(indexes, desc="MDMO per frame", unit="clip", file=sys.stderr):
        try:
            per_frame = atomic_features(store.read(i), landmarks[i], reference=reference)
        except ValueError as exc:
            raise BaselineSetupError(f"{store.path}: clip {store.keys[i]!r}: {exc}") from None
        rows.append(per_frame[frame_indices(len(per_frame), frames)].ravel())
    return np.stack(rows)


def _fdm_features(store: ClipStore, indexes: list[int], params: Params) -> np.ndarray:
    config = params.baselines.fdm
    reference = flow_reference(store, params)
    rows = []
    for i in tqdm(indexes, desc="FDM", unit="clip", file=sys.stderr):
        try:
            rows.append(fdm_from_config(store.read(i), config, reference=reference))
        except ValueError as exc:
            raise BaselineSetupError(f"{store.path}: clip {store.keys[i]!r}: {exc}") from None
    return np.stack(rows)


def _lbptop_classifier(params: Params, c: float) -> Pipeline:
    return make_pipeline(
        FunctionTransformer(np.sqrt, feature_names_out="one-to-one"),
        Normalizer(norm="l2"),
        LinearSVC(C=c, dual=False, max_iter=20000),
    )


def _polar_to_cartesian(features: np.ndarray) -> np.ndarray:
    """(N, 2R) interleaved (ρ, θ) -> (N, 2R) interleaved (ρ cos θ, ρ sin θ)."""
    rho, theta = features[:, 0::2], features[:, 1::2]
    cartesian = np.empty_like(features)
    cartesian[:, 0::2] = rho * np.cos(theta)
    cartesian[:, 1::2] = rho * np.sin(theta)
    return cartesian


def _mdmo_classifier(params: Params, c: float) -> Pipeline:
    return make_pipeline(
        FunctionTransformer(_polar_to_cartesian),
        # break_ties: predict the argmax of the decision values, as the prob_ columns rank.
        SVC(C=c, kernel="linear", break_ties=True),
    )


def _fdm_classifier(params: Params, c: float) -> Pipeline:
    return make_pipeline(
        Normalizer(norm="l2"),
        SVC(C=c, kernel="linear", break_ties=True),
    )


def _sparse_mdmo_classifier(params: Params, c: float) -> Pipeline:
    config = params.baselines.sparse_mdmo
    return make_pipeline(
        FunctionTransformer(_polar_to_cartesian),
        GraphSparseCoder(
            frame_length=MDMO_LENGTH, atoms=config.atoms, sparsity=config.sparsity,
            graph_weight=config.graph_weight, neighbours=config.neighbours,
            similarity_penalty=config.similarity_penalty,
            max_pooling_weight=config.max_pooling_weight, iterations=config.iterations,
            code_iterations=config.code_iterations,
            transform_iterations=config.transform_iterations, seed=config.seed,
        ),
        SVC(C=c, kernel="linear", break_ties=True),
    )


BASELINES: dict[str, Baseline] = {
    "lbptop": Baseline(
        store="rgb",
        feature_length=lambda p: feature_length(p.baselines.lbptop.grid,
                                                p.baselines.lbptop.neighbors),
        features=_lbptop_features,
        classifier=_lbptop_classifier,
        svm_c=lambda p: p.baselines.lbptop.svm_c,
    ),
    "mdmo": Baseline(
        store="flow",
        feature_length=lambda p: MDMO_LENGTH,
        features=_mdmo_features,
        classifier=_mdmo_classifier,
        svm_c=lambda p: p.baselines.mdmo.svm_c,
    ),
    "fdm": Baseline(
        store="flow",
        feature_length=lambda p: fdm_feature_length(p.baselines.fdm),
        features=_fdm_features,
        classifier=_fdm_classifier,
        svm_c=lambda p: p.baselines.fdm.svm_c,
    ),
    "sparse_mdmo": Baseline(
        store="flow",
        feature_length=lambda p: p.baselines.sparse_mdmo.frames * MDMO_LENGTH,
        features=_sparse_mdmo_features,  # per-frame MDMO; the coding is the classifier's
        classifier=_sparse_mdmo_classifier,
        svm_c=lambda p: p.baselines.sparse_mdmo.svm_c,
    ),
}


@dataclass(frozen=True)
class Fold:
    name: str  # "holdout" or "fold<k>"
    train: np.ndarray  # bool mask over the rows
    test: np.ndarray


def baseline_rows(
    manifest_path: str | Path, rgb_keys: list[str], flow_keys: list[str]
) -> tuple[pd.DataFrame, list[str]]:
    """The clips training would use (usable rows in both stores) and the class names in order."""
    manifest = usable(read_manifest(manifest_path))
    manifest = manifest[manifest["label"] >= 0]
    in_stores = set(rgb_keys) & set(flow_keys)
    rows = manifest[manifest["key"].isin(in_stores)].reset_index(drop=True)
    missing = len(manifest) - len(rows)
    if missing:
        print(f"baselines: {missing} usable clip(s) of {manifest_path} are missing from a store "
              "and are left out, as in training", file=sys.stderr)
    if rows.empty:
        raise BaselineSetupError(f"no usable clip of {manifest_path} is in both stores")
    try:
        return rows, class_names(rows)
    except ManifestError as exc:
        raise BaselineSetupError(f"{manifest_path}: {exc}") from None


def baseline_folds(rows: pd.DataFrame, protocol: str) -> list[Fold]:
    """The folds of `split.protocol`, read from the manifest's split column as training does."""
    split = rows["split"].to_numpy(str)
    if protocol == "holdout":
        fold = Fold(HOLDOUT_FOLD, np.isin(split, TRAINING_SIDES), split == "test")
        folds = [fold]
    elif protocol in ("loso", "lodo"):
        names = sorted({s for s in split if s.startswith("fold")}, key=lambda s: int(s[4:]))
        if not names:
            raise BaselineSetupError(
                f"split.protocol is {protocol} but the manifest has no fold<k> rows; re-run "
                "prepare"
            )
        # Under lodo the datasets only trained on are marked "train": in every fold's training.
        trains = np.char.startswith(split.astype(str), "fold") | (split == "train")
        folds = [Fold(name, trains & (split != name), split == name) for name in names]
    else:
        raise BaselineSetupError(f"split.protocol: unknown protocol {protocol!r}")
    for fold in folds:
        if not fold.test.any():
            raise BaselineSetupError(f"split {fold.name}: the test side is empty")
        trained_classes = np.unique(rows["label"].to_numpy()[fold.train])
        if len(trained_classes) < 2:
            raise BaselineSetupError(
                f"split {fold.name}: the training side has {len(trained_classes)} class(es); an "
                "SVM needs at least two"
            )
    return folds


def softmax_scores(decision: np.ndarray, trained: np.ndarray, n_classes: int) -> np.ndarray:
    """(N, n_classes) softmax over decision values; classes not trained on get 0."""
    if decision.ndim == 1:  # binary SVM: one margin, positive for trained[1]
        decision = np.stack([np.zeros_like(decision), decision], axis=1)
    shifted = decision - decision.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    probabilities = np.zeros((len(decision), n_classes))
    probabilities[:, trained] = exp / exp.sum(axis=1, keepdims=True)
    return probabilities


def choose_c(name: str, params: Params, features: np.ndarray, labels: np.ndarray,
             subjects: np.ndarray) -> float:
    """The C of `baselines.<name>.svm_c`: the value itself, or the grid's best mean UF1 over a
    cross-validation grouped by subject (ties: the smaller C)."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import GroupKFold

    grid = BASELINES[name].svm_c(params)
    grid = sorted(grid) if isinstance(grid, list) else [grid]
    groups = np.unique(subjects)
    if len(grid) == 1:
        return float(grid[0])
    if len(groups) < 2:
        # One training subject: nothing to cross-validate on; the grid's value nearest 1.
        return float(min(grid, key=lambda c: abs(np.log(c))))
    splitter = GroupKFold(n_splits=min(5, len(groups)))
    present = np.unique(labels)
    scores = []
    for c in grid:
        fold_scores = []
        for inner_train, inner_val in splitter.split(features, labels, subjects):
            if len(np.unique(labels[inner_train])) < 2:
                continue
            model = BASELINES[name].classifier(params, c).fit(features[inner_train],
                                                             labels[inner_train])
            fold_scores.append(f1_score(labels[inner_val], model.predict(features[inner_val]),
                                        labels=present, average="macro", zero_division=0))
        scores.append(np.mean(fold_scores) if fold_scores else -1.0)
    return float(grid[int(np.argmax(scores))])


def predict_folds(
    name: str,
    params: Params,
    features: np.ndarray,
    rows: pd.DataFrame,
    folds: list[Fold],
    classes: list[str],
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The test predictions over all folds, in the predictions-CSV layout, and each fold's C."""
    labels = rows["label"].to_numpy(np.int64)
    subjects = rows["subject"].to_numpy(str)
    parts, chosen = [], {}
    for fold in folds:
        c = choose_c(name, params, features[fold.train], labels[fold.train],
                     subjects[fold.train])
        chosen[fold.name] = c
        model = BASELINES[name].classifier(params, c)
        model.fit(features[fold.train], labels[fold.train])
        trained = model.classes_.astype(np.int64)
        test = features[fold.test]
        probabilities = softmax_scores(model.decision_function(test), trained, len(classes))
        parts.append(prediction_rows(rows[fold.test], fold.name, model.predict(test),
                                     probabilities, classes))
    return pd.concat(parts, ignore_index=True), chosen


def extract_features(
    name: str, params: Params, store_path: str | Path, keys: list[str]
) -> np.ndarray:
    """(len(keys), D) float32 features of the clips `keys` read from `store_path`."""
    baseline = _baseline(name)
    with ClipStore(store_path) as store:
        indexes = [store.index_of(k) for k in keys]
        features = baseline.features(store, indexes, params).astype(np.float32)
    expected = baseline.feature_length(params)
    if features.shape != (len(keys), expected):
        raise BaselineSetupError(
            f"{name}: features of shape {features.shape}, expected ({len(keys)}, {expected})"
        )
    return features


def run_baseline(
    name: str,
    params: Params,
    *,
    manifest_path: str | Path,
    rgb_path: str | Path,
    flow_path: str | Path,
    out_dir: str | Path,
    summary_path: str | Path,
) -> dict[str, Any]:
    """Features, one SVM per fold (its C chosen inside the fold's training subjects), the
    predictions and the summary; returns the summary."""
    baseline = _baseline(name)
    with ClipStore(rgb_path) as rgb, ClipStore(flow_path) as flow:
        rgb_keys, flow_keys = rgb.keys, flow.keys
    rows, classes = baseline_rows(manifest_path, rgb_keys, flow_keys)
    folds = baseline_folds(rows, params.split.protocol)
    store_path = rgb_path if baseline.store == "rgb" else flow_path
    features = extract_features(name, params, store_path, list(rows["key"]))
    predictions, chosen = predict_folds(name, params, features, rows, folds, classes)
    with atomic_path(out_dir, directory=True) as tmp_dir:
        path = tmp_dir / PREDICTIONS_NAME
        predictions.to_csv(path, index=False, float_format="%.6f")
        summary = summarize_runs([path])
    # One deterministic run: its figures have no spread to report.
    for metric in ("accuracy", "uf1", "uar"):
        summary[metric].pop("std", None)
    summary["runs"] = "one (deterministic)"
    summary["svm_c"] = chosen[HOLDOUT_FOLD] if list(chosen) == [HOLDOUT_FOLD] else chosen
    write_json(summary_path, summary)
    return summary


def _baseline(name: str) -> Baseline:
    if name not in BASELINES:
        raise BaselineSetupError(f"unknown baseline {name!r} (known: {', '.join(BASELINES)})")
    return BASELINES[name]
