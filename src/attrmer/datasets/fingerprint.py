"""A fingerprint of the dataset as it lies on disk, so that DVC sees when it changes.

A licensed dataset lives outside the repository (`data.root`), where DVC tracks nothing. The
`dataset` stage, marked `always_changed`, writes this fingerprint on every `dvc repro` and
`prepare` depends on it: when nothing changed the file is byte-identical and nothing re-runs;
an edited coding sheet, or a frame added, removed or replaced, changes it and re-runs every
stage after it. The sheet is hashed whole (it is small); frame files by name, size and
modification time (hashing every frame would cost as much as decoding the dataset).

For the built-in dataset the fingerprint is a constant: `prepare` renders the corpus itself,
from parameters and code it already depends on. A composite (several datasets read as one)
fingerprints each of its datasets; SMIC, which has no sheet, by its frame listing alone. Not a
record of what is usable: that is the manifest.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from attrmer.config import COMPOSITES, DataConfig
from attrmer.datasets.base import get_adapter


def dataset_fingerprint(data: DataConfig) -> dict[str, Any]:
    """{"dataset", "sheet", "sheet_sha256", "frames_root", "frame_files", "frame_bytes",
    "frames_sha256"} for a real dataset; a constant record for the synthetic one;
    {"dataset", "datasets": {name: that record}} for a composite."""
    if data.name in COMPOSITES:
        return {"dataset": data.name, "datasets": {
            name: _fingerprint(data.adapters.get(name, name), data.roots[name])
            for name in data.datasets}}
    if data.name == "synthetic":
        return {"dataset": "synthetic", "frames": "rendered by the prepare stage"}
    return _fingerprint(data.name, data.root)


def _fingerprint(name: str, root_text: str) -> dict[str, Any]:
    adapter = get_adapter(name, root_text)
    located = adapter.located  # raises DatasetError naming what was looked for
    root = Path(root_text)
    record: dict[str, Any] = {
        "dataset": name,
        "sheet": _relative(located.sheet, root) if adapter.has_sheet else None,
        "sheet_sha256": (hashlib.sha256(located.sheet.read_bytes()).hexdigest()
                         if adapter.has_sheet else None),
        "frames_root": None,
        "frame_files": 0,
        "frame_bytes": 0,
        "frames_sha256": None,
    }
    if located.frames_root is not None:
        digest = hashlib.sha256()
        files = total = 0
        for relative, size, mtime_ns in _listing(located.frames_root):
            digest.update(f"{relative}\0{size}\0{mtime_ns}\n".encode())
            files += 1
            total += size
        record.update(frames_root=_relative(located.frames_root, root), frame_files=files,
                      frame_bytes=total, frames_sha256=digest.hexdigest())
    return record


def _listing(root: Path):
    """(relative path, size, mtime in ns) of every file under root, in a fixed order; a folder
    reached again through a link is not walked twice (a link loop would never end)."""
    stack = [(root, "")]
    visited: set[tuple[int, int]] = set()
    while stack:
        folder, prefix = stack.pop()
        identity = folder.stat()
        if (identity.st_dev, identity.st_ino) in visited:
            continue
        visited.add((identity.st_dev, identity.st_ino))
        with os.scandir(folder) as entries:
            ordered = sorted(entries, key=lambda e: e.name)
        subfolders = []
        for entry in ordered:
            if entry.is_dir(follow_symlinks=True):
                subfolders.append((Path(entry.path), f"{prefix}{entry.name}/"))
            elif entry.is_file(follow_symlinks=True):
                stat = entry.stat(follow_symlinks=True)
                yield f"{prefix}{entry.name}", stat.st_size, stat.st_mtime_ns
        # Reversed onto the stack, so folders are visited in name order.
        stack.extend(reversed(subfolders))


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
