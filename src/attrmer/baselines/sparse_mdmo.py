"""Sparse MDMO: MDMO features re-coded over a dictionary learnt by graph-regularised sparse coding.

Y.-J. Liu, B.-J. Li, Y.-K. Lai, "Sparse MDMO: Learning a Discriminative Feature for
Micro-Expression Recognition", IEEE Transactions on Affective Computing 12(1):254–261, 2021.
The coding scheme is GraphSC: M. Zheng, J. Bu, C. Chen, C. Wang, L. Zhang, G. Qiu, D. Cai,
"Graph Regularized Sparse Coding for Image Representation", IEEE Transactions on Image
Processing 20(5):1327–1336, 2011.

MDMO (`attrmer.baselines.mdmo`) averages per-frame vectors into one 72-d feature, which loses
the neighbourhood structure of the clips in feature space. Sparse MDMO learns a dictionary D
from the training clips' features X and replaces each feature by its sparse code, the codes of
neighbouring clips being pulled together by a graph Laplacian. With the clips as rows
(X: n × d, codes S: n × K, atoms D: K × d) the learnt pair minimises

    J(D, S) = ‖X − S D‖²_F + γ tr(Sᵀ L S) + λ Σ_ij |S_ij|,   subject to ‖D_k‖₂ ≤ 1 for every atom,

where L = Deg − W is the Laplacian of the clips' k-nearest-neighbour graph (W_ij = 1 when j is
among the k nearest clips of i or i among those of j, else 0), so that
tr(Sᵀ L S) = ½ Σ_ij W_ij ‖s_i − s_j‖². J is minimised alternately:

* codes, D fixed: the smooth part ‖X − S D‖² + γ tr(Sᵀ L S) is a convex quadratic in S, so
  all codes are found together by monotone FISTA (Beck & Teboulle's iterative shrinkage with
  the objective kept non-increasing), warm-started from the previous codes;
* atoms, S fixed: block coordinate descent over the atoms, each the exact minimiser of J over
  the unit ball given the others (the block's Hessian is a multiple of the identity, so the
  unconstrained minimiser projected onto the ball is the constrained one).

Both steps never raise J, so J decreases over the iterations (`DictionaryModel.objective`).

Choices where the papers leave room, each a parameter or stated here:

* Features: each ROI's (ρ, θ) is used as the vector (ρ cos θ, ρ sin θ), as the MDMO baseline's
  classifier does (`attrmer.baselines.run`): no jump where θ wraps around.
* Graph metric: the Euclidean distance between those vectors. Liu et al. build the graph with
  a distance of their own, derived from how sparsely the clips populate the MDMO feature
  space; that metric is not reproduced here.
* New clips: the dictionary and the training codes are fixed; a new clip joins the graph as a
  node linked to its k nearest training clips, and its code minimises the same objective,
  ‖x − s D‖² + γ Σ_j ‖s − s_j‖² + λ‖s‖₁ (the sum over those k neighbours), i.e. the training
  objective with the training side held fixed, so that training and test codes are produced
  alike.
* Initial atoms: `atoms` distinct training features drawn with `seed` (then scaled to unit
  length; Gaussian atoms where the dictionary is larger than the training side); the codes
  start at zero. Everything is deterministic for a given seed.

Dictionary learning happens inside `GraphSparseCoder.fit`, so in `attrmer.baselines.run` it is
learnt on each fold's training side only (and again inside each cross-validation split that
chooses C). Not for the MDMO feature itself (`attrmer.baselines.mdmo`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


@dataclass(frozen=True)
class DictionaryModel:
    """A learnt dictionary: atoms (K, d), the training codes (n, K), the training features
    (n, d) their graph was built on, and J after each iteration (non-increasing)."""

    atoms: np.ndarray
    codes: np.ndarray
    features: np.ndarray
    objective: tuple[float, ...]


def knn_laplacian(features: np.ndarray, neighbours: int) -> np.ndarray:
    """(n, n) Laplacian Deg − W of the symmetric 0/1 k-nearest-neighbour graph of the rows."""
    features = np.asarray(features, dtype=np.float64)
    n = len(features)
    adjacency = np.zeros((n, n))
    k = min(neighbours, n - 1)
    if k > 0:
        nearest = _nearest(features, features, k, exclude_self=True)
        adjacency[np.repeat(np.arange(n), k), nearest.ravel()] = 1.0
        adjacency = np.maximum(adjacency, adjacency.T)
    return np.diag(adjacency.sum(axis=1)) - adjacency


def graph_sc_objective(
    features: np.ndarray, atoms: np.ndarray, codes: np.ndarray, laplacian: np.ndarray, *,
    sparsity: float, graph_weight: float,
) -> float:
    """J(D, S) = ‖X − S D‖²_F + γ tr(Sᵀ L S) + λ Σ|S_ij|."""
    residual = features - codes @ atoms
    return float((residual**2).sum() + graph_weight * np.sum(codes * (laplacian @ codes))
                 + sparsity * np.abs(codes).sum())


def sparse_codes(
    features: np.ndarray,
    atoms: np.ndarray,
    *,
    sparsity: float,
    laplacian: np.ndarray | None = None,
    graph_weight: float = 0.0,
    prior: np.ndarray | None = None,
    prior_weight: float = 0.0,
    start: np.ndarray | None = None,
    iterations: int = 100,
) -> np.ndarray:
    """Codes S (n, K) minimising ‖X − S D‖² + γ tr(Sᵀ L S) + μ‖S − P‖² + λ Σ|S_ij| by monotone
    FISTA; the result is never worse than `start` (zeros by default).

    `laplacian`/`graph_weight` couple the rows through the graph (training); `prior` P with
    `prior_weight` μ pulls each row towards a fixed code (a new clip's neighbours' mean).
    """
    features = np.asarray(features, dtype=np.float64)
    atoms = np.asarray(atoms, dtype=np.float64)
    n, k = len(features), len(atoms)
    gram = atoms @ atoms.T
    correlation = features @ atoms.T
    use_graph = laplacian is not None and graph_weight > 0
    use_prior = prior is not None and prior_weight > 0
    # Lipschitz constant of the smooth part's gradient: the step that keeps ISTA descending.
    lipschitz = 2.0 * (np.linalg.eigvalsh(gram)[-1]
                       + (graph_weight * np.linalg.eigvalsh(laplacian)[-1] if use_graph else 0.0)
                       + (prior_weight if use_prior else 0.0))
    if lipschitz <= 0:
        return np.zeros((n, k))

    def objective(codes: np.ndarray) -> float:
        value = float(((features - codes @ atoms) ** 2).sum() + sparsity * np.abs(codes).sum())
        if use_graph:
            value += graph_weight * float(np.sum(codes * (laplacian @ codes)))
        if use_prior:
            value += prior_weight * float(((codes - prior) ** 2).sum())
        return value

    def gradient(codes: np.ndarray) -> np.ndarray:
        grad = 2.0 * (codes @ gram - correlation)
        if use_graph:
            grad += 2.0 * graph_weight * (laplacian @ codes)
        if use_prior:
            grad += 2.0 * prior_weight * (codes - prior)
        return grad

    current = np.zeros((n, k)) if start is None else np.array(start, dtype=np.float64)
    value = objective(current)
    momentum_point, t = current.copy(), 1.0
    threshold = sparsity / lipschitz
    for _ in range(iterations):
        step = momentum_point - gradient(momentum_point) / lipschitz
        candidate = np.sign(step) * np.maximum(np.abs(step) - threshold, 0.0)
        candidate_value = objective(candidate)
        t_next = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        # Monotone FISTA: keep the better of the candidate and the current point, but let
        # the momentum still look towards the candidate.
        previous = current
        if candidate_value <= value:
            current, value = candidate, candidate_value
        momentum_point = (current + (t / t_next) * (candidate - current)
                          + ((t - 1.0) / t_next) * (current - previous))
        t = t_next
    return current


def update_atoms(features: np.ndarray, codes: np.ndarray, atoms: np.ndarray,
                 sweeps: int = 1) -> np.ndarray:
    """Atoms minimising ‖X − S D‖² over ‖D_k‖ ≤ 1, by block coordinate descent from `atoms`."""
    atoms = np.array(atoms, dtype=np.float64)
    gram = codes.T @ codes  # (K, K)
    cross = codes.T @ features  # (K, d)
    for _ in range(sweeps):
        for k in range(len(atoms)):
            if gram[k, k] <= 0:
                continue  # an atom no code uses: J does not depend on it
            atoms[k] += (cross[k] - gram[k] @ atoms) / gram[k, k]
            atoms[k] /= max(1.0, float(np.linalg.norm(atoms[k])))
    return atoms


def learn_dictionary(
    features: np.ndarray,
    *,
    atoms: int,
    sparsity: float,
    graph_weight: float,
    neighbours: int,
    iterations: int,
    code_iterations: int = 100,
    seed: int = 0,
) -> DictionaryModel:
    """Alternate the code and atom steps `iterations` times from seeded atoms and zero codes."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need a matrix of two or more features, got shape {features.shape}")
    laplacian = knn_laplacian(features, neighbours)
    dictionary = _initial_atoms(features, atoms, seed)
    codes = np.zeros((len(features), atoms))

    def objective() -> float:
        return graph_sc_objective(features, dictionary, codes, laplacian, sparsity=sparsity,
                                  graph_weight=graph_weight)

    trace = [objective()]
    for _ in range(iterations):
        codes = sparse_codes(features, dictionary, sparsity=sparsity, laplacian=laplacian,
                             graph_weight=graph_weight, start=codes, iterations=code_iterations)
        dictionary = update_atoms(features, codes, dictionary)
        trace.append(objective())
    return DictionaryModel(dictionary, codes, features, tuple(trace))


def code_new_samples(model: DictionaryModel, features: np.ndarray, *, sparsity: float,
                     graph_weight: float, neighbours: int,
                     iterations: int = 100) -> np.ndarray:
    """Codes of new clips: linked to their k nearest training clips, the training side fixed."""
    features = np.asarray(features, dtype=np.float64)
    k = min(neighbours, len(model.features))
    if graph_weight <= 0 or k == 0:
        return sparse_codes(features, model.atoms, sparsity=sparsity, iterations=iterations)
    nearest = _nearest(features, model.features, k, exclude_self=False)
    # γ Σ_j ‖s − s_j‖² = γk ‖s − mean_j s_j‖² + a constant.
    prior = model.codes[nearest].mean(axis=1)
    return sparse_codes(features, model.atoms, sparsity=sparsity, prior=prior,
                        prior_weight=graph_weight * k, iterations=iterations)


class GraphSparseCoder(TransformerMixin, BaseEstimator):
    """scikit-learn step: `fit` learns the dictionary on the rows it is given (a fold's
    training side), `fit_transform` returns their codes, `transform` codes new rows."""

    def __init__(self, atoms: int = 64, sparsity: float = 0.1, graph_weight: float = 1.0,
                 neighbours: int = 5, iterations: int = 30, code_iterations: int = 100,
                 seed: int = 0) -> None:
        self.atoms = atoms
        self.sparsity = sparsity
        self.graph_weight = graph_weight
        self.neighbours = neighbours
        self.iterations = iterations
        self.code_iterations = code_iterations
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> GraphSparseCoder:
        self.model_ = learn_dictionary(
            X, atoms=self.atoms, sparsity=self.sparsity, graph_weight=self.graph_weight,
            neighbours=self.neighbours, iterations=self.iterations,
            code_iterations=self.code_iterations, seed=self.seed,
        )
        return self

    def fit_transform(self, X: np.ndarray, y: np.ndarray | None = None,
                      **fit_params: object) -> np.ndarray:
        return self.fit(X, y).model_.codes.copy()

    def transform(self, X: np.ndarray) -> np.ndarray:
        return code_new_samples(self.model_, X, sparsity=self.sparsity,
                                graph_weight=self.graph_weight, neighbours=self.neighbours,
                                iterations=self.code_iterations)


def _nearest(queries: np.ndarray, points: np.ndarray, k: int, *,
             exclude_self: bool) -> np.ndarray:
    """(len(queries), k) indexes of the k nearest `points` (Euclidean; ties: lower index)."""
    distances = ((queries[:, None, :] - points[None, :, :]) ** 2).sum(axis=2)
    if exclude_self:
        np.fill_diagonal(distances, np.inf)
    return np.argsort(distances, axis=1, kind="stable")[:, :k]


def _initial_atoms(features: np.ndarray, atoms: int, seed: int) -> np.ndarray:
    if atoms < 1:
        raise ValueError(f"atoms: {atoms} must be at least 1")
    rng = np.random.default_rng(seed)
    drawn = features[rng.permutation(len(features))[:atoms]]
    extra = rng.standard_normal((atoms - len(drawn), features.shape[1]))
    dictionary = np.concatenate([drawn, extra])
    norms = np.linalg.norm(dictionary, axis=1, keepdims=True)
    # A zero feature cannot give a direction: replace it by a random unit atom.
    zero = norms[:, 0] <= 1e-12
    dictionary[zero] = rng.standard_normal((int(zero.sum()), features.shape[1]))
    return dictionary / np.linalg.norm(dictionary, axis=1, keepdims=True)
