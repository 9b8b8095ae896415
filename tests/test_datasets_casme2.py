"""CASME II adapter: the 2014 sheet's paper class set, both frame layouts, every rule."""

from __future__ import annotations

import shutil

import pytest

from attrmer.config import SplitConfig
from attrmer.datasets import get_adapter
from attrmer.datasets.prepare import build_manifest
from attrmer.facs import aus_from_json
from attrmer.manifest import frame_paths
from tests.fixtures.datasets.builders import (
    CASME2_2014_EMOTIONS,
    CASME2_MEGC_COUNTS,
    CASME2_PAPER_COUNTS,
    casme2_2014,
    shared_casme2_2014,
    write_casme2,
)


def _manifest(root, classes="paper", split=None, name="casme2"):
    manifest, _ = build_manifest(get_adapter(name, root), classes, split or SplitConfig())
    return manifest


@pytest.fixture
def casme2_root():
    return shared_casme2_2014()


def test_2014_sheet_gives_the_papers_154_clips(casme2_root):
    manifest = _manifest(casme2_root)
    assert len(manifest) == 255
    assert manifest["subject"].nunique() == 26
    ok = manifest[manifest["status"] == "ok"]
    assert len(ok) == 154
    assert ok["emotion"].value_counts().to_dict() == CASME2_PAPER_COUNTS
    excluded = manifest[manifest["status"] == "excluded"]
    assert excluded["emotion"].value_counts().to_dict() == {"others": 99, "fear": 2}
    assert (manifest["status"] != "failed").all()
    # Labels follow class_sets.yaml's order.
    order = ["happiness", "disgust", "repression", "surprise", "sadness"]
    assert (ok["label"] == ok["emotion"].map(order.index)).all()
    assert (excluded["label"] == -1).all() and (excluded["split"] == "").all()


def test_2014_sheet_apex_slash_row(casme2_root):
    manifest = _manifest(casme2_root, classes="all")
    row = manifest.set_index("key").loc["sub04/EP12_01f"]
    assert row["status"] == "ok"
    assert row["apex"] == (row["onset"] + row["offset"]) // 2
    assert "apex '/' -> middle of onset..offset" in row["reason"]
    # Every other row is clean.
    assert (manifest.loc[manifest["key"] != "sub04/EP12_01f", "reason"] == "").all()


def test_all_and_megc2019_class_sets(casme2_root):
    everything = _manifest(casme2_root, classes="all")
    assert (everything["status"] == "ok").sum() == 255
    assert sorted(everything["emotion"].unique()) == sorted(CASME2_2014_EMOTIONS)
    megc = _manifest(casme2_root, classes="megc2019")
    ok = megc[megc["status"] == "ok"]
    # MEGC 2019's 145: negative is disgust + repression (not sadness or fear) with an apex.
    assert ok["label"].value_counts().to_dict() == {0: 63 + 27 - 2, 1: 32, 2: 25}
    assert ok["class_name"].value_counts().to_dict() == CASME2_MEGC_COUNTS
    assert ok["subject"].nunique() == 24
    left_out = megc[megc["reason"].str.contains("keeps only clips whose coders marked an apex")]
    assert (left_out["status"] == "excluded").all() and len(left_out) == 2
    assert set(left_out["emotion"]) <= {"disgust", "repression"}
    slash = left_out.set_index("key").loc["sub04/EP12_01f", "reason"]
    assert slash.startswith("apex '/' not annotated: class set megc2019")
    assert left_out["reason"].str.contains("on the onset frame").sum() == 1
    assert set(megc.loc[megc["reason"].str.startswith("emotion "), "emotion"]) == {
        "others", "sadness", "fear"}


def test_explicit_class_list(casme2_root):
    manifest = _manifest(casme2_root, classes=["Surprise", "happiness"])
    ok = manifest[manifest["status"] == "ok"]
    assert ok.groupby("label")["emotion"].first().to_dict() == {0: "surprise", 1: "happiness"}
    assert len(ok) == 57


def test_rows_carry_paths_aus_and_subject_folders(casme2_root):
    manifest = _manifest(casme2_root)
    row = manifest.iloc[0]
    assert row["key"] == "sub01/EP01_01f" and row["dataset"] == "casme2"
    assert row["frame_pattern"] == "img{}.jpg"
    paths = frame_paths(row)
    assert len(paths) == 4 and all(p.is_file() for p in paths)
    assert paths[0].parent == casme2_root / "CASME2_RAW_selected" / "sub01" / "EP01_01f"
    # The second row's AU cell is the number 12 in the sheet.
    assert manifest.iloc[1]["action_units"] == "12"
    assert [a.number for a in aus_from_json(manifest.iloc[1]["aus"])] == [12]
    sided = aus_from_json(manifest.iloc[3]["aus"])
    assert [(a.number, a.side) for a in sided] == [(4, "R"), (10, "R")]


def test_cropped_layout_and_2019_revision(tmp_path):
    rows = casme2_2014(tmp_path, frames="cropped", sheet_name="CASME2-coding-20190701.xlsx",
                       objective_class=True)
    manifest = _manifest(tmp_path)
    assert (manifest["status"] == "ok").sum() == 154
    assert (manifest["frame_pattern"] == "reg_img{}.jpg").all()
    assert manifest.iloc[0]["frame_dir"] == (tmp_path / "Cropped/sub01/EP01_01f").as_posix()
    assert len(rows) == 255


def test_relative_root_keeps_relative_paths(casme2_root, monkeypatch):
    monkeypatch.chdir(casme2_root.parent)
    manifest = _manifest(casme2_root.name)
    assert manifest.iloc[0]["frame_dir"] == f"{casme2_root.name}/CASME2_RAW_selected/sub01/EP01_01f"


def _row(subject, name, onset, apex, offset, emotion="happiness", aus="12"):
    return {"Subject": subject, "Filename": name, "OnsetFrame": onset, "ApexFrame": apex,
            "OffsetFrame": offset, "Action Units": aus, "Estimated Emotion": emotion}


def test_every_rule_on_a_small_sheet(tmp_path):
    rows = [
        _row(1, "EP01_01", 10, 12, 14),                  # clean
        _row(1, "EP02_01", 10, None, 14),                # apex blank -> middle
        _row(1, "EP03_01", 10, 30, 14),                  # apex after offset -> middle
        _row(2, "EP01_01", 10, 12, 0),                   # offset 0
        _row(2, "EP02_01", 20, 22, 14),                  # offset before onset
        _row(2, "EP03_01", 10, 10, 10),                  # one frame
        _row(2, "EP04_01", 10, 12, 14),                  # frames deleted below
        _row(3, "EP01_01", "x", 12, 14),                 # onset not a number
        _row(3, "EP02_01", 10, 11, 1500, emotion="surprise"),  # 7.5 s at 200 fps
        _row(3, "EP03_01", 10, 12, 14, emotion="others"),      # outside the class set
        _row(3, "EP04_01", 10, 12, 14, emotion="disgust", aus="?"),
        _row(4, "EP01_01", 10, 12, 14, emotion="surprise", aus="/"),
    ]
    write_casme2(tmp_path, rows, real_jpegs=2)
    (tmp_path / "CASME2_RAW_selected/sub02/EP04_01/img12.jpg").unlink()
    manifest = _manifest(tmp_path).set_index("key")
    outcome = {k: (r["status"], r["reason"]) for k, r in manifest.iterrows()}
    assert outcome["sub01/EP01_01"] == ("ok", "")
    assert outcome["sub01/EP02_01"] == ("ok", "apex (blank) -> middle of onset..offset (12)")
    assert outcome["sub01/EP03_01"] == (
        "ok", "apex 30 after offset 14 -> middle of onset..offset (12)")
    assert outcome["sub02/EP01_01"] == ("failed", "offset 0 (not annotated)")
    assert outcome["sub02/EP02_01"][0] == "failed"
    assert outcome["sub02/EP02_01"][1].startswith("offset before onset: offset 14, onset 20")
    assert outcome["sub02/EP03_01"] == (
        "failed", "too few frames: 1 (onset == offset), a clip needs at least 2")
    assert outcome["sub02/EP04_01"][0] == "failed"
    assert outcome["sub02/EP04_01"][1].startswith("frames missing: 1 in ")
    assert outcome["sub02/EP04_01"][1].endswith("(img12.jpg)")
    assert outcome["sub03/EP01_01"] == ("failed", "not a frame number: onset 'x'")
    assert outcome["sub03/EP02_01"] == (
        "failed",
        "clip too long: 1491 frames (7.5 s at 200 fps), over 5 s, not a micro-expression")
    assert outcome["sub03/EP03_01"] == ("excluded", "emotion 'others' not in class set paper")
    assert outcome["sub03/EP04_01"] == ("ok", "")
    assert aus_from_json(manifest.loc["sub03/EP04_01", "aus"])[0].flag == "uncertain"
    assert outcome["sub04/EP01_01"] == ("ok", "")
    assert manifest.loc["sub04/EP01_01", "aus"] == "[]"
    assert manifest.loc["sub01/EP02_01", "apex"] == 12
    assert manifest.loc["sub03/EP01_01", "onset"] == -1
    failed_or_excluded = manifest[manifest["status"] != "ok"]
    assert (failed_or_excluded["label"] == -1).all()
    assert (failed_or_excluded["split"] == "").all()
    assert set(manifest.loc[manifest["status"] == "ok", "split"]) <= {"train", "val", "test"}


def test_repeated_clip_keeps_a_unique_key(tmp_path):
    rows = [_row(1, "EP01_01", 10, 12, 14), _row(1, "EP01_01", 10, 12, 14),
            _row(2, "EP01_01", 10, 12, 14)]
    write_casme2(tmp_path, rows)
    manifest = _manifest(tmp_path)
    assert list(manifest["key"]) == ["sub01/EP01_01", "sub01/EP01_01#2", "sub02/EP01_01"]
    assert "repeats an earlier row" in manifest.iloc[1]["reason"]


def test_missing_frame_folder_reports_every_row(tmp_path):
    rows = casme2_2014(tmp_path, frames=None)
    adapter = get_adapter("casme2", tmp_path)
    assert adapter.located.frames_root is None
    manifest, _ = build_manifest(adapter, "paper", SplitConfig())
    assert len(manifest) == len(rows)
    in_set = manifest[manifest["emotion"].isin(CASME2_PAPER_COUNTS)]
    assert (in_set["status"] == "failed").all()
    assert in_set["reason"].str.contains("frames missing: folder").all()
    assert "CASME2_RAW_selected/sub01/" in in_set.iloc[0]["reason"]


def test_sheet_given_directly_as_root(casme2_root, tmp_path):
    # Two sheets side by side: pointing data.root at one of them picks it.
    target = tmp_path / "CASME2"
    shutil.copytree(casme2_root, target)
    shutil.copy(target / "CASME2-coding-20140508.xlsx", target / "CASME2-coding-20190701.xlsx")
    from attrmer.datasets import DatasetError

    with pytest.raises(DatasetError, match="several casme2 annotation sheets"):
        get_adapter("casme2", target).located  # noqa: B018
    manifest = _manifest(target / "CASME2-coding-20140508.xlsx")
    assert (manifest["status"] == "ok").sum() == 154
