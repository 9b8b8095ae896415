"""SMIC as delivered: no coding sheet, one folder per clip, sorted by subject and emotion.

Layout (Li, Pfister, Huang, Zhao, Pietikäinen 2013), the same under each camera's folder:
`HS|VIS|NIR/s<N>/micro/<negative|positive|surprise>/<clip>/image<frame>.bmp`. Each clip folder
holds exactly the clip's frames, onset to offset, numbered as in the long recording; the
emotion is the folder's name. `non_micro/` folders beside `micro/` (the VIS and NIR clips
without a micro-expression, for spotting) are not read.

No sheet means no coded onset, offset or apex: onset and offset are the first and last frame
number in the folder. The frame names' zero-padding is read from each folder (`image{}.bmp`
or, when every number has the same width, `image{:0Nd}.bmp`).

The apex is always the middle frame of the folder's onset..offset (rounded down), the rules'
own fallback for an apex the coders did not give (`attrmer.datasets.rules`, rule 5); there is
no setting for the frame of peak motion. Why: finding that frame means decoding and aligning
every frame, the align stage's work, and nothing after this stage needs it: TIM and the
optical flow use onset..offset, and the stores only carry the apex along. Where a peak is
needed, at prediction time, `attrmer predict --window auto` finds it from the frames
(`attrmer.spot`).

Subject and clip folders appear unpadded (`s1`, `s1_ne_01`, as SMIC ships) and zero-padded
(`s01`, `s01_ne_01`, as MEGC's composite list writes them). Both are read; the manifest writes
the padded form, so a clip has one key whichever copy it came from.

Three adapters, one per camera: `smic` (HS, the high-speed camera at 100 fps: 164 clips of 16
subjects, negative 70, positive 51, surprise 43; the set MEGC 2019 uses), `smic_vis` and
`smic_nir` (25 fps: 71 clips of 8 subjects).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pandas as pd

from attrmer.datasets.base import (
    ClipRecord,
    DatasetAdapter,
    DatasetError,
    Located,
    find_dir,
    register,
    subdirs,
)
from attrmer.datasets.splits import natural_key

MODALITIES = ("HS", "VIS", "NIR")
_SUBJECT_DIR = re.compile(r"^s(\d+)$", re.IGNORECASE)
_CLIP_DIR = re.compile(r"^s(\d+)(_.*)$", re.IGNORECASE)
_FRAME_FILE = re.compile(r"^(image)(\d+)(\.bmp)$", re.IGNORECASE)
_MICRO_DIR = "micro"
# The columns of the table the folder tree is read into (the sheet SMIC does not have);
# "Action Units" stays blank, since SMIC codes none.
_TREE_COLUMNS = ["Subject", "Filename", "Emotion", "Onset", "Offset", "Action Units", "Pattern",
                 "Folder", "Problem"]


class _SmicAdapter(DatasetAdapter):
    """One camera's clips of SMIC; subclasses name the camera and its frame rate."""

    class_sets_key = "smic"
    modality: ClassVar[str]
    sheet_patterns = ()
    has_sheet = False
    annotation_columns = ("Onset", None, "Offset", "Action Units", "Emotion")

    def locate(self, root: Path) -> Located:
        folder = self._find_frames_root(root)
        if folder is None:
            if not root.is_dir():
                raise DatasetError(f"{root}: no such folder (data.root for dataset {self.name!r})")
            found = ", ".join(subdirs(root)) or "no folders"
            raise DatasetError(
                f"{root}: no SMIC {self.modality} folder found (expected "
                f"{self._frames_expected()[0]}; found {found})"
            )
        return Located(sheet=folder, frames_root=folder, frames_expected=self._frames_expected())

    def read_sheet(self) -> pd.DataFrame:
        """The folder tree as the sheet SMIC does not have: one row per clip folder, in subject,
        emotion and clip order, with the first and last frame number found in it."""
        folder = self.located.sheet
        rows = []
        for subject_dir in sorted(_subject_dirs(folder), key=lambda p: natural_key(p.name)):
            micro = _child_named(subject_dir, _MICRO_DIR)
            if micro is None:
                continue
            for emotion in subdirs(micro):
                for clip in sorted(subdirs(micro / emotion), key=natural_key):
                    rows.append(_tree_row(subject_dir.name, emotion, micro / emotion / clip))
        if not rows:
            raise DatasetError(
                f"{folder}: no clip folders (expected {self._frames_expected()[0]})"
            )
        table = pd.DataFrame(rows, columns=_TREE_COLUMNS)
        # The "sheet row" of a clip is its place in that order, for messages.
        table.insert(0, "_sheet_row", range(1, len(table) + 1))
        return table

    def _records(self, sheet: pd.DataFrame, frames_root: Path) -> Iterator[ClipRecord]:
        for row in sheet.to_dict("records"):
            yield self._record(
                row, subject=row["Subject"], clip=row["Filename"],
                frame_dir=Path(row["Folder"]), frame_pattern=row["Pattern"],
                emotion=row["Emotion"], problem=row["Problem"],
            )

    def _find_frames_root(self, root: Path) -> Path | None:
        others = {m.lower() for m in MODALITIES if m != self.modality}

        def accept(folder: Path) -> bool:
            if not any(_SUBJECT_DIR.match(n) for n in subdirs(folder)):
                return False
            # The camera's own folder, or data.root itself when it is one camera's folder
            # under another name (but not another camera's).
            return (folder.name.lower() == self.modality.lower()
                    or (folder == root and folder.name.lower() not in others))

        return find_dir(root, accept)

    def _frames_expected(self) -> tuple[str, ...]:
        return (f"{self.modality}/s<N>/micro/<negative|positive|surprise>/<clip>/"
                "image<frame>.bmp",)


@register
class SmicHsAdapter(_SmicAdapter):
    name = "smic"
    modality = "HS"
    fps = 100.0


@register
class SmicVisAdapter(_SmicAdapter):
    name = "smic_vis"
    modality = "VIS"
    fps = 25.0


@register
class SmicNirAdapter(_SmicAdapter):
    name = "smic_nir"
    modality = "NIR"
    fps = 25.0


def _subject_dirs(folder: Path) -> list[Path]:
    return [folder / n for n in subdirs(folder) if _SUBJECT_DIR.match(n)]


def _child_named(folder: Path, name: str) -> Path | None:
    matches = [n for n in subdirs(folder) if n.lower() == name]
    return folder / matches[0] if len(matches) == 1 else None


def _padded_subject(folder_name: str) -> str:
    """`s1` and `s01` -> `s01`."""
    match = _SUBJECT_DIR.match(folder_name)
    return f"s{int(match.group(1)):02d}" if match else folder_name


def _padded_clip(folder_name: str) -> str:
    """`s1_ne_01` and `s01_ne_01` -> `s01_ne_01`; a name of another form stays as it is."""
    match = _CLIP_DIR.match(folder_name)
    return f"s{int(match.group(1)):02d}{match.group(2)}" if match else folder_name


def _tree_row(subject_folder: str, emotion_folder: str, clip_dir: Path) -> list[object]:
    """One clip folder as a row of `_TREE_COLUMNS`."""
    subject, clip = _padded_subject(subject_folder), _padded_clip(clip_dir.name)
    try:
        names = os.listdir(clip_dir)
    except OSError as exc:
        return [subject, clip, emotion_folder.lower(), None, None, "", "", clip_dir.as_posix(),
                f"cannot list {clip_dir.as_posix()}: {exc.strerror or exc}"]
    frames = [m for m in map(_FRAME_FILE.match, names) if m]
    pattern, problem = _frame_pattern(frames)
    if not frames:
        problem = f"no image<frame>.bmp files in {clip_dir.as_posix()}"
    numbers = [int(m.group(2)) for m in frames]
    return [subject, clip, emotion_folder.lower(), min(numbers, default=None),
            max(numbers, default=None), "", pattern, clip_dir.as_posix(), problem]


def _frame_pattern(frames: list[re.Match[str]]) -> tuple[str, str]:
    """(str.format pattern of the folder's frame names, problem) from the names found."""
    if not frames:
        return "image{}.bmp", ""
    stems = {(m.group(1), m.group(3)) for m in frames}
    if len(stems) > 1:
        spellings = ", ".join(sorted(f"{stem}<N>{ext}" for stem, ext in stems))
        return "image{}.bmp", f"frame names spelt in several ways ({spellings})"
    stem, ext = stems.pop()
    widths = {len(m.group(2)) for m in frames}
    if len(widths) == 1:
        return f"{stem}{{:0{widths.pop()}d}}{ext}", ""
    if any(m.group(2).startswith("0") for m in frames):
        return f"{stem}{{}}{ext}", (
            "frame numbers mix zero-padded and unpadded names "
            f"({', '.join(sorted({m.group(0) for m in frames}, key=natural_key)[:2])}, ...)"
        )
    return f"{stem}{{}}{ext}", ""
