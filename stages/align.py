"""DVC stage `align`: manifest -> data/processed/aligned.h5 (one face geometry per clip)."""

from __future__ import annotations

import argparse

from attrmer.config import load_params
from attrmer.errors import run_reporting_errors
from attrmer.preprocess.pipeline import run_align


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--manifest", default="data/interim/manifest.csv")
    parser.add_argument("--out", default="data/processed/aligned.h5")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)

    def run() -> None:
        cfg = load_params(args.params).preprocess
        run_align(args.manifest, args.out, cfg, gzip_level=cfg.aligned_gzip_level,
                  max_detection_frames=cfg.max_detection_frames, progress=not args.no_progress)

    return run_reporting_errors("align", run)


if __name__ == "__main__":
    raise SystemExit(main())
