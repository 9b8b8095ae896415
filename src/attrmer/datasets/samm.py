"""SAMM as delivered: `SAMM_Micro_FACS_Codes_v2.xlsx` and one frame folder per subject.

Sheet: 13 rows of notes, the column header on row 14, then one row per micro-movement:
Subject, Filename, Inducement Code, Onset Frame, Apex Frame, Offset Frame, Duration, Micro,
Action Units, Estimated Emotion, Objective Classes, Notes. Frame numbers count frames of the long
recording (thousands). AU cells carry FACS intensity letters (`7C`, `L2C+12`, `ref(L10)+A12B`).
Frames: `<subject, 3 digits>/<Filename>/<subject>_<frame, 5 digits>.jpg`, e.g.
`006/006_1_2/006_05562.jpg`; 200 fps, grey.
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

_SUBJECT_DIR = re.compile(r"^\d{3}$")


@register
class SammAdapter(DatasetAdapter):
    name = "samm"
    class_sets_key = "samm"
    fps = 200.0
    sheet_patterns = ("SAMM_Micro_FACS_Codes*.xlsx",)
    header_row = 13
    annotation_columns = (
        "Onset Frame", "Apex Frame", "Offset Frame", "Action Units", "Estimated Emotion",
    )

    def _find_frames_root(self, root: Path) -> Path | None:
        # The folder that holds the three-digit subject folders (006, 007, ...).
        return find_dir(root, lambda d: any(_SUBJECT_DIR.match(n) for n in subdirs(d)))

    def _frames_expected(self) -> tuple[str, ...]:
        return ("<subject, 3 digits>/<Filename>/<subject>_<frame, 5 digits>.jpg",)

    def _records(self, sheet: pd.DataFrame, frames_root: Path) -> Iterator[ClipRecord]:
        for row in sheet.to_dict("records"):
            number = cell_int(row["Subject"])
            subject = f"{number:03d}" if number is not None else cell_text(row["Subject"])
            problem = ""
            if number is None and subject:
                # The subject names the frame folder (6 -> 006/); a word names none, and would
                # otherwise surface only as "frames missing".
                problem = (f"sheet row {row['_sheet_row']}: Subject {subject!r} is not a number "
                           "(SAMM numbers its subjects: 6 -> frame folder 006); correct the cell")
            clip = cell_text(row["Filename"])
            yield self._record(
                row, subject=subject, clip=clip, frame_dir=frames_root / subject / clip,
                # Braces of the subject are escaped so str.format sees only the frame number.
                frame_pattern=subject.replace("{", "{{").replace("}", "}}") + "_{:05d}.jpg",
                problem=problem,
            )
