"""DVC stage `prepare`: the dataset in params.yaml -> data/interim/manifest.csv and summary.txt."""

from __future__ import annotations

import argparse
from pathlib import Path

from attrmer.config import load_params
from attrmer.datasets.prepare import prepare_dataset
from attrmer.errors import run_reporting_errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--interim-dir", "--out", dest="interim_dir", default="data/interim",
                        help="where manifest.csv and summary.txt are written")
    args = parser.parse_args(argv)
    return run_reporting_errors(
        "prepare", lambda: prepare_dataset(load_params(args.params), Path(args.interim_dir))
    )


if __name__ == "__main__":
    raise SystemExit(main())
