"""The written rules for annotation errors, and the frames-on-disk check.

Each rule looks at one sheet row and either adjusts it (status stays ok, `reason` says what was
changed) or makes it unusable (status failed, `reason` says why). Rules, in the order applied:

1. subject or clip missing, or a problem the     -> failed (`ClipRecord.problem`, the
   adapter met reading the row                      adapter's reason: a SAMM Subject "six")
2. onset or offset not a frame number            -> failed
3. offset 0 (not annotated)                      -> failed
4. offset before onset                           -> failed
5. apex missing, "/" or not a number             -> apex = middle of onset..offset
   (a dataset whose coders mark no apex, SMIC or     (without a note: every row would carry it)
   CAS(ME)^3 part C, takes the middle too)
6. apex outside [onset, offset]                  -> apex = middle of onset..offset
7. fewer than 2 frames (offset == onset)         -> failed
8. longer than `max_clip_seconds` (default 5 s,  -> failed (a micro-expression lasts under
   ten times a micro-expression's 0.5 s)            half a second; such rows are typing errors)
9. a frame file of onset..offset missing         -> failed ("frames missing: ...")

All notes of a row are kept, joined by "; ", so a row with several problems shows all of them;
a note that makes a row unusable starts with its rule's name ("offset before onset: ...",
"frames missing: ...").
Frames are checked for existence only; decoding them is the align stage's job. Which emotions
are kept is not decided here (`attrmer.datasets.classes`); `unannotated_apex` only says why a
row's sheet gives no apex, for a class set that keeps annotated apexes alone (MEGC 2019's
CASME II).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from attrmer.datasets.base import ClipRecord, cell_int, cell_text, is_blank

DEFAULT_MAX_CLIP_SECONDS = 5.0
# How many missing frame names a reason lists before it only counts them.
_LISTED_MISSING = 3


@dataclass
class Judgement:
    """The outcome of the annotation rules for one row."""

    onset: int | None
    apex: int | None
    offset: int | None
    failed: bool = False
    notes: list[str] = field(default_factory=list)

    def fail(self, note: str) -> None:
        self.failed = True
        self.notes.append(note)

    @property
    def reason(self) -> str:
        return "; ".join(self.notes)


def judge_annotation(
    record: ClipRecord, *, fps: float, max_clip_seconds: float = DEFAULT_MAX_CLIP_SECONDS,
    apex_annotated: bool = True,
) -> Judgement:
    """Apply rules 1-8 to a row (frames are checked separately, by `check_frames`).

    apex_annotated: False for a dataset without apex annotation; its apex is the middle frame.
    """
    onset, apex, offset = cell_int(record.onset), cell_int(record.apex), cell_int(record.offset)
    judgement = Judgement(onset=onset, apex=apex, offset=offset)
    if record.problem:
        judgement.fail(record.problem)
    if not record.subject:
        judgement.fail("no subject")
    if not record.clip:
        judgement.fail("no clip name (Filename)")
    for name, value, raw in (("onset", onset, record.onset), ("offset", offset, record.offset)):
        # A blank cell the adapter's problem already explains (a SMIC folder without frames)
        # would only repeat it.
        if value is None and not (record.problem and is_blank(raw)):
            judgement.fail(f"not a frame number: {name} {_shown(raw)}")
    if onset is None or offset is None:
        return judgement
    if offset == 0:
        judgement.fail("offset 0 (not annotated)")
    elif offset < onset:
        judgement.fail(f"offset before onset: offset {offset}, onset {onset}")
    middle = (onset + offset) // 2
    if not apex_annotated:
        judgement.apex = None if judgement.failed else middle
    elif apex is None:
        if judgement.failed:
            judgement.notes.append(f"apex {_shown(record.apex)} missing")
        else:
            judgement.apex = middle
            judgement.notes.append(
                f"apex {_shown(record.apex)} -> middle of onset..offset ({middle})"
            )
    elif offset != 0 and not onset <= apex <= offset:
        where = f"before onset {onset}" if apex < onset else f"after offset {offset}"
        if judgement.failed:
            judgement.notes.append(f"apex {apex} {where}")
        else:
            judgement.apex = middle
            judgement.notes.append(f"apex {apex} {where} -> middle of onset..offset ({middle})")
    if judgement.failed:
        return judgement
    frames = offset - onset + 1
    if frames < 2:
        judgement.fail(f"too few frames: {frames} (onset == offset), a clip needs at least 2")
    elif frames > max_clip_seconds * fps:
        judgement.fail(
            f"clip too long: {frames} frames ({frames / fps:.1f} s at {fps:g} fps), over "
            f"{max_clip_seconds:g} s, not a micro-expression"
        )
    return judgement


def unannotated_apex(record: ClipRecord, judgement: Judgement) -> str:
    """Why the sheet gives no usable apex for this row, or "" when it does.

    Usable: a frame number after the onset and not after the offset. The rules replace a missing
    or misplaced apex by the middle frame, which serves TIM and the flow; a protocol that reads
    the coders' apex (MEGC 2019 on CASME II) leaves such clips out instead.
    """
    apex, onset, offset = cell_int(record.apex), judgement.onset, judgement.offset
    if apex is None:
        return f"apex {_shown(record.apex)} not annotated"
    if onset is not None and apex == onset:
        return f"apex {apex} on the onset frame"
    if onset is not None and offset is not None and not onset < apex <= offset:
        return f"apex {apex} outside onset..offset ({onset}..{offset})"
    return ""


@dataclass
class FrameCheck:
    """Where a clip's frames were found and what is missing."""

    frame_dir: Path
    missing: list[str]
    folder_found: bool
    note: str = ""

    @property
    def reason(self) -> str:
        if not self.folder_found:
            return f"frames missing: folder {self.frame_dir.as_posix()} not found"
        if self.missing:
            shown = ", ".join(self.missing[:_LISTED_MISSING])
            more = ", ..." if len(self.missing) > _LISTED_MISSING else ""
            folder = self.frame_dir.as_posix()
            return f"frames missing: {len(self.missing)} in {folder} ({shown}{more})"
        return ""


class FrameChecker:
    """Checks that every frame file of a clip exists, listing each folder once."""

    def __init__(self) -> None:
        self._listings: dict[Path, frozenset[str] | None] = {}

    def check(self, frame_dir: Path, pattern: str, onset: int, offset: int) -> FrameCheck:
        note = ""
        names = self._listing(frame_dir)
        if names is None:
            resolved = resolve_case(frame_dir)
            if resolved is not None:
                note = f"frame folder {resolved.as_posix()} matched ignoring case"
                frame_dir = resolved
                names = self._listing(frame_dir)
        if names is None:
            return FrameCheck(frame_dir=frame_dir, missing=[], folder_found=False)
        expected = (pattern.format(i) for i in range(onset, offset + 1))
        missing = [name for name in expected if name not in names]
        return FrameCheck(frame_dir=frame_dir, missing=missing, folder_found=True, note=note)

    def _listing(self, folder: Path) -> frozenset[str] | None:
        if folder not in self._listings:
            try:
                self._listings[folder] = frozenset(os.listdir(folder))
            except OSError:
                self._listings[folder] = None
        return self._listings[folder]


def resolve_case(path: Path) -> Path | None:
    """`path` with each missing component matched case-insensitively (sheets write `J` for the
    folder `j`), or None when no such folder exists."""
    parts = path.parts
    current = Path(parts[0])
    for part in parts[1:]:
        candidate = current / part
        if not candidate.exists():
            try:
                matches = [n for n in os.listdir(current) if n.lower() == part.lower()]
            except OSError:
                return None
            if len(matches) != 1:
                return None
            candidate = current / matches[0]
        current = candidate
    return current if current.is_dir() else None


def _shown(value: object) -> str:
    text = cell_text(value)
    return repr(text) if text else "(blank)"
