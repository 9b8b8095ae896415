"""DVC stage `evaluate_spotting`: the MEGC spotting figures -> metrics/spotting.json.

A spotted interval is a true positive when its IoU with an annotated interval of the same
video and type is at least `spot.iou` (each annotation matched once); precision, recall and
F1 per type (micro, macro) and overall, pooled over every annotated video: what could not be
spotted or read counts as missed (attrmer.spot.run.score_spotting). One row per video and type
(and one per unusable sheet row) goes to metrics/spotting_videos.csv.

With the `recognise_spotted` stage's classes (`--recognised`), the file's `strs` entry gives
spot-then-recognise as MEGC scores it since 2023 (attrmer.spot.strs): F1 of spotting times F1
of recognising the spotted expressions, per type and overall, and the joint F1 beside it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from attrmer.config import load_params
from attrmer.errors import run_reporting_errors
from attrmer.io import atomic_path, write_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--videos", type=Path, default=Path("data/long_videos"))
    parser.add_argument("--spotted", type=Path, default=Path("data/spotting"))
    parser.add_argument("--out", type=Path, default=Path("metrics/spotting.json"))
    parser.add_argument("--per-video", type=Path, default=Path("metrics/spotting_videos.csv"))
    parser.add_argument("--recognised", type=Path, default=None,
                        help="recognised.csv of the recognise_spotted stage (STRS)")
    args = parser.parse_args(argv)

    def run() -> None:
        from attrmer.spot.run import (
            SpottingInputError,
            labelled_truth,
            read_index,
            read_recognised,
            read_spotted,
            score_spotting,
        )
        from attrmer.spot.strs import score_strs

        params = load_params(args.params)
        index = read_index(args.videos)
        spotted = read_spotted(args.spotted / "spotted.csv", args.spotted / "videos.csv")
        summary, rows = score_spotting(index, spotted, iou=params.spot.iou)
        if args.recognised is not None:
            recognised = read_recognised(args.recognised)
            unknown = sorted(set(recognised) - set(spotted))
            if unknown:
                raise SpottingInputError(
                    f"{args.recognised}: video {unknown[0]!r} was not spotted ok in "
                    f"{args.spotted / 'videos.csv'}")
            summary["strs"] = score_strs(labelled_truth(index), recognised, summary,
                                         iou=params.spot.iou)
        write_json(args.out, summary)
        with atomic_path(args.per_video) as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False)
        print("evaluate_spotting: " + ", ".join(
            f"{kind} F1 {summary[kind]['f1']:.3f} (P {summary[kind]['precision']:.3f}, "
            f"R {summary[kind]['recall']:.3f})" for kind in ("micro", "macro", "overall"))
            + f" at IoU >= {summary['iou']}, {summary['videos']} videos"
            + (f"; STRS {summary['strs']['overall']['strs']:.3f}" if "strs" in summary else ""))

    return run_reporting_errors("evaluate_spotting", run)


if __name__ == "__main__":
    raise SystemExit(main())
