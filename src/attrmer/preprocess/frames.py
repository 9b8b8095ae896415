"""Reading a clip's frames: image files, frame folders and video files.

Every frame is an RGB uint8 H×W×3 array (grey images are promoted to three channels); a bad
one raises `ClipError` with a short reason that the stages record per clip. `LazyFrames` is a
clip's frame files as a sequence decoded one frame per access, for the align stage, which
keeps only the small aligned frames (a 1,000-frame SAMM clip is 6.7 GB decoded whole); the
other readers return lists. Nothing here looks for faces or changes the frames' geometry.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
_JPEG_START = b"\xff\xd8"
_JPEG_END = b"\xff\xd9"


class ClipError(Exception):
    """A clip cannot be used.

    `reason` is a short phrase that failure summaries group by ("missing frame"); `detail`
    names the file or value concerned ("img12.jpg").
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    def __reduce__(self) -> tuple:
        # Keep reason and detail apart when the error travels back from a worker process.
        return (type(self), (self.reason, self.detail))


def decode_image(path: Path) -> np.ndarray:
    """One image file as RGB uint8 H×W×3; corrupt or truncated files raise ClipError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ClipError("missing frame", path.name) from None
    except OSError as exc:
        raise ClipError("unreadable frame", f"{path.name}: {exc.strerror}") from None
    if not data:
        raise ClipError("empty frame file", path.name)
    if data.startswith(_JPEG_START) and _JPEG_END not in data[-64:]:
        # libjpeg pads a truncated stream with grey and only warns; catch it here instead.
        raise ClipError("truncated JPEG", path.name)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB)
    if image is None:
        raise ClipError("corrupt image", path.name)
    return image


class LazyFrames(Sequence[np.ndarray]):
    """A clip's frame files, in the given order, as a sequence whose items are decoded on each
    access and not kept: holding it costs a list of paths, whatever the clip's length and the
    frames' size. Every frame must have the first frame's size (`ClipError` otherwise).

    Indexing twice decodes twice; a reader that needs a frame again either keeps it or pays
    for it (`FaceAligner.align` reads each frame once, and again only the frames before the
    one its face was found on, when that is not the onset).
    """

    def __init__(self, paths: Sequence[str | Path]) -> None:
        if not paths:
            raise ClipError("no frames")
        self.paths = [Path(path) for path in paths]
        self._first_shape: tuple[int, ...] | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        if not isinstance(index, int):
            raise TypeError("LazyFrames is indexed by one int; slice its `paths` instead")
        path = self.paths[index]
        frame = decode_image(path)
        if self._first_shape is None:
            self._first_shape = frame.shape if index in (0, -len(self)) else self[0].shape
        if frame.shape != self._first_shape:
            height, width = self._first_shape[:2]
            raise ClipError(
                "frames of different sizes",
                f"{path.name} is {frame.shape[1]}x{frame.shape[0]}, "
                f"the first frame {width}x{height}",
            )
        return frame

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[index] for index in range(len(self)))


def load_clip_frames(paths: Sequence[str | Path]) -> list[np.ndarray]:
    """Decode a clip's frame files, in the given order, into memory at once; all frames must
    share one size. A whole clip at full resolution: see `LazyFrames` for one at a time."""
    return list(LazyFrames(paths))


def read_video(path: Path, max_frames: int | None = None) -> list[np.ndarray]:
    """The frames of a video file (anything OpenCV's FFmpeg backend decodes: mp4, avi, mov,
    mpg...), all of them or the first `max_frames`."""
    path = Path(path)
    if not path.is_file():
        raise ClipError("no such video file", str(path))
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ClipError("cannot open video (unknown or corrupt format)", path.name)
        frames = []
        while max_frames is None or len(frames) < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    if not frames:
        raise ClipError("no decodable frames in video", path.name)
    return frames


def natural_key(name: str) -> tuple:
    """Sort key that orders img2 before img10: text runs compare as text, digit runs as ints."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name))


def frame_files(folder: Path) -> list[Path]:
    """The image files of a frame folder in natural order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ClipError("no such frame folder", str(folder))
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise ClipError("no image files in folder", str(folder))
    return sorted(files, key=lambda p: natural_key(p.name))


def read_frame_folder(path: Path) -> list[np.ndarray]:
    """All images of a folder, ordered by the number in their names (natural sort)."""
    return load_clip_frames(frame_files(Path(path)))
