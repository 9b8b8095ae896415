"""DVC stage `tlcnn_stills` (baselines/dvc.yaml): TLCNN's step-1 source, full expressions
rendered on the real faces of the CC BY photograph sets and aligned and resampled as every
clip is (`attrmer.baselines.deep.stills`), into one RGB store."""

from __future__ import annotations

import argparse

from attrmer.config import load_params
from attrmer.errors import run_reporting_errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="data/processed/tlcnn_stills",
                        help="the folder written whole: rgb.h5, manifest.csv, stills.json")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    def run() -> None:
        from attrmer.baselines.deep.stills import render_expression_stills

        record = render_expression_stills(load_params(args.params), args.out,
                                          progress=not args.no_progress)
        counts = ", ".join(f"{c} {n}" for c, n in record["class_counts"].items())
        print(f"tlcnn stills: {record['clips']} clips of {record['people']} real people "
              f"({counts}) in {record['seconds']:.0f} s -> {args.out}")

    return run_reporting_errors("tlcnn stills", run)


if __name__ == "__main__":
    raise SystemExit(main())
