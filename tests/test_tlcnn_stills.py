"""TLCNN's step-1 source: full expressions rendered on the real faces, aligned like every clip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from attrmer.baselines.deep.fit import apex_positions
from attrmer.baselines.deep.stills import STILL_CLASSES, render_expression_stills
from attrmer.config import Params
from attrmer.io import FolderNotOwnedError
from attrmer.preprocess.store import ClipStore
from attrmer.synth.identities import real_subjects


def _params(clips: int = 18) -> Params:
    return Params.from_dict({"baselines": {"tlcnn": {"stills_clips": clips}}})


def test_stills_are_real_faces_in_the_six_classes(tmp_path: Path) -> None:
    out = tmp_path / "stills"
    record = render_expression_stills(_params(), out, progress=False)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "manifest.csv", "rgb.h5", "stills.json"]
    assert json.loads((out / "stills.json").read_text()) == record
    with ClipStore(out / "rgb.h5") as store:
        meta = store.meta
        clip = store.read(0)
    # Only emotions with a full prototype, labelled in STILL_CLASSES' order.
    assert set(meta["label"]) <= set(range(len(STILL_CLASSES)))
    assert all(STILL_CLASSES[label] == emotion
               for label, emotion in zip(meta["label"], meta["emotion"], strict=True))
    assert record["clips"] == len(meta) and sum(record["class_counts"].values()) == len(meta)
    # The real people of the photograph sets only: no bundled face, no development person.
    numbers = {int(str(s).removeprefix("sub")) for s in meta["subject"]}
    assert numbers <= set(real_subjects())
    # Aligned and resampled like every clip: (3, T, S, S); a full expression changes the face
    # between the first frame and the apex far beyond the sensor noise between two frames
    # that hardly move (the first two).
    assert clip.ndim == 4 and clip.shape[0] == 3 and clip.shape[2] == clip.shape[3]
    apex = apex_positions(meta.iloc[[0]], clip.shape[1])[0]
    grey = clip.astype(float).mean(axis=0)
    changed, noise = (np.percentile(np.abs(grey[k] - grey[0]), 99) for k in (apex, 1))
    assert changed > 2 * noise


def test_a_folder_holding_other_files_is_refused_before_rendering(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(FolderNotOwnedError):
        render_expression_stills(_params(), out, progress=False)
    assert (out / "notes.txt").read_text() == "keep me"
