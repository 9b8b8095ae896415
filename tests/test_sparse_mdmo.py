"""Sparse MDMO: the sparsity-based distance against a hand-computed clip, its graph, the graph-
regularised coder against closed forms, dictionary learning, pooling, the scikit-learn step."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from attrmer.baselines.sparse_mdmo import (
    GraphSparseCoder,
    code_clips,
    frame_codes,
    graph_sc_objective,
    learn_dictionary,
    pool_codes,
    sparse_codes,
    sparsity_distances,
    sparsity_laplacians,
)

# One clip of three 2-d frames: ψ0 = (1, 0), ψ1 = (2, 0), ψ2 = (0, 1).
HAND_CLIP = np.array([[[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]]])


def _soft(x: np.ndarray, threshold: float) -> np.ndarray:
    return np.sign(x) * np.maximum(np.abs(x) - threshold, 0.0)


def test_the_sparsity_distance_of_a_hand_made_clip() -> None:
    # Penalty 0.5: μ_j = 0.5 × max_{k≠j} ψ_j·ψ_k, then min_γ≥0 ½‖ψ_j − Σ γ_k ψ_k‖² + μ_j Σ γ_k.
    # Frame 0: μ = 0.5 × max(ψ0·ψ1 = 2, ψ0·ψ2 = 0) = 1; ψ2 ⊥ ψ0 gets 0; for γ_1,
    #   ½(1 − 2γ)² + γ has derivative −2(1 − 2γ) + 1 = 0 at γ = 0.25.
    # Frame 1: μ = 0.5 × 2 = 1; ½(2 − γ)² + γ → −(2 − γ) + 1 = 0 at γ_0 = 1.
    # Frame 2: orthogonal to both, μ = 0: its code is 0.
    raw = frame_codes(HAND_CLIP, penalty=0.5)
    np.testing.assert_allclose(raw[0], [[0, 0.25, 0], [1, 0, 0], [0, 0, 0]], atol=1e-12)
    # Γ / ‖Γ‖_F: ‖Γ‖_F = √(1 + 0.0625) = 1.0307764; γ_0(1) = 0.2425356, γ_1(0) = 0.9701425.
    # Eq. 13: d(0, 1) = 1 / ((0.2425356 + 0.9701425) / 2 + 1) = 1 / 1.6063391 = 0.6225336;
    # frame 2 shares no code with either: d = 1 / (0 + 1) = 1.
    distances = sparsity_distances(HAND_CLIP, penalty=0.5)[0]
    expected = np.array([[0.0, 0.6225336, 1.0], [0.6225336, 0.0, 1.0], [1.0, 1.0, 0.0]])
    np.testing.assert_allclose(distances, expected, atol=1e-7)
    # One neighbour each among the frames at d < 1: 0–1 linked, frame 2 alone.
    laplacian = sparsity_laplacians(HAND_CLIP, neighbours=1, penalty=0.5)[0]
    np.testing.assert_array_equal(laplacian, [[1, -1, 0], [-1, 1, 0], [0, 0, 0]])


def test_frame_codes_meet_the_optimality_conditions() -> None:
    # KKT of min_γ≥0 ½‖ψ_j − Bγ‖² + μ Σγ: the gradient Gγ − b + μ is ≥ 0, and 0 where γ > 0.
    rng = np.random.default_rng(0)
    clips = rng.normal(size=(3, 6, 10)) + 0.5
    clips[1, 4] = 0.0  # a frame without motion: no code, and in no other frame's code
    penalty = 0.2
    gamma = frame_codes(clips, penalty=penalty)
    assert (gamma >= 0).all()
    assert (np.diagonal(gamma, axis1=1, axis2=2) == 0).all()
    assert (gamma[1, 4] == 0).all() and (gamma[1, :, 4] == 0).all()
    for clip, codes in zip(clips, gamma, strict=True):
        gram = clip @ clip.T
        for j in range(len(clip)):
            others = [k for k in range(len(clip)) if k != j and gram[k, k] > 0]
            if gram[j, j] == 0:
                continue
            mu = penalty * max(0.0, max(gram[j, k] for k in range(len(clip)) if k != j))
            slope = gram[others] @ codes[j] - gram[others, j] + mu
            assert (slope >= -1e-8).all()
            np.testing.assert_allclose(slope[codes[j, others] > 0], 0.0, atol=1e-8)


def test_distances_are_a_metric_within_a_clip() -> None:
    distances = sparsity_distances(np.random.default_rng(1).normal(size=(2, 7, 5)), penalty=0.1)
    off = ~np.eye(7, dtype=bool)
    assert (np.diagonal(distances, axis1=1, axis2=2) == 0).all()
    np.testing.assert_array_equal(distances, distances.transpose(0, 2, 1))
    assert (distances[:, off] >= 0.5).all() and (distances[:, off] <= 1.0).all()
    assert (distances[:, off] < 1.0).any()


def test_the_graph_links_each_frame_to_at_most_k_related_frames() -> None:
    clips = np.random.default_rng(2).normal(size=(4, 9, 6))
    laplacians = sparsity_laplacians(clips, neighbours=2, penalty=0.1)
    distances = sparsity_distances(clips, penalty=0.1)
    adjacency = -laplacians * ~np.eye(9, dtype=bool)
    np.testing.assert_array_equal(adjacency, adjacency.transpose(0, 2, 1))
    assert set(np.unique(adjacency)) <= {0.0, 1.0}
    np.testing.assert_allclose(laplacians.sum(axis=2), 0.0)
    assert (distances[adjacency > 0] < 1.0).all()  # no link between unrelated frames
    # Each frame links to its 2 nearest related frames (fewer if it has fewer); symmetry may
    # add the links that other frames chose.
    related = ((distances < 1) & ~np.eye(9, dtype=bool)).sum(axis=2)
    assert ((adjacency > 0).sum(axis=2) >= np.minimum(2, related)).all()
    assert (np.diagonal(laplacians, axis1=1, axis2=2) < related + 1e-9).all()
    # tr(Sᵀ L S) is half the sum over linked pairs (both orders) of ‖s_i − s_j‖².
    codes = np.random.default_rng(3).normal(size=(4, 9, 3))
    pairs = 0.5 * sum(adjacency[c, i, j] * ((codes[c, i] - codes[c, j]) ** 2).sum()
                      for c in range(4) for i in range(9) for j in range(9))
    assert np.sum(codes * (laplacians @ codes)) == pytest.approx(pairs)


def test_codes_over_an_orthonormal_dictionary_are_soft_thresholded() -> None:
    # With orthonormal atoms ‖x − sD‖² = ‖xDᵀ − s‖² + const, so the minimiser of
    # ‖x − sD‖² + λ‖s‖₁ is soft(xDᵀ, λ / 2).
    rng = np.random.default_rng(4)
    atoms, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    features = rng.normal(size=(2, 7, 5))
    codes = sparse_codes(features, atoms, sparsity=0.4, iterations=300)
    np.testing.assert_allclose(codes, _soft(features @ atoms.T, 0.2), atol=1e-8)


def test_a_two_frame_clip_is_pulled_to_the_closed_form() -> None:
    # Two linked frames over an orthonormal dictionary: with a = xDᵀ, the minimiser of
    # ‖a_1 − s_1‖² + ‖a_2 − s_2‖² + γ‖s_1 − s_2‖² (no L1) is the mean ± (a_1 − a_2) / (2(1 + 2γ)).
    rng = np.random.default_rng(5)
    atoms, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    features = rng.normal(size=(1, 2, 4))
    laplacian = np.array([[[1.0, -1.0], [-1.0, 1.0]]])
    codes = sparse_codes(features, atoms, sparsity=0.0, laplacians=laplacian, graph_weight=1.5,
                         iterations=500)
    a = features[0] @ atoms.T
    half_gap = (a[0] - a[1]) / (2 * (1 + 2 * 1.5))
    np.testing.assert_allclose(codes[0], [a.mean(0) + half_gap, a.mean(0) - half_gap],
                               atol=1e-8)


def test_a_clip_is_coded_alike_alone_or_with_others() -> None:
    rng = np.random.default_rng(6)
    clips = rng.normal(size=(5, 8, 6))
    model = learn_dictionary(clips, atoms=10, sparsity=0.1, graph_weight=1.0, neighbours=3,
                             similarity_penalty=0.1, iterations=3, code_iterations=10)
    settings = dict(sparsity=0.1, graph_weight=1.0, neighbours=3, similarity_penalty=0.1,
                    iterations=30)
    together = code_clips(model, clips, **settings)
    for c in range(5):
        np.testing.assert_allclose(code_clips(model, clips[c:c + 1], **settings)[0],
                                   together[c], atol=1e-12)


def _two_kinds_of_clip(rng: np.random.Generator) -> np.ndarray:
    """12 clips of 8 frames in 8-d: half rising along one pattern, half along another, noisy."""
    patterns = rng.normal(size=(2, 8))
    ramps = np.linspace(0.2, 1.0, 8)[:, None]
    return np.stack([ramps * patterns[c % 2] + rng.normal(0, 0.1, (8, 8)) for c in range(12)])


def test_the_objective_decreases_codes_are_sparse_and_the_graph_pulls_codes_together() -> None:
    clips = _two_kinds_of_clip(np.random.default_rng(7))
    settings = dict(atoms=12, neighbours=3, similarity_penalty=0.1, iterations=12,
                    code_iterations=20, seed=0)
    model = learn_dictionary(clips, sparsity=0.1, graph_weight=1.0, **settings)
    trace = np.array(model.objective)
    assert len(trace) == 13
    assert (np.diff(trace) <= 1e-9 * trace[:-1]).all()
    assert trace[-1] < 0.5 * trace[0]
    laplacians = sparsity_laplacians(clips, neighbours=3, penalty=0.1)
    assert trace[-1] == pytest.approx(graph_sc_objective(
        clips, model.atoms, model.codes, laplacians, sparsity=0.1, graph_weight=1.0))
    assert (np.linalg.norm(model.atoms, axis=1) <= 1.0 + 1e-9).all()
    # Codes are sparse, and a larger λ makes them sparser.
    zeros = (np.abs(model.codes) < 1e-12).mean()
    sparser = learn_dictionary(clips, sparsity=2.0, graph_weight=1.0, **settings)
    assert zeros > 0.2
    assert (np.abs(sparser.codes) < 1e-12).mean() > zeros + 0.2
    # A larger w_g brings linked frames' codes closer.
    loose = learn_dictionary(clips, sparsity=0.1, graph_weight=0.0, **settings)
    tight = learn_dictionary(clips, sparsity=0.1, graph_weight=10.0, **settings)

    def spread(codes: np.ndarray) -> float:
        return float(np.sum(codes * (laplacians @ codes)))

    assert spread(tight.codes) < 0.5 * spread(loose.codes)


def test_pooling_mixes_the_largest_and_the_mean_code() -> None:
    # Atom 0 over three frames: 1, −2, 4 → max 4, mean 1; atom 1: 0, 0, −3 → max 0, mean −1.
    codes = np.array([[[1.0, 0.0], [-2.0, 0.0], [4.0, -3.0]]])
    np.testing.assert_allclose(pool_codes(codes, 0.25), [[0.25 * 4 + 0.75 * 1, -0.75]])
    np.testing.assert_allclose(pool_codes(codes, 1.0), [[4.0, 0.0]])
    np.testing.assert_allclose(pool_codes(codes, 0.0), [[1.0, -1.0]])


def test_coder_is_a_deterministic_scikit_learn_step() -> None:
    rng = np.random.default_rng(8)
    clips = _two_kinds_of_clip(rng)
    labels = np.arange(12) % 2
    rows = clips.reshape(12, -1)
    coder = GraphSparseCoder(frame_length=8, atoms=12, neighbours=3, iterations=5,
                             code_iterations=10, transform_iterations=30)
    first = coder.fit_transform(rows)
    assert first.shape == (12, 12)
    np.testing.assert_array_equal(clone(coder).fit_transform(rows), first)
    pipeline = make_pipeline(clone(coder), SVC(kernel="linear", C=10.0)).fit(rows, labels)
    test = _two_kinds_of_clip(np.random.default_rng(8))  # same patterns, fresh noise below
    test = test + np.random.default_rng(9).normal(0, 0.05, test.shape)
    assert pipeline.score(test.reshape(12, -1), labels) >= 0.9
    with pytest.raises(ValueError, match="8-long frames"):
        coder.transform(rows[:, :60])
