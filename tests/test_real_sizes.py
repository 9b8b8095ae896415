"""The built-in corpus at real dataset sizes, through the align stage.

CASME II raw frames are 640×480 colour with a face of ~280 px, SAMM's 2040×1088 grey with a face
of ~500 px: `synth.resolution` renders the corpus at those sizes so the alignment's shrink
(2.5x, 4.5x) is exercised as on the real datasets.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from attrmer.config import ConfigError, Params, PreprocessConfig, SynthConfig
from attrmer.datasets.prepare import prepare_dataset
from attrmer.frame_layouts import SYNTH_RESOLUTIONS
from attrmer.preprocess.pipeline import run_align
from attrmer.preprocess.store import ClipStore


@pytest.mark.slow
@pytest.mark.parametrize("resolution", ["casme2", "samm"])
def test_align_stage_runs_on_a_real_sized_corpus(tmp_path, resolution: str) -> None:
    layout = SYNTH_RESOLUTIONS[resolution]
    (tmp_path / "raw").mkdir()  # outside the project: rendered only into a folder made for it
    params = Params.from_dict({
        "data": {"name": "synthetic", "root": str(tmp_path / "raw")},
        "split": {"test_fraction": 0.5},
        "synth": {"resolution": resolution, "clips": 11, "min_frames": 3, "max_frames": 4},
    })
    prepare_dataset(params, tmp_path / "interim")
    corpus = json.loads((tmp_path / "raw" / "corpus.json").read_text())
    np.testing.assert_allclose([c["pixels_per_aligned_pixel"] for c in corpus["clips"]],
                               layout.pixels_per_aligned_px, rtol=3e-3)
    frame_path = next((tmp_path / "raw").rglob("img*.jpg"))
    frame = cv2.imread(str(frame_path), cv2.IMREAD_UNCHANGED)
    assert frame.shape[:2] == (layout.height, layout.width)
    assert (frame.ndim == 2) == layout.grey

    summary = run_align(tmp_path / "interim" / "manifest.csv", tmp_path / "aligned.h5",
                        PreprocessConfig(workers=1), progress=False)
    assert summary.clips_out == summary.clips_in >= 9  # clips outside the class set excluded
    with ClipStore(tmp_path / "aligned.h5") as store:
        matrices = store.meta_array("align_matrix")
        scales = 1 / np.sqrt(np.abs(np.linalg.det(matrices[:, :, :2])))
        # dlib finds the faces; its landmarks put the shrink within a few % of the layout's
        # (SAMM's first face is the farthest off: 5.2 % with IPP's bicubic still, 6.4 % with
        # OpenCV's, which the renderer uses since it is the same on every CPU).
        np.testing.assert_allclose(scales, layout.pixels_per_aligned_px, rtol=0.07)
        landmarks = store.meta_array("landmarks")
        assert landmarks.min() >= 4 and landmarks.max() <= 107
        assert store.read(0).shape[1:] == (112, 112, 3)


def test_unknown_resolution_is_named() -> None:
    with pytest.raises(ConfigError, match=r"synth\.resolution"):
        SynthConfig(resolution="smic").validate()
