"""The adapter interface every dataset reader implements, and the registry that picks one.

An adapter knows one dataset as its authors deliver it: where the annotation sheet and the frame
folders lie under `data.root`, which columns the sheet has and on which row its header sits, and
how a sheet row names its frames. It turns the sheet into `ClipRecord`s, one per sheet row,
untouched by any judgement (a dataset without a sheet, SMIC, reads its folder tree as one).
Deciding what is usable (annotation rules, frames on disk), which class a clip belongs to and
which split it goes to is not an adapter's job; see `attrmer.datasets.rules`, `.classes`,
`.splits` and `.prepare`.
"""

from __future__ import annotations

import fnmatch
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from attrmer.errors import AttrmerError

# How many rows at the top of a sheet are searched for a header that is not where it should be
# (only to say where it is in the error message).
_HEADER_SEARCH_ROWS = 40


class DatasetError(AttrmerError, ValueError):
    """A dataset cannot be read as delivered; the message names the file and the problem."""


@dataclass(frozen=True)
class ClipRecord:
    """One sheet row, read but not judged.

    onset/apex/offset are the cells as the sheet has them (int, float, str such as "/", or None);
    the rules decide what they mean. frame_dir and frame_pattern say where the frames would be;
    whether they are there is checked later.
    """

    subject: str
    clip: str
    onset: Any
    apex: Any
    offset: Any
    action_units: str
    emotion: str
    frame_dir: Path
    frame_pattern: str
    sheet_row: int  # 1-based row number in the sheet, for messages
    # What the adapter could not make of the row while reading it, in one line naming the cell
    # (a SAMM Subject "six" names no frame folder); a row with a problem fails with it as reason.
    problem: str = ""


@dataclass(frozen=True)
class Located:
    """Where a dataset's pieces were found under `root`."""

    # The annotation sheet; for a dataset without one (SMIC), the folder whose tree holds the
    # clips.
    sheet: Path
    # The folder the frame layout starts from; None when no frame folder was found (the sheet
    # can still be read, every clip then fails with "frames missing").
    frames_root: Path | None
    # Names of the frame folders looked for, for messages when frames_root is None.
    frames_expected: tuple[str, ...] = ()


class DatasetAdapter(ABC):
    """Reads one dataset as delivered. Subclasses fill in the class attributes and `_records`."""

    # Registry name (data.name) and the value of the manifest's `dataset` column.
    name: ClassVar[str]
    # Which entry of class_sets.yaml holds this dataset's class sets.
    class_sets_key: ClassVar[str]
    # Frame rate of the recordings, for the clip-length rule (an instance may override it).
    fps: float
    # Glob patterns (case-insensitive) of the annotation sheet's file name.
    sheet_patterns: ClassVar[tuple[str, ...]]
    # Worksheet to read: a name, or None for the first one.
    worksheet: ClassVar[str | None] = None
    # 0-based row of the column header in the official file.
    header_row: ClassVar[int] = 0
    # The sheet's onset, apex, offset, action-unit and emotion columns, in that order (apex None
    # for a sheet without one).
    annotation_columns: ClassVar[tuple[str, str | None, str, str, str]] = (
        "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion",
    )
    # Other spellings a column goes by in some releases: official name -> alternatives.
    column_aliases: ClassVar[dict[str, tuple[str, ...]]] = {}
    # False for a dataset delivered without a coding sheet (SMIC): its folder tree is the index.
    has_sheet: ClassVar[bool] = True

    @property
    def apex_annotated(self) -> bool:
        """False for a dataset whose coders marked no apex (SMIC, CAS(ME)^3 part C): the rules
        then take the middle frame without a note on every row."""
        return self.annotation_columns[1] is not None

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Columns the sheet must have, as written in the official file."""
        return ("Subject", "Filename", *(c for c in self.annotation_columns if c is not None))

    def __init__(self, root: str | Path, *, fps: float | None = None) -> None:
        self.root = Path(root)
        if fps is not None:
            self.fps = fps
        self._located: Located | None = None

    # -- the interface -----------------------------------------------------------------------

    @property
    def located(self) -> Located:
        if self._located is None:
            self._located = self.locate(self.root)
        return self._located

    def locate(self, root: Path) -> Located:
        """Find the sheet and the frame folder under `root` (or `root` is the sheet itself)."""
        return Located(
            sheet=find_sheet(root, self.sheet_patterns, self.name),
            frames_root=self._find_frames_root(root if root.is_dir() else root.parent),
            frames_expected=self._frames_expected(),
        )

    def read_sheet(self) -> pd.DataFrame:
        """The annotation sheet as a DataFrame with the official columns, all rows kept."""
        return read_sheet(
            self.located.sheet,
            worksheet=self.worksheet,
            header_row=self.header_row,
            required=self.required_columns,
            aliases=self.column_aliases,
        )

    def rows(self) -> list[ClipRecord]:
        """One `ClipRecord` per sheet row, in sheet order."""
        sheet = self.read_sheet()
        frames_root = self.located.frames_root
        if frames_root is None:
            # Keep the paths the layout would give under root, so the manifest shows them.
            frames_root = self.root.parent if self.root.is_file() else self.root
        return list(self._records(sheet, frames_root))

    def _record(self, row: dict[str, Any], *, subject: str, clip: str, frame_dir: Path,
                frame_pattern: str, emotion: str | None = None,
                problem: str = "") -> ClipRecord:
        """A sheet row as a record: the annotation cells as written, the frames' location."""
        onset, apex, offset, action_units, emotion_column = self.annotation_columns
        return ClipRecord(
            subject=subject,
            clip=clip,
            onset=row[onset],
            # A dataset without an apex column names no column for it (None).
            apex=row[apex] if apex is not None else None,
            offset=row[offset],
            action_units=cell_text(row[action_units]),
            emotion=cell_text(row[emotion_column]).lower() if emotion is None else emotion,
            frame_dir=frame_dir,
            frame_pattern=frame_pattern,
            sheet_row=int(row["_sheet_row"]),
            problem=problem,
        )

    # -- what a dataset fills in -------------------------------------------------------------

    @abstractmethod
    def _records(self, sheet: pd.DataFrame, frames_root: Path) -> Iterator[ClipRecord]:
        """Turn the sheet's rows into records, frame paths under `frames_root`."""

    @abstractmethod
    def _find_frames_root(self, root: Path) -> Path | None:
        """The folder the dataset's frame layout starts from, or None."""

    @abstractmethod
    def _frames_expected(self) -> tuple[str, ...]:
        """The frame folder names this dataset is delivered with (for messages)."""


# -- registry --------------------------------------------------------------------------------

ADAPTERS: dict[str, type[DatasetAdapter]] = {}


def register(cls: type[DatasetAdapter]) -> type[DatasetAdapter]:
    """Class decorator: make an adapter available under its `name`."""
    if cls.name in ADAPTERS:
        raise ValueError(f"two dataset adapters are named {cls.name!r}")
    ADAPTERS[cls.name] = cls
    return cls


def get_adapter(name: str, root: str | Path, **kwargs: Any) -> DatasetAdapter:
    """The adapter registered as `name`, reading `root`."""
    try:
        cls = ADAPTERS[name]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise DatasetError(f"unknown dataset {name!r} (known: {known})") from None
    return cls(root, **kwargs)


# -- helpers the adapters share -----------------------------------------------------------------


def find_sheet(root: Path, patterns: tuple[str, ...], dataset: str) -> Path:
    """The one annotation sheet under `root` (searched two folder levels deep), or `root` itself
    when it is a file. Several matches or none are errors listing what was found."""
    if root.is_file():
        return root
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder (data.root for dataset {dataset!r})")
    candidates = sorted(
        path for path in _walk(root, depth=2)
        if path.is_file() and _matches(path.name, patterns)
    )
    if len(candidates) == 1:
        return candidates[0]
    expected = " or ".join(patterns)
    if not candidates:
        found = sorted(p.name for p in _walk(root, depth=2) if _is_sheet_name(p.name))
        listing = ", ".join(found) if found else "no spreadsheet at all"
        raise DatasetError(
            f"{root}: no {dataset} annotation sheet found (expected a file named {expected}; "
            f"found {listing})"
        )
    listing = ", ".join(str(p.relative_to(root)) for p in candidates)
    raise DatasetError(
        f"{root}: several {dataset} annotation sheets ({listing}); set data.root to the one "
        "sheet file to use, beside its frame folders"
    )


def read_sheet(
    path: Path, *, worksheet: str | None, header_row: int, required: tuple[str, ...],
    aliases: Mapping[str, tuple[str, ...]] | None = None,
) -> pd.DataFrame:
    """Read a sheet whose column header sits on `header_row` (0-based) and check its columns.

    The header must be where the official file has it; a header found elsewhere, a missing
    column or a file that is not a readable spreadsheet are errors naming the file. A required
    column may go by one of its `aliases`; it is renamed to the official name. A column under
    its official name wins over an alias beside it (which is left as it is); two aliases of one
    column and not its official name are an error.
    """
    not_a_workbook = _not_a_workbook(path)
    if not_a_workbook:
        raise DatasetError(f"{path}: cannot read it as a spreadsheet: {not_a_workbook}")
    spellings = {c: (c, *(aliases or {}).get(c, ())) for c in required}
    try:
        book = pd.ExcelFile(path)
    except Exception as exc:  # pandas raises many types for a damaged or foreign file
        raise DatasetError(f"{path}: cannot read it as a spreadsheet ({_describe(exc)})") from exc
    with book:
        if worksheet is None:
            sheet_name: str | int = 0
        else:
            names = {str(n).strip().lower(): n for n in book.sheet_names}
            if worksheet.lower() not in names:
                raise DatasetError(
                    f"{path}: no worksheet {worksheet!r} (found: {', '.join(book.sheet_names)})"
                )
            sheet_name = names[worksheet.lower()]
        try:
            grid = pd.read_excel(book, sheet_name=sheet_name, header=None, dtype=object)
        except Exception as exc:
            raise DatasetError(f"{path}: cannot read the worksheet ({_describe(exc)})") from exc
    where = f"{path}" + (f" [{worksheet}]" if worksheet else "")
    if grid.empty:
        raise DatasetError(f"{where}: the worksheet is empty")

    def header_cells(row: int) -> list[str]:
        return [_header_name(v) for v in grid.iloc[row].tolist()]

    def holds_header(row: int) -> bool:
        cells = {c.lower() for c in header_cells(row)}
        return all(any(s.lower() in cells for s in spellings[col]) for col in required)

    if header_row >= len(grid) or not holds_header(header_row):
        found_at = next(
            (r for r in range(min(len(grid), _HEADER_SEARCH_ROWS)) if holds_header(r)), None
        )
        expected = ", ".join(required)
        if found_at is not None:
            raise DatasetError(
                f"{where}: wrong header row: the official layout has the column header on row "
                f"{header_row + 1}, this file has it on row {found_at + 1}; use the sheet as "
                "delivered"
            )
        if header_row < len(grid):
            present = [c for c in header_cells(header_row) if c]
            lowered = {p.lower() for p in present}
            missing = [c for c in required
                       if not any(s.lower() in lowered for s in spellings[c])]
            raise DatasetError(
                f"{where}: missing columns {', '.join(missing)} in the header on row "
                f"{header_row + 1} (expected {expected}; found {', '.join(present) or 'nothing'})"
            )
        raise DatasetError(
            f"{where}: the sheet has {len(grid)} rows, fewer than the header row "
            f"{header_row + 1} of the official layout"
        )
    columns = _unique_names(header_cells(header_row))
    body = grid.iloc[header_row + 1:].copy()
    body.columns = columns
    body = body.rename(columns=_official_names(columns, spellings, where))
    # 1-based sheet row of each body row, kept for messages.
    body.insert(0, "_sheet_row", range(header_row + 2, header_row + 2 + len(body)))
    # Trailing rows with nothing in the required columns are formatting leftovers, not clips.
    filled = body[list(required)].map(lambda v: not is_blank(v)).any(axis=1)
    body = body[filled].reset_index(drop=True)
    if body.empty:
        raise DatasetError(f"{where}: the sheet has a header but no annotated rows")
    return body


# The first bytes of the two workbook formats pandas reads: .xlsx/.xlsm are zip archives,
# .xls is an OLE2 compound file.
_WORKBOOK_SIGNATURES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


def _not_a_workbook(path: Path) -> str:
    """Why `path` cannot be an Excel workbook, judged from its first bytes, or "" when it may be.

    A sheet exported as CSV and renamed `.xlsx` would otherwise meet pandas' "Excel file format
    cannot be determined, you must specify an engine manually", which names neither the file
    nor the fix.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return ""  # pandas reports a file it cannot open in its own words
    if not head or head.startswith(_WORKBOOK_SIGNATURES):
        return ""
    # Text in any 8-bit encoding has no NUL byte; binary formats have many in their first kB.
    if b"\x00" not in head:
        return (f"it is a text file (CSV or similar), not an Excel workbook, although named "
                f"{path.suffix}; open it in a spreadsheet program and save it as an Excel "
                "workbook (.xlsx), or use the sheet as the dataset's owners delivered it")
    return ("its content is neither an .xlsx nor an .xls workbook; replace it with the sheet "
            "as the dataset's owners delivered it")


def is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and value != value:  # NaN
        return True
    return isinstance(value, str) and not value.strip()


def cell_text(value: Any) -> str:
    """A cell as text: blank -> "", 12.0 -> "12", strings stripped."""
    if is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def cell_int(value: Any) -> int | None:
    """An integer cell (12, 12.0, "12"), or None when it is not one."""
    if is_blank(value) or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if re.fullmatch(r"[+-]?\d+\.0*", text):
        return int(float(text))
    return None



def sub_folder(cell: Any) -> str:
    """A CASME-family subject cell as its frame folder's name: 1 (or "1") -> "sub01"; any
    other text (e.g. "sub01" already) as written."""
    number = cell_int(cell)
    return f"sub{number:02d}" if number is not None else cell_text(cell)

def find_dir(root: Path, accept: Callable[[Path], bool], depth: int = 3) -> Path | None:
    """The shallowest folder under `root` (root included) that `accept` takes, or None."""
    if not root.is_dir():
        return None
    if accept(root):
        return root
    frontier = [root]
    for _ in range(depth):
        next_frontier = []
        for folder in frontier:
            children = [folder / name for name in subdirs(folder)]
            for child in children:
                if accept(child):
                    return child
            next_frontier.extend(children)
        frontier = next_frontier
    return None


def subdirs(folder: Path) -> list[str]:
    try:
        return sorted(p.name for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []


def _walk(root: Path, depth: int) -> Iterator[Path]:
    frontier = [root]
    for _ in range(depth + 1):
        next_frontier = []
        for folder in frontier:
            try:
                children = sorted(folder.iterdir())
            except OSError:
                continue
            for child in children:
                yield child
                if child.is_dir() and not child.name.startswith("."):
                    next_frontier.append(child)
        frontier = next_frontier


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name.lower(), p.lower()) for p in patterns) and not name.startswith(
        ("~$", ".")  # Excel's lock files and hidden files
    )


def _is_sheet_name(name: str) -> bool:
    return name.lower().endswith((".xlsx", ".xls", ".xlsm", ".csv")) and not name.startswith("~$")


def _header_name(value: Any) -> str:
    return "" if is_blank(value) else str(value).strip()


def _official_names(columns: list[str], spellings: Mapping[str, tuple[str, ...]],
                    where: str) -> dict[str, str]:
    """{column as this file spells it: official name} for each required column: the official
    name in any case if present, else its one alias present."""
    renames = {}
    for official, names in spellings.items():
        found = [c for c in columns if c.lower() == official.lower()]
        if not found:
            aliases = {a.lower() for a in names[1:]}
            found = [c for c in columns if c.lower() in aliases]
            if len(found) > 1:
                raise DatasetError(
                    f"{where}: columns {', '.join(found)} are all {official} under other names; "
                    f"keep one, or name the one to read {official}")
        if found:
            # The exact spelling first, then the first column in another case.
            renames[official if official in found else found[0]] = official
    return renames


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        name = name or f"_blank{i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def find_layout_root(root: Path, layouts: Sequence[tuple[str, str]],
                     is_frame_folder: Callable[[Path, str], bool]) -> Path | None:
    """The folder of the first of `layouts` (folder name, what its frames are called) found
    under `root` that `is_frame_folder(folder, name)` accepts, or None."""
    for folder_name, _ in layouts:
        found = find_dir(root, lambda d, n=folder_name: is_frame_folder(d, n))
        if found is not None:
            return found
    return None


def layout_at(frames_root: Path, layouts: Sequence[tuple[str, str]]) -> tuple[Path, str]:
    """(frames root, its layout's frame naming); when `frames_root` is none of the layouts'
    folders (none was found), the first layout's folder under it, so that the paths a
    missing-frames reason shows are those of the dataset as delivered."""
    naming = {folder.lower(): frames for folder, frames in layouts}.get(frames_root.name.lower())
    if naming is None:
        return frames_root / layouts[0][0], layouts[0][1]
    return frames_root, naming
