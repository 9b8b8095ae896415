"""The `attrmer spot` command: one long video (a file or a folder of frames) in, the micro- and
macro-expressions spotted in it out, as a table, `intervals.csv`, `intervals.json` and a
timeline figure.

Inputs are found and read as `attrmer predict` finds them (`attrmer.predict.clips`), with its
exit codes; the spotting itself is `attrmer.spot.reading`, the figure `attrmer.spot.timeline`.
Ground truth (`--truth`) is read from a CAS(ME)^3 part A sheet (`attrmer.datasets.casme3_lv`)
or from a CSV of intervals, and only drawn and counted here, not scored over a corpus
(`attrmer.spot.evaluate` does that).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from attrmer.config import ConfigError, Params, SpotConfig, load_params, load_params_if_present
from attrmer.errors import AttrmerError
from attrmer.io import FolderNotOwnedError, claim_folder

# The frame rate of a frame folder when --fps is not given: CAS(ME)^3's, whose layout
# (<Subject>/<Filename>/color/<N>.jpg) the built-in long-video corpus shares.
from attrmer.predict.long_video import FOLDER_FPS
from attrmer.spot.intervals import KINDS, Interval

CSV_COLUMNS = ("onset", "apex", "offset", "kind", "score", "region", "onset_seconds",
               "offset_seconds", "frames")
PARAMS_FILE = Path("params.yaml")
# What `write_outputs` writes: a folder holding only these is an earlier --out (attrmer.io).
OUTPUT_FILES = frozenset({"intervals.csv", "intervals.json", "timeline.png", "megc.csv"})
FORMATS = ("table", "json", "megc")


def build_parser(exit_codes: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attrmer spot",
        description=(
            "Spot micro- and macro-expressions in a long video: a video file or a folder of\n"
            "frames (<N>.jpg, numbered as the video's frames; a CAS(ME)^3 video folder with\n"
            "color/ and depth/ reads color/). Prints one line per interval (onset, apex and\n"
            "offset as video frames and seconds, type, score in pixels of a 112 px face, the\n"
            "region that moved most) and writes, into --out: intervals.csv, intervals.json\n"
            "(the intervals, blinks, thresholds and settings) and timeline.png (the motion\n"
            "curves over time with their thresholds and the intervals; with --truth, the\n"
            "annotated intervals and blinks beside them).\n\n"
            "Settings come from the `spot` section of --params (default: ./params.yaml when\n"
            "there is one, else the built-in defaults)."
        ),
        epilog=exit_codes,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", type=Path, metavar="VIDEO_OR_FRAME_FOLDER")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="where the files go: a new, empty or earlier --out folder (default: "
                             "spot/<video name>); a folder holding other files is refused")
    parser.add_argument("--force", action="store_true",
                        help="write into --out even when it holds files attrmer did not write")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="what to print: table (default); json (intervals.json's record); "
                             "megc: spot-then-recognise, each interval also classified by the "
                             "trained models (--model), printed and written to megc.csv in the "
                             "layout of MEGC's scoring tool (subject, video, onset, offset, "
                             "emotion: negative, positive or surprise)")
    parser.add_argument("--json", action="store_true", help="the same as --format json")
    parser.add_argument("--model", type=Path, default=None, metavar="DIR",
                        help="with --format megc: a model directory or a run's folder of seeds "
                             "(default: models/seeds of this project, as attrmer predict)")
    parser.add_argument("--params", type=Path, default=None, metavar="FILE",
                        help="a params file (its spot and flow sections are used)")
    parser.add_argument("--fps", type=float, default=None,
                        help=f"frame rate (default: the video's own; {FOLDER_FPS:g} for a "
                             "frame folder)")
    parser.add_argument("--truth", type=Path, default=None, metavar="FILE",
                        help="annotations to draw and count: a CAS(ME)^3 part A sheet "
                             "(.xls/.xlsx, rows of this video), or a CSV with onset, offset, "
                             "kind (micro, macro or blink) and optionally apex and video_key")
    return parser


@dataclass
class Truth:
    """The annotated intervals and blinks of one video."""

    intervals: list[Interval] = field(default_factory=list)
    blinks: list[tuple[int, int]] = field(default_factory=list)


def cli(argv: list[str]) -> int:
    # The input handling and exit codes are predict's: one way to name a clip for both.
    from attrmer.errors import EXIT_CODES_HELP
    from attrmer.predict.clips import (
        EXIT_INPUT,
        EXIT_OK,
        EXIT_OUTPUT,
        EXIT_USAGE,
        InputError,
        video_fps,
    )

    parser = build_parser(EXIT_CODES_HELP)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    if args.fps is not None and args.fps <= 0:
        return _fail(f"--fps {args.fps} must be positive", EXIT_USAGE)
    if args.json and args.format not in (None, "json"):
        return _fail(f"--json and --format {args.format} ask for two outputs; give one",
                     EXIT_USAGE)
    output = "json" if args.json else (args.format or "table")
    try:
        params = _params(args.params)
        source = _one_clip(args.path)
    except (ConfigError, InputError) as exc:
        return _fail(str(exc), EXIT_INPUT)
    try:
        truth = read_truth(args.truth, source.path) if args.truth is not None else None
    except (AttrmerError, ValueError) as exc:
        return _fail(str(exc), EXIT_INPUT)
    out = args.out if args.out is not None else Path("spot") / video_name(source.path)
    try:  # before the video is read: a refused folder costs nothing
        claim_folder(out, command="attrmer spot", force=args.force, replaces=False,
                     own_names=OUTPUT_FILES)
    except FolderNotOwnedError as exc:
        return _fail(str(exc), EXIT_OUTPUT)
    fps = args.fps or video_fps(source)
    if fps is None:
        fps = FOLDER_FPS
        if source.kind == "frames":
            print(f"attrmer spot: {source.path}: --fps not given, {FOLDER_FPS:g} fps assumed",
                  file=sys.stderr)

    from attrmer.preprocess.frames import ClipError
    from attrmer.spot.reading import spot_path

    predictor = None
    if output == "megc":  # the models load before the video is read: a missing one costs nothing
        from attrmer.errors import EXIT_MODEL
        from attrmer.modelfile import ModelFileError
        from attrmer.predict.predictor import Predictor, default_model_dirs

        try:
            predictor = Predictor(args.model if args.model is not None else default_model_dirs())
        except ModelFileError as exc:
            return _fail(str(exc), EXIT_MODEL)
    try:
        with _progress_bar(source) as bar:
            result = spot_path(source.path, kind=source.kind, fps=fps, cfg=params.spot,
                               flow_cfg=params.flow, progress=bar.update)
    except ClipError as exc:
        return _fail(f"{source.path}: {exc}", EXIT_INPUT)

    record = spot_record(result, source.path, params.spot, truth)
    megc = recognised_table(predictor, source, result) if predictor is not None else None
    try:
        write_outputs(out, result, record, source.path, truth, params.spot)
        if megc is not None:
            from attrmer.io import write_text

            write_text(out / "megc.csv", megc)
    except OSError as exc:
        return _fail(f"{out}: cannot write ({exc.strerror or exc})", EXIT_OUTPUT)
    if megc is not None:
        print(megc, end="")
        print(f"attrmer spot: wrote {out / 'megc.csv'} and intervals.csv, intervals.json, "
              "timeline.png beside it", file=sys.stderr)
    elif output == "json":
        print(json.dumps(record, indent=2))
    else:
        print(format_table(record))
        print(f"  wrote {out / 'intervals.csv'}, {out / 'intervals.json'}, "
              f"{out / 'timeline.png'}")
    return EXIT_OK


def recognised_table(predictor: Any, source: Any, result: Any) -> str:
    """Every spotted interval classified (spot-then-recognise), as the CSV text of MEGC's
    scoring tool's layout (attrmer.predict.spotted.MEGC_COLUMNS)."""
    from attrmer.predict.spotted import MEGC_COLUMNS, megc_rows, recognise_intervals

    found = recognise_intervals(predictor, source, result.intervals,
                                first_frame=int(result.frame_numbers[0]),
                                total_frames=len(result.frame_numbers))
    key = video_key(source.path)
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=MEGC_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(megc_rows({"video_key": key, **record} for record in found))
    return table.getvalue()


def _params(path: Path | None) -> Params:
    return load_params(path) if path is not None else load_params_if_present(PARAMS_FILE)


def _one_clip(path: Path) -> Any:
    """The one video or frame folder `path` names (a `ClipSource`); a CAS(ME)^3 video folder
    (color/ and depth/ beside each other) stands for its color/ frames."""
    from attrmer.predict.clips import InputError, find_clips

    clips = find_clips(path)
    colour = [c for c in clips if c.kind == "frames" and c.path.name.lower() == "color"]
    if len(clips) > 1 and len(colour) == 1:
        return colour[0]
    if len(clips) > 1:
        names = ", ".join(c.path.name for c in clips[:3]) + (", ..." if len(clips) > 3 else "")
        raise InputError(f"{path}: holds {len(clips)} videos or frame folders ({names}); "
                         "spot takes one")
    return clips[0]


def video_name(path: Path) -> str:
    """A name for the video's files: the file's stem, the folder's name, or for a CAS(ME)^3
    frame folder (`spNO.1/a/color`) its subject and video (`spNO.1_a`)."""
    path = Path(path).resolve()
    if path.is_file():
        return path.stem
    if path.name.lower() == "color" and path.parent.parent != path.parent:
        return f"{path.parent.parent.name}_{path.parent.name}"
    return path.name


def video_key(path: Path) -> str:
    """How a CAS(ME)^3 sheet names the video: `<Subject>/<Filename>` from
    `<Subject>/<Filename>/color`, else `<parent>/<name>`."""
    path = Path(path).resolve()
    if path.is_file():
        return f"{path.parent.name}/{path.stem}"
    if path.name.lower() == "color":
        path = path.parent
    return f"{path.parent.name}/{path.name}"


def read_truth(path: Path, video: Path) -> Truth:
    """The annotated intervals and blinks of `video` in `path` (see --truth)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file (--truth)")
    key = video_key(video)
    if path.suffix.lower() in (".xls", ".xlsx"):
        from attrmer.datasets.casme3_lv import blinks, ground_truth, read_long_videos

        index = read_long_videos(path)
        truth = ground_truth(index, include_failed_videos=True)
        if key not in truth:
            known = ", ".join(list(truth)[:3]) + (", ..." if len(truth) > 3 else "")
            raise ValueError(f"{path}: no rows for video {key} (it names {known})")
        return Truth(truth[key], blinks(index, include_failed_videos=True).get(key, []))
    return _truth_csv(path, key)


def _truth_csv(path: Path, key: str) -> Truth:
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: not a readable CSV ({exc})") from None
    if not rows:
        raise ValueError(f"{path}: no rows")
    columns = {name.strip().lower(): name for name in rows[0]}
    missing = [name for name in ("onset", "offset", "kind") if name not in columns]
    if missing:
        raise ValueError(f"{path}: no column {', '.join(missing)} (needs onset, offset, kind)")
    def cell(row: dict[str, str | None], name: str) -> str:
        # A short row leaves its last cells None (csv.DictReader's restval).
        return (row.get(columns.get(name, ""), "") or "").strip()

    # Rows are numbered as a spreadsheet shows them (the header is row 1), before any filter.
    numbered = list(enumerate(rows, start=2))
    if "video_key" in columns:
        numbered = [(n, r) for n, r in numbered if cell(r, "video_key") == key]
        if not numbered:
            raise ValueError(f"{path}: no rows with video_key {key}")
    truth = Truth()
    for number, row in numbered:
        if "status" in columns and cell(row, "status") not in ("", "ok"):
            continue
        kind = cell(row, "kind").lower()
        try:
            onset, offset = int(cell(row, "onset")), int(cell(row, "offset"))
            apex = int(cell(row, "apex")) if cell(row, "apex") else onset
        except ValueError:
            raise ValueError(f"{path}: row {number}: onset, apex and offset must be frame "
                             "numbers") from None
        if kind == "blink":
            truth.blinks.append((onset, offset))
        elif kind in KINDS:
            try:
                truth.intervals.append(Interval(onset, apex, offset, kind))
            except ValueError as exc:
                raise ValueError(f"{path}: row {number}: {exc}") from None
        else:
            raise ValueError(f"{path}: row {number}: kind {kind!r} is not micro, macro or blink")
    return truth


def spot_record(result: Any, path: Path, cfg: SpotConfig, truth: Truth | None) -> dict[str, Any]:
    """The JSON record of one spotted video (what intervals.json holds)."""
    from attrmer.spot.evaluate import match_intervals

    matched = ({j for _, j in match_intervals(truth.intervals, result.intervals,
                                              iou_threshold=cfg.iou)}
               if truth is not None else set())
    numbers = result.frame_numbers
    intervals = []
    for j, (interval, region) in enumerate(zip(result.intervals, result.regions, strict=True)):
        entry = {
            **interval.as_dict(),
            "region": region,
            "frames": interval.frames,
            "seconds": [round(result.seconds(interval.onset), 3),
                        round(result.seconds(interval.offset + 1), 3)],
        }
        if truth is not None:
            entry["matches_truth"] = j in matched
        intervals.append(entry)
    record: dict[str, Any] = {
        "path": str(path),
        "fps": round(result.fps, 6),
        "frames": len(numbers),
        "first_frame": int(numbers[0]),
        "last_frame": int(numbers[-1]),
        "seconds": round(len(numbers) / result.fps, 3),
        "intervals": intervals,
        "counts": {kind: sum(1 for i in result.intervals if i.kind == kind) for kind in KINDS},
        "blinks": [list(b) for b in result.blinks],
        "thresholds": {k: round(v, 4) for k, v in result.signals.thresholds.items()},
        "resting_levels": {k: round(v, 4) for k, v in result.signals.levels.items()},
        "face_found_at": result.detections,
        "frames_without_face": int(np.isnan(result.signals.micro).sum()),
        "settings": {k: v for k, v in asdict(cfg).items() if k != "corpus"},
    }
    if truth is not None:
        from attrmer.spot.evaluate import video_counts

        counts = video_counts(truth.intervals, result.intervals, iou_threshold=cfg.iou)
        record["truth"] = {
            "intervals": [i.as_dict() for i in truth.intervals],
            "blinks": [list(b) for b in truth.blinks],
            "iou": cfg.iou,
            **{kind: {"tp": c.tp, "fp": c.fp, "fn": c.fn} for kind, c in counts.items()},
        }
    return record


def write_outputs(out: Path, result: Any, record: dict[str, Any], path: Path,
                  truth: Truth | None, cfg: SpotConfig) -> None:
    """intervals.csv, intervals.json and timeline.png in `out`, each written atomically."""
    from attrmer.io import mark_owned, write_json, write_text
    from attrmer.spot.timeline import plot_timeline

    out.mkdir(parents=True, exist_ok=True)
    mark_owned(out, "attrmer spot")
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(CSV_COLUMNS + (("matches_truth",) if truth is not None else ()))
    for entry in record["intervals"]:
        row = [entry["onset"], entry["apex"], entry["offset"], entry["kind"], entry["score"],
               entry["region"], *entry["seconds"], entry["frames"]]
        if truth is not None:
            row.append(entry["matches_truth"])
        writer.writerow(row)
    write_text(out / "intervals.csv", table.getvalue())
    write_json(out / "intervals.json", record)
    plot_timeline(result, out / "timeline.png", title=f"attrmer spot: {path}",
                  truth=truth.intervals if truth else (),
                  truth_blinks=truth.blinks if truth else (), iou_threshold=cfg.iou)


def format_table(record: dict[str, Any]) -> str:
    """The printed summary: the video, then one line per interval."""
    counts = record["counts"]
    lines = [
        f"{record['path']}: {record['frames']} frames ({record['first_frame']}-"
        f"{record['last_frame']}) at {record['fps']:g} fps, {record['seconds']:.1f} s; "
        f"{counts['micro']} micro, {counts['macro']} macro, {len(record['blinks'])} blinks",
    ]
    if record["frames_without_face"]:
        lines.append(f"  no face followed in {record['frames_without_face']} frames")
    if not record["intervals"]:
        lines.append("  nothing spotted")
    else:
        marker = "truth" if "truth" in record else ""
        lines.append(f"  {'#':>3}  {'type':<5}  {'onset':>6} {'apex':>6} {'offset':>6}  "
                     f"{'seconds':>15}  {'score':>6}  {'region':<11}  {marker}".rstrip())
        for number, entry in enumerate(record["intervals"], start=1):
            start, end = entry["seconds"]
            match = ""
            if "matches_truth" in entry:
                match = "matched" if entry["matches_truth"] else "-"
            lines.append(f"  {number:>3}  {entry['kind']:<5}  {entry['onset']:>6} "
                         f"{entry['apex']:>6} {entry['offset']:>6}  "
                         f"{start:>6.2f} - {end:>6.2f}  {entry['score']:>6.2f}  "
                         f"{entry['region']:<11}  {match}".rstrip())
    if "truth" in record:
        truth = record["truth"]
        lines.append("  against --truth (IoU >= {:g}): ".format(truth["iou"]) + "; ".join(
            f"{kind} {truth[kind]['tp']} found, {truth[kind]['fn']} missed, "
            f"{truth[kind]['fp']} false" for kind in KINDS))
    return "\n".join(lines)


class _NoBar:
    def update(self, _: int) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *_: object) -> None:
        pass


def _progress_bar(source: Any) -> Any:
    """A progress bar on stderr when it is a terminal (a long video takes a while)."""
    if not sys.stderr.isatty():
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=_frame_count(source), desc="spot", unit="frame", file=sys.stderr)


def _frame_count(source: Any) -> int | None:
    from attrmer.predict.long_video import clip_frame_count

    return clip_frame_count(source) or None


def _fail(message: str, code: int) -> int:
    print(f"attrmer spot: {message}", file=sys.stderr)
    return code
