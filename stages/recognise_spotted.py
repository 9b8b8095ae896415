"""DVC stage `recognise_spotted`: every spotted interval classified (spot-then-recognise).

Reads the intervals the `spot` stage found (`data/spotting/spotted.csv`) in the long videos of
`data/long_videos`, classifies each one's frames with the trained seeds' ensemble
(attrmer.predict.spotted, as `attrmer predict --window spot` classifies a spotted window), and
writes `recognised.csv` (one row per interval: the label, its MEGC class, probability,
agreement, uncertain) and `megc.csv`, the same intervals in the layout of the challenge's
spot-then-recognise scoring tool (subject, video, onset, offset, emotion).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from attrmer.errors import run_reporting_errors
from attrmer.io import atomic_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--videos", type=Path, default=Path("data/long_videos"))
    parser.add_argument("--spotted", type=Path, default=Path("data/spotting"))
    parser.add_argument("--models", type=Path, default=Path("models/seeds"))
    parser.add_argument("--out", type=Path, default=Path("data/recognised"))
    args = parser.parse_args(argv)

    def run() -> None:
        from attrmer.predict.clips import ClipSource
        from attrmer.predict.predictor import Predictor
        from attrmer.predict.spotted import (
            MEGC_COLUMNS,
            RECOGNISED_COLUMNS,
            megc_rows,
            recognise_intervals,
        )
        from attrmer.spot.run import read_index, read_spotted

        index = read_index(args.videos)
        spotted = read_spotted(args.spotted / "spotted.csv", args.spotted / "videos.csv")
        videos = index.videos.set_index("key")
        predictor = Predictor(args.models)
        records = []
        for key, intervals in spotted.items():
            video = videos.loc[key]
            first, last = int(video["first_frame"]), int(video["last_frame"])
            found = recognise_intervals(
                predictor, ClipSource(Path(video["frame_dir"]), "frames"), intervals,
                first_frame=first, total_frames=last - first + 1)
            records += [{"video_key": key, **record} for record in found]
            print(f"recognise_spotted: {key}: {len(found)} intervals", flush=True)
        with atomic_path(args.out, directory=True) as out:
            pd.DataFrame(records, columns=RECOGNISED_COLUMNS).to_csv(
                out / "recognised.csv", index=False)
            pd.DataFrame(megc_rows(records), columns=MEGC_COLUMNS).to_csv(
                out / "megc.csv", index=False)
        failed = sum(1 for r in records if r["error"])
        print(f"recognise_spotted: {len(records)} intervals of {len(spotted)} videos classified"
              + (f", {failed} could not be (see recognised.csv)" if failed else ""))

    return run_reporting_errors("recognise_spotted", run)


if __name__ == "__main__":
    raise SystemExit(main())
