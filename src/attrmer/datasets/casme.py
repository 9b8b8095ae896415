"""CASME (I) as delivered: one coding sheet for Sections A and B, and a frame folder per clip.

CASME (Yan, Wu, Liu, Wang, Fu 2013) records at 60 fps with two cameras: Section A (BenQ M31,
1280×720) and Section B (Point Grey GRAS-03K2C, 640×480), one sheet for both.
Sheet: the layout CASME II grew out of, one worksheet, header on row 1: Subject (an integer,
1 -> folder `sub01`), Filename (`EP01_5`), (blank), OnsetF, ApexF1, ApexF2, OffsetF, (blank),
AU, Emotion. ApexF1 is the apex read; ApexF2, the second apex some clips have, is not. The AU
column is also accepted under CASME II's name, "Action Units". Sheet names accepted:
`CASME-coding*.xlsx`, `CASME_coding*.xlsx` and `casme.xlsx`.
Frames: `CASME_raw_selected/subXX/<Filename>/<Filename>-<N>.jpg` (raw, preferred: the align
stage does its own alignment) or `Cropped/subXX/<Filename>/reg_<Filename>-<N>.jpg`, N the
sheet's frame number, written plainly (`EP01_5-46.jpg`) by one section and with three digits
(`EP07_1-046.jpg`) by the other: each clip's folder says which. The subject folders may sit
directly in the frame folder or in one folder per section below it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pandas as pd

from attrmer.datasets.base import (
    ClipRecord,
    DatasetAdapter,
    cell_int,
    cell_text,
    find_layout_root,
    layout_at,
    register,
    sub_folder,
    subdirs,
)

# Frame folders in order of preference, with the prefix of each one's frame files.
_FRAME_LAYOUTS = (("CASME_raw_selected", ""), ("Cropped", "reg_"))
_SUBJECT_DIR = re.compile(r"^sub\d+$", re.IGNORECASE)
# The section's frame numbers: "46" or "046".
_NUMBERINGS = ("{}", "{:03d}")


@register
class CasmeAdapter(DatasetAdapter):
    name = "casme"
    class_sets_key = "casme"
    fps = 60.0
    sheet_patterns = ("CASME-coding*.xlsx", "CASME_coding*.xlsx", "casme.xlsx")
    annotation_columns = ("OnsetF", "ApexF1", "OffsetF", "AU", "Emotion")
    column_aliases: ClassVar[dict[str, tuple[str, ...]]] = {"AU": ("Action Units",)}

    def _find_frames_root(self, root: Path) -> Path | None:
        return find_layout_root(root, _FRAME_LAYOUTS, _is_frame_folder)

    def _frames_expected(self) -> tuple[str, ...]:
        return tuple(f"{folder}/subXX/<Filename>/{prefix}<Filename>-<N>.jpg"
                     for folder, prefix in _FRAME_LAYOUTS)

    def _records(self, sheet: pd.DataFrame, frames_root: Path) -> Iterator[ClipRecord]:
        frames_root, prefix = layout_at(frames_root, _FRAME_LAYOUTS)
        sections = [frames_root / name for name in subdirs(frames_root)
                    if not _SUBJECT_DIR.match(name)]
        for row in sheet.to_dict("records"):
            subject = sub_folder(row["Subject"])
            clip = cell_text(row["Filename"])
            clip_dir = _subject_folder(frames_root, sections, subject) / clip
            # Braces of the clip name are escaped so str.format sees only the frame number.
            stem = prefix + clip.replace("{", "{{").replace("}", "}}") + "-"
            pattern = stem + _numbering(clip_dir, stem, cell_int(row["OnsetF"])) + ".jpg"
            yield self._record(row, subject=subject, clip=clip, frame_dir=clip_dir,
                               frame_pattern=pattern)


def _is_frame_folder(folder: Path, name: str) -> bool:
    if folder.name.lower() != name.lower():
        return False
    return any(_SUBJECT_DIR.match(n) for n in subdirs(folder)) or any(
        any(_SUBJECT_DIR.match(n) for n in subdirs(folder / section))
        for section in subdirs(folder)
    )


def _subject_folder(frames_root: Path, sections: list[Path], subject: str) -> Path:
    """frames_root/subXX, or section/subXX when a section folder holds it."""
    direct = frames_root / subject
    if direct.is_dir():
        return direct
    return next((s / subject for s in sections if (s / subject).is_dir()), direct)


def _numbering(clip_dir: Path, stem: str, onset: int | None) -> str:
    """How this clip's folder writes the onset frame's number; plain when neither is there."""
    if onset is not None:
        for numbering in _NUMBERINGS:
            if (clip_dir / (stem + numbering + ".jpg").format(onset)).is_file():
                return numbering
    return _NUMBERINGS[0]
