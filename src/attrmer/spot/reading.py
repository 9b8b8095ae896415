"""Spotting a video file or a folder of frames (`spot_path`): the frames read one by one, since
a long video does not fit in memory (`video_frames`, `folder_frames`), decoded in a background
thread while the flow is measured (`decoded_ahead`), numbered as the folder's file names number
them (`frame_numbers_of`), then tracked (`attrmer.spot.tracking`) and spotted
(`attrmer.spot.peaks`).

Not for the short clips of training and prediction, read whole (`attrmer.preprocess.frames`),
nor for the spotting method itself (described in `attrmer.spot`).
"""

from __future__ import annotations

import itertools
import queue
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from attrmer.config import FlowConfig, SpotConfig
from attrmer.preprocess.align import FaceAligner
from attrmer.preprocess.frames import ClipError, decode_image, frame_files
from attrmer.spot.peaks import SpotResult, spot_tracks
from attrmer.spot.tracking import track_regions

# Frames decoded ahead of the measurement, in a background thread (`decoded_ahead`).
DECODE_AHEAD = 32
# Videos of frames up to this many pixels are decoded by one FFmpeg thread: FFmpeg's own
# threads buy nothing there (640x480 MPEG-4 and 640x360 H.264 decode as fast on one) and
# take the core the flow runs on beside the decoding. Measured on two cores: spotting such
# a video took 2.2x decoding it alone with one thread doing both, 1.9x with the decoding
# thread and FFmpeg's threads, 1.6x with the decoding thread on one FFmpeg thread.
ONE_THREAD_PIXELS = 640 * 480


def frame_numbers_of(files: list[Path]) -> np.ndarray:
    """The video frame numbers of a frame folder's files: the number each name ends with
    (`355.jpg`, `img12.jpg`) when every name has one and they rise, else positions from 1."""
    numbers = []
    for path in files:
        match = re.search(r"(\d+)$", path.stem)
        if match is None:
            return np.arange(1, len(files) + 1)
        numbers.append(int(match.group(1)))
    rising = all(b > a for a, b in itertools.pairwise(numbers))
    return np.array(numbers) if rising else np.arange(1, len(files) + 1)


def video_frames(path: Path, *, threads: int | None = None) -> Iterator[np.ndarray]:
    """A video file's frames one by one, BGR as OpenCV decodes them (`read_video` holds a
    whole clip in memory; a long video does not fit), with `threads` FFmpeg decoding threads
    (None: FFmpeg's choice)."""
    options = [] if threads is None else [cv2.CAP_PROP_N_THREADS, threads]
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, options)
    decoded = 0
    try:
        if not capture.isOpened():
            raise ClipError("cannot open video (unknown or corrupt format)", path.name)
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            decoded += 1
            yield frame
    finally:
        capture.release()
    if decoded == 0:
        raise ClipError("no decodable frames in video", path.name)


def decoding_threads(path: Path) -> int | None:
    """FFmpeg threads for spotting `path`: one for frames up to `ONE_THREAD_PIXELS`, else
    FFmpeg's choice."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        pixels = capture.get(cv2.CAP_PROP_FRAME_WIDTH) * capture.get(cv2.CAP_PROP_FRAME_HEIGHT)
    finally:
        capture.release()
    return 1 if 0 < pixels <= ONE_THREAD_PIXELS else None


def folder_frames(files: list[Path]) -> Iterator[np.ndarray]:
    """A frame folder's images one by one, RGB; all must share the first one's size."""
    shape = None
    for path in files:
        frame = decode_image(path)
        if shape is not None and frame.shape != shape:
            raise ClipError("frames of different sizes",
                            f"{path.name} is {frame.shape[1]}x{frame.shape[0]}, the first "
                            f"frame {shape[1]}x{shape[0]}")
        shape = frame.shape
        yield frame


_END = object()


@dataclass(frozen=True)
class _Failure:
    error: BaseException


def decoded_ahead(frames: Iterable[np.ndarray], depth: int = DECODE_AHEAD
                  ) -> Iterator[np.ndarray]:
    """`frames`, decoded in a background thread up to `depth` ahead: OpenCV decodes without
    the interpreter's lock, so one core decodes while the other measures the flow. An error of
    the decoding is raised here, where the frames are taken."""
    pipe: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            try:
                pipe.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def decode() -> None:
        source = iter(frames)
        try:
            for frame in source:
                if not hand_over(frame):
                    return
        except BaseException as exc:  # raised again in the consuming thread
            hand_over(_Failure(exc))
            return
        finally:
            # A reader stopped early releases its file here, in the thread that opened it.
            close = getattr(source, "close", None)
            if close is not None:
                close()
        hand_over(_END)

    worker = threading.Thread(target=decode, name="attrmer-spot-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = pipe.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join(timeout=5.0)


def spot_path(path: str | Path, *, kind: str, fps: float, cfg: SpotConfig | None = None,
              flow_cfg: FlowConfig | None = None, aligner: FaceAligner | None = None,
              progress: Callable[[int], None] | None = None) -> SpotResult:
    """Spot a video file (`kind` "video") or a folder of frames ("frames") at `fps`, decoding
    in a background thread; `progress` is called with 1 per frame measured.

    Raises ClipError (no face in any frame, undecodable input), naming the file."""
    path = Path(path)
    if kind == "frames":
        files = frame_files(path)
        numbers: np.ndarray | None = frame_numbers_of(files)
        source: Iterable[np.ndarray] = folder_frames(files)
    elif kind == "video":
        numbers, source = None, video_frames(path, threads=decoding_threads(path))
    else:
        raise ValueError(f"kind {kind!r} is not video or frames")
    frames = decoded_ahead(source)
    if progress is not None:
        frames = _reporting(frames, progress)
    tracks = track_regions(frames, fps=fps, cfg=cfg, flow_cfg=flow_cfg, aligner=aligner,
                           bgr=kind == "video")
    if not tracks.detections:
        raise ClipError("no face found", f"in any of the {len(tracks)} frames")
    return spot_tracks(tracks, fps=fps, cfg=cfg, frame_numbers=numbers)


def _reporting(frames: Iterable[np.ndarray], progress: Callable[[int], None]
               ) -> Iterator[np.ndarray]:
    for frame in frames:
        progress(1)
        yield frame
