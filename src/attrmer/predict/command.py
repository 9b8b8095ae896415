"""The `attrmer predict` command: paths in, one record per clip out (a table or JSON)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from attrmer.cpus import size_thread_pools
from attrmer.errors import EXIT_CODES_HELP, EXIT_INTERRUPTED
from attrmer.modelfile import ModelFileError
from attrmer.predict.ahead import PreparingAhead
from attrmer.predict.clips import (
    EXIT_INPUT,
    EXIT_MODEL,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
    VIDEO_SUFFIXES,
    ClipSource,
    InputError,
    WindowChoice,
    find_clips,
    parse_window,
    read_clip,
    video_fps,
    widen,
)
from attrmer.predict.confidence import MIN_FRAMES, mouth_cycles
from attrmer.predict.long_video import (
    FALLBACK_REASONS,
    SpottedWindow,
    is_long,
    spotted_windows,
    windows_to_classify,
)
from attrmer.predict.predictor import (
    STEPS,
    ClipPreparer,
    Predictor,
    PreparedClip,
    check_device,
    default_model_dirs,
    ensemble_settings,
    model_dirs,
)
from attrmer.preprocess.frames import ClipError

TIMED_STEPS = ("decode", "window", *STEPS[1:])



def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attrmer predict",
        description=(
            "Predict the micro-expression of video files or folders of frames with trained\n"
            "attrmer video models. A PATH is a video file (" + ", ".join(VIDEO_SUFFIXES[:5])
            + ", ...), a\nfolder of frames, or a folder of clips (subfolders of frames and/or "
            "video files,\neach predicted).\n\n"
            "By default every seed's model of the last `dvc repro` (models/seeds/seed_*) scores\n"
            "the clip: the answer is the class of highest mean calibrated probability over the\n"
            "models (not the most votes: two sure models can outweigh three unsure ones), with\n"
            "each model's own answer as its vote, and `uncertain` with the reasons, first, when\n"
            "fewer than 4 of 5 models give the answer, when the clip moves far more or less\n"
            "than the training clips, or when no class is likely.\n\n"
            "--window auto (the default) classifies the onset-apex-offset window where facial\n"
            "motion against the first frame peaks (eyes left out, so blinks do not count);\n"
            "full uses every frame; ONSET:OFFSET the frames given (counted from 1). On a\n"
            "clip over 10 s, auto spots the micro- and macro-expressions first (as `attrmer\n"
            "spot` does) and classifies each micro-expression (one record each; with none,\n"
            "each macro-expression, and with neither the strongest motion, marked uncertain);\n"
            "--window spot does so on any clip.\n\n"
            "--json prints a list with one object per clip, also for one clip: path, label,\n"
            "probabilities {class: p}, window {onset, apex, offset, how, seconds}, frames,\n"
            "models, votes, agreement, uncertain, reasons, motion, model; a clip that could\n"
            "not be predicted is {path, error} in the list (and on stderr)."
        ),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument("--model", type=Path, default=None, metavar="DIR",
                        help="a model directory, or a folder of them for an ensemble (default: "
                             "models/seeds/seed_<s> for every seed of params.yaml train.seeds)")
    parser.add_argument("--window", default=None, metavar="auto|full|spot|ONSET:OFFSET",
                        help="which frames to classify (default auto)")
    parser.add_argument("--onset", type=int, default=None, metavar="N",
                        help="first frame used, counted from 1 (for a frame folder: its "
                             "position in natural order); same as --window N:")
    parser.add_argument("--offset", type=int, default=None, metavar="M",
                        help="last frame used (inclusive); same as --window :M")
    parser.add_argument("--fps", type=float, default=None,
                        help="frame rate of frame folders, to state the window in seconds "
                             "(videos declare their own)")
    parser.add_argument("--json", action="store_true",
                        help="print JSON: a list with one object per clip")
    parser.add_argument("--output", type=Path, default=None, metavar="FILE",
                        help="also write the JSON to FILE (atomically; written only if at "
                             "least one clip was predicted)")
    parser.add_argument("--batch-size", type=int, default=8, metavar="B",
                        help="clips per network call (default 8)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--timings", action="store_true",
                        help="also print the seconds spent per step")
    return parser


def window_choice(args: argparse.Namespace) -> WindowChoice:
    if args.window is not None and (args.onset is not None or args.offset is not None):
        raise InputError("--window and --onset/--offset both choose the frames: give one")
    if args.onset is not None or args.offset is not None:
        if args.onset is not None and args.offset is not None and args.offset < args.onset:
            raise InputError(f"--offset {args.offset} is before --onset {args.onset}")
        return WindowChoice("given", args.onset, args.offset)
    return parse_window(args.window or "auto")


def cli(argv: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    if args.batch_size < 1:
        return _fail(f"--batch-size {args.batch_size} must be at least 1", EXIT_USAGE)
    if args.fps is not None and args.fps <= 0:
        return _fail(f"--fps {args.fps} must be positive", EXIT_USAGE)
    try:
        window = window_choice(args)
        check_device(args.device)
    except (InputError, ValueError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    try:
        clip_count = _count_clips(args.paths)
    except InputError as exc:
        return _fail(str(exc), EXIT_INPUT)
    try:
        model = args.model if args.model is not None else default_model_dirs()
        directories = model_dirs(model) if isinstance(model, Path) else model
        settings = ensemble_settings(directories)
    except ModelFileError as exc:
        return _fail(str(exc), EXIT_MODEL)
    results: list[dict[str, Any]] = []
    interrupted = False
    try:
        if clip_count <= PREPARE_AHEAD_MAX_CLIPS:
            # The clips are prepared (decoded, aligned, windowed, TIM, flow) in a second
            # process while this one imports torch and loads the networks: on a cold start
            # the two take about as long, and a call on a few clips finishes in little more
            # than the longer.
            with PreparingAhead(settings[0], lambda preparer: prepare_paths(
                    preparer, args.paths, window=window, fps=args.fps)) as ahead:
                size_thread_pools()  # after the fork: torch is imported here
                predictor = Predictor(directories, device=args.device,
                                      warm_aligner=not ahead.running, settings=settings)
                jobs = ahead.result(predictor.preparer)
            results = classify_prepared(predictor, jobs, args.batch_size)
        else:
            # Many clips: a batch at a time, so that an interruption keeps the answers given.
            size_thread_pools()
            predictor = Predictor(directories, device=args.device, settings=settings)
            for piece in prepared_batches(predictor.preparer, args.paths, window=window,
                                          fps=args.fps, size=args.batch_size):
                results.extend(classify_prepared(predictor, piece, args.batch_size))
    except ModelFileError as exc:
        return _fail(str(exc), EXIT_MODEL)
    except KeyboardInterrupt:
        interrupted = True
    predicted = [r for r in results if "error" not in r]
    for record in results:
        if "error" in record:
            print(f"attrmer predict: {record['error']}", file=sys.stderr)
    if not args.timings:
        for record in predicted:
            record.pop("timings", None)

    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for record in predicted:
            print(format_table(record))
    if args.output is not None and predicted:
        from attrmer.io import write_json

        try:
            write_json(args.output, results)
        except OSError as exc:
            return _fail(f"{args.output}: cannot write ({exc.strerror})", EXIT_OUTPUT)
    if interrupted:
        kept = f" and in {args.output}" if args.output is not None and predicted else ""
        return _fail(f"interrupted after {len(results)} of {clip_count} clips; the finished "
                     f"ones are above{kept}", EXIT_INTERRUPTED)
    return EXIT_OK if len(predicted) == len(results) else EXIT_INPUT


# Up to this many clips are prepared ahead (attrmer.predict.ahead); more are prepared here.
PREPARE_AHEAD_MAX_CLIPS = 8


def _count_clips(paths: Sequence[Path]) -> int:
    """How many clips the paths stand for (a path naming none counts as one: its error),
    read before any model loads. When no path names a clip, the first one's InputError; a
    path that does, among missing ones, is predicted and the others reported after it."""
    found, errors = 0, []
    for path in paths:
        try:
            found += len(find_clips(path))
        except InputError as exc:
            errors.append(exc)
    if errors and not found:
        raise errors[0]
    return found + len(errors)


def load_window(preparer: ClipPreparer, source: ClipSource, choice: WindowChoice,
                fps: float | None = None) -> tuple[list[np.ndarray], dict[str, Any], float]:
    """The frames to classify, the window record (1-based frames) and the seconds the
    window search took. Errors are InputError naming the path."""
    fps = video_fps(source) or fps
    # "auto" searches frames onset..offset when the choice names them (the whole clip when
    # not); "given" and "full" never do.
    frames, first, last, warnings = read_clip(source, choice.onset, choice.offset)
    if choice.how in ("given", "full"):
        record = _window_record(first, None, last, choice.how, fps)
        return frames, record | ({"warnings": warnings} if warnings else {}), 0.0
    from attrmer.spot import find_window, motion_signal
    from attrmer.spot.presence import face_span

    start = time.perf_counter()
    try:
        aligned = preparer.align(frames)
        # The window is searched only while the face found at the start is still in the shot:
        # the crops of a scene without it would read as the strongest motion of all.
        kept = face_span(frames, aligned, preparer.aligner)
        if kept < 2:
            raise ClipError("face lost", "the face is gone after the first frame")
        frames = frames[:kept]
        window = find_window(motion_signal(aligned[:kept]))
        # Speech shows as the mouth opening again and again over the searched frames, more
        # than inside the one window found there.
        cycles = mouth_cycles(aligned[:kept])
    except ClipError as exc:
        raise InputError(f"{source.path}: {exc}") from None
    onset, offset = widen(window.onset, window.offset, window.apex, MIN_FRAMES, len(frames))
    record = _window_record(first + onset, first + window.apex, first + offset,
                            "auto" if window.found else "full (no motion peak)", fps)
    # A clip with no clear peak is kept whole, which is right for a clip already cut to one
    # expression; whether it moves too little for the model is the motion check's call.
    record["peak_px"] = round(window.peak, 3)
    record["mouth_cycles"] = cycles
    if kept < last - first + 1:
        record["face_lost_at"] = first + kept
    if warnings:
        record["warnings"] = warnings
    return frames[onset:offset + 1], record, time.perf_counter() - start


def _window_record(first: int, apex: int | None, last: int, how: str,
                   fps: float | None) -> dict[str, Any]:
    record: dict[str, Any] = {"onset": first, "apex": apex, "offset": last, "how": how}
    # Seconds from the clip's start: frame k (1-based) begins at (k - 1) / fps.
    record["seconds"] = ([round((first - 1) / fps, 3), round(last / fps, 3)]
                         if fps else None)
    return record


def predict_paths(
    predictor: Predictor,
    paths: Sequence[str | Path],
    *,
    window: WindowChoice | None = None,
    batch_size: int = 8,
    fps: float | None = None,
) -> list[dict[str, Any]]:
    """Predict every clip the paths stand for; one record per clip, in order.

    A record is the prediction (label, probabilities, window, frames, votes, agreement,
    uncertain, reasons, motion, path, model, timings) or, for a clip that could not be
    predicted, {"path", "error"}; one bad clip does not stop the others.
    """
    jobs = prepare_paths(predictor.preparer, paths, window=window or WindowChoice("auto"),
                         fps=fps)
    return classify_prepared(predictor, jobs, batch_size)


@dataclass
class PreparedJobs:
    """Every clip of the paths prepared for the network: one record per clip, in order (the
    path alone, or the clip's error), and the prepared clips with their record's index."""

    records: list[dict[str, Any]]
    prepared: list[tuple[int, PreparedClip, dict[str, Any]]]


def prepare_paths(preparer: ClipPreparer, paths: Sequence[str | Path], *,
                  window: WindowChoice, fps: float | None = None) -> PreparedJobs:
    """Find, decode, window and prepare every clip the paths stand for (no torch needed)."""
    records: list[dict[str, Any]] = []
    prepared: list[tuple[int, PreparedClip, dict[str, Any]]] = []
    for record, clip, span in iter_prepared(preparer, paths, window=window, fps=fps):
        records.append(record)
        if clip is not None:
            prepared.append((len(records) - 1, clip, span))
    return PreparedJobs(records, prepared)


def prepared_batches(preparer: ClipPreparer, paths: Sequence[str | Path], *,
                     window: WindowChoice, fps: float | None = None,
                     size: int = 8) -> Iterator[PreparedJobs]:
    """`prepare_paths` in pieces of `size` prepared clips (with the error records between
    them), in order: each piece can be classified, and its answers kept, before the next is
    read."""
    piece = PreparedJobs([], [])
    for record, clip, span in iter_prepared(preparer, paths, window=window, fps=fps):
        piece.records.append(record)
        if clip is not None:
            piece.prepared.append((len(piece.records) - 1, clip, span))
        if len(piece.prepared) == size:
            yield piece
            piece = PreparedJobs([], [])
    if piece.records:
        yield piece


PreparedJob = tuple[dict[str, Any], PreparedClip | None, dict[str, Any] | None]


def iter_prepared(preparer: ClipPreparer, paths: Sequence[str | Path], *,
                  window: WindowChoice, fps: float | None = None) -> Iterator[PreparedJob]:
    """(record, prepared clip, window record) for every clip the paths stand for, in order;
    the clip is None where the record holds its error."""
    # Records keep the order of the paths; a path that names no clip at all gets its error
    # record where its clips would have been.
    items: list[ClipSource | dict[str, Any]] = []
    for path in paths:
        try:
            items.extend(find_clips(path))
        except InputError as exc:
            items.append({"path": str(path), "error": str(exc)})
    jobs = [job for item in items for job in _jobs(preparer, item, window, fps)]
    for item, choice, spotted in _progress(jobs):
        if isinstance(item, dict):
            yield item, None, None
            continue
        record = {"path": str(item.path)}
        try:
            start = time.perf_counter()
            frames, span, window_seconds = load_window(preparer, item, choice, fps)
            decode_seconds = time.perf_counter() - start - window_seconds
            if spotted is not None:
                span["spotted"] = spotted.found
                if spotted.apex is not None:
                    span.update(how="spot", apex=spotted.apex)
            # The window search counted the mouth's cycles over every frame it searched.
            clip = preparer.prepare(frames, cycles=span.pop("mouth_cycles", None))
        except InputError as exc:
            yield record | {"error": str(exc)}, None, None
            continue
        except ClipError as exc:
            yield record | {"error": f"{item.path}: {exc}"}, None, None
            continue
        clip.timings = {"decode": decode_seconds, "window": window_seconds, **clip.timings}
        yield record, clip, span


def classify_prepared(predictor: Predictor, jobs: PreparedJobs,
                      batch_size: int = 8) -> list[dict[str, Any]]:
    """The records of `prepare_paths` with every prepared clip's prediction filled in."""
    records, prepared = jobs.records, jobs.prepared
    predictions = predictor.classify([clip for _, clip, _ in prepared], batch_size)
    for (index, clip, span), prediction in zip(prepared, predictions, strict=True):
        if clip.face_lost_at is not None and "face_lost_at" not in span:
            # A window given or `full` keeps its frames; the record says, in the clip's own
            # frame numbers, where the face left.
            span["face_lost_at"] = span["onset"] + clip.face_lost_at - 1
        result = prediction.as_dict()
        reasons = result["reasons"]
        fallback = FALLBACK_REASONS.get(span.get("spotted", {}).get("kind"))
        if fallback:  # first: it says what the answer is about
            reasons = [fallback, *reasons]
        records[index] = {
            "path": records[index]["path"],
            "label": result["label"],
            "probabilities": result["probabilities"],
            "window": span,
            "onset": span["onset"],
            "offset": span["offset"],
            "frames": result["frames"],
            "models": result["models"],
            "votes": result["votes"],
            "agreement": result["agreement"],
            "uncertain": bool(reasons),
            "reasons": reasons,
            # What decoding the clip found wrong with the file (cut short, damaged data).
            "warnings": span.pop("warnings", []),
            "motion": result["motion"],
            "model": str(predictor.model_dir),
            "timings": {step: round(prediction.timings.get(step, 0.0), 4)
                        for step in TIMED_STEPS},
        }
    return records


def _jobs(preparer: ClipPreparer, item: ClipSource | dict[str, Any], window: WindowChoice,
          fps: float | None) -> list[tuple[Any, WindowChoice, SpottedWindow | None]]:
    """What to classify of one clip: the clip with the window asked for, or for a long video
    (`--window spot`, or `auto` on a clip longer than LONG_CLIP_SECONDS) one job per spotted
    micro-expression; an error record when nothing can be."""
    if isinstance(item, dict):
        return [(item, window, None)]
    rate = video_fps(item) or fps
    whole = window.onset is None and window.offset is None
    if not (window.how == "spot" or (window.how == "auto" and whole and is_long(item, rate))):
        return [(item, window, None)]
    try:
        windows, _ = spotted_windows(item, rate, preparer.aligner)
    except InputError as exc:
        return [({"path": str(item.path), "error": str(exc)}, window, None)]
    return [(item, spotted.choice, spotted) for spotted in windows_to_classify(windows)]


def _progress(items: list[Any]) -> Iterable[Any]:
    if len(items) < 2:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="predict", unit="clip", file=sys.stderr)


def _spotted_text(spotted: dict[str, Any] | None) -> str:
    """What the spotter found in the window, for the readable output."""
    if not spotted:
        return ""
    if "score" not in spotted:  # nothing spotted: the strongest motion
        return f" (the {spotted['kind']} of the video: nothing was spotted)"
    return (f" (a spotted {spotted['kind']}-expression, {spotted['score']:.2f} px at the "
            f"{spotted['region'].replace('_', ' ')})")


def format_table(record: dict[str, Any]) -> str:
    """A readable block for one prediction: the label, the window, the votes and every class
    with a bar. An uncertain answer gives its reasons first, right under the label, and its
    classes without bars: a bar would read as confidence the answer does not have."""
    probabilities: dict[str, float] = record["probabilities"]
    width = max(len(name) for name in probabilities)
    span = record["window"]
    seconds = (f" ({span['seconds'][0]:.2f}-{span['seconds'][1]:.2f} s)"
               if span.get("seconds") else "")
    apex = f", apex {span['apex']}" if span.get("apex") else ""
    verdict = "  (uncertain)" if record["uncertain"] else ""
    votes = ", ".join(f"{name} {n}" for name, n in record["votes"].items())
    doubts = [f"  ! {reason}" for reason in record["reasons"]]
    doubts += [f"  ! the file: {warning}" for warning in record.get("warnings", [])]
    lines = [
        f"{record['path']}: {record['label']}{verdict}",
        *doubts,
        f"  window: frames {span['onset']}-{span['offset']}{seconds}{apex}, {span['how']}"
        + _spotted_text(span.get("spotted"))
        + f"; {record['frames']} frames used"
        + (f"; the face leaves the shot at frame {span['face_lost_at']}"
           + (", searched before it" if span["how"] not in ("given", "full") else "")
           if span.get("face_lost_at") else ""),
        f"  models: {record['models']} (votes {votes}; the answer: the highest mean "
        f"probability), from {record['model']}",
    ]
    for name, p in probabilities.items():
        marker = "*" if name == record["label"] else " "
        bar = "" if record["uncertain"] else f"  {'#' * round(p * 40)}"
        lines.append(f"  {marker} {name:<{width}}  {p:6.1%}{bar}".rstrip())
    if "timings" in record:
        lines.append("  seconds: " + ", ".join(f"{step} {record['timings'][step]:.3f}"
                                               for step in TIMED_STEPS))
    return "\n".join(lines)


def _fail(message: str, code: int) -> int:
    print(f"attrmer predict: {message}", file=sys.stderr)
    return code
