"""Stage `evaluate`: the seeds' test predictions -> summary metrics, confusion data and PNG."""

from __future__ import annotations

import argparse

from attrmer.config import load_params
from attrmer.errors import run_reporting_errors
from attrmer.evaluate.summary import evaluate_seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--predictions", default="metrics/seeds",
                        help="folder of seed_<s>_predictions.csv, one per seed in train.seeds")
    parser.add_argument("--summary", default="metrics/summary.json")
    parser.add_argument("--confusion", default="metrics/confusion.csv",
                        help="actual,predicted rows for `dvc plots` (template confusion)")
    parser.add_argument("--png", default="metrics/confusion.png")
    parser.add_argument("--by-seed", default="metrics/summary_by_seed.json",
                        help="each seed's accuracy, UF1 and UAR, for paired comparisons")
    args = parser.parse_args(argv)
    return run_reporting_errors(
        "evaluate",
        lambda: evaluate_seeds(load_params(args.params), args.predictions, args.summary,
                               args.confusion, args.png, args.by_seed),
    )


if __name__ == "__main__":
    raise SystemExit(main())
