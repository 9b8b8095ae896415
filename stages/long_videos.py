"""DVC stage `long_videos`: the long videos spotting runs on -> data/long_videos.

It renders the built-in long-video corpus `spot.<--corpus>` (`corpus`, `corpus_200fps` or
`tuning_corpus`; see attrmer.synth.long_video): frames in the CAS(ME)^3 part A layout and its
annotation workbook. For `corpus` with `spot.videos` naming a CAS(ME)^3 part A delivery, it
writes only `source.json` naming it, after checking that its sheet reads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from attrmer.config import load_params
from attrmer.config.spot import CORPORA
from attrmer.errors import run_reporting_errors
from attrmer.io import atomic_path, write_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", type=Path, default=Path("data/long_videos"))
    parser.add_argument("--corpus", choices=CORPORA, default="corpus",
                        help="which corpus of the spot section")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    def run() -> None:
        params = load_params(args.params)
        if params.spot.videos == "builtin" or args.corpus != "corpus":
            from attrmer.synth.long_video import render_long_corpus

            corpus = getattr(params.spot, args.corpus)
            render_long_corpus(args.out, corpus, progress=not args.no_progress)
            print(f"long_videos: {corpus.videos} built-in videos ({args.corpus}, "
                  f"{corpus.fps} fps) in {args.out}")
            return
        from attrmer.datasets.casme3_lv import read_long_videos
        from attrmer.spot.run import SOURCE_FILE

        root = Path(params.spot.videos).resolve()
        index = read_long_videos(root)
        with atomic_path(args.out, directory=True) as tmp:
            write_json(tmp / SOURCE_FILE, {"root": str(root)})
        ok = int((index.videos["status"] == "ok").sum())
        print(f"long_videos: {root}: {ok} of {len(index.videos)} videos with their frames")

    return run_reporting_errors("long_videos", run)


if __name__ == "__main__":
    raise SystemExit(main())
