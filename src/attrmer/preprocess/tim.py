"""Temporal Interpolation Model (TIM): resample a clip to a fixed number of frames.

TIM (Zhou et al. 2012; used for micro-expressions by Pfister et al. 2011) embeds the n source
frames on a path graph. The graph Laplacian's eigenvectors sample the continuous curves
`y_k(t) = sin(πkt + π(n−k)/(2n))`, t ∈ [1/n, 1], frame i lying at t = i/n; a linear map from
the curve to the frames, evaluated at T evenly spaced t, gives the new frames.

Those eigenvectors are the DCT-II basis, so the whole model is exactly a per-pixel DCT-II
interpolation along time: `x(t) = Σ_k α_k c_k cos(πk(nt − ½)/n)`, c the orthonormal DCT-II
of the pixel's series. `tim_interpolate` uses that closed form (one small matrix product);
`tim_interpolate_eigen` follows the graph-embedding recipe step by step and serves as a test
oracle only: it is slower and needs memory for an SVD of the whole clip.

Not for spatial resizing or alignment; time is axis 0 and every other axis is carried along.
"""

from __future__ import annotations

import numpy as np


def tim_positions(n: int, frames: int) -> np.ndarray:
    """The T output positions in source-frame units (0 = first frame, n − 1 = last)."""
    if n < 2:
        raise ValueError(f"TIM needs at least 2 source frames, got {n}")
    if frames < 2:
        raise ValueError(f"TIM needs at least 2 output frames, got {frames}")
    # t runs evenly over [1/n, 1]; source frame i (1-based) sits at t = i/n, i.e. at n·t − 1.
    return np.linspace(0.0, n - 1.0, frames)


def tim_matrix(n: int, frames: int) -> np.ndarray:
    """The (frames, n) float64 matrix that maps n source frames to `frames` TIM frames."""
    positions = tim_positions(n, frames)
    k = np.arange(n)
    scale = np.full(n, np.sqrt(2.0 / n))
    scale[0] = np.sqrt(1.0 / n)
    # Orthonormal DCT-II analysis: coefficients c = dct @ series.
    dct = scale[:, None] * np.cos(np.pi * k[:, None] * (2 * k[None, :] + 1) / (2 * n))
    # Synthesis at continuous positions p: Σ_k α_k c_k cos(πk(p + ½)/n).
    synthesis = scale[None, :] * np.cos(np.pi * (positions[:, None] + 0.5) * k[None, :] / n)
    matrix = synthesis @ dct
    # At a source position the row is a unit vector up to rounding; make it exact so that
    # source frames come back bit for bit.
    on_source = np.isclose(positions, np.round(positions), rtol=0.0, atol=1e-9)
    for row in np.flatnonzero(on_source):
        matrix[row] = 0.0
        matrix[row, round(float(positions[row]))] = 1.0
    return matrix


def tim_interpolate(clip: np.ndarray, frames: int) -> np.ndarray:
    """Resample `clip` (time on axis 0, any trailing axes) to `frames` frames.

    Output frame 1 is the first source frame and frame T the last. uint8 input comes back as
    uint8 (values clipped to [0, 255], then rounded); float input stays in its float type.
    """
    clip = np.asarray(clip)
    if clip.ndim < 1:
        raise ValueError("TIM needs an array with time on axis 0")
    n = clip.shape[0]
    matrix = tim_matrix(n, frames)
    work_dtype = np.float64 if clip.dtype == np.float64 else np.float32
    flat = clip.reshape(n, -1).astype(work_dtype, copy=False)
    out = _same_on_every_cpu_product(matrix.astype(work_dtype), flat)
    out = out.reshape((frames, *clip.shape[1:]))
    return _cast_like(out, clip.dtype)


def _same_on_every_cpu_product(matrix: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """`matrix @ flat`, the source frames added one at a time in their order.

    BLAS picks its kernel for the CPU it runs on, and its AVX2 and AVX-512 kernels add the
    products in different orders: the sums differ in the last bit and a few pixels of a
    corpus round the other way (rgb.h5 and, through the grey frames, flow.h5 were not the same
    bytes on the two). Elementwise products and sums are exactly rounded (IEEE 754) at any
    vector width, so this gives the same bits on every CPU, at ~3-5x the BLAS call's time
    (tens of ms for a clip of 100 frames).
    """
    out = np.zeros((matrix.shape[0], flat.shape[1]), flat.dtype)
    for k in range(matrix.shape[1]):
        out += matrix[:, k:k + 1] * flat[k]
    return out


def tim_interpolate_eigen(clip: np.ndarray, frames: int) -> np.ndarray:
    """TIM by the graph-embedding recipe (PCA, path-graph Laplacian eigen-solve, linear map).

    Test oracle for `tim_interpolate`: same inputs, same output contract.
    """
    clip = np.asarray(clip)
    n = clip.shape[0]
    positions = tim_positions(n, frames)
    data = clip.reshape(n, -1).astype(np.float64)
    mean = data.mean(axis=0)
    centred = data - mean
    # PCA of the frames: coordinates z (n × r) in the basis `components` (r × D).
    u, s, components = np.linalg.svd(centred, full_matrices=False)
    rank = int(np.sum(s > s[0] * 1e-10)) if s.size and s[0] > 0 else 0
    z = u[:, :rank] * s[:rank]
    components = components[:rank]

    # Path graph over the frames; the Laplacian's non-constant eigenvectors embed them.
    adjacency = np.eye(n, k=1) + np.eye(n, k=-1)
    laplacian = np.diag(adjacency.sum(axis=1)) - adjacency
    eigenvalues, eigenvectors = np.linalg.eigh(laplacian)
    embedding = eigenvectors[:, np.argsort(eigenvalues)[1:]]  # n × (n − 1)

    # Each eigenvector samples one curve y_k at t_i = i/n, up to scale and sign.
    t_source = np.arange(1, n + 1) / n
    k = np.arange(1, n)
    curves_at_source = _curves(t_source, k, n)
    scale = np.sum(embedding * curves_at_source, axis=0) / np.sum(curves_at_source**2, axis=0)
    residual = np.abs(embedding - curves_at_source * scale).max()
    if residual > 1e-6:
        raise RuntimeError(f"Laplacian eigenvectors do not follow the TIM curves ({residual:g})")

    # Linear map from the embedding to the PCA coordinates (centred data lie in its span).
    mapping = np.linalg.lstsq(embedding, z, rcond=None)[0]
    t_out = (positions + 1.0) / n
    z_out = (_curves(t_out, k, n) * scale) @ mapping
    out = (z_out @ components + mean).reshape((frames, *clip.shape[1:]))
    return _cast_like(out, clip.dtype)


def _curves(t: np.ndarray, k: np.ndarray, n: int) -> np.ndarray:
    return np.sin(np.pi * k[None, :] * t[:, None] + np.pi * (n - k[None, :]) / (2 * n))


def _cast_like(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype == np.uint8:
        return np.rint(np.clip(values, 0, 255)).astype(np.uint8)
    if np.issubdtype(dtype, np.floating):
        return values.astype(dtype, copy=False)
    return values
