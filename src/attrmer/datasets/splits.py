"""Subject-independent splits: the paper's holdout (subjects 3:2), leave-one-subject-out, and,
for several datasets read together, leave-one-dataset-out.

A subject's clips always land on one side. The holdout draws many subject partitions with the
right subject count from `split.seed` and keeps the one whose class proportions match best on
both sides, so the same seed gives the same split on every machine. This module assigns subjects
to sides; it does not read sheets or decide which rows are usable.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from attrmer.datasets.base import DatasetError

# Partitions drawn per holdout; enough that a balanced one is found among tens of subjects.
_CANDIDATES = 4096


def natural_key(text: str) -> list[object]:
    """Sort key that puts sub2 before sub10 and spNO.9 before spNO.10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def subject_independent_split(
    subjects: Sequence[str],
    labels: Sequence[int],
    *,
    test_fraction: float,
    seed: int,
    validation_fraction: float = 0.0,
) -> dict[str, str]:
    """Assign every subject to "train", "test" (and "val" when validation_fraction > 0).

    subjects/labels: one entry per usable clip. round(test_fraction × subjects) subjects (at
    least one, and at least one left for training) go to test; among the drawn partitions with
    that count, the one with every class on both sides and the closest class proportions
    (total variation distance) wins, ties going to the earliest drawn. The validation subjects
    are carved from the training subjects the same way (none when only one training subject
    is left: training then reports its last epoch).
    """
    if len(subjects) != len(labels):
        raise ValueError("subjects and labels differ in length")
    people = sorted(set(subjects), key=natural_key)
    if len(people) < 2:
        raise DatasetError(
            f"a subject-independent split needs at least 2 subjects with usable clips; "
            f"found {len(people)}"
        )
    rng = np.random.default_rng(seed)
    test = _balanced_subset(people, subjects, labels, test_fraction, rng)
    assignment = {p: ("test" if p in test else "train") for p in people}
    training = [p for p in people if p not in test]
    # With a single training subject there is nothing to carve: no validation, last epoch.
    if validation_fraction > 0 and len(training) >= 2:
        keep = [i for i, s in enumerate(subjects) if s not in test]
        val = _balanced_subset(
            training, [subjects[i] for i in keep], [labels[i] for i in keep],
            validation_fraction, rng,
        )
        assignment.update({p: "val" for p in val})
    return assignment


def loso_folds(subjects: Sequence[str]) -> dict[str, str]:
    """Leave-one-subject-out: subject -> "fold<k>", k = 0.. in natural subject order; fold k
    tests on that subject and trains on all the others."""
    people = sorted(set(subjects), key=natural_key)
    if len(people) < 2:
        raise DatasetError(
            "leave-one-subject-out needs at least 2 subjects with usable clips; "
            f"found {len(people)}"
        )
    return {person: f"fold{k}" for k, person in enumerate(people)}


def leave_one_dataset_out(datasets: Sequence[str],
                          held_out: Sequence[str] = ()) -> dict[str, str]:
    """Leave-one-dataset-out: dataset -> "fold<k>" for each dataset tested on, "train" for the
    datasets only ever trained on.

    datasets: the datasets with usable clips, in the order to number the folds by. held_out:
    the datasets to test on, one fold each (empty: every dataset); fold k tests on one of them
    and trains on every other dataset. Held out `[B]` of `[A, B]` is the train-on-A,
    test-on-B protocol.
    """
    if len(datasets) < 2:
        raise DatasetError(
            f"leave-one-dataset-out needs at least 2 datasets with usable clips; found "
            f"{len(datasets)} ({', '.join(datasets) or 'none'})"
        )
    tested = list(held_out) or list(datasets)
    absent = [d for d in tested if d not in datasets]
    if absent:
        raise DatasetError(
            f"split.test_datasets: {', '.join(absent)} has no usable clip (datasets with "
            f"usable clips: {', '.join(datasets)})"
        )
    folds = {d: f"fold{k}" for k, d in enumerate(d for d in datasets if d in tested)}
    return {d: folds.get(d, "train") for d in datasets}


def _balanced_subset(
    people: list[str],
    subjects: Sequence[str],
    labels: Sequence[int],
    fraction: float,
    rng: np.random.Generator,
) -> set[str]:
    count = min(max(1, round(fraction * len(people))), len(people) - 1)
    classes = sorted(set(labels))
    index_of_person = {p: i for i, p in enumerate(people)}
    index_of_class = {c: i for i, c in enumerate(classes)}
    # clips[s, c]: clips of class c by subject s.
    clips = np.zeros((len(people), len(classes)))
    for subject, label in zip(subjects, labels, strict=True):
        clips[index_of_person[subject], index_of_class[label]] += 1
    total = clips.sum(axis=0)

    picks = np.argsort(rng.random((_CANDIDATES, len(people))), axis=1)[:, :count]
    chosen = np.zeros((_CANDIDATES, len(people)), dtype=bool)
    np.put_along_axis(chosen, picks, True, axis=1)
    side = chosen.astype(float) @ clips  # (candidates, classes) on the held-out side
    rest = total - side
    # Classes absent from one side cannot be learnt or cannot be scored there.
    absent = ((side == 0) | (rest == 0)).sum(axis=1)
    side_share = side / np.maximum(side.sum(axis=1, keepdims=True), 1)
    rest_share = rest / np.maximum(rest.sum(axis=1, keepdims=True), 1)
    distance = 0.5 * np.abs(side_share - rest_share).sum(axis=1)
    # Equal distances up to float noise count as ties (broken by draw order).
    best = np.lexsort((np.arange(_CANDIDATES), np.round(distance, 12), absent))[0]
    return {people[i] for i in np.flatnonzero(chosen[best])}
