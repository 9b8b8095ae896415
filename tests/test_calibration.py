"""Temperature scaling and the calibration error (the probabilities `attrmer predict` reports)."""

from __future__ import annotations

import numpy as np
import pytest

from attrmer.evaluate.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
)


def overconfident(n: int = 4000, classes: int = 5, true_temperature: float = 3.0, seed: int = 0):
    """Labels drawn from softmax(logits / T): softmax(logits) is too sure by a factor T."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 4.0, (n, classes))
    honest = apply_temperature(np.exp(logits) / np.exp(logits).sum(1, keepdims=True),
                               true_temperature)
    labels = np.array([rng.choice(classes, p=p) for p in honest])
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True), labels


def test_the_fitted_temperature_recovers_the_overconfidence() -> None:
    probabilities, labels = overconfident()
    temperature = fit_temperature(probabilities, labels)
    assert temperature == pytest.approx(3.0, rel=0.1)
    calibrated = apply_temperature(probabilities, temperature)
    assert expected_calibration_error(calibrated, labels) < \
        expected_calibration_error(probabilities, labels) / 2


def test_temperature_keeps_the_label_and_sums_to_one() -> None:
    probabilities, _ = overconfident(n=50)
    scaled = apply_temperature(probabilities, 2.5)
    assert np.array_equal(scaled.argmax(1), probabilities.argmax(1))
    assert np.allclose(scaled.sum(1), 1.0)
    assert np.allclose(apply_temperature(probabilities, 1.0), probabilities, atol=1e-9)
    with pytest.raises(ValueError, match="temperature"):
        apply_temperature(probabilities, 0.0)


def test_no_validation_predictions_means_no_scaling() -> None:
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, np.int64)) == 1.0


def test_reliability_bins_count_every_prediction_once() -> None:
    probabilities, labels = overconfident(n=300)
    bins = reliability_bins(probabilities, labels, bins=10)
    assert sum(n for _, _, n in bins) == 300
    assert all(0.0 <= conf <= 1.0 and 0.0 <= acc <= 1.0 for conf, acc, _ in bins)


def test_a_model_right_on_every_validation_clip_is_not_sharpened() -> None:
    # The epoch was chosen on these clips: all right at 0.9 says nothing for sharpening.
    probabilities = np.full((14, 5), 0.025)
    probabilities[:, 0] = 0.9
    assert fit_temperature(probabilities, np.zeros(14, np.int64)) == 1.0
