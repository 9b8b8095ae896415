"""Params validation: every invalid case fails before any work, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from attrmer.config import ConfigError, Params, load_params

REPO = Path(__file__).resolve().parents[1]


def test_repo_params_file_is_valid():
    params = load_params(REPO / "params.yaml")
    assert params.data.name == "synthetic"
    assert params.split.test_fraction == pytest.approx(0.4)
    assert len(params.train.seeds) == 5


def test_paper_params_file_is_valid_and_holds_the_paper_setting():
    params = load_params(REPO / "params-paper.yaml")
    assert params.train.lr == pytest.approx(1e-4)
    assert params.train.epochs == 200
    assert params.train.batch_size == 32
    assert params.model.depth == 10
    assert params.model.width == 64
    assert params.model.input_size == 112
    assert params.preprocess.frames == 16


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"train": {"alphaa": 0.3}}, "train.alphaa"),
        ({"bogus": {}}, "bogus"),
        ({"train": {"alpha": 1.5}}, "train.alpha"),
        ({"train": {"alpha": -0.1}}, "train.alpha"),
        ({"train": {"alpha": "high"}}, "train.alpha"),
        ({"model": {"depth": 50}}, "model.depth"),
        ({"model": {"depth": "10"}}, "model.depth"),
        ({"train": {"epochs": 2.5}}, "train.epochs"),
        ({"train": {"seeds": 3}}, "train.seeds"),
        ({"train": {"seeds": [1, "x"]}}, "train.seeds[1]"),
        ({"train": {"batch_size": 0}}, "train.batch_size"),
        ({"data": {"name": "casme9"}}, "data.name"),
        ({"split": {"protocol": "kfold"}}, "split.protocol"),
        ({"split": {"test_fraction": 1.0}}, "split.test_fraction"),
        ({"flow": {"reference": "previous"}}, "flow.reference"),
        ({"train": {"attribute_branch": "yes"}}, "train.attribute_branch"),
        ({"baselines": {"lbptop": {"grid": [5]}}}, "baselines.lbptop.grid"),
        ({"train": []}, "train"),
    ],
)
def test_invalid_params_name_the_key(override, key):
    with pytest.raises(ConfigError) as info:
        Params.from_dict(override)
    assert str(info.value).startswith(key), str(info.value)


@pytest.mark.parametrize(
    ("roots", "adapters", "key"),
    [
        ({"casme2/a": "/d/a", "samm": "/d/s"}, {}, "data.roots.casme2/a"),
        ({"take 1": "/d/a", "take2": "/d/b"}, {"take 1": "casme2", "take2": "casme2"},
         "data.roots.take 1"),
        ({"casme2": "/d/a", "samm": "/d/s"}, {"x/y": "casme2"}, "data.adapters.x/y"),
    ],
)
def test_composite_dataset_names_cannot_hold_the_subject_separator(roots, adapters, key):
    # Subjects are "<dataset>/<subject>": a "/" in the name would split the wrong way.
    with pytest.raises(ConfigError) as info:
        Params.from_dict({"data": {"name": "composite", "roots": roots, "adapters": adapters}})
    assert str(info.value) == (
        f"{key}: dataset name {key.split('.', 2)[2]!r} may hold only letters, digits, _ and - "
        "(it prefixes the dataset's subjects as <name>/<subject>)")
    good = Params.from_dict({"data": {"name": "composite", "roots": {
        "casme2_v-2": "/d/a", "samm": "/d/s"}, "adapters": {"casme2_v-2": "casme2"}}})
    assert good.data.datasets == ("casme2_v-2", "samm")


def test_load_params_names_the_file(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"model": {"depth": 11}}))
    with pytest.raises(ConfigError, match=r"p\.yaml: model\.depth"):
        load_params(path)
    with pytest.raises(ConfigError, match="no such params file"):
        load_params(tmp_path / "absent.yaml")
    (tmp_path / "bad.yaml").write_text("train: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(tmp_path / "bad.yaml")


def test_integers_widen_to_floats_and_lists_are_checked():
    raw = {"train": {"lr": 1, "seeds": [7, 8]}, "data": {"classes": ["a", "b"]}}
    params = Params.from_dict(raw)
    assert isinstance(params.train.lr, float)
    assert params.train.seeds == [7, 8]
    assert params.data.classes == ["a", "b"]


def test_check_params_command_reports_errors(tmp_path, capsys):
    from attrmer.cli import main

    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"train": {"alpha": 2}}))
    assert main(["check-params", str(path)]) == 1  # bad data: the file
    assert "train.alpha" in capsys.readouterr().err
    assert main(["check-params", str(REPO / "params.yaml")]) == 0
