"""The manifest: one row per annotated clip, the single index every stage after `prepare` reads.

Every dataset adapter (the real ones and the built-in synthetic corpus) produces rows of this
schema; nothing downstream knows which dataset a row came from. Rows that cannot be used stay,
with `status` and `reason`. This module defines the schema and reads/writes it; it does not
parse annotation sheets (see `attrmer.datasets`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from attrmer.errors import AttrmerError
from attrmer.io import atomic_path

# Column order of data/interim/manifest.csv.
COLUMNS = [
    "key",  # unique clip id: "<subject>/<clip>"
    "dataset",  # the adapter's name; in a composite, the dataset's name in data.roots
    "subject",  # in a composite prefixed with the dataset: "casme2/sub01" (and so is the key)
    "clip",
    "frame_dir",  # folder holding the clip's frames
    "frame_pattern",  # str.format pattern of a frame's file name, e.g. "img{}.jpg"
    "onset",  # frame numbers as in the sheet (inclusive range onset..offset)
    "apex",
    "offset",
    "action_units",  # the AU cell as written in the sheet
    "aus",  # parsed AUs as JSON (see attrmer.facs)
    "emotion",  # emotion as written, lower-cased
    "label",  # class index within the chosen class set; -1 when excluded
    "class_name",  # the class of that index ("negative" for a megc2019 disgust clip); "" if -1
    # holdout: train / val / test; loso: test fold id as "fold<k>"; lodo: the held-out
    # dataset's "fold<k>", or "train" for a dataset only trained on; "" when unused
    "split",
    "status",  # ok | excluded | failed
    "reason",  # why a row is not ok, or what rule adjusted it
]

STATUSES = ("ok", "excluded", "failed")


class ManifestError(AttrmerError, ValueError):
    """The manifest file is missing, malformed or has no usable row."""


def frame_paths(row: pd.Series | dict) -> list[Path]:
    """The frame files of a clip, onset to offset inclusive, in time order."""
    folder = Path(row["frame_dir"])
    pattern = row["frame_pattern"]
    return [folder / pattern.format(i) for i in range(int(row["onset"]), int(row["offset"]) + 1)]


def write_manifest(frame: pd.DataFrame, path: str | Path) -> None:
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ManifestError(f"manifest is missing columns: {', '.join(missing)}")
    bad = sorted(set(frame["status"]) - set(STATUSES))
    if bad:
        raise ManifestError(f"manifest has unknown status values: {bad}")
    if frame["key"].duplicated().any():
        dup = frame.loc[frame["key"].duplicated(), "key"].iloc[0]
        raise ManifestError(f"manifest has a repeated clip key: {dup!r}")
    with atomic_path(path) as tmp:
        frame[COLUMNS].to_csv(tmp, index=False)


def all_training(frame: pd.DataFrame) -> pd.DataFrame:
    """The manifest with every usable row on the training side: for corpora rendered to be
    learnt from whole (pretraining, TLCNN's stills), where nothing is held out."""
    frame = frame.copy()
    frame.loc[frame["status"] == "ok", "split"] = "train"
    return frame


def read_manifest(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: no manifest; run the prepare stage first")
    frame = pd.read_csv(
        path,
        dtype={"subject": str, "clip": str, "key": str, "split": str, "reason": str,
               "action_units": str, "emotion": str, "class_name": str},
        keep_default_na=False,
    )
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ManifestError(f"{path}: missing columns {', '.join(missing)}")
    return frame


def class_names(rows: pd.DataFrame) -> list[str]:
    """Class names in label order, read from usable rows; every label 0..K-1 must appear."""
    rows = rows[rows["label"] >= 0]
    names = rows.groupby("label")["class_name"].agg(lambda s: sorted(set(s)))
    if list(names.index) != list(range(len(names))):
        present = ", ".join(map(str, names.index))
        raise ManifestError(
            f"the labels of the usable clips are {present}; every class of the chosen set needs "
            "at least one usable clip (see data/interim/summary.txt)"
        )
    clashing = [f"{label}: {', '.join(n)}" for label, n in names.items() if len(n) != 1]
    if clashing:
        raise ManifestError(f"a label carries several class names ({'; '.join(clashing)})")
    return [n[0] for n in names]


def usable(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with status ok (in the class set, frames present, annotation usable)."""
    return frame[frame["status"] == "ok"].reset_index(drop=True)
