"""Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017) and
the expected calibration error, for the video network's class probabilities.

A network trained to zero training loss on ~100 clips says 0.99 about everything. One scalar
T, fitted on the validation subjects' predictions by minimising their negative log-likelihood,
divides the logits (here: log-probabilities, which differ from the logits by a per-clip
constant that softmax ignores); T > 1 softens. The label never changes, only how sure it is.

T is kept at 1 or more. It is fitted on cross-fitted predictions (attrmer.train.selection: each
validation clip at the epoch chosen without it), but those are a dozen clips of one or two
people, often all right (on the built-in data an unconstrained fit once sharpened to T = 0.05):
so few can justify softening, never sharpening.
"""

from __future__ import annotations

import itertools

import numpy as np

EPSILON = 1e-12
# log10 T from 1 to 50: a coarse grid, then a finer one around its best point.
MIN_TEMPERATURE, MAX_TEMPERATURE = 1.0, 50.0
COARSE = np.linspace(np.log10(MIN_TEMPERATURE), np.log10(MAX_TEMPERATURE), 61)


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """(n, classes) probabilities -> softmax(log p / T), rows summing to 1."""
    if temperature <= 0:
        raise ValueError(f"temperature: {temperature} must be positive")
    logp = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), EPSILON, None))
    scaled = logp / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    chosen = np.asarray(probabilities)[np.arange(len(labels)), np.asarray(labels)]
    return float(-np.log(np.clip(chosen, EPSILON, None)).mean())


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The T in [1, 50] that minimises the NLL of `labels` under `probabilities` scaled by T
    (1.0 for no predictions)."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        return 1.0

    def nll(log_t: float) -> float:
        return negative_log_likelihood(apply_temperature(probabilities, 10 ** log_t), labels)

    best = min(COARSE, key=nll)
    step = COARSE[1] - COARSE[0]
    fine = np.clip(np.linspace(best - step, best + step, 41), COARSE[0], COARSE[-1])
    return float(round(10 ** min(fine, key=nll), 4))


def reliability_bins(probabilities: np.ndarray, labels: np.ndarray,
                     bins: int = 10) -> list[tuple[float, float, int]]:
    """(mean confidence, accuracy, count) of the top-class predictions in each of `bins`
    equal-width confidence bins (empty bins left out)."""
    probabilities = np.asarray(probabilities)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    result = []
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high) if low > 0 else confidence <= high
        if inside.any():
            result.append((float(confidence[inside].mean()), float(correct[inside].mean()),
                           int(inside.sum())))
    return result


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray,
                               bins: int = 10) -> float:
    """Σ over bins of |accuracy − confidence| weighted by the bin's share of predictions."""
    total = len(labels)
    if total == 0:
        return 0.0
    return float(sum(n / total * abs(acc - conf)
                     for conf, acc, n in reliability_bins(probabilities, labels, bins)))
