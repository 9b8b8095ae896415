"""Stage `evaluate`: the seeds' test predictions -> summary metrics, confusion data and PNG."""

from __future__ import annotations

import argparse
from pathlib import Path

from attrmer.config import load_params
from attrmer.errors import run_reporting_errors
from attrmer.evaluate.reliability import write_reliability
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
    # The three below default to files beside --summary.
    parser.add_argument("--reliability", type=Path, default=None,
                        help="reliability diagram of validation and test predictions "
                             "(default: reliability.png)")
    parser.add_argument("--calibration", type=Path, default=None,
                        help="expected calibration errors and each seed's temperature "
                             "(default: calibration.json)")
    parser.add_argument("--by-seed", type=Path, default=None,
                        help="each seed's accuracy, UF1 and UAR, for paired comparisons "
                             "(default: summary_by_seed.json)")
    args = parser.parse_args(argv)
    beside = Path(args.summary).parent
    args.reliability = args.reliability or beside / "reliability.png"
    args.calibration = args.calibration or beside / "calibration.json"
    args.by_seed = args.by_seed or beside / "summary_by_seed.json"
    def evaluate() -> None:
        params = load_params(args.params)
        evaluate_seeds(params, args.predictions, args.summary, args.confusion, args.png,
                       args.by_seed)
        write_reliability(args.predictions, params.train.seeds, args.reliability,
                          args.calibration)

    return run_reporting_errors("evaluate", evaluate)


if __name__ == "__main__":
    raise SystemExit(main())
