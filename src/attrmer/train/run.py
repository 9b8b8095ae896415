"""A training run: every (seed, fold) of the split trained by the executor of
`train.executor`, then each seed's outputs written.

`train_seeds` plans one task per seed and fold, takes up the folds an interrupted run had
already finished (`FinishedFolds`, under the same settings, data and code only), runs the rest
on the executor, and writes each seed's outputs from its folds' outcomes, so the outputs do not
depend on where or in which order the folds trained. Not for one fold's training (see
attrmer.train.loop) or for aggregating seeds (attrmer.evaluate).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attrmer.config import Params
from attrmer.io import write_json
from attrmer.train.distributed import DistributedContext
from attrmer.train.executors import Executor, make_executor
from attrmer.train.loop import fold_settings_hash
from attrmer.train.outputs import SeedPaths, write_curves, write_seed_outputs
from attrmer.train.tasks import (
    FinishedFolds,
    FoldOutcome,
    TrainingInputs,
    TrainingTask,
    load_table,
    remove_checkpoint,
)
from attrmer.train.warm_start import init_source

log = logging.getLogger(__name__)

# Where the pretrain stage writes the model `train.init: pretrained` starts from.
PRETRAINED_DIR = "models/pretrained"


@dataclass(frozen=True)
class TrainingLayout:
    """The train stage's inputs and output folders (each seed's files inside them)."""

    inputs: TrainingInputs
    models: Path  # seed_<s>/ each
    # seed_<s>.json, seed_<s>_predictions.csv, seed_<s>_validation.csv,
    # seed_<s>_calibration.csv
    metrics: Path
    checkpoints: Path  # seed_<s>/: checkpoints and finished folds while the run lasts
    live: Path  # DVCLive: metrics.json and plots/metrics/seed_<s>/...

    @classmethod
    def defaults(cls, root: Path = Path(".")) -> TrainingLayout:
        """The layout of `dvc.yaml`'s train stage under `root` (for tests and notebooks)."""
        return cls(
            inputs=TrainingInputs(
                manifest=root / "data/interim/manifest.csv",
                rgb=root / "data/processed/rgb.h5", flow=root / "data/processed/flow.h5",
                attributes=root / "data/processed/attributes.csv",
                pretrained=root / PRETRAINED_DIR),
            models=root / "models/seeds", metrics=root / "metrics/seeds",
            checkpoints=root / "checkpoints", live=root / "dvclive")

    def seed(self, seed: int) -> SeedPaths:
        return SeedPaths(model_dir=self.models / f"seed_{seed}", metrics_dir=self.metrics)

    def checkpoint_dir(self, seed: int) -> Path:
        return self.checkpoints / f"seed_{seed}"


def train_seeds(params: Params, layout: TrainingLayout, seeds: Sequence[int] | None = None, *,
                progress: bool = True, dist: DistributedContext | None = None,
                executor: Executor | None = None) -> dict[int, dict[str, Any]]:
    """Train every fold of each seed (default: train.seeds), write each seed's outputs and
    return {seed: metrics} (empty on the non-main processes of a DDP run)."""
    # Each seed once, in the order given.
    seeds = list(dict.fromkeys(params.train.seeds if seeds is None else seeds))
    dist = dist or DistributedContext.single()
    inputs = layout.inputs
    table = load_table(params, inputs)
    init = init_source(params, inputs.pretrained)
    tasks = [
        TrainingTask(seed, fold.name, keep_model=k == len(table.folds) - 1,
                     checkpoint=(layout.checkpoint_dir(seed) / fold.name
                                 if params.train.checkpoint else None))
        for seed in seeds for k, fold in enumerate(table.folds)
    ]
    folds = {fold.name: fold for fold in table.folds}
    executor = executor or make_executor(params)
    arithmetic = executor.arithmetic(params, dist)
    hashes = {task: fold_settings_hash(params, table, folds[task.fold], seed=task.seed,
                                       world_size=dist.world_size, init=init,
                                       arithmetic=arithmetic)
              for task in tasks}
    finished = FinishedFolds(layout.checkpoints)
    outcomes: dict[TrainingTask, FoldOutcome] = {}
    for task in tasks:
        kept = finished.load(task, hashes[task], table.classes)
        if kept is not None:
            log.info("%s: finished in an earlier run; taken up, not trained again", task)
            outcomes[task] = kept
    for seed in seeds:
        layout.checkpoint_dir(seed).mkdir(parents=True, exist_ok=True)
    pending = [task for task in tasks if task not in outcomes]
    for task, outcome in executor.run(pending, params, inputs, table=table, dist=dist,
                                      progress=progress):
        if dist.is_main:
            finished.save(task, outcome, hashes[task])
        outcomes[task] = outcome
    if not dist.is_main:
        return {}
    by_seed = {seed: [outcomes[task] for task in tasks if task.seed == seed] for seed in seeds}
    metrics = {seed: write_seed_outputs(params, table, seed, by_seed[seed], layout.seed(seed),
                                        init=init)
               for seed in seeds}
    write_curves(layout.live, table, by_seed)
    for task in tasks:
        # A finished run needs neither checkpoints nor kept folds; one left behind could
        # only mislead a later run.
        finished.remove(task)
        remove_checkpoint(task.checkpoint)
    for seed in seeds:
        write_json(layout.checkpoint_dir(seed) / "status.json",
                   {"status": "finished", "seed": seed, "epochs": params.train.epochs,
                    "note": "checkpoints are removed once every fold of the seed has finished"})
    return metrics


def train_seed(params: Params, seed: int, layout: TrainingLayout, *, progress: bool = True,
               dist: DistributedContext | None = None) -> dict[str, Any]:
    """`train_seeds` for one seed; its metrics ({} on non-main DDP processes)."""
    return train_seeds(params, layout, [seed], progress=progress, dist=dist).get(seed, {})
