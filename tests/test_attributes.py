"""AU sentences: wording, order, flags, text ids, and the `attributes` stage end to end."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from attrmer.attributes import (
    ATTRIBUTE_COLUMNS,
    NO_AU_FLAG,
    NO_AU_SENTENCE,
    build_attributes,
    read_attributes,
    sentence_for,
)
from attrmer.config import AttributesConfig
from attrmer.facs import ActionUnit, aus_to_json, parse_action_units
from attrmer.manifest import COLUMNS, ManifestError, write_manifest
from stages import attributes as attributes_stage


def au(number: int | None, side: str | None = None, intensity: str | None = None,
       raw: str = "", flag: str = "") -> ActionUnit:
    return ActionUnit(number=number, side=side, intensity=intensity, raw=raw or str(number),
                      flag=flag)


def test_names_come_from_facs() -> None:
    assert sentence_for([au(1), au(12)]) == ("inner brow raiser, lip corner puller", "")


def test_side_words_for_left_and_right_only() -> None:
    assert sentence_for([au(12, "L", raw="L12")]) == ("left lip corner puller", "")
    assert sentence_for([au(14, "R", raw="R14")]) == ("right dimpler", "")
    # Bilateral and unilateral-of-unknown-side carry no side word.
    assert sentence_for([au(12, "B")])[0] == "lip corner puller"
    assert sentence_for([au(12, "U")])[0] == "lip corner puller"


def test_order_is_by_au_number_not_as_written() -> None:
    forward = sentence_for([au(4), au(7)])
    backward = sentence_for([au(7), au(4)])
    assert forward == backward == ("brow lowerer, lid tightener", "")
    assert sentence_for([au(12, "R"), au(12, "L"), au(2)])[0] == (
        "outer brow raiser, left lip corner puller, right lip corner puller")


def test_duplicates_collapse() -> None:
    assert sentence_for([au(12), au(12), au(6)])[0] == "cheek raiser, lip corner puller"
    # Without intensity words, 12B and 12C say the same thing.
    assert sentence_for([au(12, intensity="B"), au(12, intensity="C")])[0] == "lip corner puller"


def test_intensity_words_are_optional() -> None:
    aus = [au(12, "R", "B", raw="R12B"), au(4, intensity="E", raw="4E"), au(7, raw="7")]
    assert sentence_for(aus)[0] == "brow lowerer, lid tightener, right lip corner puller"
    assert sentence_for(aus, intensity_words=True)[0] == (
        "maximum brow lowerer, lid tightener, slight right lip corner puller")


def test_unusable_tokens_are_skipped_and_flagged() -> None:
    aus = [au(None, raw="?", flag="unparsed"), au(10, "L", raw="ref(L10)", flag="reference"),
           au(12), au(3, raw="3")]
    sentence, flag = sentence_for(aus)
    # ref(L10) names AU10 on the left: flagged, but its phrase stays.
    assert sentence == "left upper lip raiser, lip corner puller"
    assert flag == "unparsed:?; reference:ref(L10); unknown-au:3"


@pytest.mark.parametrize(
    ("cell", "sentence", "flag"),
    [
        # SAMM's cells as its sheet writes them.
        ("ref(L10)+A12B", "left upper lip raiser, slight lip corner puller",
         "reference:ref(L10); unknown-prefix:A12B"),
        ("12?", "lip corner puller", "uncertain:12?"),
        ("7C", "marked lid tightener", ""),
        ("5B+24", "slight upper lid raiser, lip pressor", ""),
        ("L2C+12", "marked left outer brow raiser, lip corner puller", ""),
        ("14+25+26", "dimpler, lips part, jaw drop", ""),
        ("ref(4)+3", "brow lowerer", "reference:ref(4); unknown-au:3"),
        ("?", NO_AU_SENTENCE, f"uncertain:?; {NO_AU_FLAG}"),
    ],
)
def test_flagged_samm_cells_keep_their_action_units(cell, sentence, flag) -> None:
    assert sentence_for(parse_action_units(cell), intensity_words=True) == (sentence, flag)


def test_a_flagged_cell_no_longer_shares_the_no_au_sentence() -> None:
    """`ref(L10)+A12B` used to read "no action unit coded", the sentence of every uncoded clip,
    so the contrastive loss pushed unrelated clips apart as if they were one text."""
    flagged, _ = sentence_for(parse_action_units("ref(L10)+A12B"))
    uncoded, _ = sentence_for(parse_action_units("/"))
    assert flagged != uncoded == NO_AU_SENTENCE


def test_no_usable_au_gets_a_defined_sentence_and_a_flag() -> None:
    assert sentence_for([]) == (NO_AU_SENTENCE, NO_AU_FLAG)
    sentence, flag = sentence_for([au(None, raw="/", flag="unparsed")])
    assert sentence == NO_AU_SENTENCE
    assert flag == f"unparsed:/; {NO_AU_FLAG}"


# --- the table and the stage --------------------------------------------------------------


def _manifest(rows: list[tuple[str, list[ActionUnit], str]]) -> pd.DataFrame:
    records = []
    for key, aus, status in rows:
        subject, clip = key.split("/")
        records.append({
            "key": key, "dataset": "synthetic", "subject": subject, "clip": clip,
            "frame_dir": f"frames/{key}", "frame_pattern": "img{}.jpg", "onset": 1, "apex": 5,
            "offset": 9, "action_units": "+".join(a.raw for a in aus), "aus": aus_to_json(aus),
            "emotion": "happiness", "label": 0, "class_name": "happiness", "split": "train",
            "status": status,
            "reason": "" if status == "ok" else "not in the class set",
        })
    return pd.DataFrame(records, columns=COLUMNS)


MANIFEST_ROWS = [
    ("s01/a", [au(12), au(6)], "ok"),
    ("s01/b", [au(4), au(7, raw="7C", intensity="C")], "ok"),
    ("s02/a", [au(6), au(12), au(12, "L", raw="12L")], "ok"),
    ("s02/b", [], "ok"),
    ("s03/a", [au(7), au(4)], "ok"),
    ("s03/b", [au(9)], "excluded"),
]


def test_build_attributes_numbers_sorted_distinct_sentences() -> None:
    table = build_attributes(_manifest(MANIFEST_ROWS), AttributesConfig())
    assert list(table.columns) == ATTRIBUTE_COLUMNS
    assert list(table["key"]) == ["s01/a", "s01/b", "s02/a", "s02/b", "s03/a"]  # ok rows only
    sentences = dict(zip(table["key"], table["sentence"], strict=True))
    assert sentences["s01/b"] == sentences["s03/a"] == "brow lowerer, lid tightener"
    distinct = sorted(set(table["sentence"]))
    assert list(table["text_id"]) == [distinct.index(s) for s in table["sentence"]]
    assert table.set_index("key").loc["s01/b", "text_id"] == (
        table.set_index("key").loc["s03/a", "text_id"])
    assert table.set_index("key").loc["s02/b", "flag"] == NO_AU_FLAG


def test_build_attributes_does_not_depend_on_row_order() -> None:
    cfg = AttributesConfig(intensity_words=True)
    table = build_attributes(_manifest(MANIFEST_ROWS), cfg).set_index("key")
    shuffled = build_attributes(_manifest(MANIFEST_ROWS[::-1]), cfg).set_index("key")
    pd.testing.assert_frame_equal(table, shuffled.loc[table.index])
    assert table.loc["s01/b", "sentence"] == "brow lowerer, marked lid tightener"


def test_bad_manifest_rows_are_named() -> None:
    manifest = _manifest(MANIFEST_ROWS)
    manifest.loc[2, "aus"] = "{not json"
    with pytest.raises(ManifestError, match="s02/a"):
        build_attributes(manifest, AttributesConfig())
    nothing_ok = _manifest([("s09/a", [au(12)], "failed")])
    with pytest.raises(ManifestError, match="no clip with status ok"):
        build_attributes(nothing_ok, AttributesConfig())


def test_stage_writes_attributes_csv(tmp_path: Path) -> None:
    manifest_path = tmp_path / "data" / "interim" / "manifest.csv"
    write_manifest(_manifest(MANIFEST_ROWS), manifest_path)
    params = tmp_path / "params.yaml"
    params.write_text("attributes:\n  intensity_words: true\n")
    out = tmp_path / "data" / "processed" / "attributes.csv"
    argv = ["--params", str(params), "--manifest", str(manifest_path), "--out", str(out)]
    assert attributes_stage.main(argv) == 0
    written = read_attributes(out)
    assert len(written) == 5
    assert written.loc[0, "sentence"] == "cheek raiser, lip corner puller"
    assert written.loc[0, "flag"] == ""  # read back as empty, not NaN
    assert written["text_id"].dtype.kind == "i"
    assert sorted(p.name for p in out.parent.iterdir()) == ["attributes.csv"]  # no temp left
    # A second run rewrites the file whole and identically.
    first = out.read_bytes()
    assert attributes_stage.main(argv) == 0
    assert out.read_bytes() == first
