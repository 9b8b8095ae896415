"""DVC stage `flow`: aligned.h5 -> data/processed/flow.h5 (Farneback on TIM frames)."""

from __future__ import annotations

import argparse

from attrmer.config import load_params
from attrmer.errors import run_reporting_errors
from attrmer.preprocess.pipeline import run_flow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--aligned", default="data/processed/aligned.h5")
    parser.add_argument("--out", default="data/processed/flow.h5")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)

    def run() -> None:
        params = load_params(args.params)
        run_flow(args.aligned, args.out, params.preprocess, params.flow,
                 gzip_level=params.preprocess.gzip_level, progress=not args.no_progress)

    return run_reporting_errors("flow", run)


if __name__ == "__main__":
    raise SystemExit(main())
