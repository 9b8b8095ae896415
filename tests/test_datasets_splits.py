"""Subject-independent holdout (deterministic, class-balanced) and leave-one-subject-out."""

from __future__ import annotations

import numpy as np
import pytest

from attrmer.datasets import DatasetError, loso_folds, subject_independent_split
from attrmer.datasets.splits import natural_key


def _clips(seed=0, subjects=26, clips=154, classes=5):
    rng = np.random.default_rng(seed)
    people = [f"sub{i:02d}" for i in range(1, subjects + 1)]
    # Skewed classes and uneven subjects, as in CASME II.
    subject_of = rng.choice(people, size=clips, p=rng.dirichlet(np.ones(subjects)))
    label_of = rng.choice(classes, size=clips, p=[0.2, 0.4, 0.18, 0.16, 0.06])
    return [str(s) for s in subject_of], [int(x) for x in label_of]


def _distance(subjects, labels, assignment):
    labels = np.asarray(labels)
    test = np.array([assignment[s] == "test" for s in subjects])
    classes = np.unique(labels)
    a = np.array([(labels[test] == c).mean() for c in classes])
    b = np.array([(labels[~test] == c).mean() for c in classes])
    return 0.5 * np.abs(a - b).sum()


def test_holdout_is_subject_independent_and_deterministic():
    subjects, labels = _clips()
    first = subject_independent_split(subjects, labels, test_fraction=0.4, seed=3)
    again = subject_independent_split(subjects, labels, test_fraction=0.4, seed=3)
    assert first == again
    people = set(subjects)
    assert set(first) == people
    test = [p for p, side in first.items() if side == "test"]
    assert len(test) == round(0.4 * len(people))
    assert set(first.values()) == {"train", "test"}
    other = subject_independent_split(subjects, labels, test_fraction=0.4, seed=4)
    assert other != first


def test_holdout_prefers_matching_class_proportions():
    subjects, labels = _clips(seed=1)
    chosen = subject_independent_split(subjects, labels, test_fraction=0.4, seed=0)
    rng = np.random.default_rng(99)
    people = sorted(set(subjects))
    test_count = sum(1 for side in chosen.values() if side == "test")
    random_distances = []
    for _ in range(200):
        test = set(rng.choice(people, size=test_count, replace=False))
        random_distances.append(
            _distance(subjects, labels, {p: "test" if p in test else "train" for p in people}))
    best = _distance(subjects, labels, chosen)
    assert best <= min(random_distances)
    # Every class appears on both sides.
    for side in ("train", "test"):
        on_side = {lab for s, lab in zip(subjects, labels, strict=True) if chosen[s] == side}
        assert on_side == set(labels)


def test_validation_subjects_come_from_training_subjects():
    subjects, labels = _clips()
    plain = subject_independent_split(subjects, labels, test_fraction=0.4, seed=0)
    with_val = subject_independent_split(subjects, labels, test_fraction=0.4, seed=0,
                                         validation_fraction=0.25)
    assert {p for p, s in with_val.items() if s == "test"} == {
        p for p, s in plain.items() if s == "test"}
    val = [p for p, s in with_val.items() if s == "val"]
    training = sum(1 for side in plain.values() if side == "train")
    assert len(val) == round(0.25 * training)
    assert all(plain[p] == "train" for p in val)


def test_holdout_needs_two_subjects():
    with pytest.raises(DatasetError, match="at least 2 subjects"):
        subject_independent_split(["a", "a"], [0, 1], test_fraction=0.4, seed=0)


def test_two_subjects_split_one_each():
    split = subject_independent_split(["a", "b", "b"], [0, 1, 0], test_fraction=0.1, seed=0)
    assert sorted(split.values()) == ["test", "train"]


def test_loso_one_fold_per_subject_in_natural_order():
    folds = loso_folds(["spNO.10", "spNO.2", "spNO.2", "spNO.1"])
    assert folds == {"spNO.1": "fold0", "spNO.2": "fold1", "spNO.10": "fold2"}
    with pytest.raises(DatasetError):
        loso_folds(["only"])


def test_natural_key():
    assert sorted(["sub10", "sub2", "sub1"], key=natural_key) == ["sub1", "sub2", "sub10"]
