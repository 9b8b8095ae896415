"""Malformed or misplaced sheets fail with an error naming the file and the problem."""

from __future__ import annotations

import pytest

from attrmer.config import SplitConfig
from attrmer.datasets import DatasetError, get_adapter
from attrmer.datasets.prepare import build_manifest
from tests.fixtures.datasets.builders import (
    CASME2_HEADER,
    MMEW_HEADER,
    casme3,
    samm,
    write_casme2,
    write_xlsx,
)


def _read(name, root):
    return build_manifest(get_adapter(name, root), "paper", SplitConfig())[0]


def test_missing_column(tmp_path):
    header = [c for c in CASME2_HEADER if c != "Estimated Emotion"]
    sheet = write_xlsx(tmp_path / "CASME2-coding-20140508.xlsx",
                       [header, [1, "EP02_01f", None, 46, 59, 86, None, "12"]])
    with pytest.raises(DatasetError) as error:
        _read("casme2", tmp_path)
    message = str(error.value)
    assert str(sheet) in message
    assert "missing columns Estimated Emotion" in message
    assert "found Subject, Filename, OnsetFrame" in message


def test_wrong_header_row_samm(tmp_path):
    # The notes above SAMM's header were stripped: the header sits on row 1, not 14.
    sheet = samm(tmp_path, [[6, "006_1_2", "1", 10, 12, 14, 5, "Micro", "12", "Anger", "I", ""]],
                 header_row=1)
    with pytest.raises(DatasetError) as error:
        _read("samm", tmp_path)
    assert str(sheet) in str(error.value)
    assert "wrong header row" in str(error.value)
    assert "row 14" in str(error.value) and "row 1;" in str(error.value)


def test_wrong_header_row_casme2(tmp_path):
    write_xlsx(tmp_path / "CASME2-coding-20140508.xlsx",
               [["CASME II coding"], CASME2_HEADER,
                [1, "EP02_01f", None, 46, 59, 86, None, "12", "happiness"]])
    with pytest.raises(DatasetError, match=r"header on row 1, this file has it on row 2"):
        _read("casme2", tmp_path)


def test_unreadable_file(tmp_path):
    sheet = tmp_path / "MMEW_Micro_Exp.xlsx"
    sheet.write_bytes(b"this is not a spreadsheet\x00\x01")
    with pytest.raises(DatasetError) as error:
        _read("mmew", tmp_path)
    assert str(sheet) in str(error.value)
    assert "cannot read it as a spreadsheet" in str(error.value)


def test_header_without_rows(tmp_path):
    write_xlsx(tmp_path / "MMEW_Micro_Exp.xlsx", [MMEW_HEADER])
    with pytest.raises(DatasetError, match="header but no annotated rows"):
        _read("mmew", tmp_path)


def test_no_sheet_lists_what_was_found(tmp_path):
    write_xlsx(tmp_path / "notes.xlsx", [["x"]])
    with pytest.raises(DatasetError) as error:
        _read("samm", tmp_path)
    message = str(error.value)
    assert "no samm annotation sheet found" in message
    assert "SAMM_Micro_FACS_Codes*.xlsx" in message and "found notes.xlsx" in message


def test_missing_root(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        _read("casme2", tmp_path / "absent")


def test_missing_worksheet(tmp_path):
    path = casme3(tmp_path, [["spNO.1", "a", 1, 2, 3, "5", "II", "others"]], frames=False)
    write_xlsx(path, [["Subject"]], title="labels")
    with pytest.raises(DatasetError, match=r"no worksheet 'label' \(found: labels\)"):
        _read("casme3", tmp_path)


def test_unknown_class_names(tmp_path):
    write_casme2(tmp_path, [
        {"Subject": 1, "Filename": "EP01", "OnsetFrame": 1, "ApexFrame": 2, "OffsetFrame": 3,
         "Action Units": "12", "Estimated Emotion": "happiness"},
    ])
    adapter = get_adapter("casme2", tmp_path)
    with pytest.raises(DatasetError, match=r"data.classes: joy not found in the casme2 sheet"):
        build_manifest(adapter, ["happiness", "joy"], SplitConfig())
    with pytest.raises(DatasetError, match=r"no class set 'tiny' for casme2"):
        build_manifest(adapter, "tiny", SplitConfig())


def test_unknown_dataset(tmp_path):
    with pytest.raises(DatasetError, match="unknown dataset '4dme'"):
        get_adapter("4dme", tmp_path)
