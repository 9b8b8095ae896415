"""CAS(ME)^3 part C as delivered: the mock-crime micro-expression sheet and one video per subject.

Part C (Li et al., 2022) films 31 subjects during a mock crime and its interrogation, at 30 fps.
Sheet: `CAS(ME)3_part_C_ME.xlsx`, worksheet `mockCrimeME`, header on row 1: sub (an integer),
count (the micro-expression's number within the subject), onset, offset (JPG indices of the
subject's video), au (comma-separated: `R4,5`, `14,L24,`), emotion (negative, positive,
surprise, others). No apex column: the apex is the middle frame (`attrmer.datasets.rules`).
165 rows of 30 subjects (no subject 22). The part's other sheet, `CAS(ME)3_part_C.xls`
(macro- and micro-expression intervals with a risk label), is not this one and is not read.
Frames: `<sub, 2 digits>/<task>/color/<N>.jpg`, one task folder (`a`) per subject holding the
whole video's frames (depth maps in `depth/` beside `color/`); the clip id is the sheet's count,
so a key reads `01/3`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from attrmer.datasets.base import (
    ClipRecord,
    DatasetAdapter,
    cell_int,
    cell_text,
    find_dir,
    register,
    subdirs,
)

_SUBJECT_DIR = re.compile(r"^\d{1,3}$")
# The task folder every subject's video lies in, as delivered.
_TASK = "a"
_COLOUR = "color"


@register
class Casme3PartCAdapter(DatasetAdapter):
    name = "casme3c"
    class_sets_key = "casme3c"
    fps = 30.0
    sheet_patterns = ("CAS(ME)3_part_C_ME*.xlsx", "CAS(ME)^3_part_C_ME*.xlsx")
    worksheet = "mockCrimeME"
    annotation_columns = ("onset", None, "offset", "au", "emotion")

    @property
    def required_columns(self) -> tuple[str, ...]:
        return ("sub", "count", "onset", "offset", "au", "emotion")

    def _find_frames_root(self, root: Path) -> Path | None:
        return find_dir(root, lambda d: any(
            _SUBJECT_DIR.match(s) and _holds_colour(d / s) for s in subdirs(d)))

    def _frames_expected(self) -> tuple[str, ...]:
        return (f"<sub, 2 digits>/{_TASK}/{_COLOUR}/<N>.jpg (e.g. 01/{_TASK}/{_COLOUR}/373.jpg)",)

    def _records(self, sheet: pd.DataFrame, frames_root: Path) -> Iterator[ClipRecord]:
        for row in sheet.to_dict("records"):
            number = cell_int(row["sub"])
            subject = f"{number:02d}" if number is not None else cell_text(row["sub"])
            problem = "" if number is not None or not subject else (
                f"sheet row {row['_sheet_row']}: sub {subject!r} is not a number (part C "
                "numbers its subjects: 1 -> frame folder 01); correct the cell")
            task_dir, task_problem = _task_folder(frames_root, subject, number)
            yield self._record(row, subject=subject, clip=cell_text(row["count"]),
                               frame_dir=task_dir / _COLOUR, frame_pattern="{}.jpg",
                               problem=problem or task_problem)


def _holds_colour(subject_dir: Path) -> bool:
    return any((subject_dir / task / _COLOUR).is_dir() for task in subdirs(subject_dir))


def _task_folder(frames_root: Path, subject: str, number: int | None) -> tuple[Path, str]:
    """(the subject's task folder, problem): its one folder, `a` among several, or
    `<subject>/a` (reported missing later) when the subject has no folder."""
    names = [subject] + ([str(number)] if number is not None else [])
    subject_dir = next((frames_root / n for n in names if (frames_root / n).is_dir()),
                       frames_root / subject)
    tasks = subdirs(subject_dir)
    if len(tasks) == 1:
        return subject_dir / tasks[0], ""
    if not tasks or _TASK in tasks:
        return subject_dir / _TASK, ""
    return subject_dir / _TASK, (
        f"several folders in {subject_dir.as_posix()} ({', '.join(tasks)}) and none named "
        f"{_TASK!r}: cannot tell which holds the video")
