"""parse_action_units: every AU form the four datasets' sheets use (CASME II, MMEW, SAMM,
CAS(ME)^3)."""

from __future__ import annotations

import math

import pytest

from attrmer.facs import ActionUnit, aus_from_json, aus_to_json, parse_action_units


def _au(number, side=None, intensity=None, raw="", flag=""):
    return ActionUnit(number=number, side=side, intensity=intensity, raw=raw, flag=flag)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("12", [_au(12, raw="12")]),
        (12, [_au(12, raw="12")]),
        (12.0, [_au(12, raw="12")]),
        ("4+7", [_au(4, raw="4"), _au(7, raw="7")]),
        ("R12", [_au(12, "R", raw="R12")]),
        ("L14", [_au(14, "L", raw="L14")]),
        ("12L", [_au(12, "L", raw="12L")]),
        ("4R+7", [_au(4, "R", raw="4R"), _au(7, raw="7")]),
        ("R4+R10", [_au(4, "R", raw="R4"), _au(10, "R", raw="R10")]),
        ("7C", [_au(7, intensity="C", raw="7C")]),
        # B after the number is the intensity "slight", not a side.
        ("5B+24", [_au(5, intensity="B", raw="5B"), _au(24, raw="24")]),
        ("L2C+12", [_au(2, "L", "C", raw="L2C"), _au(12, raw="12")]),
        ("ref(L10)+A12B", [
            _au(10, "L", raw="ref(L10)", flag="reference"),
            _au(12, intensity="B", raw="A12B", flag="unknown-prefix"),
        ]),
        ("14+25+26", [_au(14, raw="14"), _au(25, raw="25"), _au(26, raw="26")]),
        ("1+2+5+7", [_au(1, raw="1"), _au(2, raw="2"), _au(5, raw="5"), _au(7, raw="7")]),
        # CAS(ME)^3: T (top lip) and B as a prefix are sides.
        ("T28+14", [_au(28, "T", raw="T28"), _au(14, raw="14")]),
        ("B23", [_au(23, "B", raw="B23")]),
        ("12LC", [_au(12, "L", "C", raw="12LC")]),
        (" 4 + R12 ", [_au(4, raw="4"), _au(12, "R", raw="R12")]),
        ("au12", [_au(12, raw="au12")]),
        ("?", [_au(None, raw="?", flag="uncertain")]),
        ("12?", [_au(12, raw="12?", flag="uncertain")]),
        ("3", [_au(3, raw="3", flag="unknown-au")]),
        ("4+40", [_au(4, raw="4"), _au(40, raw="40", flag="unknown-au")]),
        ("xyz+12", [_au(None, raw="xyz", flag="unparsed"), _au(12, raw="12")]),
        ("12BB", [_au(None, raw="12BB", flag="unparsed")]),
        (12.5, [_au(None, raw="12.5", flag="unparsed")]),
    ],
)
def test_forms(cell, expected):
    assert parse_action_units(cell) == expected


@pytest.mark.parametrize("cell", [None, math.nan, float("nan"), "", "   ", "/", " / "])
def test_blank_cells_have_no_action_units(cell):
    assert parse_action_units(cell) == []


def test_unreadable_tokens_are_kept_in_order():
    parsed = parse_action_units("4+??x+R12")
    assert [a.raw for a in parsed] == ["4", "??x", "R12"]
    assert parsed[1].number is None and parsed[1].flag == "unparsed"


def test_flagged_tokens_with_a_facs_name_stay_usable():
    clean, reference, unknown = parse_action_units("12+ref(4)+3")
    assert clean.usable
    assert reference.usable and (reference.number, reference.flag) == (4, "reference")
    assert not unknown.usable


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        # (number, side, intensity, flag) of each token, as SAMM's coders write them.
        ("ref(L10)+A12B", [(10, "L", None, "reference"), (12, None, "B", "unknown-prefix")]),
        ("12?", [(12, None, None, "uncertain")]),
        ("R14A", [(14, "R", "A", "")]),
        # CAS(ME)^3 part C separates with commas, once with a full-width one.
        ("4\uff0c11", [(4, None, None, ""), (11, None, None, "")]),
        ("14,L24,", [(14, None, None, ""), (24, "L", None, "")]),
    ],
)
def test_flagged_cells_keep_the_au_number(cell, expected):
    parsed = parse_action_units(cell)
    assert [(a.number, a.side, a.intensity, a.flag) for a in parsed] == expected
    assert all(a.usable for a in parsed)


def test_parsed_units_survive_json():
    parsed = parse_action_units("ref(L10)+A12B+5B+24+?")
    assert aus_from_json(aus_to_json(parsed)) == parsed
