"""What training reads: the split's rows joined to the RGB/flow stores and the sentences.

`TrainingTable` turns the manifest, the attribute sentences and the stores into the folds to
train (one for the holdout protocol, one per subject under LOSO, one per held-out dataset
under leave-one-dataset-out, where rows marked "train" train in every fold), checking before
any training that each fold is trainable. `ClipPairDataset` serves one fold side to a
DataLoader, reading the HDF5 stores through `ClipStore`, which each DataLoader worker opens once.
Not for preprocessing or for deciding the split (that is the prepare stage's job).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from attrmer.config import FlowConfig
from attrmer.datasets.splits import subject_independent_split
from attrmer.errors import AttrmerError
from attrmer.manifest import ManifestError, class_names, read_manifest, usable
from attrmer.preprocess.store import ClipStore

log = logging.getLogger(__name__)


class TrainingSetupError(AttrmerError, ValueError):
    """The data cannot be trained as configured (empty split, missing class, ...)."""


@dataclass(frozen=True)
class Fold:
    name: str  # "holdout" or "fold<k>"
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame


@dataclass(frozen=True)
class TrainingTable:
    rows: pd.DataFrame  # usable clips present in both stores: key, subject, split, label, text_id
    classes: list[str]
    sentences: list[str]  # indexed by text_id
    folds: list[Fold]
    rgb_path: Path
    flow_path: Path


def load_training_table(
    manifest_path: Path,
    rgb_path: Path,
    flow_path: Path,
    attributes_path: Path | None,
    *,
    protocol: str,
    validation_fraction: float = 0.0,
    split_seed: int = 0,
) -> TrainingTable:
    """The usable clips in both stores, their sentences and the folds of `protocol`.

    Under holdout the validation subjects are the manifest's "val" rows (prepare carves them
    from the training subjects); under LOSO each fold carves `validation_fraction` of its own
    training subjects, with `split_seed`, the same way.
    """
    manifest = usable(read_manifest(manifest_path))
    with ClipStore(rgb_path) as rgb, ClipStore(flow_path) as flow:
        in_stores = set(rgb.keys) & set(flow.keys)
    rows = manifest[manifest["key"].isin(in_stores)].reset_index(drop=True)
    if rows.empty:
        raise TrainingSetupError(
            f"no usable clip of {manifest_path} is in both {rgb_path} and {flow_path}"
        )
    if attributes_path is not None:
        attributes = pd.read_csv(attributes_path, keep_default_na=False, dtype={"key": str})
        missing = set(rows["key"]) - set(attributes["key"])
        if missing:
            raise TrainingSetupError(
                f"{attributes_path}: no sentence for {len(missing)} clips, "
                f"e.g. {sorted(missing)[0]!r}"
            )
        rows = rows.merge(attributes[["key", "sentence", "text_id"]], on="key", how="left")
        sentences_by_id = attributes.drop_duplicates("text_id").set_index("text_id")["sentence"]
        n_texts = int(attributes["text_id"].max()) + 1
        sentences = [str(sentences_by_id.get(i, "")) for i in range(n_texts)]
    else:
        rows = rows.assign(sentence="", text_id=0)
        sentences = [""]
    try:
        classes = class_names(rows)
    except ManifestError as exc:
        raise TrainingSetupError(f"{manifest_path}: {exc}") from None
    folds = _folds(rows, protocol, validation_fraction, split_seed)
    for fold in folds:
        _check_fold(fold, classes, protocol)
    return TrainingTable(rows, classes, sentences, folds, Path(rgb_path), Path(flow_path))


def _folds(rows: pd.DataFrame, protocol: str, validation_fraction: float,
           split_seed: int) -> list[Fold]:
    if protocol == "holdout":
        sides = {side: rows[rows["split"] == side].reset_index(drop=True)
                 for side in ("train", "val", "test")}
        return [Fold("holdout", sides["train"], sides["val"], sides["test"])]
    names = sorted({s for s in rows["split"] if s.startswith("fold")}, key=lambda s: int(s[4:]))
    if not names:
        raise TrainingSetupError(f"split.protocol is {protocol} but the manifest has no "
                                 "fold<k> rows; re-run the prepare stage")
    folds = []
    for name in names:
        rest = rows[rows["split"] != name].reset_index(drop=True)
        val = rest.iloc[0:0]
        if validation_fraction > 0 and rest["subject"].nunique() >= 2:
            sides = subject_independent_split(
                list(rest["subject"]), list(rest["label"]), test_fraction=validation_fraction,
                seed=split_seed)
            held = rest["subject"].map(sides) == "test"
            rest, val = rest[~held].reset_index(drop=True), rest[held].reset_index(drop=True)
        folds.append(Fold(name, rest, val, rows[rows["split"] == name].reset_index(drop=True)))
    return folds


def _check_fold(fold: Fold, classes: list[str], protocol: str) -> None:
    where = f"split {fold.name}"
    if fold.train.empty:
        raise TrainingSetupError(f"{where}: the training side is empty")
    if fold.test.empty:
        raise TrainingSetupError(f"{where}: the test side is empty")
    counts = fold.train["label"].value_counts()
    absent = [name for i, name in enumerate(classes) if counts.get(i, 0) == 0]
    if not absent:
        return
    if protocol == "holdout":
        raise TrainingSetupError(
            f"{where}: no training clip of class {', '.join(absent)}; choose another split.seed "
            "or class set"
        )
    # Under LOSO the held-out subject may own every clip of a rare class (common on real
    # data): the fold trains on the classes it has, and its clips of the others count as
    # errors in the pooled predictions.
    log.warning("%s: no training clip of class %s; this fold trains without it",
                where, ", ".join(absent))


# Decoded clips by key: (rgb uint8 (3,T,H,W), flow float16 (2,T,H,W)).
ClipCache = dict[str, tuple[np.ndarray, np.ndarray]]


class ClipPairDataset(Dataset):
    """(rgb uint8 (3,T,H,W), flow float16 (2,T,H,W), label, text_id) per clip of `rows`.

    With a `cache` dict, each clip is read and inflated once and then served from memory
    (~1.4 MB per clip at 16×112×112); the training loop shares one cache between the training
    side and the per-epoch test scoring when it loads data in its own process.
    """

    def __init__(self, rows: pd.DataFrame, rgb_path: Path, flow_path: Path,
                 cache: ClipCache | None = None) -> None:
        self.cache = cache
        self.keys = list(rows["key"])
        self.labels = torch.tensor(rows["label"].to_numpy(np.int64))
        self.text_ids = torch.tensor(rows["text_id"].to_numpy(np.int64))
        # Stores open lazily: each DataLoader worker gets its own handle on first read.
        self.rgb = ClipStore(rgb_path)
        self.flow = ClipStore(flow_path)
        self._rgb_index = [self.rgb.index_of(k) for k in self.keys]
        self._flow_index = [self.flow.index_of(k) for k in self.keys]

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        clip = None if self.cache is None else self.cache.get(self.keys[i])
        if clip is None:
            clip = (np.ascontiguousarray(self.rgb.read(self._rgb_index[i])),
                    np.ascontiguousarray(self.flow.read(self._flow_index[i])))
            if self.cache is not None:
                self.cache[self.keys[i]] = clip
        return (torch.from_numpy(clip[0]), torch.from_numpy(clip[1]), self.labels[i],
                self.text_ids[i])


class NetworkInputs(Dataset):
    """(rgb, motion, label, text_id) per clip: a fold's side as the video network's inputs,
    computed once. RGB is resized and normalised (`prepare_rgb`); the flow is resized with
    the head's motion removed, still in pixels (`motion_input`), since its per-clip scale and
    bound follow per batch, after the augmentations (`flow_from_motion`). Computed per batch,
    the two had cost as much as the network's own step.
    """

    def __init__(self, clips: ClipPairDataset, flow_cfg: FlowConfig, input_size: int,
                 batch_size: int = 16) -> None:
        from attrmer.model.inputs import motion_input, prepare_rgb

        rgb, motion = [], []
        for start in range(0, len(clips), batch_size):
            items = [clips[i] for i in range(start, min(start + batch_size, len(clips)))]
            rgb.append(prepare_rgb(torch.stack([x[0] for x in items]), input_size))
            motion.append(motion_input(torch.stack([x[1] for x in items]).float(), flow_cfg,
                                       input_size))
        if not rgb:
            raise TrainingSetupError("no clip to train on")
        self.rgb, self.motion = torch.cat(rgb), torch.cat(motion)
        self.labels, self.text_ids = clips.labels, clips.text_ids

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.rgb[i], self.motion[i], self.labels[i], self.text_ids[i]
