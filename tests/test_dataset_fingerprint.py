"""DVC sees the dataset: the fingerprint of data.root, and `dvc repro` acting on it."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import yaml

from attrmer.config import DataConfig
from attrmer.datasets.fingerprint import dataset_fingerprint
from tests.fixtures.datasets.builders import casme2_2014, shared_casme2_2014
from tests.fixtures.repo import dvc, repo_copy


@pytest.fixture
def casme2(tmp_path):
    root = tmp_path / "CASME2"
    shutil.copytree(shared_casme2_2014(), root)
    return root


def _data(root) -> DataConfig:
    return DataConfig(name="casme2", root=str(root))


def test_unchanged_dataset_gives_the_same_fingerprint(casme2) -> None:
    first = dataset_fingerprint(_data(casme2))
    assert first == dataset_fingerprint(_data(casme2))
    assert first["sheet"] == "CASME2-coding-20140508.xlsx"
    assert first["frames_root"] == "CASME2_RAW_selected"
    assert first["frame_files"] == 4 * 255


def test_an_edited_sheet_changes_it(casme2) -> None:
    before = dataset_fingerprint(_data(casme2))
    sheet = casme2 / "CASME2-coding-20140508.xlsx"
    stat = sheet.stat()
    casme2_2014(casme2.parent / "other", frames=None, objective_class=True)
    shutil.copy(casme2.parent / "other" / sheet.name, sheet)
    os.utime(sheet, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # content alone tells
    after = dataset_fingerprint(_data(casme2))
    assert after["sheet_sha256"] != before["sheet_sha256"]
    assert after["frames_sha256"] == before["frames_sha256"]


def test_a_replaced_frame_changes_it(casme2) -> None:
    before = dataset_fingerprint(_data(casme2))
    frame = next((casme2 / "CASME2_RAW_selected" / "sub01").glob("*/img*.jpg"))
    frame.write_bytes(b"\xff\xd8 another frame \xff\xd9")
    after = dataset_fingerprint(_data(casme2))
    assert after["frames_sha256"] != before["frames_sha256"]
    assert after["sheet_sha256"] == before["sheet_sha256"]


def test_synthetic_dataset_is_a_constant() -> None:
    data = DataConfig()
    assert data.name == "synthetic"
    assert dataset_fingerprint(data) == dataset_fingerprint(data)


def test_missing_dataset_names_what_was_looked_for(tmp_path) -> None:
    from attrmer.datasets import DatasetError

    with pytest.raises(DatasetError, match="nowhere: no such folder"):
        dataset_fingerprint(_data(tmp_path / "nowhere"))


@pytest.mark.slow
def test_dvc_repro_reruns_prepare_only_when_the_dataset_changes(tmp_path, casme2) -> None:
    work = repo_copy(tmp_path / "repo", {"data": {"name": "casme2", "root": str(casme2)}})
    first = dvc(["repro", "prepare"], work)
    assert "Running stage 'prepare'" in first
    manifest = (work / "data/interim/manifest.csv").read_text()

    again = dvc(["repro", "prepare"], work)
    assert "Running stage 'dataset'" in again  # the fingerprint is always taken...
    assert "Running stage 'prepare'" not in again, again  # ...and nothing after it re-runs

    # An edited sheet: one clip's emotion changes.
    params = yaml.safe_load((work / "params.yaml").read_text())
    assert params["data"]["root"] == str(casme2)
    rows = casme2_2014(tmp_path / "edited", frames=None)
    rows[0]["Estimated Emotion"] = "surprise" if rows[0]["Estimated Emotion"] != "surprise" \
        else "happiness"
    from tests.fixtures.datasets.builders import write_casme2

    write_casme2(casme2, rows, frames=None)
    edited = dvc(["repro", "prepare"], work)
    assert "Running stage 'prepare'" in edited, edited
    assert (work / "data/interim/manifest.csv").read_text() != manifest
    fingerprint = json.loads((work / "data/dataset.json").read_text())
    assert fingerprint["dataset"] == "casme2"
