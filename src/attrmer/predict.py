"""`attrmer predict`: the micro-expression of new footage, from a trained video network.

A clip (a video file or a folder of frames) goes through the pipeline's own per-clip code,
`attrmer.preprocess.pipeline` (one alignment per clip, TIM, Farneback flow), and the network
inputs are made by `attrmer.model.inputs`, exactly as in training; then the video network alone
runs (no text model). Many clips share one model load and batched network calls.

`Predictor` is the library entry point; `cli(argv)` is the command. Not for training,
evaluation on a labelled dataset (see `attrmer.evaluate`) or export (see `attrmer.export`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from attrmer.modelfile import ModelFileError, load_model_dir
from attrmer.preprocess.frames import (
    IMAGE_SUFFIXES,
    ClipError,
    frame_files,
    load_clip_frames,
    natural_key,
    read_video,
)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mpg", ".mpeg", ".mkv", ".m4v", ".webm", ".wmv")
STEPS = ("decode", "align", "tim", "flow", "network")

EXIT_OK = 0
EXIT_INPUT = 2  # bad usage, or an input that cannot be predicted
EXIT_MODEL = 3  # the model directory is missing, incomplete or incompatible
EXIT_OUTPUT = 4  # --output could not be written

EXIT_CODES_HELP = f"""\
exit codes:
  {EXIT_OK}  every clip was predicted
  {EXIT_INPUT}  usage error, or at least one input could not be predicted (missing, not
     decodable, fewer than 2 frames, span out of range, no face found); the other
     clips are still predicted and printed
  {EXIT_MODEL}  the model directory is missing, lacks files or is from an incompatible version
  {EXIT_OUTPUT}  the --output file could not be written
"""


class InputError(Exception):
    """An input path that cannot be predicted; the message names the path."""


@dataclass(frozen=True)
class Prediction:
    """One clip's prediction: the most probable class and every class's probability.

    `frames` is the number of source frames used; `timings` the seconds spent per step
    (decode, align, tim, flow, network; a batch's network time is shared out evenly).
    """

    label: str
    probabilities: dict[str, float]
    frames: int
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "probabilities": dict(self.probabilities),
            "frames": self.frames,
            "timings": {step: round(seconds, 4) for step, seconds in self.timings.items()},
        }


@dataclass
class PreparedClip:
    """A clip ready for the network: TIM RGB (3, T, S, S) uint8, raw flow (2, T, S, S)."""

    rgb: np.ndarray
    flow: np.ndarray
    frames: int
    timings: dict[str, float]


class Predictor:
    """A loaded model directory plus its face aligner, ready to predict many clips.

    The network, dlib's detector and its landmark model are loaded once, here; every
    `predict_*` call after that pays only for its clips.
    """

    def __init__(self, model_dir: str | Path, device: str = "cpu") -> None:
        from attrmer.preprocess.align import FaceAligner

        self.model_dir = Path(model_dir)
        self.device = device
        self.bundle = load_model_dir(self.model_dir, device=device)
        self.classes: list[str] = list(self.bundle.classes)
        self.aligner = FaceAligner(self.bundle.size)
        # A detection on a blank image loads dlib's models now, so that model loading is not
        # billed to the first clip.
        self.aligner.detect(np.zeros((64, 64, 3), np.uint8))

    def prepare(self, frames: Sequence[np.ndarray]) -> PreparedClip:
        """Align, TIM and flow one decoded clip; raises ClipError (fewer than 2 frames,
        no face found, face leaving the frame)."""
        from attrmer.preprocess.pipeline import align_clip, flow_from_aligned, rgb_from_aligned

        frames = list(frames)
        for index, frame in enumerate(frames):
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise ClipError("not an RGB uint8 H×W×3 frame",
                                f"frame {index + 1} is {frame.dtype} {frame.shape}")
        timings: dict[str, float] = {}
        start = time.perf_counter()
        alignment = align_clip(frames, self.aligner)
        timings["align"] = time.perf_counter() - start
        start = time.perf_counter()
        rgb = rgb_from_aligned(alignment.frames, self.bundle.frames)
        timings["tim"] = time.perf_counter() - start
        start = time.perf_counter()
        flow = flow_from_aligned(alignment.frames, self.bundle.frames, self.bundle.flow)
        # The training stores hold flow as float16; rounding the same way keeps predict's
        # inputs identical to the ones the network was trained on.
        flow = flow.astype(np.float16).astype(np.float32)
        timings["flow"] = time.perf_counter() - start
        return PreparedClip(rgb=rgb, flow=flow, frames=len(frames), timings=timings)

    def classify(self, clips: Sequence[PreparedClip], batch_size: int = 8) -> list[Prediction]:
        """Run the network on prepared clips, `batch_size` at a time."""
        import torch

        from attrmer.model.inputs import flow_input, prepare_rgb

        if batch_size < 1:
            raise ValueError(f"batch_size: {batch_size} must be at least 1")
        predictions: list[Prediction] = []
        input_size = self.bundle.model.input_size
        for first in range(0, len(clips), batch_size):
            batch = clips[first:first + batch_size]
            start = time.perf_counter()
            with torch.inference_mode():
                rgb = prepare_rgb(torch.from_numpy(np.stack([c.rgb for c in batch])), input_size)
                flow = flow_input(torch.from_numpy(np.stack([c.flow for c in batch])),
                                  self.bundle.flow, input_size)
                logits, _ = self.bundle.network(rgb.to(self.device), flow.to(self.device))
                probabilities = torch.softmax(logits.float(), dim=1).cpu().numpy()
            network_seconds = (time.perf_counter() - start) / len(batch)
            for clip, row in zip(batch, probabilities, strict=True):
                predictions.append(Prediction(
                    label=self.classes[int(np.argmax(row))],
                    probabilities={name: float(p) for name, p in zip(self.classes, row,
                                                                      strict=True)},
                    frames=clip.frames,
                    timings={**clip.timings, "network": network_seconds},
                ))
        return predictions

    def predict_frames(self, frames: Sequence[np.ndarray]) -> Prediction:
        """One clip of RGB uint8 H×W×3 frames (onset to offset) -> its Prediction."""
        return self.classify([self.prepare(frames)])[0]

    def predict_path(
        self, path: str | Path, *, onset: int | None = None, offset: int | None = None
    ) -> Prediction:
        """One video file or frame folder, frames `onset`..`offset` (1-based, inclusive;
        default the whole clip), with the decoding timed too. Errors are InputError naming
        the path."""
        sources = find_clips(path)
        if len(sources) != 1:
            raise InputError(f"{path}: a folder of {len(sources)} clips; predict_paths "
                             f"predicts each")
        start = time.perf_counter()
        frames, _, _ = read_clip(sources[0], onset, offset)
        decode_seconds = time.perf_counter() - start
        try:
            clip = self.prepare(frames)
        except ClipError as exc:
            raise InputError(f"{path}: {exc}") from exc
        clip.timings = {"decode": decode_seconds, **clip.timings}
        return self.classify([clip])[0]

    def predict_many(
        self, clips: Sequence[Sequence[np.ndarray]], batch_size: int = 8
    ) -> list[Prediction]:
        """Several clips, one prediction each, in order; the network runs in batches.

        A clip that cannot be prepared raises ClipError naming its position; use `prepare`
        and `classify` to go on past bad clips.
        """
        prepared = []
        for index, frames in enumerate(clips):
            try:
                prepared.append(self.prepare(frames))
            except ClipError as exc:
                raise ClipError(exc.reason, f"clip {index}" + (f": {exc.detail}"
                                                                if exc.detail else "")) from exc
        return self.classify(prepared, batch_size)


# --- inputs ---------------------------------------------------------------------------------

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
) -> tuple[list[np.ndarray], int, int]:
    """Decode a clip's frames from `onset` to `offset` (1-based, inclusive): (frames, onset,
    offset). Errors name the path."""
    try:
        if source.kind == "frames":
            files = frame_files(source.path)
            first, last = check_span(onset, offset, len(files), source.path)
            return load_clip_frames(files[first - 1:last]), first, last
        frames = read_video(source.path)
    except ClipError as exc:
        raise InputError(f"{source.path}: {exc}") from None
    first, last = check_span(onset, offset, len(frames), source.path)
    return frames[first - 1:last], first, last


def default_model_dir(root: str | Path = ".") -> Path:
    """models/seed_<s> for the lowest seed of params.yaml's train.seeds that exists, i.e. a
    model written by the last `dvc repro` (any models/seed_* when params.yaml is absent)."""
    from attrmer.config import ConfigError, load_params

    root = Path(root)
    try:
        seeds = sorted(load_params(root / "params.yaml").train.seeds)
    except ConfigError:
        seeds = sorted(int(p.name.removeprefix("seed_")) for p in root.glob("models/seed_*")
                       if p.name.removeprefix("seed_").isdigit())
    for seed in seeds:
        candidate = root / "models" / f"seed_{seed}"
        if candidate.is_dir():
            return candidate
    raise ModelFileError(f"{root / 'models'}: no trained model (models/seed_<seed>); run "
                         f"`dvc repro` first, or pass --model DIR")


# --- command --------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attrmer predict",
        description=(
            "Predict the micro-expression of video files or folders of frames with a trained\n"
            "attrmer video model. A PATH is a video file (mp4, avi, mov, mpg, mkv, ...), a\n"
            "folder of frames, or a folder of clips (subfolders of frames and/or video files,\n"
            "each predicted). All clips share one model load and batched network calls.\n\n"
            "--json prints, per clip: path, label, probabilities {class: p}, frames (count\n"
            "used), onset, offset (1-based, inclusive), model; a clip that could not be\n"
            "predicted appears as {path, error} in the list and on stderr."
        ),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument("--model", type=Path, default=None, metavar="DIR",
                        help="model directory (default: models/seed_<lowest seed of "
                             "params.yaml train.seeds> in the current folder)")
    parser.add_argument("--onset", type=int, default=None, metavar="N",
                        help="first frame used, counted from 1 in clip order (for a frame "
                             "folder: its position in natural order); default 1")
    parser.add_argument("--offset", type=int, default=None, metavar="M",
                        help="last frame used (inclusive); default the clip's last frame")
    parser.add_argument("--json", action="store_true",
                        help="print JSON: an object for one clip, a list for several")
    parser.add_argument("--output", type=Path, default=None, metavar="FILE",
                        help="also write the JSON to FILE (atomically; written only if at "
                             "least one clip was predicted)")
    parser.add_argument("--batch-size", type=int, default=8, metavar="B",
                        help="clips per network call (default 8)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--timings", action="store_true",
                        help="also print the seconds spent per step")
    return parser


def cli(argv: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    if args.batch_size < 1:
        return _fail(f"--batch-size {args.batch_size} must be at least 1", EXIT_INPUT)
    if args.onset is not None and args.offset is not None and args.offset < args.onset:
        return _fail(f"--offset {args.offset} is before --onset {args.onset}", EXIT_INPUT)

    try:
        model_dir = args.model if args.model is not None else default_model_dir()
        predictor = Predictor(model_dir, device=args.device)
    except ModelFileError as exc:
        return _fail(str(exc), EXIT_MODEL)

    results = predict_paths(predictor, args.paths, onset=args.onset, offset=args.offset,
                            batch_size=args.batch_size)
    predicted = [r for r in results if "error" not in r]
    for record in results:
        if "error" in record:
            print(f"attrmer predict: {record['error']}", file=sys.stderr)
    if not args.timings:
        for record in predicted:
            record.pop("timings", None)

    document: Any = results[0] if len(results) == 1 else results
    if args.json:
        if predicted:
            print(json.dumps(document, indent=2))
    else:
        for record in predicted:
            print(format_table(record))
    if args.output is not None and predicted:
        from attrmer.io import write_json

        try:
            write_json(args.output, document)
        except OSError as exc:
            return _fail(f"{args.output}: cannot write ({exc.strerror})", EXIT_OUTPUT)
    return EXIT_OK if len(predicted) == len(results) else EXIT_INPUT


def predict_paths(
    predictor: Predictor,
    paths: Sequence[str | Path],
    *,
    onset: int | None = None,
    offset: int | None = None,
    batch_size: int = 8,
) -> list[dict[str, Any]]:
    """Predict every clip the paths stand for; one record per clip, in order.

    A record is the prediction (label, probabilities, path, frames, onset, offset, model,
    timings) or, for a clip that could not be predicted, {"path", "error"}; one bad clip does
    not stop the others.
    """
    # Records keep the order of the paths; a path that names no clip at all gets its error
    # record where its clips would have been.
    items: list[ClipSource | dict[str, Any]] = []
    for path in paths:
        try:
            items.extend(find_clips(path))
        except InputError as exc:
            items.append({"path": str(path), "error": str(exc)})
    records: list[dict[str, Any]] = []
    prepared: list[tuple[int, PreparedClip]] = []
    for item in _progress(items):
        if isinstance(item, dict):
            records.append(item)
            continue
        record: dict[str, Any] = {"path": str(item.path)}
        records.append(record)
        try:
            start = time.perf_counter()
            frames, first, last = read_clip(item, onset, offset)
            decode_seconds = time.perf_counter() - start
            clip = predictor.prepare(frames)
        except InputError as exc:
            record["error"] = str(exc)
            continue
        except ClipError as exc:
            record["error"] = f"{item.path}: {exc}"
            continue
        clip.timings = {"decode": decode_seconds, **clip.timings}
        record.update(onset=first, offset=last)
        prepared.append((len(records) - 1, clip))
    predictions = predictor.classify([clip for _, clip in prepared], batch_size)
    for (index, _), prediction in zip(prepared, predictions, strict=True):
        record = records[index]
        records[index] = {
            "path": record["path"],
            "label": prediction.label,
            "probabilities": prediction.probabilities,
            "frames": prediction.frames,
            "onset": record["onset"],
            "offset": record["offset"],
            "model": str(predictor.model_dir),
            "timings": {step: round(prediction.timings[step], 4) for step in STEPS},
        }
    return records


def _progress(items: list[Any]) -> Iterable[Any]:
    if len(items) < 2:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="predict", unit="clip", file=sys.stderr)


def format_table(record: dict[str, Any]) -> str:
    """A readable block for one prediction: the label, then every class with a bar."""
    probabilities: dict[str, float] = record["probabilities"]
    width = max(len(name) for name in probabilities)
    lines = [
        f"{record['path']}: {record['label']}",
        f"  frames {record['onset']}-{record['offset']} ({record['frames']} used), "
        f"model {record['model']}",
    ]
    for name, p in probabilities.items():
        marker = "*" if name == record["label"] else " "
        lines.append(f"  {marker} {name:<{width}}  {p:6.1%}  {'#' * round(p * 40)}")
    if "timings" in record:
        lines.append("  seconds: " + ", ".join(f"{step} {record['timings'][step]:.3f}"
                                               for step in STEPS))
    return "\n".join(lines)


def _fail(message: str, code: int) -> int:
    print(f"attrmer predict: {message}", file=sys.stderr)
    return code
