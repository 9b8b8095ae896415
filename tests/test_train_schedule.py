"""Learning at any dataset size, honestly: steps, warm-up, early stopping, augmentation, LOSO
folds that lack a class, and model selection that never looks at test labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from attrmer.config import AugmentConfig, TrainConfig
from attrmer.manifest import write_manifest
from attrmer.train import train_seed
from attrmer.train.augment import augment_batch, mirror_sentence, mirrored_texts
from attrmer.train.data import ClipPairDataset, load_training_table
from attrmer.train.loop import fit_fold, planned_epochs, warmup_factor
from attrmer.train.runtime import Runtime
from tests.test_train import _params, make_project


def _table(paths, params, attributes=False):
    return load_training_table(paths.inputs.manifest, paths.inputs.rgb, paths.inputs.flow,
                               paths.inputs.attributes if attributes else None,
                               protocol=params.split.protocol,
                               validation_fraction=params.split.validation_fraction,
                               split_seed=params.split.seed)


def _with_val(paths, subject="1"):
    manifest = pd.read_csv(paths.inputs.manifest, dtype=str, keep_default_na=False)
    manifest.loc[manifest["subject"] == subject, "split"] = "val"
    write_manifest(manifest, paths.inputs.manifest)


def test_steps_not_epochs_set_the_length_of_training() -> None:
    cfg = TrainConfig(epochs=20, min_steps=300)
    assert planned_epochs(cfg, steps_per_epoch=1) == 300  # a 27-clip set, batch 32
    assert planned_epochs(cfg, steps_per_epoch=4) == 75
    assert planned_epochs(cfg, steps_per_epoch=40) == 20  # epochs already give the steps
    warm = TrainConfig(warmup_steps=4)
    assert [warmup_factor(warm, s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_factor(TrainConfig(), 0) == 1.0


def test_a_batch_larger_than_the_training_set_trains_on_the_whole_set(tmp_path) -> None:
    paths = make_project(tmp_path)
    params = _params(train={"batch_size": 64, "epochs": 1, "min_steps": 3})
    table = _table(paths, params)
    result = fit_fold(params, table, table.folds[0], seed=0, progress=False)
    assert len(result.history) == 3  # one step per epoch, raised to the minimum steps


def test_permuting_the_test_labels_changes_neither_selection_nor_weights(tmp_path) -> None:
    paths = make_project(tmp_path, subjects=7, test_subjects=(5, 6))
    _with_val(paths)
    params = _params(train={"epochs": 4})
    first = fit_fold(params, _table(paths, params), _table(paths, params).folds[0], seed=0,
                     progress=False)
    manifest = pd.read_csv(paths.inputs.manifest, dtype=str, keep_default_na=False)
    test = manifest.index[manifest["split"] == "test"]
    columns = ["label", "emotion", "class_name"]
    # The test clips' labels shuffled among themselves (a permutation that moves every label).
    order = [*test[1:], test[0]]
    manifest.loc[test, columns] = manifest.loc[order, columns].to_numpy()
    write_manifest(manifest, paths.inputs.manifest)
    second = fit_fold(params, _table(paths, params), _table(paths, params).folds[0], seed=0,
                      progress=False)
    assert first.selected_epoch == second.selected_epoch
    a, b = first.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # Only the scoring of the test side saw the permuted labels.
    assert (first.predictions["y_pred"] == second.predictions["y_pred"]).all()
    assert not (first.predictions["y_true"] == second.predictions["y_true"]).all()
    # And nothing about the test side is logged during training.
    assert not any("test" in key for record in first.history for key in record)


def test_test_curve_is_labelled_as_not_for_selection(tmp_path) -> None:
    paths = make_project(tmp_path)
    params = _params(train={"epochs": 2, "test_curve": True})
    table = _table(paths, params)
    result = fit_fold(params, table, table.folds[0], seed=0, progress=False)
    assert all("test_accuracy_not_for_selection" in record for record in result.history)


def test_early_stopping_waits_for_patience_epochs(tmp_path) -> None:
    paths = make_project(tmp_path, subjects=7, test_subjects=(5, 6))
    _with_val(paths)
    params = _params(train={"epochs": 30, "patience": 2, "lr": 0.05})
    table = _table(paths, params)
    result = fit_fold(params, table, table.folds[0], seed=0, progress=False)
    epochs = [record["epoch"] for record in result.history]
    assert epochs[-1] < 30
    assert epochs[-1] - result.selected_epoch == 2


def test_each_clip_is_paired_with_its_own_sentence(tmp_path) -> None:
    paths = make_project(tmp_path)
    params = _params(train={"attribute_branch": True})
    table = _table(paths, params, attributes=True)
    attributes = pd.read_csv(paths.inputs.attributes).set_index("key")["sentence"]
    rows = table.folds[0].train
    dataset = ClipPairDataset(rows, paths.inputs.rgb, paths.inputs.flow)
    for i, key in enumerate(rows["key"]):
        _, _, _, text_id = dataset[i]
        assert table.sentences[int(text_id)] == attributes[key]
    # A mirrored clip is paired with its mirrored sentence, and mirroring twice is the identity.
    sentences, mirror = mirrored_texts(["left lip corner puller", "nose wrinkler",
                                        "right lip corner puller, jaw drop"])
    assert sentences[mirror[0]] == "right lip corner puller"
    assert sentences[mirror[1]] == "nose wrinkler"
    assert all(mirror[mirror[i]] == i for i in range(len(sentences)))
    assert mirror_sentence("left cheek raiser, right dimpler") == "right cheek raiser, left dimpler"


def test_flip_mirrors_about_the_face_midline_and_negates_horizontal_flow() -> None:
    # The template's midline is x = W/2 in pixel centres: a face symmetric about it is its
    # own mirror image (the first column, which has no partner, repeats its neighbour).
    width = 8
    symmetric = (torch.arange(width) - width // 2).abs().to(torch.uint8)
    rgb = symmetric.expand(2, 3, 2, 2, width).clone()
    flow = torch.randn(2, 2, 2, 2, width)
    texts = torch.tensor([0, 1])
    mirror = torch.tensor([1, 0])
    out_rgb, out_flow, out_texts = augment_batch(rgb, flow, texts, AugmentConfig(flip=1.0),
                                                 mirror, torch.Generator().manual_seed(0))
    assert torch.equal(out_rgb[..., 1:], rgb[..., 1:])
    # Column x of the output is column W − x of the input (x ≥ 1).
    reflected = flow[..., torch.arange(width - 1, 0, -1)]
    assert torch.equal(out_flow[:, 0, ..., 1:], -reflected[:, 0])
    assert torch.equal(out_flow[:, 1, ..., 1:], reflected[:, 1])
    assert out_texts.tolist() == [1, 0]
    jittered = augment_batch(rgb, flow, texts, AugmentConfig(magnitude=0.2, time_shift=1),
                             mirror, torch.Generator().manual_seed(0))[1]
    ratio = (jittered.abs().sum() / flow.abs().sum()).item()
    assert 0.7 < ratio < 1.3


def test_light_changes_a_clips_colour_alike_in_every_frame_and_leaves_its_flow() -> None:
    # A still clip (the same frame 4 times): after any change of light it is still still.
    frame = torch.randint(40, 200, (6, 3, 1, 8, 8), generator=torch.Generator().manual_seed(1),
                          dtype=torch.int64).to(torch.uint8)
    rgb = frame.expand(6, 3, 4, 8, 8).clone()
    flow = torch.randn(6, 2, 4, 8, 8)
    texts = torch.arange(6)
    out_rgb, out_flow, out_texts = augment_batch(
        rgb, flow, texts, AugmentConfig(light=1.0), texts, torch.Generator().manual_seed(0))
    assert out_rgb.dtype == torch.uint8 and out_rgb.shape == rgb.shape
    assert torch.equal(out_flow, flow) and torch.equal(out_texts, texts)
    assert torch.equal(out_rgb, out_rgb[:, :, :1].expand_as(out_rgb))
    assert all(not torch.equal(out_rgb[i], rgb[i]) for i in range(6))
    grey = [i for i in range(6) if torch.equal(out_rgb[i, 0], out_rgb[i, 1])
            and torch.equal(out_rgb[i, 1], out_rgb[i, 2])]
    assert 0 < len(grey) < 6
    # At 0 nothing is drawn: the other augmentations see the generator as before.
    plain = augment_batch(rgb, flow, texts, AugmentConfig(magnitude=0.2), texts,
                          torch.Generator().manual_seed(0))
    off = augment_batch(rgb, flow, texts, AugmentConfig(magnitude=0.2, light=0.0), texts,
                        torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(plain, off, strict=True))


def test_backbone_lr_scale_slows_or_freezes_the_streams_convolutions_only() -> None:
    from attrmer.model import VideoNet
    from attrmer.train.loop import video_parameter_groups

    video = VideoNet(num_classes=3, depth=10, width=4, feature_dim=8)
    [whole] = video_parameter_groups(video, 1e-3, 1.0)
    assert whole["lr"] == 1e-3
    backbone, head = video_parameter_groups(video, 1e-3, 0.1)
    assert backbone["lr"] == pytest.approx(1e-4) and head["lr"] == 1e-3
    names = {id(p): n for n, p in video.named_parameters()}
    assert all(".fc." in names[id(p)] or names[id(p)].startswith("classifier")
               for p in head["params"])
    assert not any(".fc." in names[id(p)] for p in backbone["params"])
    assert len(backbone["params"]) + len(head["params"]) == len(list(video.parameters()))
    [only_head] = video_parameter_groups(video, 1e-3, 0.0)
    frozen = [n for n, p in video.named_parameters() if not p.requires_grad]
    assert frozen and all("encoder" in n and ".fc." not in n for n in frozen)
    assert {id(p) for p in only_head["params"]} == {id(p) for p in head["params"]}


def test_loso_fold_whose_subject_owns_a_class_still_trains(tmp_path) -> None:
    paths = make_project(tmp_path, subjects=5, per_subject=3)
    manifest = pd.read_csv(paths.inputs.manifest, dtype=str, keep_default_na=False)
    manifest["split"] = "fold" + (manifest["subject"].astype(int) - 1).astype(str)
    # Subject 1 owns every surprise clip: fold0's training side has none.
    surprise = manifest["emotion"] == "surprise"
    manifest.loc[surprise, "subject"] = "1"
    manifest.loc[surprise, "split"] = "fold0"
    write_manifest(manifest, paths.inputs.manifest)
    params = _params(split={"protocol": "loso", "validation_fraction": 0.3},
                     train={"epochs": 1})
    metrics = train_seed(params, 0, paths, progress=False)
    assert metrics["n_test"] == len(manifest)
    assert set(metrics["folds"]) == {f"fold{k}" for k in range(5)}
    for fold in metrics["folds"].values():
        assert fold["n_val"] > 0 and fold["selected_epoch"] == 1
        assert fold["n_train"] + fold["n_val"] + fold["n_test"] == len(manifest)
    assert metrics["selection"] == "validation"
    # Every fold's validation predictions are kept; the saved model's temperature is fitted
    # on its own fold's.
    validation = pd.read_csv(paths.metrics / "seed_0_validation.csv", dtype={"fold": str})
    assert set(validation["fold"]) == set(metrics["folds"])
    assert len(validation) == sum(f["n_val"] for f in metrics["folds"].values())
    assert metrics["temperature"] > 0
    # The temperature's own predictions: the saved model's fold, the same clips, each at an
    # epoch chosen on the other half (one epoch here, so the selected model's predictions).
    fitted_on = pd.read_csv(paths.metrics / "seed_0_calibration.csv", dtype={"fold": str})
    last = validation[validation["fold"] == list(metrics["folds"])[-1]]
    assert fitted_on["key"].tolist() == last["key"].tolist()
    np.testing.assert_allclose(fitted_on.filter(like="prob_"), last.filter(like="prob_"),
                               atol=1e-6)


def test_holdout_without_a_class_in_training_is_still_refused(tmp_path) -> None:
    from attrmer.train.data import TrainingSetupError

    paths = make_project(tmp_path)
    manifest = pd.read_csv(paths.inputs.manifest, dtype=str, keep_default_na=False)
    manifest.loc[(manifest["emotion"] == "surprise") & (manifest["split"] == "train"),
                 "split"] = "test"
    write_manifest(manifest, paths.inputs.manifest)
    with pytest.raises(TrainingSetupError, match="no training clip of class surprise"):
        _table(paths, _params())


def test_runtime_is_reused(tmp_path) -> None:
    # fit_fold takes a prepared runtime; the same one serves every fold.
    paths = make_project(tmp_path)
    params = _params(train={"epochs": 1})
    runtime = Runtime.choose(params)
    table = _table(paths, params)
    assert fit_fold(params, table, table.folds[0], seed=0, runtime=runtime,
                    progress=False).selected_epoch == 1
