"""DVC stage `train`: every seed of train.seeds, every fold of the split, on the executor of
train.executor (one after another, or as Ray tasks), then each seed's outputs.

Run by hand: `python stages/train.py --seed 0` trains one seed; on one machine across GPUs:
`torchrun --nproc_per_node=4 stages/train.py` (executor local, each training split by DDP).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from attrmer.config import ConfigError, load_params
from attrmer.errors import run_reporting_errors
from attrmer.train import TrainingLayout, train_seeds
from attrmer.train.distributed import DistributedContext
from attrmer.train.tasks import TrainingInputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--seed", type=int, action="append", default=None,
                        help="train only this seed of train.seeds (repeatable)")
    parser.add_argument("--root", default=".", type=Path,
                        help="folder the default paths below are relative to")
    defaults = TrainingLayout.defaults(Path("<root>"))
    for name, default in (
        ("manifest", defaults.inputs.manifest), ("rgb", defaults.inputs.rgb),
        ("flow", defaults.inputs.flow), ("attributes", defaults.inputs.attributes),
        ("pretrained", defaults.inputs.pretrained), ("models", defaults.models),
        ("metrics-dir", defaults.metrics), ("checkpoints", defaults.checkpoints),
        ("live-dir", defaults.live),
    ):
        parser.add_argument(f"--{name}", type=Path, default=None, help=f"default: {default}")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("attrmer").setLevel(logging.INFO)

    def run() -> None:
        params = load_params(args.params)
        seeds = args.seed or params.train.seeds
        unknown = [s for s in seeds if s not in params.train.seeds]
        if unknown:
            raise ConfigError(f"--seed {unknown[0]} is not in train.seeds {params.train.seeds}")
        base = TrainingLayout.defaults(args.root)
        layout = TrainingLayout(
            inputs=TrainingInputs(
                manifest=args.manifest or base.inputs.manifest, rgb=args.rgb or base.inputs.rgb,
                flow=args.flow or base.inputs.flow,
                attributes=args.attributes or base.inputs.attributes,
                pretrained=args.pretrained or base.inputs.pretrained),
            models=args.models or base.models, metrics=args.metrics_dir or base.metrics,
            checkpoints=args.checkpoints or base.checkpoints, live=args.live_dir or base.live)
        dist = DistributedContext.from_environment()
        metrics = train_seeds(params, layout, seeds, progress=not args.no_progress, dist=dist)
        dist.close()
        for seed, figures in metrics.items():
            print(f"seed {seed}: accuracy {figures['accuracy']:.3f}  "
                  f"UF1 {figures['uf1']:.3f}  UAR {figures['uar']:.3f}  "
                  f"({figures['n_test']} test clips)")

    return run_reporting_errors("train", run)


if __name__ == "__main__":
    raise SystemExit(main())
