"""SAMM (header on row 14, intensity letters, frame numbers in the thousands) and MMEW (two
folder layouts, others under `repression`)."""

from __future__ import annotations

import pytest

from attrmer.config import SplitConfig
from attrmer.datasets import get_adapter
from attrmer.datasets.prepare import build_manifest
from attrmer.facs import aus_from_json
from attrmer.manifest import frame_paths
from tests.fixtures.datasets.builders import mmew, samm


def _manifest(name, root, classes="paper"):
    return build_manifest(get_adapter(name, root), classes, SplitConfig())[0].set_index("key")


def _samm_row(subject, clip, onset, apex, offset, aus, emotion):
    return [subject, clip, "1", onset, apex, offset, offset - onset + 1, "Micro", aus, emotion,
            "I", ""]


SAMM_ROWS = [
    _samm_row(6, "006_1_2", 5562, 5588, 5600, "7C", "Anger"),
    _samm_row(6, "006_1_5", 1024, 1040, 1060, "5B+24", "Happiness"),
    _samm_row(7, "007_3_1", 3300, 3290, 3340, "L2C+12", "Surprise"),    # apex before onset
    _samm_row(7, "007_5_2", 410, 420, 450, "ref(L10)+A12B", "Other"),
    _samm_row(9, "009_2_1", 12000, 12010, 12030, "14+25+26", "Contempt"),
    _samm_row(9, "009_4_4", 700, 705, 712, "4", "Disgust"),            # outside the paper set
]


def test_samm_rows(tmp_path):
    samm(tmp_path, SAMM_ROWS)
    manifest = _manifest("samm", tmp_path)
    assert list(manifest.index) == [
        "006/006_1_2", "006/006_1_5", "007/007_3_1", "007/007_5_2", "009/009_2_1", "009/009_4_4",
    ]
    assert list(manifest["status"]) == ["ok"] * 5 + ["excluded"]
    assert manifest.loc["007/007_3_1", "reason"] == (
        "apex 3290 before onset 3300 -> middle of onset..offset (3320)")
    first = manifest.loc["006/006_1_2"]
    assert first["frame_pattern"] == "006_{:05d}.jpg"
    paths = frame_paths(first)
    assert paths[0] == tmp_path / "SAMM" / "006" / "006_1_2" / "006_05562.jpg"
    assert all(p.is_file() for p in paths)
    assert first["emotion"] == "anger"
    # Labels: anger, contempt, happiness, surprise, other.
    assert manifest.loc[manifest["status"] == "ok", "label"].tolist() == [0, 2, 3, 4, 1]
    reference, twelve = aus_from_json(manifest.loc["007/007_5_2", "aus"])
    assert (reference.number, reference.side, reference.flag) == (10, "L", "reference")
    assert (twelve.number, twelve.intensity) == (12, "B")
    assert aus_from_json(manifest.loc["006/006_1_5", "aus"])[0].intensity == "B"


def test_samm_all_classes(tmp_path):
    samm(tmp_path, SAMM_ROWS)
    manifest = _manifest("samm", tmp_path, classes="all")
    assert (manifest["status"] == "ok").all()


def _mmew_row(subject, clip, offset, emotion, aus="12"):
    return [subject, clip, 1, offset // 2, offset, aus, emotion, ""]


MMEW_ROWS = [
    _mmew_row("S01", "S01-01-001", 14, "happiness", "6+12"),
    _mmew_row("S01", "S01-02-001", 20, "surprise", "L14"),
    _mmew_row("S02", "S02-03-001", 30, "disgust", "12L"),
    _mmew_row("S02", "S02-05-001", 16, "fear", "4R+7"),
    _mmew_row("S03", "S03-06-001", 18, "sadness", "R4+R10"),
    _mmew_row("S03", "S03-07-001", 77, "anger", "4"),
    _mmew_row("S03", "S03-00-001", 25, "others", "R12"),
]


@pytest.mark.parametrize("layout", ["official", "unpacked"])
def test_mmew_both_layouts(tmp_path, layout):
    mmew(tmp_path, MMEW_ROWS, layout=layout)
    manifest = _manifest("mmew", tmp_path)
    assert list(manifest["status"]) == ["ok"] * 6 + ["excluded"]
    assert manifest["label"].tolist() == [0, 2, 1, 4, 3, 5, -1]
    happy = manifest.loc["S01/S01-01-001"]
    expected = (tmp_path / "Micro_Expression" / "S01" / "happiness" / "S01-01-001"
                if layout == "official" else tmp_path / "Micro_Expression" / "happiness" /
                "S01-01-001")
    assert happy["frame_dir"] == expected.as_posix()
    assert len(frame_paths(happy)) == 14 and all(p.is_file() for p in frame_paths(happy))
    sides = [a.side for a in aus_from_json(manifest.loc["S02/S02-05-001", "aus"])]
    assert sides == ["R", None]


def test_mmew_others_found_under_repression(tmp_path):
    mmew(tmp_path, MMEW_ROWS, layout="unpacked")
    manifest = _manifest("mmew", tmp_path, classes="all")
    others = manifest.loc["S03/S03-00-001"]
    assert others["status"] == "ok"
    assert others["frame_dir"].endswith("Micro_Expression/repression/S03-00-001")
