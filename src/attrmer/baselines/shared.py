"""What every baseline runner shares, classic or deep: its error, what a flow store's fields
are measured against, picking evenly spaced frames, and the predictions-CSV rows of one fold
(the layout training writes). Not a baseline of its own."""

from __future__ import annotations

import numpy as np
import pandas as pd

from attrmer.config import Params
from attrmer.errors import AttrmerError
from attrmer.preprocess.store import ClipStore


class BaselineSetupError(AttrmerError, ValueError):
    """The baseline cannot run on this manifest, split or store (the message says why)."""


def flow_reference(store: ClipStore, params: Params) -> str:
    # What the fields are measured against is a property of the store; params.yaml's
    # flow.reference is what it was written with when the store does not record it.
    written_with = store.attrs.get("params", {}).get("flow", {})
    return written_with.get("reference", params.flow.reference)


def frame_indices(available: int, wanted: int) -> np.ndarray:
    """`wanted` evenly spaced indices into `available` frames, first and last included
    (repeated frames when fewer are available than wanted)."""
    if available < 1 or wanted < 1:
        raise ValueError(f"cannot pick {wanted} of {available} frames")
    return np.rint(np.linspace(0, available - 1, wanted)).astype(np.int64)


def prediction_rows(test: pd.DataFrame, fold: str, y_pred: np.ndarray,
                    probabilities: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """One fold's test predictions in the predictions-CSV layout (key, subject, fold, y_true,
    y_pred, prob_<class>...), the layout training writes."""
    part = pd.DataFrame({
        "key": test["key"].to_numpy(),
        "subject": test["subject"].to_numpy(),
        "fold": fold,
        "y_true": test["label"].to_numpy(np.int64),
        "y_pred": np.asarray(y_pred).astype(np.int64),
    })
    for k, class_name in enumerate(classes):
        part[f"prob_{class_name}"] = probabilities[:, k]
    return part
