"""CAS(ME)^3 part A: a fixture in the label-sheet format, and the real sheet from ../shared."""

from __future__ import annotations

import pytest

from attrmer.config import SplitConfig
from attrmer.datasets import get_adapter
from attrmer.datasets.prepare import build_manifest
from tests.fixtures.datasets.builders import casme3

REAL_SHEET = "annotations/casme3/partA/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"

ROWS = [
    ["spNO.1", "a", 355, 359, 360, "5", "II", "others"],
    ["spNO.1", "e", 62, 68, 96, "R12", "I", "others"],
    ["spNO.1", "e", 96, 102, 106, "R12", "I", "happy"],       # same video, second clip
    ["spNO.2", "J", 7, 9, 20, "T28+14", "VII", "fear"],        # folder is j on disk
    ["spNO.40", "e", 1812, 1824, 0, "18", "VII", "others"],   # offset 0
    ["spNO.216", "d", 3647, 2668, 2694, "38", "VII", "Others"],  # onset after apex and offset
    ["spNO.3", "b", 5, 5, 3460, "17+4", "VII", "disgust"],     # 115 s long
    ["spNO.3", "c", 10, 12, 30, "B23", "VII", "sad"],
]


def test_casme3_fixture_rows(tmp_path):
    casme3(tmp_path, ROWS)
    manifest, class_set = build_manifest(get_adapter("casme3", tmp_path), "paper", SplitConfig())
    manifest = manifest.set_index("key")
    assert class_set.classes == ("happy", "disgust", "fear", "anger", "sad", "surprise", "others")
    assert list(manifest.index) == [
        "spNO.1/a_355", "spNO.1/e_62", "spNO.1/e_96", "spNO.2/J_7", "spNO.40/e_1812",
        "spNO.216/d_3647", "spNO.3/b_5", "spNO.3/c_10",
    ]
    status = manifest["status"].to_dict()
    assert [status[k] for k in ("spNO.1/a_355", "spNO.1/e_62", "spNO.1/e_96", "spNO.3/c_10")] \
        == ["ok"] * 4
    assert manifest.loc["spNO.1/a_355", "frame_dir"] == (
        tmp_path / "data/spNO.1/a/color").as_posix()
    assert status["spNO.2/J_7"] == "ok"
    assert manifest.loc["spNO.2/J_7", "frame_dir"].endswith("data/spNO.2/j/color")
    assert "matched ignoring case" in manifest.loc["spNO.2/J_7", "reason"]
    assert manifest.loc["spNO.40/e_1812", "reason"] == "offset 0 (not annotated)"
    assert manifest.loc["spNO.216/d_3647", "reason"] == (
        "offset before onset: offset 2694, onset 3647; apex 2668 before onset 3647")
    assert manifest.loc["spNO.216/d_3647", "emotion"] == "others"
    assert manifest.loc["spNO.3/b_5", "reason"].startswith(
        "clip too long: 3456 frames (115.2 s at 30 fps)")
    assert manifest.loc["spNO.3/c_10", "label"] == 4


@pytest.mark.shared
def test_real_part_a_sheet_accounts_for_all_860_rows(shared_data):
    sheet = shared_data / REAL_SHEET
    if not sheet.is_file():
        pytest.skip(f"{sheet} is absent")
    adapter = get_adapter("casme3", sheet)
    assert adapter.located.frames_root is None  # metadata only: no video in ../shared
    manifest, _ = build_manifest(adapter, "paper", SplitConfig())
    assert len(manifest) == 860
    assert manifest["key"].is_unique
    assert manifest["subject"].str.match(r"^spNO\.\d+$").all()
    # The sheet writes "Others" three times; every emotion falls in the seven classes.
    assert set(manifest["emotion"]) == {
        "happy", "disgust", "fear", "anger", "sad", "surprise", "others"}
    assert (manifest["status"] == "failed").all()
    # The rule that made a row fail: its first note that is not an adjustment ("->").
    by_rule = manifest["reason"].map(
        lambda reason: next(n.split(":")[0] for n in reason.split("; ") if "->" not in n))
    frames_missing = manifest[by_rule == "frames missing"]
    assert frames_missing["reason"].str.match(r"frames missing: folder .*/color not found").all()
    offset_zero = manifest[(manifest["subject"] == "spNO.40") & (manifest["offset"] == 0)]
    assert list(offset_zero["clip"]) == ["e_1812", "e_2327"]
    assert (offset_zero["reason"] == "offset 0 (not annotated)").all()
    onset_after_apex = manifest.set_index("key").loc["spNO.216/d_3647"]
    assert onset_after_apex["reason"] == (
        "offset before onset: offset 2694, onset 3647; apex 2668 before onset 3647")
    too_long = manifest[by_rule == "clip too long"]
    assert len(too_long) > 0 and (too_long["offset"] - too_long["onset"] + 1 > 150).all()
    assert "spNO.149/d_112" in set(too_long["key"])  # its apex was also before its onset
    assert len(frames_missing) + len(offset_zero) + 1 + len(too_long) == 860
    assert by_rule.value_counts().to_dict() == {
        "frames missing": 840, "clip too long": 17, "offset 0 (not annotated)": 2,
        "offset before onset": 1}
