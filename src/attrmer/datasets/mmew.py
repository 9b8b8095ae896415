"""MMEW as delivered: `MMEW_Micro_Exp.xlsx` and frame folders grouped by emotion.

Sheet: one worksheet, header on row 1: Subject (S01-S30), Filename (`Sxx-EE-NNN`), OnsetFrame
(1 for every clip), ApexFrame, OffsetFrame, Action Units, Estimated Emotion, remarks.
Frames: `<N>.jpg` in a folder per clip, under a folder per emotion, in one of two layouts:
`Sxx/<emotion>/<Filename>/` (the official description) or `<emotion>/<Filename>/` (as commonly
unpacked). Both are accepted, clip by clip. The "others" clips sit in a folder named
`repression`.
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

# Emotion (as the sheet writes it, lower-cased) -> its frame folder, where the two differ.
_FOLDER_OF_EMOTION = {"others": "repression", "other": "repression"}
_SUBJECT_DIR = re.compile(r"^S\d+$", re.IGNORECASE)
_EMOTION_FOLDERS = frozenset(
    {"happiness", "surprise", "disgust", "fear", "sadness", "anger", "repression"}
)


@register
class MmewAdapter(DatasetAdapter):
    name = "mmew"
    class_sets_key = "mmew"
    fps = 90.0
    sheet_patterns = ("MMEW_Micro_Exp*.xlsx",)

    def _find_frames_root(self, root: Path) -> Path | None:
        return find_dir(root, lambda d: _holds_emotion_folders(d) or any(
            _holds_emotion_folders(d / s) for s in subdirs(d) if _SUBJECT_DIR.match(s)
        ))

    def _frames_expected(self) -> tuple[str, ...]:
        return ("Sxx/<emotion>/<Filename>/<N>.jpg", "<emotion>/<Filename>/<N>.jpg")

    def _records(self, sheet: pd.DataFrame, frames_root: Path) -> Iterator[ClipRecord]:
        by_emotion_first = _holds_emotion_folders(frames_root)
        for row in sheet.to_dict("records"):
            number = cell_int(row["Subject"])
            subject = f"S{number:02d}" if number is not None else cell_text(row["Subject"])
            clip = cell_text(row["Filename"])
            emotion = cell_text(row["Estimated Emotion"]).lower()
            folder = _FOLDER_OF_EMOTION.get(emotion, emotion)
            official = frames_root / subject / folder / clip
            unpacked = frames_root / folder / clip
            if official.is_dir():
                frame_dir = official
            elif unpacked.is_dir():
                frame_dir = unpacked
            else:
                frame_dir = unpacked if by_emotion_first else official
            yield self._record(row, subject=subject, clip=clip, frame_dir=frame_dir,
                               frame_pattern="{}.jpg", emotion=emotion)


def _holds_emotion_folders(folder: Path) -> bool:
    return any(name.lower() in _EMOTION_FOLDERS for name in subdirs(folder))
