"""The train stage on tiny stores: outputs, determinism, resume, bad setups, DDP."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

from attrmer.config import Params
from attrmer.manifest import COLUMNS, write_manifest
from attrmer.preprocess.store import ClipStoreWriter
from attrmer.train import TrainingLayout, train_seed
from attrmer.train.checkpoint import CheckpointMismatchError
from attrmer.train.data import ClipPairDataset, TrainingSetupError, load_training_table
from attrmer.train.distributed import DistributedContext
from attrmer.train.loop import fit_fold
from attrmer.train.runtime import Runtime

CLASSES = ["happiness", "disgust", "surprise"]
T, S = 4, 16

TINY = {
    "preprocess": {"size": S, "frames": T},
    "model": {"depth": 10, "width": 4, "input_size": S, "feature_dim": 8},
    "train": {"epochs": 3, "batch_size": 4, "lr": 0.01, "seeds": [0, 1],
              "attribute_branch": False, "amp": "off", "checkpoint_interval_s": 0.0},
}


def _params(**overrides) -> Params:
    raw = json.loads(json.dumps(TINY))
    for section, values in overrides.items():
        raw.setdefault(section, {}).update(values)
    return Params.from_dict(raw)


def make_project(root: Path, *, subjects: int = 6, per_subject: int = 3,
                 test_subjects: tuple[int, ...] = (4, 5)) -> TrainingLayout:
    """A manifest, RGB/flow stores and sentences where the class shows in the pixels."""
    rng = np.random.default_rng(0)
    rows = []
    for s in range(subjects):
        for c in range(per_subject):
            label = (s + c) % len(CLASSES)
            rows.append({
                "key": f"sub{s:02d}/clip{c}", "dataset": "synthetic", "subject": f"{s + 1}",
                "clip": f"clip{c}", "frame_dir": "", "frame_pattern": "img{}.jpg", "onset": 1,
                "apex": 2, "offset": 3, "action_units": "12", "aus": "[]",
                "emotion": CLASSES[label], "label": label, "class_name": CLASSES[label],
                "split": "test" if s in test_subjects else "train", "status": "ok", "reason": "",
            })
    manifest = pd.DataFrame(rows, columns=COLUMNS)
    paths = TrainingLayout.defaults(root)
    write_manifest(manifest, paths.inputs.manifest)
    meta_common = {"align_matrix": np.eye(2, 3), "landmarks": np.zeros((68, 2), np.float32)}
    with ClipStoreWriter(paths.inputs.rgb, "rgb", params={}, clip_shape=(3, T, S, S)) as rgb, \
            ClipStoreWriter(paths.inputs.flow, "flow", params={}, clip_shape=(2, T, S, S)) as flow:
        for row in rows:
            base = 60 + 60 * row["label"]
            clip = rng.normal(base, 10, (3, T, S, S)).clip(0, 255).astype(np.uint8)
            motion = rng.normal(0.5 * row["label"], 0.2, (2, T, S, S)).astype(np.float16)
            meta = {k: row[k] for k in ("key", "subject", "emotion", "label")} | meta_common
            rgb.add(clip, meta)
            flow.add(motion, meta)
    sentences = {0: "lip corner puller", 1: "nose wrinkler", 2: "inner brow raiser"}
    attributes = pd.DataFrame({
        "key": [r["key"] for r in rows],
        "sentence": [sentences[r["label"]] for r in rows],
        "text_id": [r["label"] for r in rows],
        "flag": "",
    })
    paths.inputs.attributes.parent.mkdir(parents=True, exist_ok=True)
    attributes.to_csv(paths.inputs.attributes, index=False)
    return paths


def _write_params(path: Path, params: Params) -> Path:
    path.write_text(yaml.safe_dump(params.to_dict()))
    return path


def test_stage_main_writes_model_predictions_and_metrics(tmp_path):
    from stages import train as stage

    make_project(tmp_path)
    params_file = _write_params(tmp_path / "params.yaml", _params(train={"epochs": 2}))
    assert stage.main(["--seed", "1", "--params", str(params_file), "--root", str(tmp_path),
                       "--no-progress"]) == 0
    model_dir = tmp_path / "models/seeds/seed_1"
    config = json.loads((model_dir / "config.json").read_text())
    assert config["classes"] == CLASSES
    assert config["preprocess"] == {"size": S, "frames": T}
    assert config["seed"] == 1 and config["selection"] == "last epoch"
    assert set(load_file(model_dir / "model.safetensors"))  # weights present
    metrics = json.loads((tmp_path / "metrics/seeds/seed_1.json").read_text())
    assert set(metrics) >= {"seed", "accuracy", "uf1", "uar", "n_train", "n_test", "epochs",
                            "selected_epoch"}
    assert metrics["n_test"] == 6 and metrics["n_train"] == 12
    predictions = pd.read_csv(tmp_path / "metrics/seeds/seed_1_predictions.csv")
    assert list(predictions.columns) == ["key", "subject", "fold", "y_true", "y_pred",
                                         *[f"prob_{c}" for c in CLASSES]]
    assert np.allclose(predictions.filter(like="prob_").sum(axis=1), 1.0, atol=1e-4)
    assert (tmp_path / "dvclive/metrics.json").is_file()
    curve = pd.read_csv(tmp_path / "dvclive/plots/metrics/seed_1/loss.tsv", sep="\t")
    assert list(curve["step"]) == [0, 1]
    # No validation subjects here: nothing to calibrate on, and predict is told so.
    assert config["calibration"]["temperature"] == 1.0
    assert config["calibration"]["validation_clips"] == 0
    validation = pd.read_csv(tmp_path / "metrics/seeds/seed_1_validation.csv")
    assert validation.empty and list(validation.columns) == list(predictions.columns)
    # The training clips' motion range, for predict's out-of-range warning.
    motion = config["motion"]
    assert 0 < motion["min"] <= motion["median"] <= motion["max"]
    # The stage refuses a seed that params.yaml does not list.
    assert stage.main(["--seed", "9", "--params", str(params_file), "--root", str(tmp_path)]) == 1


def test_training_learns_the_class_signal(tmp_path):
    paths = make_project(tmp_path, subjects=8, per_subject=3, test_subjects=(6, 7))
    metrics = train_seed(_params(train={"epochs": 12}), 0, paths, progress=False)
    assert metrics["accuracy"] > 0.6


def test_same_seed_gives_identical_results(tmp_path):
    paths = make_project(tmp_path)
    first = train_seed(_params(), 0, paths, progress=False)
    weights = load_file(paths.seed(0).model_dir / "model.safetensors")
    # A finished seed leaves no checkpoint, only a note that it finished.
    assert [p.name for p in paths.checkpoint_dir(0).iterdir()] == ["status.json"]
    second = train_seed(_params(), 0, paths, progress=False)
    assert first == second
    again = load_file(paths.seed(0).model_dir / "model.safetensors")
    assert all(torch.equal(weights[k], again[k]) for k in weights)


def _table(paths: TrainingLayout, params: Params, attributes: bool = False):
    return load_training_table(paths.inputs.manifest, paths.inputs.rgb, paths.inputs.flow,
                               paths.inputs.attributes if attributes else None,
                               protocol=params.split.protocol,
                               validation_fraction=params.split.validation_fraction)


def test_the_clip_cache_serves_what_the_stores_hold(tmp_path, monkeypatch):
    paths = make_project(tmp_path)
    table = _table(paths, _params())
    rows = table.folds[0].train
    plain = ClipPairDataset(rows, paths.inputs.rgb, paths.inputs.flow)
    cache: dict = {}
    cached = ClipPairDataset(rows, paths.inputs.rgb, paths.inputs.flow, cache)
    first = [cached[i] for i in range(len(cached))]
    assert sorted(cache) == sorted(rows["key"])
    # Once cached, the stores are not read again.
    monkeypatch.setattr(cached.rgb, "read", lambda index: pytest.fail("rgb store read again"))
    monkeypatch.setattr(cached.flow, "read", lambda index: pytest.fail("flow store read again"))
    for i in range(len(cached)):
        for got, again, expected in zip(first[i], cached[i], plain[i], strict=True):
            assert torch.equal(got, expected) and torch.equal(again, expected)


@pytest.mark.parametrize("attribute_branch", [False, True])
def test_interrupted_run_resumes_to_the_same_weights(tmp_path, attribute_branch):
    paths = make_project(tmp_path)
    params = _params(train={"attribute_branch": attribute_branch, "epochs": 3})
    table = _table(paths, params, attributes=attribute_branch)
    fold = table.folds[0]
    runtime = Runtime.choose(params)
    straight = fit_fold(params, table, fold, seed=3, runtime=runtime, progress=False)

    class Interrupted(Exception):
        pass

    def stop_after_first(record):
        if record.epoch == 1:
            raise Interrupted

    checkpoint = tmp_path / "ckpt" / "holdout"
    checkpoint.parent.mkdir()
    with pytest.raises(Interrupted):
        fit_fold(params, table, fold, seed=3, runtime=runtime, progress=False,
                 checkpoint_path=checkpoint, on_epoch_end=stop_after_first)
    assert json.loads(checkpoint.with_suffix(".json").read_text())["epoch"] == 1
    resumed = fit_fold(params, table, fold, seed=3, runtime=runtime, progress=False,
                       checkpoint_path=checkpoint)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    pd.testing.assert_frame_equal(straight.predictions, resumed.predictions)
    # The epochs scored before the interruption count for the best epoch on test, too.
    pd.testing.assert_frame_equal(straight.best_on_test, resumed.best_on_test)

    changed = _params(train={"attribute_branch": attribute_branch, "epochs": 3, "lr": 0.02})
    with pytest.raises(CheckpointMismatchError, match="different parameters"):
        fit_fold(changed, table, fold, seed=3, runtime=runtime, progress=False,
                 checkpoint_path=checkpoint)


def test_validation_split_selects_the_model_without_test_subjects(tmp_path):
    paths = make_project(tmp_path, subjects=7, test_subjects=(5, 6))
    manifest = pd.read_csv(paths.inputs.manifest, dtype=str, keep_default_na=False)
    manifest.loc[manifest["subject"] == "1", "split"] = "val"
    write_manifest(manifest, paths.inputs.manifest)
    params = _params(train={"epochs": 3})
    result = fit_fold(params, _table(paths, params), _table(paths, params).folds[0], seed=0,
                      progress=False)
    assert 1 <= result.selected_epoch <= 3
    assert all("val_accuracy" in h for h in result.history)


def test_loso_pools_every_fold(tmp_path):
    paths = make_project(tmp_path, subjects=4, per_subject=3)
    manifest = pd.read_csv(paths.inputs.manifest, dtype=str, keep_default_na=False)
    manifest["split"] = "fold" + (manifest["subject"].astype(int) - 1).astype(str)
    write_manifest(manifest, paths.inputs.manifest)
    params = _params(split={"protocol": "loso"}, train={"epochs": 1})
    metrics = train_seed(params, 0, paths, progress=False)
    predictions = pd.read_csv(paths.metrics / "seed_0_predictions.csv")
    assert metrics["n_test"] == 12
    assert sorted(predictions["fold"].unique()) == ["fold0", "fold1", "fold2", "fold3"]


def test_bad_setups_stop_before_training(tmp_path):
    paths = make_project(tmp_path)
    manifest = pd.read_csv(paths.inputs.manifest, dtype=str, keep_default_na=False)
    only_test = manifest.copy()
    only_test["split"] = "test"
    write_manifest(only_test, paths.inputs.manifest)
    with pytest.raises(TrainingSetupError, match="training side is empty"):
        _table(paths, _params())

    no_surprise = manifest.copy()
    no_surprise.loc[(no_surprise["emotion"] == "surprise")
                    & (no_surprise["split"] == "train"), "split"] = "test"
    write_manifest(no_surprise, paths.inputs.manifest)
    with pytest.raises(TrainingSetupError, match="no training clip of class surprise"):
        _table(paths, _params())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, root: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    params = _params(train={"epochs": 1, "batch_size": 8})
    paths = TrainingLayout.defaults(Path(root))
    dist = DistributedContext.from_environment()
    table = _table(paths, params)
    result = fit_fold(params, table, table.folds[0], seed=5, dist=dist, progress=False)
    # Parameters only: BatchNorm running statistics are per-rank until DDP broadcasts rank 0's
    # at the next forward pass.
    save_file({k: v.detach().contiguous() for k, v in result.model.named_parameters()},
              f"{out}/rank{rank}.safetensors")
    dist.close()


@pytest.mark.slow
def test_ddp_two_cpu_processes_hold_identical_weights(tmp_path):
    import torch.multiprocessing as mp

    make_project(tmp_path)
    initial = _params(train={"epochs": 1})
    torch.manual_seed(5)
    from attrmer.model import VideoNet

    before = VideoNet.from_config(initial.model, num_classes=len(CLASSES)).state_dict()
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path), str(tmp_path)), nprocs=2,
             join=True)
    rank0 = load_file(tmp_path / "rank0.safetensors")
    rank1 = load_file(tmp_path / "rank1.safetensors")
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    assert any(not torch.equal(rank0[k], before[k]) for k in rank0 if k.endswith("weight"))


def test_best_epoch_on_test_is_written_beside_the_honest_predictions(tmp_path):
    from attrmer.evaluate.summary import evaluate_seeds

    paths = make_project(tmp_path)
    params = _params(train={"epochs": 4, "seeds": [0]})
    honest = train_seed(params, 0, paths, progress=False)
    metrics_dir = paths.seed(0).metrics_dir
    predictions = pd.read_csv(metrics_dir / "seed_0_predictions.csv")
    inflated = pd.read_csv(metrics_dir / "seed_0_best_epoch_on_test.csv")
    assert list(inflated.columns) == list(predictions.columns)
    assert list(inflated["key"]) == list(predictions["key"])
    # The epoch best on the test side scores at least what the honestly chosen one does.
    assert (inflated["y_true"] == inflated["y_pred"]).mean() >= honest["accuracy"]
    summary = evaluate_seeds(params, metrics_dir, tmp_path / "summary.json")
    assert summary["best_epoch_on_test"]["accuracy"]["mean"] >= summary["accuracy"]["mean"]
    assert set(summary["best_epoch_on_test"]) == {"accuracy", "uf1", "uar"}


def test_a_run_without_au_codes_says_the_attribute_branch_did_not_train(tmp_path, caplog):
    from attrmer.attributes import NO_AU_SENTENCE
    from attrmer.evaluate.summary import evaluate_seeds

    paths = make_project(tmp_path)
    attributes = pd.read_csv(paths.inputs.attributes)
    attributes.assign(sentence=NO_AU_SENTENCE, text_id=0).to_csv(paths.inputs.attributes,
                                                                  index=False)
    params = _params(train={"epochs": 1, "seeds": [0], "attribute_branch": True})
    with caplog.at_level("WARNING"):
        metrics = train_seed(params, 0, paths, progress=False)
    assert "the attribute branch does not train" in caplog.text
    assert metrics["n_train_with_au_codes"] == 0
    summary = evaluate_seeds(params, paths.seed(0).metrics_dir, tmp_path / "summary.json")
    assert summary["attribute_branch"] == {"clips_with_au_codes": 0.0,
                                           "training_clips": metrics["n_train"]}


def test_a_partly_coded_run_counts_the_clips_that_trained_the_attribute_branch(tmp_path):
    from attrmer.attributes import NO_AU_SENTENCE

    paths = make_project(tmp_path)
    attributes = pd.read_csv(paths.inputs.attributes)
    uncoded = attributes["key"].str.endswith("clip0")  # one clip of every subject
    attributes.loc[uncoded, "sentence"] = NO_AU_SENTENCE
    attributes.loc[uncoded, "text_id"] = 3
    attributes.to_csv(paths.inputs.attributes, index=False)
    params = _params(train={"epochs": 1, "seeds": [0], "attribute_branch": True})
    metrics = train_seed(params, 0, paths, progress=False)
    # 4 training subjects of 3 clips, one of each uncoded.
    assert metrics["n_train"] == 12 and metrics["n_train_with_au_codes"] == 8
