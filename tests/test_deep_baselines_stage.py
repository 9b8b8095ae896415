"""The deep baselines (ELRCN, NetAB, TLCNN, STSTNet, Off-ApexNet) through the baselines stage
on tiny stores: one predictions file per seed in training's format, a summary with a spread
over seeds, epochs chosen on validation subjects, TLCNN's source, and the fitting rule
itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch import nn

from attrmer.baselines import DEEP, TITLES
from attrmer.baselines.deep.common import frame_indices
from attrmer.baselines.deep.fit import Schedule, apex_positions, fit_classifier
from attrmer.preprocess.store import ClipStore, ClipStoreWriter
from stages import baselines as stage
from tests.test_baselines_stage import ONLY_IN_RGB, _stage_args, _write_fixture

# Each network at a size that trains in about a second on the fixture's 24 clips.
TINY = {
    "elrcn": {"size": 16, "frames": 4, "width": 4, "hidden": 8, "epochs": 8, "batch_size": 4},
    "netab": {"size": 16, "frames": 4, "width": 4, "epochs": 8, "batch_size": 4},
    "tlcnn": {"size": 16, "frames": 4, "width": 4, "hidden": 8, "source_epochs": 2,
              "frame_epochs": 2, "clip_epochs": 4, "batch_size": 4, "frame_batch_size": 8,
              "source": "training"},
    "ststnet": {"epochs": 8, "batch_size": 4},
    "offapexnet": {"epochs": 8, "batch_size": 4},
}


def _fixture(tmp_path: Path, protocol: str, **tlcnn: object) -> dict[str, Path]:
    paths = _write_fixture(tmp_path, protocol)
    settings = yaml.safe_load(paths["params"].read_text())
    settings["baselines"].update({name: dict(config) for name, config in TINY.items()})
    settings["baselines"]["tlcnn"].update(tlcnn)
    paths["params"].write_text(yaml.safe_dump(settings))
    return paths


@pytest.mark.parametrize("name", DEEP)
def test_each_seed_writes_predictions_and_the_summary_spans_the_seeds(
    tmp_path: Path, name: str
) -> None:
    paths = _fixture(tmp_path, "holdout")
    assert stage.main([*_stage_args(name, paths), "--no-progress"]) == 0

    expected_keys = {f"{s}/c{c}" for s in ("s5", "s6") for c in range(4)} - {ONLY_IN_RGB}
    files = sorted(p.name for p in (paths["out"] / name).iterdir())
    assert files == ["seed_0.csv", "seed_0_best_epoch_on_test.csv", "seed_1.csv",
                     "seed_1_best_epoch_on_test.csv"]
    for file in files:
        predictions = pd.read_csv(paths["out"] / name / file)
        assert list(predictions.columns) == [
            "key", "subject", "fold", "y_true", "y_pred",
            "prob_happiness", "prob_surprise", "prob_disgust",
        ]
        assert set(predictions["key"]) == expected_keys and len(predictions) == 7
        probabilities = predictions.filter(like="prob_").to_numpy()
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
        assert (probabilities.argmax(axis=1) == predictions["y_pred"]).all()
    summary = json.loads((paths["out"] / f"{name}.json").read_text())
    assert summary["n_seeds"] == 2 and "std" in summary["accuracy"]
    assert summary["n_test"] == 7 and summary["n_classes"] == 3
    assert summary["method"] == TITLES[name]
    # The inflated figure beside the honest one, never below it on its own test side.
    inflated = summary["best_epoch_on_test"]
    assert set(inflated) == {"accuracy", "uf1", "uar"}
    assert inflated["uf1"]["mean"] >= summary["uf1"]["mean"] - 1e-9
    # Holdout: each seed's chosen epoch(s), within the schedule.
    assert set(summary["epochs_chosen"]) == {"seed_0", "seed_1"}
    for epochs in summary["epochs_chosen"].values():
        assert all(0 <= e <= 8 for e in epochs.values())


def test_elrcn_reads_the_motion_that_tells_the_classes_apart(tmp_path: Path) -> None:
    # The fixture's classes move the mouth right, up or left by 1 px: ELRCN's flow input.
    paths = _fixture(tmp_path, "holdout")
    settings = yaml.safe_load(paths["params"].read_text())
    settings["baselines"]["elrcn"].update(epochs=40, lr=0.003)
    paths["params"].write_text(yaml.safe_dump(settings))
    assert stage.main([*_stage_args("elrcn", paths), "--no-progress"]) == 0
    summary = json.loads((paths["out"] / "elrcn.json").read_text())
    assert summary["accuracy"]["mean"] >= 0.7


def test_a_seed_gives_the_same_predictions_twice(tmp_path: Path) -> None:
    paths = _fixture(tmp_path, "holdout")
    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second):
        args = _stage_args("netab", paths)
        args[args.index("--out") + 1] = str(out)
        assert stage.main([*args, "--no-progress"]) == 0
    for seed in (0, 1):
        a = (first / "netab" / f"seed_{seed}.csv").read_text()
        assert a == (second / "netab" / f"seed_{seed}.csv").read_text()


def test_loso_trains_every_fold_and_records_its_epochs(tmp_path: Path) -> None:
    paths = _fixture(tmp_path, "loso")
    assert stage.main([*_stage_args("tlcnn", paths), "--no-progress"]) == 0
    predictions = pd.read_csv(paths["out"] / "tlcnn" / "seed_0.csv")
    assert len(predictions) == 23 and predictions["key"].is_unique
    summary = json.loads((paths["out"] / "tlcnn.json").read_text())
    assert summary["n_folds"] == 6
    assert set(summary["epochs_chosen"]["seed_1"]) == {f"fold{i}" for i in range(6)}
    assert set(summary["epochs_chosen"]["seed_1"]["fold3"]) == {"frames", "clips"}


def _source_store(path: Path, dataset: str) -> Path:
    """Labelled clips of three subjects of `dataset` (two classes), as an RGB store."""
    rng = np.random.default_rng(1)
    with ClipStoreWriter(path, "rgb", params={}, clip_shape=(3, 6, 48, 48)) as store:
        for k in range(6):
            store.add(rng.integers(0, 255, (3, 6, 48, 48), dtype=np.uint8),
                      {"key": f"m{k % 3}/c{k}", "dataset": dataset, "subject": f"m{k % 3}",
                       "label": k % 2, "emotion": ["happiness", "surprise"][k % 2],
                       "onset": 1, "apex": 3, "offset": 6, "align_matrix": np.eye(2, 3),
                       "landmarks": np.zeros((68, 2), np.float32)})
    return path


def test_tlcnn_learns_its_first_step_from_another_datasets_store(tmp_path: Path) -> None:
    source = _source_store(tmp_path / "source_rgb.h5", "macro")
    paths = _fixture(tmp_path, "holdout", source=str(source))
    assert stage.main([*_stage_args("tlcnn", paths), "--no-progress"]) == 0
    assert (paths["out"] / "tlcnn" / "seed_1.csv").is_file()


def test_a_source_store_gives_apex_stills_and_first_frames_as_neutral(tmp_path: Path) -> None:
    from attrmer.baselines.deep import tlcnn
    from attrmer.baselines.deep.transfer import source_stills
    from attrmer.config import TlcnnConfig

    source = _source_store(tmp_path / "source_rgb.h5", "macro")
    config = TlcnnConfig(size=16, source=str(source))
    stills, labels = source_stills(tlcnn, config, None)
    # Six clips of two classes: six apex stills, then six first frames under class 2.
    assert stills.shape == (12, 3, 16, 16)
    assert labels.tolist() == [0, 1, 0, 1, 0, 1, 2, 2, 2, 2, 2, 2]
    with ClipStore(source) as store:
        first = store.read(0)[:, :1]
    assert torch.equal(stills[6], torch.from_numpy(tlcnn.prepare_images(first, config)[0]))
    plain, plain_labels = source_stills(
        tlcnn, TlcnnConfig(size=16, source=str(source), source_neutral=False), None)
    assert len(plain) == 6 and set(plain_labels.tolist()) == {0, 1}


def test_a_source_holding_a_tested_subject_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The run's own store holds its test and validation subjects' faces.
    paths = _write_fixture(tmp_path, "holdout")
    settings = yaml.safe_load(paths["params"].read_text())
    settings["baselines"]["tlcnn"] = {**TINY["tlcnn"], "source": str(paths["rgb"])}
    paths["params"].write_text(yaml.safe_dump(settings))
    assert stage.main([*_stage_args("tlcnn", paths), "--no-progress"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "baselines.tlcnn.source" in error[0]
    assert "validates or tests on (s4 first)" in error[0]


def test_one_test_fold_not_named_holdout_keeps_its_epochs(tmp_path: Path) -> None:
    # Leave-one-dataset-out with one test dataset has a single fold, fold0.
    paths = _fixture(tmp_path, "loso")
    manifest = pd.read_csv(paths["manifest"], dtype=str, keep_default_na=False)
    manifest["split"] = np.where(manifest["subject"].isin(["s5", "s6"]), "fold0",
                                 np.where(manifest["status"] == "ok", "train", ""))
    manifest.to_csv(paths["manifest"], index=False)
    settings = yaml.safe_load(paths["params"].read_text())
    settings["split"]["validation_fraction"] = 0.0
    paths["params"].write_text(yaml.safe_dump(settings))
    assert stage.main([*_stage_args("netab", paths), "--no-progress"]) == 0
    summary = json.loads((paths["out"] / "netab.json").read_text())
    assert summary["n_folds"] == 1 and set(summary["epochs_chosen"]["seed_0"]) == {"epoch"}
    # With no validation subjects the last epoch is kept, and the summary says so.
    assert summary["selection"] == "the last epoch (no validation subjects)"


def test_a_missing_source_store_is_one_line_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _fixture(tmp_path, "holdout", source=str(tmp_path / "nowhere.h5"))
    assert stage.main([*_stage_args("tlcnn", paths), "--no-progress"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "baselines.tlcnn.source" in error[0]
    assert "nowhere.h5" in error[0] and "dvc repro baselines/dvc.yaml" in error[0]
    assert not (paths["out"] / "tlcnn").exists()


def test_apex_positions_among_the_frames_a_network_reads() -> None:
    rows = pd.DataFrame({"onset": [0, 10, 5, 0, 0], "apex": [50, 10, -1, 7, 30],
                         "offset": [100, 40, 25, 0, 30]})
    # Stored frame k of 16 shows (k + 1) / 16 of the way; 8 of them are read: stored
    # 0, 2, 4, 6, 9, 11, 13, 15, i.e. 1/16, 3/16, 5/16, 7/16, 10/16, 12/16, 14/16, 16/16.
    chosen = frame_indices(16, 8)
    assert chosen.tolist() == [0, 2, 4, 6, 9, 11, 13, 15]
    # Halfway: 7/16 is nearer than 10/16; at the onset the first; outside or undefined the
    # middle; at the offset the last.
    assert apex_positions(rows, 16, chosen).tolist() == [3, 0, 3, 3, 7]
    # Every stored frame: halfway is stored frame 7 (8/16).
    assert apex_positions(rows.iloc[:1], 16).tolist() == [7]


class _Lookup(nn.Module):
    """A classifier whose logits per input come from a table the test sets per epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.weight[0] * x, self.weight[1] * x], dim=1)


def test_fit_keeps_the_first_epoch_of_best_validation_uf1_and_its_weights() -> None:
    # Inputs +1 are class 1, inputs -1 class 0: once weight[1] > weight[0], all are right.
    inputs = torch.tensor([1.0, -1.0, 1.0, -1.0])
    labels = torch.tensor([1, 0, 1, 0])
    model = _Lookup()
    result = fit_classifier(model, inputs, labels, seed=0, val_inputs=inputs, val_labels=labels,
                            schedule=Schedule(epochs=6, lr=0.1, batch_size=4, weight_decay=0.0))
    scores = [h["val_uf1"] for h in result.history]
    assert result.epoch == 1 + scores.index(max(scores)) and max(scores) == 1.0
    # The weights are those after that epoch: `epoch` SGD-like Adam steps of size about lr.
    assert (result.model.weight[1] - result.model.weight[0]).item() == pytest.approx(
        0.2 * result.epoch, rel=0.05)
