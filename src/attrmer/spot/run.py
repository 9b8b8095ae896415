"""Spotting a whole long-video delivery, as the `spot` and `evaluate_spotting` stages do.

`spot_index` runs the spotter (`attrmer.spot.reading`) on every usable video of a
`LongVideoIndex` (the built-in long videos or a CAS(ME)^3 part A delivery, both read by
`attrmer.datasets.casme3_lv`); a video that cannot be spotted is recorded as failed with its
reason, and the others go on. `write_spotted` / `read_spotted` keep the intervals as one CSV,
`score_spotting` turns them and the sheet's whole truth into the MEGC figures of
`metrics/spotting.json` (what could not be spotted or read counts as missed), and
`labelled_truth` / `read_recognised` give spot-then-recognise (`attrmer.spot.strs`) the classes
annotated and recognised. Not for one video from the command line (`attrmer spot`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from attrmer.config import FlowConfig, SpotConfig
from attrmer.datasets.casme3_lv import (
    BLINKS_WORKSHEET,
    LongVideoIndex,
    blinks,
    classed_ground_truth,
    ground_truth,
    read_long_videos,
)
from attrmer.datasets.casme3_lv import (
    FPS as CASME3_FPS,
)
from attrmer.errors import AttrmerError
from attrmer.io import atomic_path
from attrmer.spot.evaluate import SpottingCounts, evaluate_spotting, per_video
from attrmer.spot.intervals import KINDS, Interval
from attrmer.spot.peaks import SpotResult
from attrmer.spot.reading import spot_path
from attrmer.spot.strs import Labelled, megc_class_of_emotion, megc_class_of_objective

# What the `long_videos` stage writes in place of a corpus when spot.videos names a delivery.
SOURCE_FILE = "source.json"
SPOTTED_COLUMNS = ["video_key", "onset", "apex", "offset", "kind", "score", "region"]
VIDEO_STATUS_COLUMNS = ["video_key", "frames", "intervals", "micro", "macro", "blinks",
                        "status", "reason"]


class SpottingInputError(AttrmerError, ValueError):
    """A spotting input (the long-video folder, the spotted intervals) is unusable."""


def long_video_root(videos_dir: str | Path) -> Path:
    """Where the long videos of the `long_videos` stage's output lie: the folder itself (the
    built-in corpus), or the delivery its `source.json` names."""
    videos_dir = Path(videos_dir)
    source = videos_dir / SOURCE_FILE
    if not source.is_file():
        return videos_dir
    try:
        root = Path(json.loads(source.read_text())["root"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SpottingInputError(f"{source}: not a long-video source record ({exc})") from None
    if not root.exists():
        raise SpottingInputError(f"{source}: the long videos it names, {root}, do not exist")
    return root


# What the built-in corpus records of itself beside its sheet
# (attrmer.synth.long_video.corpus.CORPUS_JSON), its frame rate among it.
BUILTIN_CORPUS_FILE = "corpus.json"


def read_index(videos_dir: str | Path) -> LongVideoIndex:
    """The long videos of the `long_videos` stage's output, at their frame rate."""
    root = long_video_root(videos_dir)
    return read_long_videos(root, fps=corpus_fps(root))


def corpus_fps(root: str | Path) -> float:
    """The frame rate of the long videos in `root`: a built-in corpus's own (its
    corpus.json), else CAS(ME)^3's 30 fps. The sheet does not say, and a rate read wrong turns
    every duration the spotter measures in seconds into the wrong number of frames."""
    record = Path(root) / BUILTIN_CORPUS_FILE
    if not record.is_file():
        return CASME3_FPS
    try:
        fps = float(json.loads(record.read_text())["fps"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SpottingInputError(f"{record}: no frame rate in it ({exc})") from None
    if not fps > 0:
        raise SpottingInputError(f"{record}: frame rate {fps} is not positive")
    return fps


@dataclass
class SpottedIndex:
    """Every video's spotting result (ok videos) and one status row per video."""

    results: dict[str, SpotResult] = field(default_factory=dict)
    status: list[dict[str, Any]] = field(default_factory=list)


def spot_index(index: LongVideoIndex, cfg: SpotConfig, *, flow_cfg: FlowConfig | None = None,
               on_video: Callable[[str, SpotResult], None] | None = None) -> SpottedIndex:
    """Spot every ok video of `index`; `on_video(key, result)` after each (e.g. its figure)."""
    from attrmer.preprocess.align import FaceAligner
    from attrmer.preprocess.frames import ClipError

    aligner = FaceAligner()  # one detector and landmark model for every video
    spotted = SpottedIndex()
    for video in index.videos.itertuples(index=False):
        if video.status != "ok":
            spotted.status.append(_status(video.key, status="failed", reason=video.reason))
            continue
        try:
            result = spot_path(video.frame_dir, kind="frames", fps=float(video.fps), cfg=cfg,
                               flow_cfg=flow_cfg, aligner=aligner)
        except ClipError as exc:
            spotted.status.append(_status(video.key, status="failed", reason=str(exc)))
            continue
        spotted.results[video.key] = result
        kinds = [i.kind for i in result.intervals]
        spotted.status.append(_status(
            video.key, frames=len(result.frame_numbers), intervals=len(kinds),
            micro=kinds.count("micro"), macro=kinds.count("macro"), blinks=len(result.blinks),
            status="ok", reason=""))
        if on_video is not None:
            on_video(video.key, result)
    return spotted


def _status(key: str, **values: Any) -> dict[str, Any]:
    return {"video_key": key, **{c: values.get(c, "") for c in VIDEO_STATUS_COLUMNS[1:]}}


def write_spotted(spotted: SpottedIndex, intervals_csv: str | Path,
                  videos_csv: str | Path) -> None:
    """The spotted intervals (one row each) and the per-video status, each CSV atomically."""
    rows = [{"video_key": key, **interval.as_dict(), "region": region}
            for key, result in spotted.results.items()
            for interval, region in zip(result.intervals, result.regions, strict=True)]
    for path, table, columns in ((intervals_csv, rows, SPOTTED_COLUMNS),
                                 (videos_csv, spotted.status, VIDEO_STATUS_COLUMNS)):
        with atomic_path(Path(path)) as tmp:
            pd.DataFrame(table, columns=columns).to_csv(tmp, index=False)


def read_spotted(intervals_csv: str | Path, videos_csv: str | Path) -> dict[str, list[Interval]]:
    """{video key: its spotted intervals} for every video spotted ok (none found: [])."""
    intervals_csv, videos_csv = Path(intervals_csv), Path(videos_csv)
    try:
        videos = pd.read_csv(videos_csv, dtype={"video_key": str, "status": str})
        table = pd.read_csv(intervals_csv, dtype={"video_key": str, "kind": str})
    except (OSError, ValueError) as exc:
        raise SpottingInputError(f"{intervals_csv}: cannot read the spotted intervals "
                                 f"({exc})") from None
    missing = sorted(set(SPOTTED_COLUMNS) - set(table.columns))
    if missing:
        raise SpottingInputError(f"{intervals_csv}: columns {missing} missing")
    found: dict[str, list[Interval]] = {
        key: [] for key in videos.loc[videos["status"] == "ok", "video_key"]}
    for number, row in enumerate(table.itertuples(index=False), start=2):
        if row.video_key not in found:
            raise SpottingInputError(f"{intervals_csv}, row {number}: video {row.video_key!r} "
                                     f"is not spotted ok in {videos_csv}")
        try:
            found[row.video_key].append(Interval(int(row.onset), int(row.apex), int(row.offset),
                                                 row.kind, float(row.score)))
        except (TypeError, ValueError) as exc:
            raise SpottingInputError(f"{intervals_csv}, row {number}: {exc}") from None
    return found


def score_spotting(index: LongVideoIndex, spotted: Mapping[str, list[Interval]], *,
                   iou: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The MEGC figures (`metrics/spotting.json`) and one row per video and type, scored
    against the sheet's whole ground truth, as MEGC scores it: the expressions of a video that
    could not be spotted (its frames failed, or spotting did) count as missed, and so does
    every annotated expression the reader could not use (a misplaced apex, an offset of 0, an
    interval too long); such rows are listed with their reason (`note`)."""
    truth = ground_truth(index, include_failed_videos=True)
    unknown = sorted(set(spotted) - set(truth))
    if unknown:
        raise SpottingInputError(f"spotted video {unknown[0]!r} is not an ok video of "
                                 f"{index.sheet}")
    summary = evaluate_spotting(truth, dict(spotted), iou_threshold=iou)
    rows = per_video(truth, dict(spotted), iou_threshold=iou)
    reasons = _video_reasons(index)
    for row in rows:
        why = reasons.get(row["video"]) or "spotting failed (data/spotting/videos.csv)"
        row["note"] = "" if row["video"] in spotted else f"not spotted: {why}"
    unusable = unusable_expressions(index)
    missed = {kind: sum(1 for u in unusable if u["kind"] == kind) for kind in UNUSABLE_KINDS}
    for kind in ("micro", "macro"):
        summary[kind] = _with_missed(summary[kind], missed[kind])
    # Overall: both types' counts pooled, and the rows whose type the sheet does not say.
    summary["overall"] = _with_missed(summary["overall"], sum(missed.values()))
    summary["videos_not_spotted"] = sum(1 for key in truth if key not in spotted)
    summary["intervals_unusable"] = missed
    summary["blinks_annotated"] = sum(len(b) for k, b in blinks(index).items() if k in spotted)
    rows += [{"video": u["video"], "kind": u["kind"],
              **_with_missed(SpottingCounts().as_dict(), 1), "note": u["note"]}
             for u in unusable]
    return summary, rows


# The types an unusable expression row is counted under: "unknown" when the sheet's type cell
# is neither micro nor macro (it then counts in the overall figure only).
UNUSABLE_KINDS = ("micro", "macro", "unknown")


def unusable_expressions(index: LongVideoIndex) -> list[dict[str, Any]]:
    """Every annotated micro- or macro-expression (not blink) the reader could not use, with
    its type and why: missed by any spotter, as MEGC counts them."""
    table = index.intervals
    rows = table[(table["sheet"] != BLINKS_WORKSHEET) & (table["status"] != "ok")]
    return [{"video": row.video_key or "?", "kind": row.kind if row.kind in KINDS else "unknown",
             "note": f"unusable sheet row {row.sheet_row}: {row.reason}"}
            for row in rows.itertuples(index=False)]


def _video_reasons(index: LongVideoIndex) -> dict[str, str]:
    videos = index.videos
    failed = videos[videos["status"] != "ok"]
    return dict(zip(failed["key"], failed["reason"], strict=True))


def _with_missed(counts: Mapping[str, Any], missed: int) -> dict[str, Any]:
    """A kind's figures (SpottingCounts.as_dict) with `missed` more false negatives."""
    total = SpottingCounts(tp=counts["tp"], fp=counts["fp"], fn=counts["fn"] + missed)
    return total.as_dict()


def labelled_truth(index: LongVideoIndex) -> dict[str, list[Labelled]]:
    """Every video's annotated intervals with their MEGC class (from the objective class),
    failed videos included: what spot-then-recognise is scored against."""
    return {key: [Labelled(interval, megc_class_of_objective(cell)) for interval, cell in rows]
            for key, rows in classed_ground_truth(index, include_failed_videos=True).items()}


def read_recognised(path: str | Path) -> dict[str, list[Labelled]]:
    """{video key: its recognised intervals with the MEGC class answered (None where none was)}
    from the `recognise_spotted` stage's CSV (attrmer.predict.spotted.RECOGNISED_COLUMNS)."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype={"video_key": str, "kind": str, "label": str},
                            keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise SpottingInputError(f"{path}: cannot read the recognised intervals ({exc})") from None
    missing = sorted({"video_key", "onset", "apex", "offset", "kind", "label"} - set(table.columns))
    if missing:
        raise SpottingInputError(f"{path}: columns {missing} missing")
    found: dict[str, list[Labelled]] = {}
    for number, row in enumerate(table.itertuples(index=False), start=2):
        try:
            interval = Interval(int(row.onset), int(row.apex), int(row.offset), row.kind)
        except (TypeError, ValueError) as exc:
            raise SpottingInputError(f"{path}, row {number}: {exc}") from None
        found.setdefault(row.video_key, []).append(
            Labelled(interval, megc_class_of_emotion(row.label)))
    return found
