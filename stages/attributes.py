"""DVC stage `attributes`: the manifest's parsed AUs → one FACS sentence per clip."""

from __future__ import annotations

import argparse

from attrmer.attributes import run_attributes
from attrmer.config import load_params
from attrmer.errors import run_reporting_errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--manifest", default="data/interim/manifest.csv")
    parser.add_argument("--out", default="data/processed/attributes.csv")
    args = parser.parse_args(argv)
    return run_reporting_errors(
        "attributes",
        lambda: run_attributes(args.manifest, args.out, load_params(args.params).attributes),
    )


if __name__ == "__main__":
    raise SystemExit(main())
