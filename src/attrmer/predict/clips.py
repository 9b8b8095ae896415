"""What `attrmer predict` reads: the clips a command-line path stands for, their frames, their
frame rate, and the span of frames to use; and the command's exit codes, which `attrmer spot`
shares (here rather than in `command`, so that it need not import the predictor and torch)."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attrmer import errors
from attrmer.preprocess.frames import (
    IMAGE_SUFFIXES,
    ClipError,
    frame_files,
    load_clip_frames,
    natural_key,
    read_video,
)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mpg", ".mpeg", ".mkv", ".m4v", ".webm", ".wmv")

# attrmer's one exit-code table (attrmer.errors), under the names predict and spot use;
# EXIT_INPUT: a clip that cannot be read.
EXIT_OK, EXIT_INPUT, EXIT_USAGE = errors.EXIT_OK, errors.EXIT_DATA, errors.EXIT_USAGE
EXIT_MODEL, EXIT_OUTPUT = errors.EXIT_MODEL, errors.EXIT_OUTPUT


class InputError(Exception):
    """An input path that cannot be predicted; the message names the path."""


@dataclass(frozen=True)
class ClipSource:
    """One clip to predict: a video file or a folder of frames."""

    path: Path
    kind: str  # "video" | "frames"


def find_clips(path: str | Path) -> list[ClipSource]:
    """The clips a command-line PATH stands for.

    A file is a video; a folder holding image files is one clip of frames; any other folder
    is a folder of clips: each subfolder with image files and each video file in it, in
    natural order.
    """
    path = Path(path)
    if path.is_file():
        return [ClipSource(path, "video")]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or folder")
    entries = sorted(path.iterdir(), key=lambda p: natural_key(p.name))
    if any(_is_image(entry) for entry in entries):
        return [ClipSource(path, "frames")]
    clips = []
    for entry in entries:
        if entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES:
            clips.append(ClipSource(entry, "video"))
        elif entry.is_dir() and any(_is_image(child) for child in entry.iterdir()):
            clips.append(ClipSource(entry, "frames"))
    if not clips:
        raise InputError(f"{path}: holds no image files, no video files "
                         f"({', '.join(VIDEO_SUFFIXES)}) and no folders of frames")
    return clips


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def check_span(onset: int | None, offset: int | None, total: int, path: Path) -> tuple[int, int]:
    """The 1-based inclusive span (onset, offset) within a clip of `total` frames."""
    first = 1 if onset is None else onset
    last = total if offset is None else offset
    if first < 1:
        raise InputError(f"{path}: --onset {first} must be 1 or more (frames count from 1)")
    if last > total:
        raise InputError(f"{path}: --offset {last} is past the clip's last frame ({total})")
    if last - first + 1 < 2:
        if onset is None and offset is None:
            raise InputError(f"{path}: {total} frame(s); a clip needs at least 2 frames")
        raise InputError(f"{path}: frames {first}..{last} hold fewer than 2 frames "
                         f"(the clip has {total}); a clip needs at least 2")
    return first, last


def read_clip(
    source: ClipSource, onset: int | None = None, offset: int | None = None
) -> tuple[list[np.ndarray], int, int, list[str]]:
    """Decode a clip's frames from `onset` to `offset` (1-based, inclusive): (frames, onset,
    offset, warnings). Warnings say when a video holds fewer frames than it declares or its
    decoder met damaged data. Errors name the path."""
    try:
        if source.kind == "frames":
            files = frame_files(source.path)
            first, last = check_span(onset, offset, len(files), source.path)
            return load_clip_frames(files[first - 1:last]), first, last, []
        with decoder_messages() as messages:
            if onset is not None or offset is not None:
                frames, total = _video_span(source.path, onset or 1, offset)
            else:
                frames = read_video(source.path)
                total = len(frames)
            declared = declared_frames(source)
    except ClipError as exc:
        raise InputError(f"{source.path}: {exc}") from None
    first, last = check_span(onset, offset, total, source.path)
    whole = offset is None or total < offset
    return frames, first, last, video_warnings(declared, total if whole else None, messages)


# What FFmpeg's decoders say of a file that is cut short or corrupted.
_DAMAGE = re.compile(r"damaged|corrupt|truncat|invalid data|error while decoding|concealing",
                     re.IGNORECASE)
# Containers whose header indexes every frame: their count is a count, not an estimate from
# the file's size and bit rate (MPEG streams, Matroska, WebM).
INDEXED_CONTAINERS = frozenset({".mp4", ".m4v", ".mov", ".avi"})


def declared_frames(source: ClipSource) -> int | None:
    """The frame count an indexed container's header declares, else None."""
    from attrmer.predict.long_video import clip_frame_count

    if source.path.suffix.lower() not in INDEXED_CONTAINERS:
        return None
    return clip_frame_count(source) or None


def video_warnings(declared: int | None, decoded: int | None, messages: list[str]
                   ) -> list[str]:
    """A video's problems that still let it be decoded: fewer frames than its header declares
    (`decoded`: every frame was read; None when decoding stopped at an offset), and the
    decoder's complaints of damaged data."""
    warnings = []
    # Containers round their count; a frame or two either way is no sign of a cut.
    if decoded is not None and declared and decoded < declared - max(2, 0.02 * declared):
        warnings.append(f"the video declares {declared} frames but only {decoded} could be "
                        "decoded: it may be cut short")
    damaged = [line.strip() for line in messages if _DAMAGE.search(line)]
    if damaged:
        warnings.append(f"the decoder reported damaged data {len(damaged)} time(s) "
                        f"(first: {damaged[0][:120]}): frames may be missing or corrupted")
    return warnings


@contextlib.contextmanager
def decoder_messages() -> Iterator[list[str]]:
    """Collect what FFmpeg writes to the process's stderr inside the block (it writes there
    from C, past Python's sys.stderr), instead of letting it scroll by: the lines, once the
    block ends."""
    lines: list[str] = []
    descriptor = 2  # where C libraries write, whatever sys.stderr is in Python
    try:
        saved = os.dup(descriptor)
    except OSError:  # no descriptor 2 (a detached process)
        yield lines
        return
    _flush(sys.stderr)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), descriptor)
        try:
            yield lines
        finally:
            # What Python wrote meanwhile (a progress bar's refresh) goes with the decoder's.
            _flush(sys.stderr)
            os.dup2(saved, descriptor)
            os.close(saved)
            sink.seek(0)
            lines.extend(sink.read().decode("utf-8", "replace").splitlines())


def _flush(stream: object) -> None:
    with contextlib.suppress(AttributeError, OSError, ValueError):
        stream.flush()  # type: ignore[attr-defined]


def _video_span(path: Path, first: int, last: int | None) -> tuple[list[np.ndarray], int]:
    """RGB frames first..last (1-based) of a video, decoded one by one and kept only inside
    the span (a spotted interval of a long recording must not hold the whole of it in
    memory), and how many frames were decoded: up to `last`, or all of them."""
    import contextlib

    import cv2

    from attrmer.spot.reading import video_frames

    kept, decoded = [], 0
    with contextlib.closing(video_frames(path)) as frames:
        for decoded, frame in enumerate(frames, start=1):
            if decoded >= first:
                kept.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            if last is not None and decoded >= last:
                break
    return kept, decoded


def video_fps(source: ClipSource) -> float | None:
    """The frame rate a video file declares, or None (a frame folder, or no usable rate)."""
    if source.kind != "video":
        return None
    import cv2

    capture = cv2.VideoCapture(str(source.path))
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS))
    finally:
        capture.release()
    return fps if 1.0 <= fps <= 10000.0 else None


def widen(onset: int, offset: int, apex: int, frames: int, total: int) -> tuple[int, int]:
    """Widen [onset, offset] (0-based, inclusive) around `apex` to `frames` frames where a
    clip of `total` frames allows: the network needs a few frames to read motion from."""
    while offset - onset + 1 < min(frames, total):
        if onset > 0 and (apex - onset <= offset - apex or offset == total - 1):
            onset -= 1
        else:
            offset += 1
    return onset, offset


@dataclass(frozen=True)
class WindowChoice:
    """How the frames to classify are chosen: "auto" (the motion peak, searched within frames
    `onset`..`offset` when they are given; a long clip is spotted), "full" (every frame),
    "given" (frames `onset`..`offset`, 1-based and inclusive) or "spot" (every spotted
    micro-expression, `attrmer.predict.long_video`)."""

    how: str
    onset: int | None = None
    offset: int | None = None


def parse_window(text: str) -> WindowChoice:
    """`auto`, `full`, `spot` or `ONSET:OFFSET` (1-based, inclusive; either side may be
    empty)."""
    if text in ("auto", "full", "spot"):
        return WindowChoice(text)
    onset, colon, offset = text.partition(":")
    try:
        if not colon:
            raise ValueError
        first = int(onset) if onset.strip() else None
        last = int(offset) if offset.strip() else None
    except ValueError:
        raise InputError(f"--window {text!r}: not auto, full, spot or ONSET:OFFSET "
                         "(frames counted from 1, e.g. 12:40)") from None
    if first is not None and last is not None and last < first:
        raise InputError(f"--window {text}: the offset {last} is before the onset {first}")
    return WindowChoice("given", first, last)
