"""Atomic file output shared by every stage, and the rule for folders a command writes into.

A stage writes each declared output under a temporary name beside it and renames it into place
only when it is complete, so an interrupted run never leaves a file or folder that looks valid.

A command given an output folder (`attrmer synth DIR`, `report --out`, `spot --out`, `prepare
--interim-dir`) writes only into a folder that is new, empty or attrmer's own: one holding the
marker file attrmer leaves in every folder it writes, or only the files that command writes.
Anything else is the user's and is refused unless they pass --force (`claim_folder`).
Not for reading: readers open inputs themselves (read-only).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from attrmer.errors import AttrmerError

# Left in every folder a command writes, so that the next run knows it may replace it.
OWNER_MARKER = ".attrmer-output"


class FolderNotOwnedError(AttrmerError):
    """An output folder holds files attrmer did not write; nothing was changed."""


@contextmanager
def atomic_path(path: str | Path, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to `path`; move it onto `path` if the block succeeds.

    With `directory=True` the temporary path is an empty directory that replaces `path` whole.
    On an exception the temporary file or directory is removed and `path` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the result is an ordinary folder
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if directory:
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            _remove(old)
            path.rename(old)
            tmp.rename(path)
            _remove(old)
        else:
            tmp.rename(path)
    else:
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)


def claim_folder(path: str | Path, *, command: str, force: bool = False,
                 replaces: bool = True, forcible: bool = True,
                 own_names: frozenset[str] = frozenset()) -> None:
    """Refuse to write into `path` unless it is new, empty or attrmer's own (or `force`).

    own_names: the entries `command` writes itself, so that a folder it wrote before the marker
    existed is still recognised. replaces: whether the command replaces the folder whole (the
    message then says that --force deletes what is there) or adds its files to it. forcible:
    whether the command has a --force to suggest.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_dir():
        raise FolderNotOwnedError(f"{path}: exists and is not a folder; name a folder")
    if force or (path / OWNER_MARKER).is_file():
        return
    entries = sorted(entry.name for entry in path.iterdir())
    foreign = [name for name in entries if name not in own_names]
    if not foreign:
        return
    shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
    action = "replace it whole, deleting them" if replaces else "add its files beside them"
    hint = f", or pass --force to let {command} {action}" if forcible else ""
    raise FolderNotOwnedError(
        f"{path}: holds files attrmer did not write ({shown}); name a new or empty folder{hint}")


def mark_owned(folder: str | Path, command: str) -> None:
    """Leave the marker that lets later runs of attrmer write into `folder` again."""
    marker = Path(folder) / OWNER_MARKER
    if not marker.is_file():
        write_text(marker, f"written by {command}; attrmer may replace what is here\n")


@contextmanager
def owned_folder(path: str | Path, *, command: str, force: bool = False,
                 own_names: frozenset[str] = frozenset()) -> Iterator[Path]:
    """`atomic_path(path, directory=True)` for a folder the user named: refused by
    `claim_folder` when it holds their files; the new folder carries the owner marker."""
    claim_folder(path, command=command, force=force, own_names=own_names)
    with atomic_path(path, directory=True) as tmp:
        mark_owned(tmp, command)
        yield tmp


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()
