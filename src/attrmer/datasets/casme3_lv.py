"""CAS(ME)^3 part A as long videos: the index the spotting task reads and scores against.

Sheet: `CAS(ME)3_part_A_v2.xls` (or an .xlsx of the same layout), found anywhere two folder
levels under the dataset root. Worksheet `AU+Emotion`: Subject (`spNO.x`), Filename (a-m: the
task video), Onset, Apex, Offset (JPG indices), AU, Expression type (`Macro-expression` or
`Micro-expression`), Objective class; worksheet `eye blink`: Subject, Filename, Onset, Offset.
Frames: `<Subject>/<Filename>/color/<N>.jpg`, 30 fps, N the JPG index the sheet uses.

`read_long_videos(root)` gives a `LongVideoIndex` of two tables: one row per video the sheet
names, with the frames found on disk, and one row per sheet row of both worksheets. Every row is
kept with a status (ok | failed) and a reason; `ground_truth` and `blinks` hand the usable
intervals to the spotter and to `attrmer.spot.evaluate`, `write_index` writes both tables.

This is not a recognition adapter and is not in the adapter registry: those yield one clip per
expression for `prepare` (part A's micro-expressions as clips are the `casme3` adapter), while a
long-video index is a video with many intervals in it. Reading the frames' pixels, spotting and
scoring are not done here.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from attrmer.datasets.base import (
    DatasetError,
    cell_int,
    cell_text,
    find_dir,
    find_sheet,
    read_sheet,
    subdirs,
)
from attrmer.datasets.rules import resolve_case
from attrmer.io import atomic_path
from attrmer.spot.intervals import Interval

NAME = "casme3_lv"
SHEET_PATTERNS = (
    "cas(me)3_part_a_v*.xls", "cas(me)3_part_a_v*.xlsx",
    "cas(me)^3_part_a_v*.xls", "cas(me)^3_part_a_v*.xlsx",
)
EXPRESSIONS_WORKSHEET = "AU+Emotion"
BLINKS_WORKSHEET = "eye blink"
EXPRESSION_COLUMNS = (
    "Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Expression type", "Objective class",
)
BLINK_COLUMNS = ("Subject", "Filename", "Onset", "Offset")
# What the sheet's "Expression type" says, lower-cased, as an interval kind.
KIND_OF_TYPE = {"macro-expression": "macro", "micro-expression": "micro"}
FPS = 30.0
# The longest annotated interval taken as real: 700 frames is over 23 s at 30 fps, far beyond
# any facial expression; the sheet's longer rows (up to 4,336 frames) are typing errors.
MAX_INTERVAL_FRAMES = 700
FRAME_FOLDER = "color"  # depth maps lie beside it
FRAME_PATTERN = "{}.jpg"
_FRAME_NAME = re.compile(r"^(0|[1-9]\d*)\.jpg$")
# How many missing frame names a reason lists before it only counts them.
_LISTED_MISSING = 3

VIDEO_COLUMNS = [
    "key",  # "<Subject>/<Filename>" as the sheet writes them
    "subject",
    "video",
    "frame_dir",  # the folder holding the video's frames (found ignoring case)
    "frame_pattern",  # str.format pattern of a frame's file name: "{}.jpg"
    "first_frame",  # lowest JPG index on disk; empty when no frame was found
    "last_frame",  # highest JPG index on disk; empty when no frame was found
    "fps",
    "status",  # ok | failed
    "reason",  # why the video failed, or a note on an ok one
]
INTERVAL_COLUMNS = [
    "video_key",  # the key of its video; "" when the row names no subject or video
    "sheet",  # the worksheet: AU+Emotion or eye blink
    "sheet_row",  # 1-based row number as a spreadsheet program shows it
    "onset",  # JPG indices; empty when the cell is not a frame number
    "apex",  # empty for a blink
    "offset",
    "kind",  # micro | macro | blink; "" when the expression type is unknown
    "action_units",  # the AU cell as written
    "objective_class",
    "status",  # ok | failed
    "reason",  # every problem of the row, joined by "; "
]
STATUSES = ("ok", "failed")


@dataclass(frozen=True)
class LongVideoIndex:
    """The long videos of one CAS(ME)^3 part A delivery and every interval its sheet names."""

    sheet: Path
    # The folder holding the subject folders; None when none was found under the root.
    frames_root: Path | None
    videos: pd.DataFrame  # VIDEO_COLUMNS, one row per video, in the order the sheet names them
    intervals: pd.DataFrame  # INTERVAL_COLUMNS, expressions then blinks, in sheet order


def read_long_videos(
    root: str | Path, *, fps: float = FPS, max_interval_frames: int = MAX_INTERVAL_FRAMES,
) -> LongVideoIndex:
    """Index the long videos under `root` (the dataset folder, or the sheet file itself).

    An interval fails when a cell is not a frame number, its offset is 0 (not annotated) or
    before its onset, its apex lies outside onset..offset, it spans more than
    `max_interval_frames` frames, its expression type is unknown, or its video's frames are on
    disk and it reaches beyond them. Unlike the recognition rules, which move a misplaced apex to
    the middle frame, a misplaced apex fails the row here: which of its three cells is the typing
    error cannot be told, and a wrong onset or offset would corrupt the ground truth. A video
    fails when its frame folder, or a frame between its first and last, is missing; its
    intervals keep their own status.
    """
    root = Path(root)
    sheet_path = find_sheet(root, SHEET_PATTERNS, NAME)
    expressions = _read_worksheet(sheet_path, EXPRESSIONS_WORKSHEET, EXPRESSION_COLUMNS)
    blink_rows = _read_worksheet(sheet_path, BLINKS_WORKSHEET, BLINK_COLUMNS)

    rows = [
        *(_judge_row(r, EXPRESSIONS_WORKSHEET, fps, max_interval_frames)
          for r in expressions.to_dict("records")),
        *(_judge_row(r, BLINKS_WORKSHEET, fps, max_interval_frames)
          for r in blink_rows.to_dict("records")),
    ]
    named = dict.fromkeys((r["_subject"], r["_video"]) for r in rows if r["video_key"])
    search_root = root.parent if root.is_file() else root
    frames_root = _find_frames_root(search_root, {subject for subject, _ in named})
    videos = [_video_row(subject, video, frames_root or search_root, found=frames_root is not None,
                         fps=fps)
              for subject, video in named]
    _check_within_frames(rows, {v["key"]: v for v in videos})

    video_table = pd.DataFrame(videos, columns=VIDEO_COLUMNS)
    interval_table = pd.DataFrame(rows, columns=INTERVAL_COLUMNS)
    for table, columns in ((video_table, ("first_frame", "last_frame")),
                           (interval_table, ("sheet_row", "onset", "apex", "offset"))):
        for column in columns:
            table[column] = table[column].astype("Int64")
    return LongVideoIndex(sheet=sheet_path, frames_root=frames_root, videos=video_table,
                          intervals=interval_table)


def ground_truth(index: LongVideoIndex, *,
                 include_failed_videos: bool = False) -> dict[str, list[Interval]]:
    """{video key: its ok micro- and macro-expression intervals, by onset} for every video (a
    video without a usable interval maps to []), so that what is spotted there counts as false.

    Videos whose frames failed are left out unless `include_failed_videos`: they cannot be
    spotted, and their expressions would count as missed.
    """
    classed = classed_ground_truth(index, include_failed_videos=include_failed_videos)
    return {key: [interval for interval, _ in rows] for key, rows in classed.items()}


def classed_ground_truth(index: LongVideoIndex, *, include_failed_videos: bool = False
                         ) -> dict[str, list[tuple[Interval, str]]]:
    """`ground_truth` with each interval's objective class cell as the sheet writes it (I..VII,
    "" when empty): what spot-then-recognise scores the recognised classes against."""
    usable = _usable(index, include_failed_videos)
    truth: dict[str, list[tuple[Interval, str]]] = {key: [] for key in usable}
    rows = index.intervals
    rows = rows[(rows["status"] == "ok") & rows["kind"].isin(("micro", "macro"))
                & rows["video_key"].isin(usable)]
    for row in rows.itertuples(index=False):
        truth[row.video_key].append(
            (Interval(onset=int(row.onset), apex=int(row.apex), offset=int(row.offset),
                      kind=row.kind),
             row.objective_class if isinstance(row.objective_class, str) else ""))
    for intervals in truth.values():
        intervals.sort(key=lambda pair: (pair[0].onset, pair[0].offset, pair[0].kind))
    return truth


def blinks(index: LongVideoIndex, *,
           include_failed_videos: bool = False) -> dict[str, list[tuple[int, int]]]:
    """{video key: its ok eye blinks as (onset, offset), inclusive, by onset} for every video,
    with the same choice of videos as `ground_truth`."""
    usable = _usable(index, include_failed_videos)
    found: dict[str, list[tuple[int, int]]] = {key: [] for key in usable}
    rows = index.intervals
    rows = rows[(rows["status"] == "ok") & (rows["kind"] == "blink")
                & rows["video_key"].isin(usable)]
    for row in rows.itertuples(index=False):
        found[row.video_key].append((int(row.onset), int(row.offset)))
    for spans in found.values():
        spans.sort()
    return found


def write_index(index: LongVideoIndex, directory: str | Path) -> dict[str, Path]:
    """Write the two tables as `videos.csv` and `intervals.csv` in `directory`, each atomically
    and whole; returns {"videos": path, "intervals": path}."""
    directory = Path(directory)
    paths = {"videos": directory / "videos.csv", "intervals": directory / "intervals.csv"}
    tables = {"videos": (index.videos, VIDEO_COLUMNS),
              "intervals": (index.intervals, INTERVAL_COLUMNS)}
    for name, (table, columns) in tables.items():
        bad = sorted(set(table["status"]) - set(STATUSES))
        if bad:
            raise DatasetError(f"{paths[name]}: unknown status values {bad}")
        with atomic_path(paths[name]) as tmp:
            table[columns].to_csv(tmp, index=False)
    return paths


# -- reading ----------------------------------------------------------------------------------


def _read_worksheet(path: Path, worksheet: str, columns: tuple[str, ...]) -> pd.DataFrame:
    with warnings.catch_warnings():
        # The part A sheet is delivered as .xls, which pandas reads with xlrd and warns about;
        # the engine it suggests instead is not installed, so the warning is not the user's to act
        # on.
        warnings.filterwarnings("ignore", message=r".*xlrd engine is deprecated.*")
        return read_sheet(path, worksheet=worksheet, header_row=0, required=columns)


def _judge_row(row: Mapping[str, Any], sheet: str, fps: float, max_frames: int) -> dict[str, Any]:
    """One sheet row as an intervals-table row (plus _subject and _video), judged."""
    is_blink = sheet == BLINKS_WORKSHEET
    subject, video = cell_text(row["Subject"]), cell_text(row["Filename"])
    notes: list[str] = []
    if not subject:
        notes.append("no subject")
    if not video:
        notes.append("no video (Filename)")

    columns = {"onset": "Onset", "offset": "Offset"} if is_blink else {
        "onset": "Onset", "apex": "Apex", "offset": "Offset"}  # a blink has no apex
    cells = {name: row[column] for name, column in columns.items()}
    frames = {name: _frame_number(raw) for name, raw in cells.items()}
    notes += [f"not a frame number: {name} {_shown(cells[name])}"
              for name, number in frames.items() if number is None]
    onset, apex, offset = frames["onset"], frames.get("apex"), frames["offset"]
    if onset is not None and offset is not None:
        if offset == 0:
            notes.append("offset 0 (not annotated)")
        elif offset < onset:
            notes.append(f"offset before onset: offset {offset}, onset {onset}")
        if apex is not None and apex < onset:
            notes.append(f"apex {apex} before onset {onset}")
        elif apex is not None and offset != 0 and apex > offset:
            notes.append(f"apex {apex} after offset {offset}")
        length = offset - onset + 1
        if length > max_frames:
            notes.append(f"interval too long: {length} frames ({length / fps:.1f} s at "
                         f"{fps:g} fps), over {max_frames}")

    if is_blink:
        kind, action_units, objective_class = "blink", "", ""
    else:
        written = cell_text(row["Expression type"])
        kind = KIND_OF_TYPE.get(written.lower(), "")
        if not kind:
            notes.append(f"unknown expression type {_shown(row['Expression type'])} "
                         "(expected Macro-expression or Micro-expression)")
        action_units, objective_class = cell_text(row["AU"]), cell_text(row["Objective class"])
    return {
        "video_key": f"{subject}/{video}" if subject and video else "",
        "sheet": sheet,
        "sheet_row": int(row["_sheet_row"]),
        "onset": onset, "apex": apex, "offset": offset,
        "kind": kind,
        "action_units": action_units,
        "objective_class": objective_class,
        "status": "failed" if notes else "ok",
        "reason": "; ".join(notes),
        "_subject": subject, "_video": video,
    }


def _frame_number(value: Any) -> int | None:
    number = cell_int(value)
    return number if number is not None and number >= 0 else None


def _shown(value: Any) -> str:
    text = cell_text(value)
    return repr(text) if text else "(blank)"


# -- frames on disk ---------------------------------------------------------------------------


def _find_frames_root(root: Path, subjects: set[str]) -> Path | None:
    """The shallowest folder under `root` holding a folder of one of the sheet's subjects."""
    wanted = {s.lower() for s in subjects}
    return find_dir(root, lambda d: any(n.lower() in wanted for n in subdirs(d)))


def _video_row(subject: str, video: str, frames_root: Path, *, found: bool,
               fps: float) -> dict[str, Any]:
    frame_dir = frames_root / subject / video / FRAME_FOLDER
    row: dict[str, Any] = {
        "key": f"{subject}/{video}", "subject": subject, "video": video,
        "frame_pattern": FRAME_PATTERN, "first_frame": None, "last_frame": None, "fps": fps,
        "status": "failed", "reason": "",
    }
    note = ""
    if found and not frame_dir.is_dir():
        resolved = resolve_case(frame_dir)
        if resolved is not None:
            note = f"frame folder {resolved.as_posix()} matched ignoring case"
            frame_dir = resolved
    row["frame_dir"] = frame_dir.as_posix()
    if not found or not frame_dir.is_dir():
        row["reason"] = f"frames missing: folder {frame_dir.as_posix()} not found"
        return row
    numbers = _frame_numbers(frame_dir)
    if not numbers:
        row["reason"] = f"frames missing: no {FRAME_PATTERN.format('<N>')} in {row['frame_dir']}"
        return row
    row["first_frame"], row["last_frame"] = numbers[0], numbers[-1]
    missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
    if missing:
        shown = ", ".join(FRAME_PATTERN.format(n) for n in missing[:_LISTED_MISSING])
        more = ", ..." if len(missing) > _LISTED_MISSING else ""
        row["reason"] = (f"frames missing: {len(missing)} of {numbers[0]}..{numbers[-1]} in "
                         f"{row['frame_dir']} ({shown}{more})")
        return row
    row["status"], row["reason"] = "ok", note
    return row


def _frame_numbers(folder: Path) -> list[int]:
    """The JPG indices present in `folder`, ascending."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(int(m.group(1)) for m in map(_FRAME_NAME.match, names) if m)


def _check_within_frames(rows: list[dict[str, Any]], videos: Mapping[str, dict[str, Any]]) -> None:
    """Fail an otherwise usable interval that reaches beyond its video's frames on disk."""
    for row in rows:
        video = videos.get(row["video_key"])
        if row["status"] != "ok" or video is None or video["status"] != "ok":
            continue
        first, last = video["first_frame"], video["last_frame"]
        if row["onset"] < first or row["offset"] > last:
            row["status"] = "failed"
            row["reason"] = (f"beyond the frames on disk: {row['onset']}..{row['offset']} not "
                             f"within {first}..{last}")


def _usable(index: LongVideoIndex, include_failed_videos: bool) -> list[str]:
    videos = index.videos
    if not include_failed_videos:
        videos = videos[videos["status"] == "ok"]
    return list(videos["key"])
