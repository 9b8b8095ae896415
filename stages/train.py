"""DVC stage `train@<seed>`: train one seed on the split's training subjects.

Run by hand: `python stages/train.py --seed 0`; across GPUs:
`torchrun --nproc_per_node=4 stages/train.py --seed 0`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from attrmer.config import ConfigError, load_params
from attrmer.errors import run_reporting_errors
from attrmer.train import SeedPaths, train_seed
from attrmer.train.distributed import DistributedContext


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--root", default=".", help="folder the default paths are relative to")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("attrmer").setLevel(logging.INFO)

    def run() -> None:
        params = load_params(args.params)
        if args.seed not in params.train.seeds:
            raise ConfigError(f"--seed {args.seed} is not in train.seeds {params.train.seeds}")
        dist = DistributedContext.from_environment()
        metrics = train_seed(params, args.seed, SeedPaths.defaults(args.seed, Path(args.root)),
                             progress=not args.no_progress, dist=dist)
        dist.close()
        if metrics:
            print(f"seed {args.seed}: accuracy {metrics['accuracy']:.3f}  "
                  f"UF1 {metrics['uf1']:.3f}  UAR {metrics['uar']:.3f}  "
                  f"({metrics['n_test']} test clips)")

    return run_reporting_errors("train", run)


if __name__ == "__main__":
    raise SystemExit(main())
