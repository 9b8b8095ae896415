"""Preprocessing: decoded frames -> aligned faces -> TIM RGB clips and Farneback flow clips.

- `frames`: reading image files, frame folders and videos (`ClipError` on bad input);
- `align`: one dlib face geometry per clip (`FaceAligner`);
- `tim`: the Temporal Interpolation Model (DCT closed form; eigen-solve oracle for tests);
- `flow`: Farneback flow and its fixed-bound normalisation;
- `store`: the HDF5 stores (`ClipStoreWriter`, `ClipStore`);
- `pipeline`: `preprocess_clip` (shared by the stages and `predict`) and the stage runners.
"""

from attrmer.preprocess.align import Alignment, FaceAligner
from attrmer.preprocess.flow import farneback_flow, normalise_flow
from attrmer.preprocess.frames import ClipError, load_clip_frames, read_frame_folder, read_video
from attrmer.preprocess.pipeline import (
    PreprocessError,
    ProcessedClip,
    preprocess_clip,
    run_align,
    run_flow,
    run_interpolate,
)
from attrmer.preprocess.store import ClipStore, ClipStoreWriter, StoreError
from attrmer.preprocess.tim import tim_interpolate

__all__ = [
    "Alignment",
    "ClipError",
    "ClipStore",
    "ClipStoreWriter",
    "FaceAligner",
    "PreprocessError",
    "ProcessedClip",
    "StoreError",
    "farneback_flow",
    "load_clip_frames",
    "normalise_flow",
    "preprocess_clip",
    "read_frame_folder",
    "read_video",
    "run_align",
    "run_flow",
    "run_interpolate",
    "tim_interpolate",
]
