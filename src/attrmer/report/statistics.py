"""Paired comparisons of two settings: the difference of a metric seed by seed, on one split.

Two runs of the same split with the same seeds share their test clips and their seeds'
initialisations and batch orders, so the seed-by-seed difference removes most of what makes
one seed score higher than another. Its mean and a Student-t interval over the seeds say
whether the setting changed the result by more than retraining does; an interval that covers 0
is reported as "not distinguishable". The interval measures variation over training seeds on
this split only: another split, or other test subjects, would add their own variance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from attrmer.report.records import ADAPTERS_PREFIX, CONDITION_KEYS, ROOTS_PREFIX, ExperimentRecord

CONFIDENCE = 0.95
# Test metrics, then the one a setting may be chosen by (the selected models' validation
# accuracy, where the runs had validation subjects).
METRICS = ("accuracy", "uf1", "uar", "val_accuracy")
# Besides the condition, two runs scored on different splits or data cannot be paired.
SPLIT_KEYS = (*CONDITION_KEYS, "split.seed", "data.root", "synth.seed", "synth.clips")
# ... nor two composites of other datasets, or of datasets read from elsewhere: every
# flattened data.roots.<name> and data.adapters.<name> key either run has.
SPLIT_KEY_PREFIXES = (ROOTS_PREFIX, ADAPTERS_PREFIX)


@dataclass(frozen=True)
class PairedDifference:
    """`a - b` of one metric over the seeds both runs have, in percentage points."""

    metric: str
    seeds: tuple[int, ...]
    differences: tuple[float, ...]
    confidence: float = CONFIDENCE

    @property
    def n(self) -> int:
        return len(self.seeds)

    @property
    def mean(self) -> float:
        return float(np.mean(self.differences)) if self.differences else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        """The two-sided Student-t interval of the mean difference (nan below two seeds)."""
        if self.n < 2:
            return math.nan, math.nan
        spread = float(np.std(self.differences, ddof=1)) / math.sqrt(self.n)
        half = float(stats.t.ppf(0.5 + self.confidence / 2, self.n - 1)) * spread
        return self.mean - half, self.mean + half

    @property
    def verdict(self) -> str:
        low, high = self.interval
        if math.isnan(low):
            return "too few seeds to tell"
        if low > 0:
            return "first higher"
        if high < 0:
            return "second higher"
        return "not distinguishable"

    def figure(self) -> str:
        """E.g. "+3.4 [-1.2, +8.0]": the mean difference and its interval, in points."""
        low, high = self.interval
        interval = "" if math.isnan(low) else f" [{low:+.1f}, {high:+.1f}]"
        return f"{self.mean:+.1f}{interval}"

    def text(self) -> str:
        """E.g. "+3.4 points [-1.2, +8.0] (95% CI, 5 seeds): not distinguishable"."""
        figure = self.figure().replace(" [", " points [", 1) if self.n >= 2 else \
            f"{self.figure()} points"
        return f"{figure} ({self.confidence:.0%} CI, {self.n} seeds): {self.verdict}"


def paired_difference(a: Mapping[int, float], b: Mapping[int, float], metric: str,
                      *, confidence: float = CONFIDENCE) -> PairedDifference:
    """The seed-by-seed difference `a - b` (fractions in, percentage points out)."""
    seeds = tuple(sorted(set(a) & set(b)))
    return PairedDifference(metric, seeds, tuple(100 * (a[s] - b[s]) for s in seeds),
                            confidence)


def unpaired_reason(a: ExperimentRecord, b: ExperimentRecord) -> str | None:
    """Why `a` and `b` cannot be paired, or None when they can."""
    for key in split_keys(a, b):
        if a.setting(key) != b.setting(key):
            return (f"they differ in `{key}` ({a.setting(key)!r} vs {b.setting(key)!r}): "
                    "another split")
    if a.metrics.get("n_test") != b.metrics.get("n_test"):
        return "their test sets differ in size"
    for record in (a, b):
        if not record.by_seed.get("accuracy"):
            return (f"`{record.name}` has no per-seed scores (metrics/summary_by_seed.json): "
                    "re-run its evaluate stage")
    if len(set(a.by_seed["accuracy"]) & set(b.by_seed["accuracy"])) < 2:
        return "they share fewer than two seeds"
    return None


def split_keys(a: ExperimentRecord, b: ExperimentRecord) -> list[str]:
    """`SPLIT_KEYS`, then the composite keys (`SPLIT_KEY_PREFIXES`) of either run, sorted."""
    composite = {k for record in (a, b) for k in record.params
                 if k.startswith(SPLIT_KEY_PREFIXES)}
    return [*SPLIT_KEYS, *sorted(composite)]


def compare(a: ExperimentRecord, b: ExperimentRecord,
            metrics: Sequence[str] = METRICS) -> dict[str, PairedDifference]:
    """{metric: a - b} over the seeds both have; ValueError when they cannot be paired."""
    reason = unpaired_reason(a, b)
    if reason is not None:
        raise ValueError(f"cannot pair `{a.name}` with `{b.name}`: {reason}")
    # A metric the two runs share fewer than two seeds of (validation accuracy of a run
    # without validation subjects, say) is left out rather than printed as nan.
    return {m: paired_difference(a.by_seed[m], b.by_seed[m], m)
            for m in metrics if m in a.by_seed and m in b.by_seed
            and len(set(a.by_seed[m]) & set(b.by_seed[m])) >= 2}
