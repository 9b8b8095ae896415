"""prepare_dataset, the `attrmer prepare` command and the DVC stage script, on small fixtures."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
import yaml

from attrmer.config import Params
from attrmer.datasets import DatasetError
from attrmer.datasets.prepare import cli, prepare_dataset
from attrmer.io import OWNER_MARKER
from attrmer.manifest import COLUMNS, read_manifest, usable
from stages import prepare as prepare_stage
from tests.fixtures.datasets.builders import casme2_2014, shared_casme2_2014, write_casme2


@pytest.fixture
def casme2_root():
    return shared_casme2_2014()


def _params(**data):
    split = data.pop("split", {})
    return Params.from_dict({"data": data, "split": split})


def test_prepare_writes_manifest_and_summary(casme2_root, tmp_path, capsys):
    interim = tmp_path / "interim"
    returned = prepare_dataset(_params(name="casme2", root=str(casme2_root)), interim)
    manifest = read_manifest(interim / "manifest.csv")
    assert list(manifest.columns) == COLUMNS
    assert len(manifest) == 255 and len(usable(manifest)) == 154
    assert list(manifest["key"]) == list(returned["key"])
    ok = usable(manifest)
    assert set(ok["split"]) == {"train", "val", "test"}
    assert ok.groupby("subject")["split"].nunique().max() == 1
    assert ok["subject"].nunique() == 26
    # 10 test subjects; the default validation share (0.2) of the 16 others validates.
    assert ok.groupby("split")["subject"].nunique().to_dict() == {"test": 10, "train": 13,
                                                                 "val": 3}
    summary = (interim / "summary.txt").read_text()
    assert capsys.readouterr().out == summary
    assert "rows      255: ok 154, excluded 101, failed 0" in summary
    assert "classes   paper (5 classes: happiness, disgust, repression, surprise, sadness)" \
        in summary
    assert "excluded emotions: others 99, fear 2" in summary
    assert "flagged rows (1)" in summary
    assert "sub04/EP12_01f  ok      apex '/' -> middle of onset..offset" in summary
    happiness = next(line for line in summary.splitlines() if line.startswith("  happiness"))
    assert happiness.split()[-1] == "32"
    assert not list(interim.glob("*.tmp"))
    assert [p.name for p in interim.glob(".*")] == [OWNER_MARKER]


def test_prepare_loso_and_validation(casme2_root, tmp_path):
    loso = prepare_dataset(
        _params(name="casme2", root=str(casme2_root), split={"protocol": "loso"}), tmp_path / "a")
    ok = usable(loso)
    assert ok["split"].nunique() == 26 and ok["split"].str.match(r"^fold\d+$").all()
    assert ok.groupby("split")["subject"].nunique().max() == 1
    with_val = prepare_dataset(
        _params(name="casme2", root=str(casme2_root), split={"validation_fraction": 0.2}),
        tmp_path / "b")
    assert set(usable(with_val)["split"]) == {"train", "val", "test"}
    summary = (tmp_path / "b" / "summary.txt").read_text()
    assert "validation_fraction 0.2" in summary


def test_prepare_refuses_a_manifest_without_usable_rows(tmp_path):
    casme2_2014(tmp_path / "CASME2", frames=None)
    interim = tmp_path / "interim"
    with pytest.raises(DatasetError) as error:
        prepare_dataset(_params(name="casme2", root=str(tmp_path / "CASME2")), interim)
    message = str(error.value)
    assert "CASME2-coding-20140508.xlsx: no usable clip among 255 rows" in message
    assert "frames missing (154 rows)" in message
    assert "no frame folder found" in message and "CASME2_RAW_selected/subXX" in message
    assert not (interim / "manifest.csv").exists()


def test_prepare_needs_two_subjects(tmp_path):
    write_casme2(tmp_path, [
        {"Subject": 1, "Filename": f"EP0{i}", "OnsetFrame": 1, "ApexFrame": 2, "OffsetFrame": 3,
         "Action Units": "12", "Estimated Emotion": "happiness"} for i in range(3)
    ])
    with pytest.raises(DatasetError, match="from 1 subject only"):
        prepare_dataset(_params(name="casme2", root=str(tmp_path)), tmp_path / "interim")


def test_synthetic_renders_then_reads_the_casme2_layout(tmp_path, monkeypatch):
    calls = []

    def render_corpus(out_dir: Path, cfg) -> Path:
        calls.append((out_dir, cfg))
        rows = casme2_2014(out_dir, sheet_name="CASME2-coding-synthetic.xlsx")
        assert len(rows) == 255
        return out_dir

    monkeypatch.setitem(sys.modules, "attrmer.synth",
                        types.SimpleNamespace(render_corpus=render_corpus))
    root = tmp_path / "interim" / "synthetic"
    params = Params.from_dict({"data": {"name": "synthetic", "root": str(root)},
                               "synth": {"fps": 100, "max_frames": 40}})
    manifest = prepare_dataset(params, tmp_path / "interim")
    assert calls == [(root, params.synth)]
    assert (manifest["dataset"] == "synthetic").all()
    assert len(usable(manifest)) == 154
    assert (tmp_path / "interim" / "manifest.csv").is_file()


def test_cli_overrides_and_errors(casme2_root, tmp_path, capsys):
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump({"data": {"name": "synthetic"}}))
    code = cli(["--params", str(params_file), "--interim-dir", str(tmp_path / "out"),
                "--name", "casme2", "--root", str(casme2_root),
                "--classes", "happiness,surprise"])
    assert code == 0
    manifest = read_manifest(tmp_path / "out" / "manifest.csv")
    assert len(usable(manifest)) == 57
    capsys.readouterr()
    code = cli(["--params", str(params_file), "--interim-dir", str(tmp_path / "out2"),
                "--name", "samm", "--root", str(tmp_path / "nowhere")])
    assert code == 1
    assert "attrmer prepare: " in capsys.readouterr().err
    assert not (tmp_path / "out2").exists()


def test_stage_main(casme2_root, tmp_path):
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(
        {"data": {"name": "casme2", "root": str(casme2_root), "classes": "megc2019"}}))
    interim = tmp_path / "interim"
    assert prepare_stage.main(["--params", str(params_file), "--interim-dir", str(interim)]) == 0
    manifest = read_manifest(interim / "manifest.csv")
    assert sorted(usable(manifest)["label"].unique()) == [0, 1, 2]
    assert (interim / "summary.txt").is_file()


def test_class_names_follow_the_class_set_not_the_raw_emotion():
    """A merged class set (MEGC 2019) names its classes; training reads those names."""
    import pandas as pd

    from attrmer.manifest import ManifestError, class_names

    rows = pd.DataFrame({
        "label": [0, 0, 1, 2, -1],
        "emotion": ["disgust", "repression", "happiness", "surprise", "others"],
        "class_name": ["negative", "negative", "positive", "surprise", ""],
    })
    assert class_names(rows) == ["negative", "positive", "surprise"]
    with pytest.raises(ManifestError, match="every class of the chosen set"):
        class_names(rows[rows["label"] != 1])
