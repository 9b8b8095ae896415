"""Training: the per-seed joint video + attribute training of the paper (see loop.py)."""

from attrmer.train.loop import SeedPaths, fit_fold, train_seed

__all__ = ["SeedPaths", "fit_fold", "train_seed"]
