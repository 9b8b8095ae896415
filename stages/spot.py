"""DVC stage `spot`: every long video's micro- and macro-expression intervals.

Reads the long videos of `data/long_videos` (attrmer.spot.run), spots each one with the
`spot` parameters, and writes `spotted.csv` (one row per interval), `videos.csv` (one row per
video: ok with its counts, or failed with the reason) and the index of the annotation sheet
(`index/videos.csv`, `index/intervals.csv`: every sheet row with its status), plus one
timeline figure per video with its annotated intervals.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from attrmer.config import load_params
from attrmer.errors import run_reporting_errors
from attrmer.io import atomic_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--videos", type=Path, default=Path("data/long_videos"))
    parser.add_argument("--out", type=Path, default=Path("data/spotting"))
    parser.add_argument("--timelines", type=Path, default=Path("metrics/spotting_timelines"))
    args = parser.parse_args(argv)

    def run() -> None:
        from attrmer.datasets.casme3_lv import blinks, ground_truth, write_index
        from attrmer.spot.run import read_index, spot_index, write_spotted
        from attrmer.spot.timeline import plot_timeline

        params = load_params(args.params)
        index = read_index(args.videos)
        truth, truth_blinks = ground_truth(index), blinks(index)
        with atomic_path(args.out, directory=True) as out, \
                atomic_path(args.timelines, directory=True) as figures:

            def draw(key: str, result) -> None:
                plot_timeline(result, figures / f"{key.replace('/', '_')}.png", title=key,
                              truth=truth.get(key, []), truth_blinks=truth_blinks.get(key, []),
                              iou_threshold=params.spot.iou)
                print(f"spot: {key}: {len(result.intervals)} intervals", flush=True)

            spotted = spot_index(index, params.spot, flow_cfg=params.flow, on_video=draw)
            write_spotted(spotted, out / "spotted.csv", out / "videos.csv")
            (out / "index").mkdir()
            write_index(index, out / "index")
        failed = [s for s in spotted.status if s["status"] != "ok"]
        print(f"spot: {len(spotted.results)} videos spotted, {len(failed)} failed"
              + (f" (first: {failed[0]['video_key']}: {failed[0]['reason']})" if failed else ""))

    return run_reporting_errors("spot", run)


if __name__ == "__main__":
    raise SystemExit(main())
