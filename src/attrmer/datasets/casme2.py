"""CASME II as delivered: the coding sheet plus raw or cropped frame folders.

Sheet: `CASME2-coding-20140508.xlsx`, or the 2019-07-01 revision (`CASME2-coding-20190701.xlsx`,
which adds an `Objective Classes` column); any `CASME2-coding-*.xlsx` is accepted. One worksheet,
header on row 1: Subject (an integer, 1 -> folder `sub01`), Filename, OnsetFrame, ApexFrame,
OffsetFrame, Action Units, Estimated Emotion (two blank columns in between).
Frames: `CASME2_RAW_selected/subXX/<Filename>/img<N>.jpg` (raw, preferred: the align stage does
its own alignment) or `Cropped/subXX/<Filename>/reg_img<N>.jpg`, N the sheet's frame number.

The built-in synthetic corpus is written in exactly this layout and read by this code too
(`attrmer.datasets.synthetic`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from attrmer.datasets.base import (
    ClipRecord,
    DatasetAdapter,
    cell_text,
    find_layout_root,
    layout_at,
    register,
    sub_folder,
)

# Frame folders in order of preference, with each one's frame file pattern.
_FRAME_LAYOUTS = (("CASME2_RAW_selected", "img{}.jpg"), ("Cropped", "reg_img{}.jpg"))
_SUBJECT_DIR = re.compile(r"^sub\d+$", re.IGNORECASE)


@register
class Casme2Adapter(DatasetAdapter):
    name = "casme2"
    class_sets_key = "casme2"
    fps = 200.0
    sheet_patterns = ("CASME2-coding-*.xlsx",)

    def _find_frames_root(self, root: Path) -> Path | None:
        return find_layout_root(root, _FRAME_LAYOUTS, _is_frame_folder)

    def _frames_expected(self) -> tuple[str, ...]:
        return tuple(f"{folder}/subXX/<Filename>/{pattern.format('<N>')}"
                     for folder, pattern in _FRAME_LAYOUTS)

    def _records(self, sheet: pd.DataFrame, frames_root: Path) -> Iterator[ClipRecord]:
        frames_root, pattern = layout_at(frames_root, _FRAME_LAYOUTS)
        for row in sheet.to_dict("records"):
            subject = sub_folder(row["Subject"])
            clip = cell_text(row["Filename"])
            yield self._record(row, subject=subject, clip=clip,
                               frame_dir=frames_root / subject / clip, frame_pattern=pattern)


def _is_frame_folder(folder: Path, name: str) -> bool:
    if folder.name.lower() != name.lower():
        return False
    return any(_SUBJECT_DIR.match(child.name) for child in folder.iterdir() if child.is_dir())

