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
    parser.add_argument("--root", default=".",
                        help="folder the default paths below are relative to")
    for name, help_text in (
        ("manifest", "data/interim/manifest.csv"), ("rgb", "data/processed/rgb.h5"),
        ("flow", "data/processed/flow.h5"), ("attributes", "data/processed/attributes.csv"),
        ("model-dir", "models/seed_<s>"), ("metrics-dir", "metrics/seeds"),
        ("checkpoint-dir", "checkpoints/seed_<s>"), ("live-dir", "dvclive/seed_<s>"),
        ("pretrained", "models/pretrained"),
    ):
        parser.add_argument(f"--{name}", type=Path, default=None,
                            help=f"default: <root>/{help_text}")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("attrmer").setLevel(logging.INFO)

    def run() -> None:
        params = load_params(args.params)
        if args.seed not in params.train.seeds:
            raise ConfigError(f"--seed {args.seed} is not in train.seeds {params.train.seeds}")
        dist = DistributedContext.from_environment()
        defaults = SeedPaths.defaults(args.seed, Path(args.root))
        paths = SeedPaths(**{
            field: getattr(args, field) or getattr(defaults, field)
            for field in ("manifest", "rgb", "flow", "attributes", "model_dir", "metrics_dir",
                          "checkpoint_dir", "live_dir", "pretrained")
        })
        metrics = train_seed(params, args.seed, paths, progress=not args.no_progress,
                             dist=dist)
        dist.close()
        if metrics:
            print(f"seed {args.seed}: accuracy {metrics['accuracy']:.3f}  "
                  f"UF1 {metrics['uf1']:.3f}  UAR {metrics['uar']:.3f}  "
                  f"({metrics['n_test']} test clips)")

    return run_reporting_errors("train", run)


if __name__ == "__main__":
    raise SystemExit(main())
