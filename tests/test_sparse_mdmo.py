"""Sparse MDMO: the neighbour graph, the sparse coder against closed forms, dictionary learning."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from attrmer.baselines.sparse_mdmo import (
    GraphSparseCoder,
    code_new_samples,
    graph_sc_objective,
    knn_laplacian,
    learn_dictionary,
    sparse_codes,
)


def _soft(x: np.ndarray, threshold: float) -> np.ndarray:
    return np.sign(x) * np.maximum(np.abs(x) - threshold, 0.0)


def test_laplacian_of_the_nearest_neighbour_graph() -> None:
    # Points 0, 1, 2, 10 on a line, one neighbour each: 0-1, 1-0 (tie with 2: lower index),
    # 2-1, 10-2; made symmetric, the graph is the path 0-1-2-3.
    laplacian = knn_laplacian(np.array([[0.0], [1.0], [2.0], [10.0]]), 1)
    expected = np.array([[1, -1, 0, 0], [-1, 2, -1, 0], [0, -1, 2, -1], [0, 0, -1, 1]])
    np.testing.assert_array_equal(laplacian, expected)
    # tr(Sᵀ L S) is half the sum over ordered neighbour pairs of ‖s_i − s_j‖².
    codes = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [3.0, 0.0]])
    pairs = [(0, 1), (1, 2), (2, 3)]
    assert np.sum(codes * (laplacian @ codes)) == pytest.approx(
        sum(((codes[i] - codes[j]) ** 2).sum() for i, j in pairs))


def test_codes_over_an_orthonormal_dictionary_are_soft_thresholded() -> None:
    # With orthonormal atoms ‖x − sD‖² = ‖xDᵀ − s‖² + const, so the minimiser of
    # ‖x − sD‖² + μ‖s − p‖² + λ‖s‖₁ is soft((xDᵀ + μp) / (1 + μ), λ / (2(1 + μ))).
    rng = np.random.default_rng(0)
    atoms, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    features = rng.normal(size=(7, 5))
    plain = sparse_codes(features, atoms, sparsity=0.4, iterations=300)
    np.testing.assert_allclose(plain, _soft(features @ atoms.T, 0.2), atol=1e-8)
    prior = rng.normal(size=(7, 5))
    pulled = sparse_codes(features, atoms, sparsity=0.4, prior=prior, prior_weight=3.0,
                          iterations=300)
    expected = _soft((features @ atoms.T + 3.0 * prior) / 4.0, 0.4 / 8.0)
    np.testing.assert_allclose(pulled, expected, atol=1e-8)


def test_a_code_reconstructs_its_sample() -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(40, 6))
    model = learn_dictionary(features, atoms=12, sparsity=1e-3, graph_weight=0.0, neighbours=3,
                             iterations=20, seed=0)
    error = np.linalg.norm(features - model.codes @ model.atoms, axis=1)
    assert (error <= 0.02 * np.linalg.norm(features, axis=1)).all()
    # A new clip equal to a training clip is coded as that clip was.
    again = code_new_samples(model, features[:3], sparsity=1e-3, graph_weight=0.0, neighbours=3)
    np.testing.assert_allclose(again @ model.atoms, features[:3], atol=0.02)
    assert (np.linalg.norm(model.atoms, axis=1) <= 1.0 + 1e-9).all()


def test_the_objective_decreases_and_the_graph_pulls_neighbours_codes_together() -> None:
    rng = np.random.default_rng(2)
    features = np.concatenate([rng.normal(1.0, 0.3, (15, 8)), rng.normal(-1.0, 0.3, (15, 8))])
    model = learn_dictionary(features, atoms=10, sparsity=0.1, graph_weight=1.0, neighbours=4,
                             iterations=15, seed=0)
    trace = np.array(model.objective)
    assert len(trace) == 16
    assert (np.diff(trace) <= 1e-9 * trace[:-1]).all()
    assert trace[-1] < 0.5 * trace[0]
    laplacian = knn_laplacian(features, 4)
    assert trace[-1] == pytest.approx(graph_sc_objective(
        features, model.atoms, model.codes, laplacian, sparsity=0.1, graph_weight=1.0))
    # A larger λ gives sparser codes, and a larger γ brings neighbours' codes closer.
    sparser = learn_dictionary(features, atoms=10, sparsity=2.0, graph_weight=1.0, neighbours=4,
                               iterations=15, seed=0)
    zeros = [(np.abs(m.codes) < 1e-12).mean() for m in (model, sparser)]
    assert zeros[1] > zeros[0] + 0.2
    loose = learn_dictionary(features, atoms=10, sparsity=0.1, graph_weight=0.0, neighbours=4,
                             iterations=15, seed=0)
    tight = learn_dictionary(features, atoms=10, sparsity=0.1, graph_weight=10.0, neighbours=4,
                             iterations=15, seed=0)

    def spread(codes: np.ndarray) -> float:
        return float(np.sum(codes * (laplacian @ codes)))

    assert spread(tight.codes) < spread(loose.codes)


def test_coder_is_a_deterministic_scikit_learn_step() -> None:
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1, 2], 10)
    centres = rng.normal(0, 1, (3, 12))
    features = centres[labels] + rng.normal(0, 0.2, (30, 12))
    coder = GraphSparseCoder(atoms=9, iterations=10)
    first = coder.fit_transform(features)
    assert first.shape == (30, 9)
    np.testing.assert_array_equal(clone(coder).fit_transform(features), first)
    pipeline = make_pipeline(GraphSparseCoder(atoms=9, iterations=10),
                             SVC(kernel="linear", C=10.0)).fit(features, labels)
    test = centres[labels] + rng.normal(0, 0.2, (30, 12))
    assert pipeline.score(test, labels) >= 0.9
    assert pipeline[0].transform(test).shape == (30, 9)
