"""SMIC (no sheet, HS/VIS/NIR, padded and unpadded folders), CASME (I) (Sections A and B) and
CAS(ME)^3 part C (a fixture, and the real sheet from ../shared), each through `attrmer prepare`."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from attrmer.config import SplitConfig
from attrmer.datasets import DatasetError, get_adapter
from attrmer.datasets.base import read_sheet
from attrmer.datasets.prepare import build_manifest, cli
from attrmer.facs import aus_from_json
from attrmer.manifest import frame_paths, read_manifest, usable
from tests.fixtures.datasets.builders import (
    SMIC_HS_COUNTS,
    SMIC_HS_SUBJECTS,
    casme,
    casme3c,
    make_frames,
    smic,
    write_xlsx,
)

PART_C_SHEET = "annotations/casme3/partC/CAS(ME)3_part_C_ME.xlsx"


def _manifest(name, root, classes="paper"):
    return build_manifest(get_adapter(name, root), classes, SplitConfig())[0]


def _prepare(tmp_path, capsys, name, root, classes="paper"):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {"name": name, "root": str(root),
                                               "classes": classes}}))
    interim = tmp_path / "interim"
    assert cli(["--params", str(params), "--interim-dir", str(interim)]) == 0
    return read_manifest(interim / "manifest.csv"), capsys.readouterr().out


# -- SMIC ----------------------------------------------------------------------------------


def test_smic_hs_gives_its_164_clips_of_16_subjects(tmp_path, capsys):
    smic(tmp_path / "SMIC")
    manifest, summary = _prepare(tmp_path, capsys, "smic", tmp_path / "SMIC")
    assert len(manifest) == 164 and (manifest["status"] == "ok").all()
    assert manifest["class_name"].value_counts().to_dict() == SMIC_HS_COUNTS
    assert manifest["subject"].nunique() == 16
    assert set(manifest["subject"]) == {f"s{n:02d}" for n in SMIC_HS_SUBJECTS}
    assert (manifest["dataset"] == "smic").all() and (manifest["reason"] == "").all()
    first = manifest.iloc[0]
    assert first["key"] == "s01/s01_ne_01"
    # The folder as delivered, unpadded; onset and offset from its frames, apex the middle.
    assert first["frame_dir"] == (tmp_path / "SMIC/HS/s1/micro/negative/s1_ne_01").as_posix()
    assert (first["onset"], first["apex"], first["offset"]) == (3000, 3002, 3004)
    assert frame_paths(first)[0].name == "image3000.bmp"
    assert all(p.is_file() for p in frame_paths(first))
    assert "rows      164: ok 164, excluded 0, failed 0" in summary
    assert "(no coding sheet: one folder per clip)" in summary
    assert "flagged rows (0)" in summary


def test_smic_padded_and_unpadded_folders_give_the_same_keys(tmp_path):
    smic(tmp_path / "plain", counts={"negative": 3, "surprise": 2}, subjects=(1, 12))
    smic(tmp_path / "megc", counts={"negative": 3, "surprise": 2}, subjects=(1, 12),
         padded=True, frame_digits=7)
    plain, padded = _manifest("smic", tmp_path / "plain"), _manifest("smic", tmp_path / "megc")
    assert list(plain["key"]) == list(padded["key"]) == [
        "s01/s01_ne_01", "s01/s01_ne_02", "s01/s01_sur_01", "s12/s12_ne_01", "s12/s12_sur_01"]
    assert (padded["status"] == "ok").all()
    assert set(padded["frame_pattern"]) == {"image{:07d}.bmp"}
    assert frame_paths(padded.iloc[0])[0].name == "image0003000.bmp"


def test_smic_vis_and_nir_are_their_own_cameras(tmp_path):
    counts = {"negative": 2, "positive": 2, "surprise": 1}
    smic(tmp_path / "SMIC", modality="VIS", counts=counts, subjects=(1, 2))
    smic(tmp_path / "SMIC", modality="NIR", counts={"positive": 3}, subjects=(3, 4))
    vis = _manifest("smic_vis", tmp_path / "SMIC")
    nir = _manifest("smic_nir", tmp_path / "SMIC", classes="all")
    assert len(vis) == 5 and (vis["frame_dir"].str.contains("/VIS/")).all()
    assert len(nir) == 3 and set(nir["subject"]) == {"s03", "s04"}
    assert get_adapter("smic_vis", tmp_path).fps == 25.0 == get_adapter("smic_nir", tmp_path).fps
    assert get_adapter("smic", tmp_path).fps == 100.0
    with pytest.raises(DatasetError, match=r"no SMIC HS folder found \(expected HS/s<N>/micro"):
        get_adapter("smic", tmp_path / "SMIC").located  # noqa: B018


def test_smic_folder_problems_are_rows_with_reasons(tmp_path):
    smic(tmp_path, counts={"negative": 2, "positive": 2}, subjects=(1, 2))
    micro = tmp_path / "HS" / "s1" / "micro"
    (micro / "negative" / "s1_ne_02").mkdir()  # an empty clip folder
    make_frames(micro / "positive" / "s1_po_02", "image{}.bmp", 98, 101)  # 98..101: widths vary
    gap = micro / "positive" / "s1_po_01"
    next(p for p in sorted(gap.iterdir()) if p.name != "image3100.bmp").unlink()
    mixed = micro / "surprise" / "s1_sur_01"
    make_frames(mixed, "image{:04d}.bmp", 8, 9)
    make_frames(mixed, "image{}.bmp", 10, 11)
    make_frames(tmp_path / "HS" / "s2" / "micro" / "happy" / "s2_ha_01", "image{}.bmp", 1, 4)
    manifest = _manifest("smic", tmp_path).set_index("key")
    assert manifest.loc["s01/s01_ne_02", "status"] == "failed"
    assert manifest.loc["s01/s01_ne_02", "reason"].startswith(
        "no image<frame>.bmp files in ") and ";" not in manifest.loc["s01/s01_ne_02", "reason"]
    assert manifest.loc["s01/s01_po_02", "status"] == "ok"
    assert manifest.loc["s01/s01_po_02", "frame_pattern"] == "image{}.bmp"
    assert manifest.loc["s01/s01_po_01", "reason"].startswith("frames missing: 1 in ")
    assert manifest.loc["s01/s01_sur_01", "reason"] == (
        "frame numbers mix zero-padded and unpadded names (image0008.bmp, image0009.bmp, ...)")
    # An emotion folder outside SMIC's three is kept, and excluded by the class set.
    assert manifest.loc["s02/s02_ha_01", "status"] == "excluded"
    assert manifest.loc["s02/s02_ha_01", "emotion"] == "happy"
    ok = manifest[manifest["status"] == "ok"]
    assert len(ok) == 4 and (ok["apex"] == (ok["onset"] + ok["offset"]) // 2).all()


# -- CASME (I) -----------------------------------------------------------------------------

CASME_ROWS = [
    # subject, filename, onset, apex1, apex2, offset, AU, emotion
    [1, "EP01_5", 46, 51, None, 54, "4+7", "disgust"],
    [1, "EP03_2", 10, 14, 16, 22, "1+2", "surprise"],
    [3, "EP02_1", 20, "/", None, 28, "14", "repression"],       # apex "/" -> middle
    [3, "EP05_6", 30, 33, None, 36, "L12", "amusement"],        # outside the paper's four
    [9, "EP07_1", 46, 50, None, 58, "4", "tense"],              # three-digit frame numbers
    [12, "EP08_2", 5, 8, None, 400, "12", "tense"],             # 6.6 s at 60 fps
]


@pytest.mark.parametrize("layout", ["raw", "cropped"])
def test_casme_both_sections_and_both_frame_layouts(tmp_path, capsys, layout):
    casme(tmp_path / "CASME", CASME_ROWS, frames=layout, padded_subjects=(9,), sections=True)
    manifest, summary = _prepare(tmp_path, capsys, "casme", tmp_path / "CASME")
    manifest = manifest.set_index("key")
    assert "rows      6: ok 4, excluded 1, failed 1" in summary
    assert "excluded emotions: amusement 1" in summary
    assert list(manifest["status"]) == ["ok", "ok", "ok", "excluded", "ok", "failed"]
    assert manifest.loc["sub03/EP02_1", "reason"] == (
        "apex '/' -> middle of onset..offset (24)")
    assert manifest.loc["sub12/EP08_2", "reason"].startswith(
        "clip too long: 396 frames (6.6 s at 60 fps)")
    prefix = "" if layout == "raw" else "reg_"
    assert manifest.loc["sub01/EP01_5", "frame_pattern"] == f"{prefix}EP01_5-{{}}.jpg"
    assert manifest.loc["sub09/EP07_1", "frame_pattern"] == f"{prefix}EP07_1-{{:03d}}.jpg"
    assert frame_paths(manifest.loc["sub09/EP07_1"])[0].name == f"{prefix}EP07_1-046.jpg"
    assert "/Section B/sub09/EP07_1" in manifest.loc["sub09/EP07_1", "frame_dir"]
    # The paper's four classes: disgust, repression, surprise, tense.
    assert manifest.loc[manifest["status"] == "ok", "label"].tolist() == [0, 2, 1, 3]


def test_casme_sheet_with_casme2s_au_column_name(tmp_path):
    sheet = casme(tmp_path, CASME_ROWS[:2], sheet_name="CASME-coding-20130412.xlsx")
    grid = pd.read_excel(sheet, header=None)
    grid.iloc[0, 8] = "Action Units"
    grid.to_excel(sheet, header=False, index=False)
    manifest = _manifest("casme", tmp_path)
    assert list(manifest["action_units"]) == ["4+7", "1+2"]
    assert (manifest["status"] == "ok").all() and get_adapter("casme", tmp_path).fps == 60.0


def test_casme_sheet_with_both_au_column_names_reads_its_own(tmp_path):
    sheet = casme(tmp_path, CASME_ROWS[:2], sheet_name="CASME-coding-20130412.xlsx")
    grid = pd.read_excel(sheet, header=None)
    grid[grid.shape[1]] = ["Action Units", "9", "10"]
    grid.to_excel(sheet, header=False, index=False)
    manifest = _manifest("casme", tmp_path)
    assert list(manifest["action_units"]) == ["4+7", "1+2"]
    assert (manifest["status"] == "ok").all()


def test_two_aliases_of_one_column_are_an_error(tmp_path):
    sheet = write_xlsx(tmp_path / "coding.xlsx",
                       [["Subject", "Action Units", "AUs"], [1, "4", "4+7"]])
    with pytest.raises(DatasetError) as error:
        read_sheet(sheet, worksheet=None, header_row=0, required=("Subject", "AU"),
                   aliases={"AU": ("Action Units", "AUs")})
    assert str(error.value) == (f"{sheet}: columns Action Units, AUs are all AU under other "
                                "names; keep one, or name the one to read AU")


# -- CAS(ME)^3 part C ----------------------------------------------------------------------

PART_C_ROWS = [
    [1, 1, 373, 385, "R4,5", "negative"],
    [1, 2, 6450, 6464, "R2,7", "surprise"],
    [1, 3, 7108, 7121, "2,24", "others"],
    [4, 5, 4150, 4163, "14,L24,", "negative"],      # a trailing comma
    [5, 1, 2000, 2010, "4\uff0c11", "positive"],      # the sheet's one full-width comma
    [6, 1, 900, 1200, "13?", "negative"],             # 10 s at 30 fps
]


def test_casme3_part_c_fixture(tmp_path, capsys):
    casme3c(tmp_path, PART_C_ROWS)
    manifest, summary = _prepare(tmp_path, capsys, "casme3c", tmp_path)
    manifest = manifest.set_index("key")
    assert list(manifest.index) == ["01/1", "01/2", "01/3", "04/5", "05/1", "06/1"]
    assert list(manifest["status"]) == ["ok"] * 5 + ["failed"]
    assert manifest.loc["01/1", "frame_dir"] == (tmp_path / "part_C/01/a/color").as_posix()
    assert manifest.loc["01/1", "apex"] == (373 + 385) // 2
    assert manifest.loc["01/1", "reason"] == ""
    assert [(a.number, a.side) for a in aus_from_json(manifest.loc["04/5", "aus"])] == [
        (14, None), (24, "L")]
    assert [a.number for a in aus_from_json(manifest.loc["05/1", "aus"])] == [4, 11]
    assert manifest.loc["06/1", "reason"].startswith("clip too long: 301 frames (10.0 s")
    # Classes: negative, positive, surprise, others.
    assert manifest.loc[["01/1", "01/2", "01/3", "05/1"], "label"].tolist() == [0, 2, 3, 1]
    assert "rows      6: ok 5, excluded 0, failed 1" in summary


def test_casme3_part_c_sub_that_is_not_a_number(tmp_path):
    rows = [[1, 1, 373, 385, "4", "negative"], [2, 1, 400, 410, "4", "positive"],
            ["two", 2, 500, 510, "4", "surprise"]]
    casme3c(tmp_path, rows[:2])
    casme3c(tmp_path, rows, frames=False)  # the sheet with the bad row, frames of the others
    manifest = _manifest("casme3c", tmp_path).set_index("key")
    assert list(manifest["status"]) == ["ok", "ok", "failed"]
    assert manifest.loc["two/2", "reason"] == (
        "sheet row 4: sub 'two' is not a number (part C numbers its subjects: 1 -> frame "
        "folder 01); correct the cell")


@pytest.mark.shared
def test_real_part_c_sheet_accounts_for_all_165_rows(shared_data):
    sheet = shared_data / PART_C_SHEET
    if not sheet.is_file():
        pytest.skip(f"{sheet} is absent")
    # data.root is the folder: of its two sheets, only the micro-expression one matches.
    adapter = get_adapter("casme3c", sheet.parent)
    assert adapter.located.sheet == sheet
    assert adapter.located.frames_root is None  # metadata only: no video in ../shared
    manifest, _ = build_manifest(adapter, "paper", SplitConfig())
    assert len(manifest) == 165 and manifest["key"].is_unique
    assert manifest["subject"].nunique() == 30 and "22" not in set(manifest["subject"])
    assert manifest["emotion"].value_counts().to_dict() == {
        "negative": 99, "surprise": 30, "others": 20, "positive": 16}
    # Every row is a clean annotation (4 to 35 frames) whose frames are not here.
    assert (manifest["status"] == "failed").all()
    assert manifest["reason"].str.fullmatch(r"frames missing: folder .*/a/color not found").all()
    assert ((manifest["offset"] - manifest["onset"] + 1).between(4, 35)).all()
    # Every AU cell parses to FACS action units, the full-width comma and "13?" included.
    parsed = manifest["aus"].map(aus_from_json)
    assert parsed.map(lambda aus: bool(aus) and all(a.usable for a in aus)).all()
    flags = {a.flag for aus in parsed for a in aus}
    assert flags == {"", "uncertain"}
    megc, _ = build_manifest(adapter, "megc2019", SplitConfig())
    assert (megc["status"] == "excluded").sum() == 20
    assert usable(megc).empty
