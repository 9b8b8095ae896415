"""DVC stage `dataset` (always run): the dataset at data.root -> a fingerprint JSON.

`prepare` depends on the fingerprint, so an edited coding sheet or a replaced frame re-runs the
pipeline from there, and an unchanged dataset re-runs nothing.
"""

from __future__ import annotations

import argparse

from attrmer.config import load_params
from attrmer.datasets.fingerprint import dataset_fingerprint
from attrmer.errors import run_reporting_errors
from attrmer.io import write_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="data/dataset.json")
    args = parser.parse_args(argv)
    return run_reporting_errors(
        "dataset",
        lambda: write_json(args.out, dataset_fingerprint(load_params(args.params).data)),
    )


if __name__ == "__main__":
    raise SystemExit(main())
