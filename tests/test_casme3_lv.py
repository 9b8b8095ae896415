"""CAS(ME)^3 part A long videos: a fixture sheet with frames, and the real sheet from ../shared."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from attrmer.datasets import ADAPTERS, DatasetError
from attrmer.datasets.casme3_lv import (
    BLINK_COLUMNS,
    EXPRESSION_COLUMNS,
    INTERVAL_COLUMNS,
    VIDEO_COLUMNS,
    blinks,
    ground_truth,
    read_long_videos,
    write_index,
)
from attrmer.spot.intervals import Interval
from tests.fixtures.datasets.builders import make_frames

REAL_SHEET = "annotations/casme3/partA/CAS(ME)3_part_A_v2.xls"

EXPRESSIONS = [
    ["spNO.1", "a", 5, 8, 12, "12", "Micro-expression", "I"],           # row 2
    ["spNO.1", "a", 20, 25, 38, "4+10", "Macro-expression", "III"],     # row 3
    ["spNO.1", "a", 30, 35, 45, "4", "Macro-expression", "III"],        # row 4: past frame 40
    ["spNO.2", "J", 3, 5, 9, "R12", "Micro-expression", "I"],           # row 5: folder j
    ["spNO.40", "e", 1812, 1824, 0, "18", "Micro-expression", "VII"],   # row 6: offset 0
    ["spNO.216", "d", 3647, 2668, 2694, "38", "Micro-expression", "VII"],  # row 7
    ["spNO.3", "b", 5, 5, 3460, "17+4", "Micro-expression", "VII"],     # row 8: too long
    ["spNO.3", "b", 10, 30, 20, "14", "Macro-expression", "VII"],       # row 9: apex after offset
    ["spNO.3", "b", "/", 4, 9, "14", "Macro-expression", "VII"],        # row 10
    ["spNO.3", "b", 2, 3, 6, "14", "Expression", "VII"],                # row 11: unknown type
    ["", "a", 1, 2, 3, "14", "Micro-expression", "VII"],                # row 12: no subject
    ["spNO.5", "c", 1, 2, 3, "1", "Micro-expression", "V"],             # row 13: frames 4, 5 gone
]
BLINKS = [
    ["spNO.1", "a", 14, 18],   # row 2
    ["spNO.1", "a", 38, 52],   # row 3: past frame 40
    ["spNO.6", "k", 1, 4],     # row 4: a video only the blink sheet names
]


def write_sheet(path: Path, expressions: list[list], blink_rows: list[list], *,
                worksheets: tuple[str, str] = ("AU+Emotion", "eye blink"),
                expression_header: tuple[str, ...] = EXPRESSION_COLUMNS) -> Path:
    """The part A long-video sheet as an .xlsx: the two worksheets, header on row 1."""
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    first = book.active
    first.title = worksheets[0]
    for row in [list(expression_header), *expressions]:
        first.append(row)
    second = book.create_sheet(worksheets[1])
    for row in [list(BLINK_COLUMNS), *blink_rows]:
        second.append(row)
    book.save(path)
    return path


@pytest.fixture
def delivery(tmp_path: Path) -> Path:
    """The sheet under annotations/, real tiny JPEGs under data/<Subject>/<Filename>/color."""
    write_sheet(tmp_path / "annotations" / "CAS(ME)3_part_A_v2.xlsx", EXPRESSIONS, BLINKS)
    frames = tmp_path / "data"
    make_frames(frames / "spNO.1/a/color", "{}.jpg", 1, 40, real=True)
    (frames / "spNO.1/a/depth").mkdir()
    (frames / "spNO.1/a/color/Thumbs.db").touch()  # not a frame
    make_frames(frames / "spNO.2/j/color", "{}.jpg", 1, 12, real=True)
    make_frames(frames / "spNO.3/b/color", "{}.jpg", 1, 50)
    make_frames(frames / "spNO.5/c/color", "{}.jpg", 1, 10)
    for number in (4, 5):
        (frames / f"spNO.5/c/color/{number}.jpg").unlink()
    return tmp_path


def test_videos_and_their_frames(delivery: Path):
    index = read_long_videos(delivery)
    assert index.sheet == delivery / "annotations" / "CAS(ME)3_part_A_v2.xlsx"
    assert index.frames_root == delivery / "data"
    videos = index.videos.set_index("key")
    assert list(index.videos.columns) == VIDEO_COLUMNS
    assert list(videos.index) == [
        "spNO.1/a", "spNO.2/J", "spNO.40/e", "spNO.216/d", "spNO.3/b", "spNO.5/c", "spNO.6/k"]
    assert videos.loc["spNO.1/a", ["status", "first_frame", "last_frame"]].tolist() == [
        "ok", 1, 40]
    assert videos.loc["spNO.1/a", "frame_dir"] == (delivery / "data/spNO.1/a/color").as_posix()
    assert videos.loc["spNO.1/a", "frame_pattern"] == "{}.jpg"
    assert videos.loc["spNO.1/a", "fps"] == 30.0
    assert videos.loc["spNO.2/J", "status"] == "ok"
    assert videos.loc["spNO.2/J", "frame_dir"].endswith("data/spNO.2/j/color")
    assert "matched ignoring case" in videos.loc["spNO.2/J", "reason"]
    assert videos.loc["spNO.3/b", ["status", "first_frame", "last_frame"]].tolist() == [
        "ok", 1, 50]
    assert videos.loc["spNO.5/c", "status"] == "failed"
    assert videos.loc["spNO.5/c", "reason"] == (
        f"frames missing: 2 of 1..10 in {(delivery / 'data/spNO.5/c/color').as_posix()} "
        "(4.jpg, 5.jpg)")
    for key in ("spNO.40/e", "spNO.216/d", "spNO.6/k"):
        assert videos.loc[key, "status"] == "failed"
        assert videos.loc[key, "reason"] == (
            f"frames missing: folder {videos.loc[key, 'frame_dir']} not found")
        assert pd.isna(videos.loc[key, "first_frame"]) and pd.isna(videos.loc[key, "last_frame"])


def test_every_sheet_row_is_kept_with_its_status(delivery: Path):
    intervals = read_long_videos(delivery).intervals
    assert list(intervals.columns) == INTERVAL_COLUMNS
    assert len(intervals) == len(EXPRESSIONS) + len(BLINKS)
    rows = intervals.set_index(["sheet", "sheet_row"])
    expressions = rows.loc["AU+Emotion"]
    assert list(expressions.index) == list(range(2, 2 + len(EXPRESSIONS)))
    reasons = expressions["reason"].to_dict()
    assert expressions.loc[[2, 3, 5], "status"].tolist() == ["ok"] * 3
    assert expressions.loc[2, ["video_key", "onset", "apex", "offset", "kind"]].tolist() == [
        "spNO.1/a", 5, 8, 12, "micro"]
    assert expressions.loc[3, ["kind", "action_units", "objective_class"]].tolist() == [
        "macro", "4+10", "III"]
    assert reasons[4] == "beyond the frames on disk: 30..45 not within 1..40"
    assert reasons[6] == "offset 0 (not annotated)"
    assert reasons[7] == (
        "offset before onset: offset 2694, onset 3647; apex 2668 before onset 3647")
    assert reasons[8] == "interval too long: 3456 frames (115.2 s at 30 fps), over 700"
    assert reasons[9] == "apex 30 after offset 20"
    assert reasons[10] == "not a frame number: onset '/'"
    assert pd.isna(expressions.loc[10, "onset"])
    assert reasons[11] == (
        "unknown expression type 'Expression' (expected Macro-expression or Micro-expression)")
    assert expressions.loc[11, "kind"] == ""
    assert reasons[12] == "no subject"
    assert expressions.loc[12, "video_key"] == ""
    # Its video failed for missing frames; the annotation itself is fine.
    assert expressions.loc[13, "status"] == "ok"
    failed = {4, 6, 7, 8, 9, 10, 11, 12}
    assert set(expressions.index[expressions["status"] == "failed"]) == failed

    blink_rows = rows.loc["eye blink"]
    assert blink_rows["kind"].tolist() == ["blink"] * 3
    assert blink_rows["apex"].isna().all()
    assert blink_rows["status"].tolist() == ["ok", "failed", "ok"]
    assert blink_rows.loc[3, "reason"] == "beyond the frames on disk: 38..52 not within 1..40"


def test_ground_truth_and_blinks(delivery: Path):
    index = read_long_videos(delivery)
    truth = ground_truth(index)
    # Videos with frames only; one whose every row failed (spNO.3/b) still counts, empty.
    assert truth == {
        "spNO.1/a": [Interval(5, 8, 12, "micro"), Interval(20, 25, 38, "macro")],
        "spNO.2/J": [Interval(3, 5, 9, "micro")],
        "spNO.3/b": [],
    }
    with_failed = ground_truth(index, include_failed_videos=True)
    assert list(with_failed) == list(index.videos["key"])
    assert with_failed["spNO.5/c"] == [Interval(1, 2, 3, "micro")]
    assert with_failed["spNO.40/e"] == []
    assert blinks(index) == {"spNO.1/a": [(14, 18)], "spNO.2/J": [], "spNO.3/b": []}
    assert blinks(index, include_failed_videos=True)["spNO.6/k"] == [(1, 4)]


def test_tables_are_written_atomically_as_csv(delivery: Path, tmp_path: Path):
    index = read_long_videos(delivery)
    out = tmp_path / "interim" / "long_videos"
    paths = write_index(index, out)
    assert paths == {"videos": out / "videos.csv", "intervals": out / "intervals.csv"}
    assert sorted(p.name for p in out.iterdir()) == ["intervals.csv", "videos.csv"]
    videos = pd.read_csv(paths["videos"], keep_default_na=False, dtype=str)
    assert list(videos.columns) == VIDEO_COLUMNS and len(videos) == 7
    assert videos.set_index("key").loc["spNO.6/k", "first_frame"] == ""
    intervals = pd.read_csv(paths["intervals"], keep_default_na=False, dtype=str)
    assert list(intervals.columns) == INTERVAL_COLUMNS and len(intervals) == 15
    assert intervals.loc[0, ["onset", "apex", "offset"]].tolist() == ["5", "8", "12"]
    assert intervals.loc[len(EXPRESSIONS), "apex"] == ""
    # Written whole again over the previous files.
    write_index(index, out)
    assert sorted(p.name for p in out.iterdir()) == ["intervals.csv", "videos.csv"]


def test_sheet_file_as_root_without_frames(tmp_path: Path):
    sheet = write_sheet(tmp_path / "CAS(ME)3_part_A_v2.xlsx", EXPRESSIONS[:2], BLINKS[:1])
    index = read_long_videos(sheet)
    assert index.sheet == sheet and index.frames_root is None
    assert index.videos["status"].tolist() == ["failed"]
    assert index.videos.loc[0, "frame_dir"] == (tmp_path / "spNO.1/a/color").as_posix()
    assert ground_truth(index) == {}


def test_delivery_problems_are_one_line_errors(tmp_path: Path):
    with pytest.raises(DatasetError, match=r"no casme3_lv annotation sheet found .*"
                                           r"cas\(me\)3_part_a_v\*\.xls"):
        read_long_videos(tmp_path)
    sheet = write_sheet(tmp_path / "a" / "CAS(ME)3_part_A_v2.xlsx", EXPRESSIONS[:1], [],
                        worksheets=("AU+Emotion", "blinks"))
    with pytest.raises(DatasetError, match=r"CAS\(ME\)3_part_A_v2\.xlsx: no worksheet "
                                           r"'eye blink' \(found: AU\+Emotion, blinks\)"):
        read_long_videos(sheet)
    sheet = write_sheet(tmp_path / "b" / "CAS(ME)3_part_A_v2.xlsx",
                        [row[:6] for row in EXPRESSIONS[:1]], BLINKS,
                        expression_header=EXPRESSION_COLUMNS[:6])
    with pytest.raises(DatasetError, match=r"\[AU\+Emotion\]: missing columns Expression type, "
                                           r"Objective class"):
        read_long_videos(sheet)


def test_not_a_recognition_adapter():
    assert "casme3_lv" not in ADAPTERS


@pytest.mark.shared
def test_real_part_a_sheet(shared_data: Path):
    sheet = shared_data / REAL_SHEET
    if not sheet.is_file():
        pytest.skip(f"{sheet} is absent")
    # Found by its name beside the two other part A sheets.
    index = read_long_videos(sheet.parent)
    assert index.sheet == sheet
    assert index.frames_root is None  # metadata only: no video in ../shared
    intervals = index.intervals
    counts = intervals.groupby(["sheet", "kind"]).size().to_dict()
    failed = intervals[intervals["status"] == "failed"]
    by_rule = failed["reason"].map(lambda r: r.split(":")[0]).value_counts().to_dict()
    print(f"intervals by sheet and kind: {counts}; failed by rule: {by_rule}; "
          f"failed by kind: {failed['kind'].value_counts().to_dict()}")
    assert counts == {("AU+Emotion", "macro"): 3346, ("AU+Emotion", "micro"): 860,
                      ("eye blink", "blink"): 841}
    assert (intervals["sheet_row"].groupby(intervals["sheet"]).min() == 2).all()
    # The only annotation errors of this sheet: 107 intervals over 700 frames, two of them
    # micro-expressions of 730 and 3456 frames.
    assert by_rule == {"interval too long": 107}
    assert failed["kind"].value_counts().to_dict() == {"macro": 105, "micro": 2}
    too_long_micro = failed[failed["kind"] == "micro"].set_index("video_key")
    assert too_long_micro["sheet_row"].to_dict() == {"spNO.190/m": 2593, "spNO.214/c": 3487}
    assert intervals.loc[intervals["kind"] == "blink", "status"].eq("ok").all()
    # The typing errors the micro-expression label sheet keeps (spNO.40/e offsets 0, spNO.216/d
    # onset 3647 after its apex) are corrected here.
    rows = intervals.set_index("sheet_row")
    assert rows.loc[[3897, 3906], "offset"].tolist() == [1845, 2403]
    assert rows.loc[3649, ["video_key", "onset", "apex", "offset"]].tolist() == [
        "spNO.216/d", 2647, 2668, 2694]
    assert rows.loc[[3897, 3906, 3649], "status"].eq("ok").all()

    videos = index.videos
    assert len(videos) == 1001 and videos["key"].is_unique
    assert videos["reason"].str.match(r"frames missing: folder .*/color not found").all()
    assert ground_truth(index) == {}
    truth = ground_truth(index, include_failed_videos=True)
    assert len(truth) == 1001
    assert sum(len(v) for v in truth.values()) == 3346 + 860 - 107
    assert sum(len(v) for v in blinks(index, include_failed_videos=True).values()) == 841


def test_every_annotated_expression_counts_as_megc_scores_it(delivery: Path):
    """A video that could not be spotted, and a sheet row the reader could not use, add their
    expressions as misses (MEGC scores against the whole ground truth), each listed with why."""
    from attrmer.spot.run import score_spotting

    index = read_long_videos(delivery)
    spotted = {"spNO.1/a": [Interval(5, 8, 12, "micro"), Interval(20, 25, 38, "macro")],
               "spNO.2/J": [], "spNO.3/b": []}
    summary, rows = score_spotting(index, spotted, iou=0.5)
    # micro: one found; spNO.2/J's missed, spNO.5/c's (frames missing) missed, and rows 6, 7,
    # 8 and 12 unusable. macro: one found; rows 4, 9 and 10 unusable. Row 11: type unknown.
    assert (summary["micro"]["tp"], summary["micro"]["fn"]) == (1, 6)
    assert (summary["macro"]["tp"], summary["macro"]["fn"]) == (1, 3)
    assert (summary["overall"]["tp"], summary["overall"]["fn"]) == (2, 10)
    assert summary["overall"]["recall"] == round(2 / 12, 6)
    assert summary["intervals_unusable"] == {"micro": 4, "macro": 3, "unknown": 1}
    assert summary["videos_not_spotted"] == 4
    notes = {(r["video"], r["note"]) for r in rows if r["note"]}
    assert any(video == "spNO.5/c" and note.startswith("not spotted:") for video, note in notes)
    assert any("unusable sheet row 6: offset 0" in note for _, note in notes)


def test_a_builtin_corpus_is_read_at_its_own_frame_rate(tmp_path: Path):
    """The sheet does not say the rate; the built-in corpus's corpus.json does, and a 200 fps
    corpus read at CAS(ME)^3's 30 would have every duration in seconds wrong."""
    import json

    from attrmer.spot.run import SpottingInputError, read_index

    write_sheet(tmp_path / "CAS(ME)3_part_A_v2.xlsx", EXPRESSIONS, BLINKS)
    assert set(read_index(tmp_path).videos["fps"]) == {30.0}  # a delivery: CAS(ME)^3's rate
    (tmp_path / "corpus.json").write_text(json.dumps({"fps": 200}))
    assert set(read_index(tmp_path).videos["fps"]) == {200.0}
    (tmp_path / "corpus.json").write_text(json.dumps({"fps": 0}))
    with pytest.raises(SpottingInputError, match=r"corpus\.json: frame rate 0"):
        read_index(tmp_path)


def test_the_builtin_corpus_file_is_the_one_the_renderer_writes():
    from attrmer.spot.run import BUILTIN_CORPUS_FILE
    from attrmer.synth.long_video.corpus import CORPUS_JSON

    assert BUILTIN_CORPUS_FILE == CORPUS_JSON
