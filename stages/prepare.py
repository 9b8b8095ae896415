"""DVC stage `prepare`: the dataset in params.yaml -> data/interim/manifest.csv and summary.txt."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from attrmer.config import ConfigError, load_params
from attrmer.datasets.base import DatasetError
from attrmer.datasets.prepare import prepare_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--interim-dir", "--out", dest="interim_dir", default="data/interim",
                        help="where manifest.csv and summary.txt are written")
    args = parser.parse_args(argv)
    try:
        prepare_dataset(load_params(args.params), Path(args.interim_dir))
    except (ConfigError, DatasetError) as exc:
        print(f"prepare: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
