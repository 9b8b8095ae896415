"""`attrmer check-params`: validate a params file and print the resolved settings."""

from __future__ import annotations

import argparse
import sys

import yaml

from attrmer.config import ConfigError, load_params
from attrmer.errors import EXIT_CODES_HELP, EXIT_DATA, EXIT_OK


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="attrmer check-params", description=__doc__,
                                     epilog=EXIT_CODES_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("params", nargs="?", default="params.yaml")
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
    except ConfigError as exc:
        print(f"attrmer check-params: {exc}", file=sys.stderr)
        return EXIT_DATA
    print(yaml.safe_dump(params.to_dict(), sort_keys=False), end="")
    return EXIT_OK
