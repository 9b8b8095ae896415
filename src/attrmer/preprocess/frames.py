"""Reading a clip's frames into memory: image files, frame folders and video files.

Every reader returns a list of RGB uint8 H×W×3 arrays (grey images are promoted to three
channels) or raises `ClipError` with a short reason that the stages record per clip. Nothing
here looks for faces or changes the frames' geometry.
"""

from __future__ import annotations

import re
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


def load_clip_frames(paths: list[Path]) -> list[np.ndarray]:
    """Decode a clip's frame files, in the given order; all frames must share one size."""
    if not paths:
        raise ClipError("no frames")
    frames = []
    for path in paths:
        frame = decode_image(Path(path))
        if frames and frame.shape != frames[0].shape:
            height, width = frames[0].shape[:2]
            raise ClipError(
                "frames of different sizes",
                f"{Path(path).name} is {frame.shape[1]}x{frame.shape[0]}, "
                f"the first frame {width}x{height}",
            )
        frames.append(frame)
    return frames


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
