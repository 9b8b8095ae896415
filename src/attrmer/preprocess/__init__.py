"""Preprocessing: decoded frames -> aligned faces -> TIM RGB clips and Farneback flow clips.

- `frames`: reading image files, frame folders and videos (`ClipError` on bad input);
- `align`: one dlib face geometry per clip (`FaceAligner`);
- `tim`: the Temporal Interpolation Model (DCT closed form; eigen-solve oracle for tests);
- `flow`: Farneback flow and its fixed-bound normalisation;
- `clip`: `preprocess_clip`, the one per-clip path (shared by the stages and `predict`);
- `store`: the HDF5 stores (`ClipStoreWriter`, `ClipStore`);
- `pipeline`: the stage runners over a dataset.

Names are imported on first use, so that importing one submodule (a one-clip `predict` needs
`frames`, `align` and `clip`) does not pull in HDF5 and pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Alignment": "align", "FaceAligner": "align",
    "farneback_flow": "flow", "normalise_flow": "flow",
    "ClipError": "frames", "load_clip_frames": "frames", "read_frame_folder": "frames",
    "read_video": "frames",
    "ProcessedClip": "clip", "preprocess_clip": "clip",
    "PreprocessError": "pipeline", "run_align": "pipeline", "run_flow": "pipeline",
    "run_interpolate": "pipeline",
    "ClipStore": "store", "ClipStoreWriter": "store", "StoreError": "store",
    "tim_interpolate": "tim",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'attrmer.preprocess' has no attribute {name!r}")
    return getattr(importlib.import_module(f"attrmer.preprocess.{_WHERE[name]}"), name)
