"""Training: the paper's joint video + attribute training, one task per (seed, fold) (see
run.py for a run, loop.py for one fold, executors.py for where folds run)."""

from attrmer.train.loop import fit_fold
from attrmer.train.run import TrainingLayout, train_seed, train_seeds

__all__ = ["TrainingLayout", "fit_fold", "train_seed", "train_seeds"]
