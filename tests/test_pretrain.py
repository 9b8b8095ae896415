"""Pretraining on a rendered corpus and `train.init`: which faces, what is copied, what is
refused, and the stage when pretraining is off."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from attrmer.config import ConfigError, Params
from attrmer.manifest import COLUMNS, write_manifest
from attrmer.model import VideoNet
from attrmer.modelfile import ModelFileError, load_model_dir, save_model_dir
from attrmer.pretrain import pretraining_faces, pretraining_params, run_pretraining
from attrmer.synth.identities import load_faces, real_subjects
from attrmer.synth.render import plan_corpus
from attrmer.train import train_seed
from attrmer.train.warm_start import warm_start
from stages import pretrain as pretrain_stage
from tests.test_train import CLASSES, TINY, _params, make_project


def _manifest(path: Path, sides: dict[str, str]) -> Path:
    rows = [{c: "" for c in COLUMNS} | {
        "key": f"{subject}/EP01", "subject": subject, "split": side, "status": "ok",
        "label": 0, "class_name": "happiness", "onset": 1, "apex": 2, "offset": 3}
        for subject, side in sides.items()]
    write_manifest(pd.DataFrame(rows, columns=COLUMNS), path)
    return path


def test_auto_faces_on_the_built_in_data_are_the_training_subjects_only(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path / "manifest.csv", {
        "sub01": "train", "sub02": "test", "sub03": "val", "sub04": "train", "sub11": "train"})
    bundled = Params.from_dict({"pretrain": {"identities": "bundled"}})
    assert pretraining_faces(bundled, manifest) == [1, 4, 11]
    # By default the real faces come after them: none is a subject of the built-in data.
    assert pretraining_faces(Params(), manifest) == [1, 4, 11, *real_subjects()]


def test_auto_faces_elsewhere_and_explicit_faces() -> None:
    casme2 = Params.from_dict({"data": {"name": "casme2", "root": "x"}})
    assert pretraining_faces(casme2, None) == []  # every bundled face
    listed = Params.from_dict({"pretrain": {"faces": [5, 2], "identities": "bundled"}})
    assert pretraining_faces(listed, None) == [2, 5]


def test_auto_faces_refuse_loso_on_the_built_in_data(tmp_path: Path) -> None:
    loso = Params.from_dict({"split": {"protocol": "loso"}})
    with pytest.raises(ConfigError, match="every subject is tested"):
        pretraining_faces(loso, tmp_path / "manifest.csv")


def test_faces_refuse_a_composite_with_the_built_in_data_and_unknown_faces() -> None:
    composite = Params.from_dict({"data": {
        "name": "composite", "roots": {"a": "x", "b": "y"},
        "adapters": {"a": "synthetic", "b": "synthetic"}}})
    with pytest.raises(ConfigError, match="composite's synthetic member"):
        pretraining_faces(composite, None)
    with pytest.raises(ConfigError, match="no bundled face 12"):
        pretraining_faces(Params.from_dict({"pretrain": {"faces": [1, 12]}}), None)


def test_the_corpus_is_drawn_on_the_chosen_faces_only() -> None:
    faces = load_faces(120)
    every = Params().synth
    chosen = Params.from_dict({"synth": {"faces": [2, 5], "clips": 20}}).synth
    assert {spec.subject for spec in plan_corpus(chosen, faces)} == {2, 5}
    # Naming no face keeps the built-in corpus exactly as it was drawn before faces could be
    # chosen (its manifest begins with these clips of subject 1).
    assert [(s.subject, s.filename) for s in plan_corpus(every, faces)][:4] == [
        (1, "EP01_05f"), (1, "EP02_05f"), (1, "EP03_04"), (1, "EP04_03f")]


def test_the_corpus_speaks_as_pretrain_speech_says_and_the_dataset_does_not(tmp_path: Path
                                                                            ) -> None:
    params = Params.from_dict({"pretrain": {"speech": 0.5, "speech_px": 1.5}})
    corpus = pretraining_params(params, tmp_path, [1, 4]).synth
    assert (corpus.speech_probability, corpus.speech_px) == (0.5, 1.5)
    assert params.synth.speech_probability == 0.0  # the built-in dataset itself: no speech
    with pytest.raises(ConfigError, match=r"pretrain\.speech"):
        Params.from_dict({"pretrain": {"speech": -0.1}})


def _video(params: Params, classes: list[str], seed: int) -> VideoNet:
    torch.manual_seed(seed)
    return VideoNet.from_config(params.model, num_classes=len(classes))


def test_warm_start_copies_the_streams_and_the_classifier_rows_by_name(tmp_path: Path) -> None:
    params = _params()
    source = _video(params, ["surprise", "happiness"], seed=1)
    save_model_dir(tmp_path / "source", source, params=params, classes=["surprise", "happiness"])
    target = _video(params, ["happiness", "disgust"], seed=2)
    fresh_disgust = target.classifier.weight[1].clone()
    record = warm_start(target, tmp_path / "source", ["happiness", "disgust"], params)
    assert record["classes_from_source"] == ["happiness"]
    for name, tensor in source.rgb_encoder.state_dict().items():
        assert torch.equal(target.rgb_encoder.state_dict()[name], tensor)
    assert torch.equal(target.classifier.weight[0], source.classifier.weight[1])
    assert torch.equal(target.classifier.bias[0], source.classifier.bias[1])
    assert torch.equal(target.classifier.weight[1], fresh_disgust)


def test_warm_start_refuses_another_network_or_other_inputs(tmp_path: Path) -> None:
    params = _params()
    save_model_dir(tmp_path / "source", _video(params, CLASSES, 0), params=params,
                   classes=CLASSES)
    wider = _params(model={"width": 8})
    with pytest.raises(ModelFileError, match=r"model\.width 4, this training uses 8"):
        warm_start(_video(wider, CLASSES, 0), tmp_path / "source", CLASSES, wider)
    other_flow = _params(flow={"head_motion": "translation"})
    with pytest.raises(ModelFileError, match=r"flow\.head_motion"):
        warm_start(_video(other_flow, CLASSES, 0), tmp_path / "source", CLASSES, other_flow)


def test_train_init_starts_every_seed_from_the_model_and_says_so(tmp_path: Path) -> None:
    paths = make_project(tmp_path)
    params = _params(train={"epochs": 1})
    save_model_dir(paths.inputs.pretrained, _video(params, CLASSES, 7), params=params,
                   classes=CLASSES)
    warm = _params(train={"epochs": 1, "init": "pretrained"})
    train_seed(warm, 0, paths, progress=False)
    config = json.loads((paths.seed(0).model_dir / "config.json").read_text())
    assert config["init"] == str(paths.inputs.pretrained)
    scratch_dir = tmp_path / "scratch"
    scratch_paths = make_project(scratch_dir)
    train_seed(params, 0, scratch_paths, progress=False)
    warm_weights = load_model_dir(paths.seed(0).model_dir).network.state_dict()
    cold_weights = load_model_dir(scratch_paths.seed(0).model_dir).network.state_dict()
    name = "rgb_encoder.conv1.weight"
    assert name in warm_weights
    assert not torch.equal(warm_weights[name], cold_weights[name])


def test_stage_writes_only_its_status_when_pretraining_is_off(tmp_path: Path) -> None:
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "pretrained"
    assert pretrain_stage.main(["--params", str(params_file), "--out", str(out),
                                "--manifest", str(tmp_path / "none.csv")]) == 0
    assert [p.name for p in out.iterdir()] == ["status.json"]
    assert json.loads((out / "status.json").read_text())["status"] == "not used"


def test_pretraining_renders_preprocesses_and_trains_a_model(tmp_path: Path) -> None:
    params = Params.from_dict({
        "preprocess": {"size": 32, "frames": 4, "workers": 1},
        "model": {"depth": 10, "width": 4, "input_size": 32, "feature_dim": 8},
        "synth": {"frame_height": 120, "min_frames": 8, "max_frames": 12},
        "train": {"amp": "off", "init": "pretrained"},
        "pretrain": {"clips": 24, "steps": 2, "batch_size": 8, "faces": [1, 2, 3],
                     "identities": "bundled"},
    })
    record = run_pretraining(params, tmp_path / "model", progress=False)
    assert record["faces"] == [1, 2, 3]
    assert set(record["subjects"]) == {"sub01", "sub02", "sub03"}
    assert record["steps"] >= 2 and record["clips"] == sum(record["class_counts"].values())
    bundle = load_model_dir(tmp_path / "model")
    assert bundle.classes == record["classes"]
    assert bundle.info["pretraining"]["seed"] == params.pretrain.seed


def test_training_inputs_are_what_predict_computes_from_the_same_clip(tmp_path: Path) -> None:
    from attrmer.model.inputs import flow_from_motion, flow_input, prepare_rgb
    from attrmer.train.data import ClipPairDataset, NetworkInputs

    paths = make_project(tmp_path)
    params = _params(flow={"scale": "clip", "head_motion": "affine"})
    rows = pd.read_csv(paths.inputs.manifest, keep_default_na=False).assign(text_id=0)
    clips = ClipPairDataset(rows, paths.inputs.rgb, paths.inputs.flow)
    inputs = NetworkInputs(clips, params.flow, params.model.input_size, batch_size=5)
    raw_rgb = torch.stack([clips[i][0] for i in range(len(clips))])
    raw_flow = torch.stack([clips[i][1] for i in range(len(clips))]).float()
    size = params.model.input_size
    torch.testing.assert_close(inputs.rgb, prepare_rgb(raw_rgb, size))
    torch.testing.assert_close(flow_from_motion(inputs.motion, params.flow),
                               flow_input(raw_flow, params.flow, size))
