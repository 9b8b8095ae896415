"""PNG figures of the evaluation: the confusion matrix, the depth comparison, the α sweep.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, no global state),
written atomically. Each function takes plain numbers and labels, so the same drawing serves
the `evaluate` stage and `attrmer report`. Not for computing metrics or choosing what to plot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from attrmer.io import atomic_path

DPI = 150
# One colour per series, readable in grey print and by colour-blind readers (Okabe–Ito).
SERIES_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")


def _save(figure: Figure, path: str | Path) -> None:
    FigureCanvasAgg(figure)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight")


def plot_confusion(
    matrix: np.ndarray, classes: Sequence[str], path: str | Path, *, title: str = ""
) -> None:
    """Counts in each cell, colour by the share of the true class (row-normalised)."""
    matrix = np.asarray(matrix)
    n = len(classes)
    if matrix.shape != (n, n):
        raise ValueError(f"confusion matrix of shape {matrix.shape} for {n} classes")
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    side = max(4.0, 0.9 * n + 2.0)
    figure = Figure(figsize=(side + 1.0, side))
    axes = figure.add_subplot()
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    colourbar = figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    colourbar.set_label("share of the true class")
    for i in range(n):
        for j in range(n):
            share = f"\n{shares[i, j]:.0%}" if totals[i, 0] > 0 else ""
            axes.text(j, i, f"{int(matrix[i, j])}{share}", ha="center",
                      va="center", fontsize=8,
                      color="white" if shares[i, j] > 0.55 else "black")
    axes.set_xticks(range(n), classes, rotation=35, ha="right")
    axes.set_yticks(range(n), [f"{name} ({int(t)})" for name, t in zip(classes, totals[:, 0],
                                                                       strict=True)])
    axes.set_xlabel("predicted")
    axes.set_ylabel("true (number of samples)")
    axes.set_title(title, fontsize=9)
    _save(figure, path)


def plot_depth_comparison(
    series: Mapping[str, Mapping[int, tuple[float, float]]],
    path: str | Path,
    *,
    title: str,
    depths: Sequence[int] = (10, 18, 34),
    reference: Mapping[str, float] | None = None,
) -> None:
    """Grouped bars: accuracy (%) per depth, one bar per series, ± std as error bars.

    `series` maps a label ("without attribute branch") to {depth: (mean, std)}; a depth a
    series lacks leaves a gap labelled "not run". `reference` draws labelled horizontal lines
    (the paper's published numbers, say).
    """
    figure = Figure(figsize=(6.4, 4.2))
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(series))
    positions = np.arange(len(depths), dtype=float)
    for k, (label, points) in enumerate(series.items()):
        offsets = positions - 0.4 + width * (k + 0.5)
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        for x, depth in zip(offsets, depths, strict=True):
            if depth not in points:
                axes.text(x, 1.0, "not run", rotation=90, ha="center", va="bottom", fontsize=7,
                          color=colour)
                continue
            mean, std = points[depth]
            axes.bar(x, mean, width, yerr=std, capsize=3, color=colour,
                     label=label if depth == next(d for d in depths if d in points) else None)
            axes.text(x, mean + std + 1.0, f"{mean:.1f}", ha="center", va="bottom", fontsize=7)
    _reference_lines(axes, reference)
    axes.set_xticks(positions, [f"3D-ResNet-{d}" for d in depths])
    axes.set_ylabel("accuracy (%), mean ± std over seeds")
    axes.set_ylim(0, 105)
    axes.set_title(title, fontsize=9)
    _legend_below(axes)
    axes.grid(axis="y", alpha=0.3)
    _save(figure, path)


def plot_alpha_sweep(
    points: Mapping[float, tuple[float, float]],
    path: str | Path,
    *,
    title: str,
    reference: Mapping[str, float] | None = None,
) -> None:
    """Accuracy (%) against α with ± std error bars; `reference` as in `plot_depth_comparison`."""
    alphas = sorted(points)
    means = np.array([points[a][0] for a in alphas])
    stds = np.array([points[a][1] for a in alphas])
    figure = Figure(figsize=(6.4, 4.2))
    axes = figure.add_subplot()
    axes.errorbar(alphas, means, yerr=stds, marker="o", capsize=3, color=SERIES_COLOURS[0],
                  label="attrmer (mean ± std over seeds)")
    for a, m, s in zip(alphas, means, stds, strict=True):
        axes.annotate(f"{m:.1f}", (a, m + s), textcoords="offset points", xytext=(0, 3),
                      ha="center", va="bottom", fontsize=7)
    _reference_lines(axes, reference)
    axes.set_xlabel("α (weight of the cross-modal contrastive loss)")
    axes.set_ylabel("accuracy (%), mean ± std over seeds")
    axes.set_xlim(-0.05, 1.05)
    # Frame the data and every reference line, with room for the labels and the legend.
    values = [*(means - stds), *(means + stds), *(reference or {}).values()]
    axes.set_ylim(max(0.0, min(values) - 12.0), min(100.0, max(values) + 6.0))
    axes.set_title(title, fontsize=9)
    _legend_below(axes)
    axes.grid(alpha=0.3)
    _save(figure, path)


def _reference_lines(axes, reference: Mapping[str, float] | None) -> None:
    styles = ("--", ":", "-.")
    for k, (label, value) in enumerate((reference or {}).items()):
        axes.axhline(value, color="0.35", linestyle=styles[k % len(styles)], linewidth=1,
                     label=label)


def _legend_below(axes) -> None:
    # Below the axes, so it never hides a bar or a point.
    axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2,
                frameon=False)


def plot_reliability(
    panels: Mapping[str, Mapping[str, tuple[Sequence[tuple[float, float, int]], float]]],
    path: str | Path, *, title: str = "",
) -> None:
    """Reliability diagrams side by side: per panel (e.g. "validation", "test"), per series
    (e.g. "raw", "calibrated"), the (confidence, accuracy, count) bins and the ECE. A
    calibrated model's points lie on the diagonal."""
    figure = Figure(figsize=(4.2 * len(panels), 4.4))
    for index, (panel, series) in enumerate(panels.items()):
        axes = figure.add_subplot(1, len(panels), index + 1)
        axes.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1,
                  label="perfect calibration")
        for colour, (name, (bins, ece)) in zip(SERIES_COLOURS, series.items(), strict=False):
            if not bins:
                continue
            confidence, accuracy, counts = (np.array(v, dtype=float) for v in zip(*bins,
                                                                                   strict=True))
            axes.plot(confidence, accuracy, color=colour, marker="o", linewidth=1.5,
                      label=f"{name} (ECE {ece:.3f})")
            for x, y, n in zip(confidence, accuracy, counts, strict=True):
                axes.annotate(str(int(n)), (x, y), textcoords="offset points", xytext=(3, -9),
                              fontsize=6, color=colour)
        axes.set_xlim(0, 1.02)
        axes.set_ylim(0, 1.02)
        axes.set_xlabel("confidence of the top class")
        if index == 0:
            axes.set_ylabel("accuracy")
        axes.set_title(panel, fontsize=10)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7, loc="upper left")
    if title:
        figure.suptitle(title, fontsize=10)
    _save(figure, path)
