"""The baselines stage end to end on tiny stores: predictions in training's format, a summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from attrmer.baselines.run import (
    BASELINES,
    BaselineSetupError,
    run_baseline,
    softmax_scores,
)
from attrmer.config import Params
from attrmer.manifest import COLUMNS, write_manifest
from attrmer.preprocess.store import ClipStoreWriter
from stages import baselines as stage
from tests.test_mdmo import FACE_LANDMARKS_112

CLASSES = ["happiness", "surprise", "disgust"]
SUBJECTS = ["s1", "s2", "s3", "s4", "s5", "s6"]
HOLDOUT_SPLIT = {"s1": "train", "s2": "train", "s3": "train", "s4": "val", "s5": "test",
                 "s6": "test"}
FRAMES, SIZE = 6, 48
ONLY_IN_RGB = "s6/c3"  # in the RGB store only: left out, as training leaves it out


def _rgb_clip(label: int, rng: np.random.Generator) -> np.ndarray:
    """Texture by class: horizontal stripes, vertical stripes, or a checkerboard, plus noise."""
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    pattern = [(y // 2) % 2, (x // 2) % 2, ((x // 3) + (y // 3)) % 2][label]
    grey = 60 + 120 * pattern + rng.normal(0, 12, size=(FRAMES, SIZE, SIZE))
    return np.clip(np.broadcast_to(grey, (3, FRAMES, SIZE, SIZE)), 0, 255).astype(np.uint8)


def _flow_clip(label: int, rng: np.random.Generator) -> np.ndarray:
    """Motion by class: right, up or left by 1 px around the mouth, plus noise."""
    u, v = [(1.0, 0.0), (0.0, -1.0), (-1.0, 0.0)][label]
    flow = rng.normal(0, 0.2, size=(2, FRAMES, SIZE, SIZE))
    mouth = (slice(None), slice(32, 42), slice(14, 34))
    flow[0][mouth] += u
    flow[1][mouth] += v
    return flow.astype(np.float16)


def _write_fixture(root: Path, protocol: str) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    landmarks = FACE_LANDMARKS_112 * (SIZE / 112)
    rows = []
    for s, subject in enumerate(SUBJECTS):
        for c in range(4):
            label = c % 3
            split = HOLDOUT_SPLIT[subject] if protocol == "holdout" else f"fold{s}"
            rows.append({
                "key": f"{subject}/c{c}", "dataset": "synthetic", "subject": subject,
                "clip": f"c{c}", "frame_dir": "", "frame_pattern": "{}.jpg", "onset": 1,
                "apex": 2, "offset": 3, "action_units": "12", "aus": "[]",
                "emotion": CLASSES[label], "label": label, "class_name": CLASSES[label],
                "split": split, "status": "ok",
                "reason": "",
            })
    rows.append({**rows[0], "key": "s1/excluded", "clip": "excluded", "emotion": "others",
                 "label": -1, "class_name": "", "split": "", "status": "excluded",
                 "reason": "not in class set"})
    manifest = pd.DataFrame(rows, columns=COLUMNS)
    paths = {"manifest": root / "manifest.csv", "rgb": root / "rgb.h5",
             "flow": root / "flow.h5", "params": root / "params.yaml", "out": root / "metrics"}
    write_manifest(manifest, paths["manifest"])
    clips = manifest[manifest["status"] == "ok"]
    with (
        ClipStoreWriter(paths["rgb"], "rgb", params={}, clip_shape=(3, FRAMES, SIZE, SIZE)) as rgb,
        ClipStoreWriter(paths["flow"], "flow", params={"flow": {"reference": "consecutive"}},
                        clip_shape=(2, FRAMES, SIZE, SIZE)) as flow,
    ):
        for row in clips.itertuples():
            meta = {"key": row.key, "subject": row.subject, "label": row.label,
                    "emotion": row.emotion, "landmarks": landmarks,
                    "align_matrix": np.eye(2, 3)}
            rgb.add(_rgb_clip(row.label, rng), meta)
            if row.key != ONLY_IN_RGB:
                flow.add(_flow_clip(row.label, rng), meta)
    settings = {
        "split": {"protocol": protocol},
        "train": {"seeds": [0, 1]},
        # A weakly regularised SVM: 16 training clips of unit-norm features.
        "baselines": {"lbptop": {"grid": [3, 3], "svm_c": 100.0}},
    }
    paths["params"].write_text(yaml.safe_dump(settings))
    return paths


def _stage_args(name: str, paths: dict[str, Path]) -> list[str]:
    return [name, "--params", str(paths["params"]), "--manifest", str(paths["manifest"]),
            "--rgb", str(paths["rgb"]), "--flow", str(paths["flow"]), "--out", str(paths["out"])]


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_stage_writes_predictions_and_summary_on_the_holdout_split(
    tmp_path: Path, name: str
) -> None:
    paths = _write_fixture(tmp_path, "holdout")
    assert stage.main(_stage_args(name, paths)) == 0

    expected_keys = {f"{s}/c{c}" for s in ("s5", "s6") for c in range(4)} - {ONLY_IN_RGB}
    for _ in range(1):
        predictions = pd.read_csv(paths["out"] / name / "predictions.csv")
        assert list(predictions.columns) == [
            "key", "subject", "fold", "y_true", "y_pred",
            "prob_happiness", "prob_surprise", "prob_disgust",
        ]
        assert set(predictions["key"]) == expected_keys
        assert len(predictions) == len(expected_keys)
        assert (predictions["fold"] == "holdout").all()
        assert (predictions["y_true"] == [int(k[-1]) % 3 for k in predictions["key"]]).all()
        probabilities = predictions.filter(like="prob_").to_numpy()
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
        # The predicted class is the one with the highest score.
        assert (probabilities.argmax(axis=1) == predictions["y_pred"]).all()
    assert sorted(p.name for p in (paths["out"] / name).iterdir()) == ["predictions.csv"]

    summary = json.loads((paths["out"] / f"{name}.json").read_text())
    # Deterministic: reported once, without a spread over seeds.
    assert summary["n_seeds"] == 1 and summary["runs"] == "one (deterministic)"
    assert "std" not in summary["accuracy"]
    assert summary["n_test"] == len(expected_keys)
    assert summary["n_classes"] == 3
    # Texture and motion differ plainly between the classes of this fixture.
    assert summary["accuracy"]["mean"] >= 0.8


def test_stage_runs_every_loso_fold(tmp_path: Path) -> None:
    paths = _write_fixture(tmp_path, "loso")
    assert stage.main(_stage_args("mdmo", paths)) == 0
    predictions = pd.read_csv(paths["out"] / "mdmo" / "predictions.csv")
    assert len(predictions) == 23  # 24 clips, one of them missing from the flow store
    assert predictions["key"].is_unique
    fold_of_subject = {s: f"fold{i}" for i, s in enumerate(SUBJECTS)}
    assert (predictions["fold"] == predictions["subject"].map(fold_of_subject)).all()
    summary = json.loads((paths["out"] / "mdmo.json").read_text())
    assert summary["n_folds"] == 6
    # Every fold chose its own C from the grid, inside its training subjects.
    assert set(summary["svm_c"]) == {f"fold{i}" for i in range(6)}
    assert set(summary["svm_c"].values()) <= {0.01, 0.1, 1.0, 10.0, 100.0}


def test_c_is_chosen_without_the_test_side(tmp_path: Path) -> None:
    from attrmer.baselines.run import choose_c

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 12)
    subjects = np.tile(np.repeat(["a", "b", "c", "d"], 3), 3)
    features = rng.normal(0, 1, (36, 72)) + labels[:, None] * 0.05
    params = Params()
    first = choose_c("mdmo", params, features, labels, subjects)
    assert first in (0.01, 0.1, 1.0, 10.0, 100.0)
    fixed = Params.from_dict({"baselines": {"mdmo": {"svm_c": 3.0}}})
    assert choose_c("mdmo", fixed, features, labels, subjects) == 3.0


def test_protocol_that_the_manifest_does_not_have_is_refused(tmp_path: Path) -> None:
    paths = _write_fixture(tmp_path, "holdout")
    params = Params.from_dict({"split": {"protocol": "loso"}, "train": {"seeds": [0]}})
    with pytest.raises(BaselineSetupError, match="no fold<k> rows"):
        run_baseline("mdmo", params, manifest_path=paths["manifest"], rgb_path=paths["rgb"],
                     flow_path=paths["flow"], out_dir=paths["out"] / "mdmo",
                     summary_path=paths["out"] / "mdmo.json")
    assert not paths["out"].exists() or not any(paths["out"].iterdir())


def test_unknown_baseline_is_refused_by_the_stage(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        stage.main(["hog", "--out", str(tmp_path)])


def test_softmax_scores_fill_untrained_classes_with_zero() -> None:
    # Three-way decision values for classes 0, 2 and 3 of five.
    decision = np.array([[1.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    scores = softmax_scores(decision, np.array([0, 2, 3]), 5)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0)
    assert (scores[:, [1, 4]] == 0).all()
    assert scores[0].argmax() == 0
    np.testing.assert_allclose(scores[1, [0, 2, 3]], 1 / 3)
    # A binary SVM gives one margin, positive for the second class.
    binary = softmax_scores(np.array([2.0, -2.0]), np.array([1, 2]), 3)
    assert binary[0].argmax() == 2 and binary[1].argmax() == 1
    np.testing.assert_allclose(binary[0, 2], 1 / (1 + np.exp(-2.0)))
