"""Choosing an epoch on validation subjects, and validation predictions that did not choose it.

`improves` is the rule the training loop selects its model by. `cross_fitted_validation` gives,
for every validation clip, the probabilities of the epoch chosen on the *other* half of the
validation clips: the predictions a temperature can be fitted on honestly. Fitted on the
selected epoch's own predictions, it would calibrate a model whose epoch was picked because
those very clips came out well, and learn that it is more often right than it is on new people.
`best_epoch_on_test` is the figure many papers report, the epoch picked on the test side
itself: computed after training, shown beside the honest figure, never feeding a choice.
Not for training or for fitting the temperature (attrmer.evaluate.calibration).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from attrmer.evaluate.calibration import negative_log_likelihood


def improves(accuracy: float, loss: float, best: dict[str, Any]) -> bool:
    """Higher validation accuracy, or the same with a lower validation loss."""
    return accuracy > best["score"] or (accuracy == best["score"]
                                        and loss < best.get("loss", np.inf))


def best_epoch(probabilities: dict[int, np.ndarray], labels: np.ndarray) -> int:
    """The epoch `improves` selects when the clips of `labels` are the validation side."""
    best: dict[str, Any] = {"epoch": 0, "score": -1.0}
    for epoch in sorted(probabilities):
        scores = probabilities[epoch]
        accuracy = float((scores.argmax(1) == labels).mean())
        loss = negative_log_likelihood(scores, labels)
        if improves(accuracy, loss, best):
            best = {"epoch": epoch, "score": accuracy, "loss": loss}
    return int(best["epoch"])


def best_epoch_on_test(probabilities: dict[int, np.ndarray], labels: np.ndarray) -> int:
    """The epoch `improves` would select if the test clips of `labels` were the validation
    side: the inflated choice of codes that keep the epoch scoring best on the test fold.
    Only ever called after training, on probabilities nothing else reads."""
    return best_epoch(probabilities, labels)


def validation_halves(rows: pd.DataFrame) -> np.ndarray:
    """0 or 1 for each validation row. With two validation subjects or more, whole subjects
    (sorted, alternating) so that no person is on both sides; with one, its clips in (class,
    key) order alternate, so that each class is split as evenly as it can be and a class of
    one clip still leaves the other half clips of its own."""
    subjects = sorted(map(str, set(rows["subject"])))
    if len(subjects) >= 2:
        side = {subject: i % 2 for i, subject in enumerate(subjects)}
        return np.array([side[str(s)] for s in rows["subject"]], np.int64)
    halves = np.zeros(len(rows), np.int64)
    order = np.lexsort((rows["key"].astype(str).to_numpy(), rows["label"].to_numpy()))
    halves[order] = np.arange(len(rows)) % 2
    return halves


def cross_fitted_validation(rows: pd.DataFrame, probabilities: dict[int, np.ndarray]
                            ) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, epoch) per validation row: each half's clips as predicted at the epoch
    chosen on the other half. `probabilities` holds every scored epoch's (n_rows, classes)."""
    labels = rows["label"].to_numpy(np.int64)
    halves = validation_halves(rows)
    n_classes = next(iter(probabilities.values())).shape[1]
    chosen = np.zeros((len(rows), n_classes), np.float32)
    epochs = np.zeros(len(rows), np.int64)
    for half in (0, 1):
        mine, others = halves == half, halves != half
        if not mine.any():
            continue
        if not others.any():
            # One clip only: nothing else to choose on; the epoch every clip would choose.
            epoch = best_epoch(probabilities, labels)
        else:
            epoch = best_epoch({e: p[others] for e, p in probabilities.items()},
                               labels[others])
        chosen[mine] = probabilities[epoch][mine]
        epochs[mine] = epoch
    return chosen, epochs
