"""CAS(ME)^3 part A as delivered: the micro-expression label sheet and frames by JPG index.

Sheet: `cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx`, worksheet `label`, header on row 1:
Subject (`spNO.x`), Filename (a-m: the task video), Onset, Apex, Offset (JPG indices), AU,
Objective class, emotion. 860 micro-expressions; one task video holds several, so the clip id is
`<Filename>_<Onset>` (e.g. `spNO.1/a_355`).
Frames: `<Subject>/<Filename>/color/<N>.jpg` (depth maps sit beside `color/`); 30 fps.
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

_SUBJECT_DIR = re.compile(r"^spNO\.\d+$", re.IGNORECASE)


@register
class Casme3Adapter(DatasetAdapter):
    name = "casme3"
    class_sets_key = "casme3"
    fps = 30.0
    sheet_patterns = ("cas(me)3_part_A_ME_label*.xlsx", "cas(me)^3_part_A_ME_label*.xlsx")
    worksheet = "label"
    annotation_columns = ("Onset", "Apex", "Offset", "AU", "emotion")

    def _find_frames_root(self, root: Path) -> Path | None:
        return find_dir(root, lambda d: any(_SUBJECT_DIR.match(n) for n in subdirs(d)))

    def _frames_expected(self) -> tuple[str, ...]:
        return ("<Subject>/<Filename>/color/<N>.jpg (e.g. spNO.1/a/color/355.jpg)",)

    def _records(self, sheet: pd.DataFrame, frames_root: Path) -> Iterator[ClipRecord]:
        for row in sheet.to_dict("records"):
            subject = cell_text(row["Subject"])
            video = cell_text(row["Filename"])
            onset = cell_int(row["Onset"])
            clip = f"{video}_{onset if onset is not None else cell_text(row['Onset'])}"
            yield self._record(row, subject=subject, clip=clip,
                               frame_dir=frames_root / subject / video / "color",
                               frame_pattern="{}.jpg")
