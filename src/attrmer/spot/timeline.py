"""The timeline figure of `attrmer spot`: a video's motion curves, thresholds and intervals.

Three panels over one time axis (seconds below, the video's frame numbers above): the micro
curve, the macro curve and the eyes' curve, each with the threshold its peaks had to clear.
Spotted intervals are shaded by type, a solid edge when they match an annotated interval
(IoU at least the threshold, `attrmer.spot.evaluate`) and a dashed one when not; annotated
intervals, when given, are bars along the top of their panel; blinks are shaded in the eye
panel. Drawn with matplotlib's object API on the Agg canvas, written atomically. Not for
computing anything shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from attrmer.evaluate.plots import DPI, SERIES_COLOURS
from attrmer.io import atomic_path
from attrmer.spot.evaluate import match_intervals
from attrmer.spot.intervals import Interval
from attrmer.spot.peaks import SpotResult, true_spans

COLOURS = {"micro": SERIES_COLOURS[5], "macro": SERIES_COLOURS[0], "blink": "#777777"}
CURVE = "#222222"
LOST = "#bbbbbb"
# Share of a panel's height the annotated bars take at its top.
TRUTH_BAR = 0.10


def plot_timeline(result: SpotResult, path: str | Path, *, title: str,
                  truth: Sequence[Interval] = (),
                  truth_blinks: Sequence[tuple[int, int]] = (),
                  iou_threshold: float = 0.5) -> None:
    """Write the timeline PNG of one spotted video to `path`."""
    numbers = result.frame_numbers
    first = int(numbers[0])
    seconds = (numbers - first) / result.fps
    matched = {j for _, j in match_intervals(list(truth), result.intervals,
                                             iou_threshold=iou_threshold)} if truth else set()
    signals = result.signals
    panels = (
        ("micro", signals.micro, "micro curve (px)"),
        ("macro", signals.macro, "macro curve (px)"),
        ("blink", signals.eyes, "eyes, grey level"),
    )
    width = float(np.clip(seconds[-1] / 4.0, 10.0, 24.0))
    figure = Figure(figsize=(width, 7.5), layout="constrained")
    axes_list = figure.subplots(len(panels), 1, sharex=True)

    def at(frame: int) -> float:
        return (frame - first) / result.fps

    half_frame = 0.5 / result.fps
    lost = true_spans(~np.isfinite(signals.micro))
    for axes, (name, curve, label) in zip(axes_list, panels, strict=True):
        for start, stop in lost:
            axes.axvspan(seconds[start] - half_frame, seconds[stop - 1] + half_frame,
                         facecolor="none", edgecolor=LOST, hatch="//", linewidth=0)
        top = _top(curve, signals.thresholds[name])
        axes.set_ylim(0.0, top)
        axes.plot(seconds, curve, color=CURVE, linewidth=0.8)
        axes.axhline(signals.thresholds[name], color=COLOURS[name], linestyle="--",
                     linewidth=1.0)
        axes.text(seconds[-1], signals.thresholds[name],
                  f"threshold {signals.thresholds[name]:.2f}", color=COLOURS[name],
                  fontsize=7, va="bottom", ha="right")
        axes.set_ylabel(label)
        axes.grid(axis="x", color="#dddddd", linewidth=0.5)
        if name == "blink":
            for onset, offset in result.blinks:
                axes.axvspan(at(onset) - half_frame, at(offset) + half_frame,
                             color=COLOURS["blink"], alpha=0.3, linewidth=0)
            for onset, offset in truth_blinks:
                axes.axvspan(at(onset) - half_frame, at(offset) + half_frame,
                             ymin=1.0 - TRUTH_BAR, color="black", linewidth=0)
            continue
        for j, interval in enumerate(result.intervals):
            if interval.kind != name:
                continue
            axes.axvspan(at(interval.onset) - half_frame, at(interval.offset) + half_frame,
                         ymax=1.0 - TRUTH_BAR, facecolor=COLOURS[name], alpha=0.3,
                         edgecolor=COLOURS[name], linewidth=1.0,
                         linestyle="-" if j in matched or not truth else "--")
        for interval in truth:
            if interval.kind == name:
                axes.axvspan(at(interval.onset) - half_frame, at(interval.offset) + half_frame,
                             ymin=1.0 - TRUTH_BAR, color="black", linewidth=0)

    axes_list[-1].set_xlabel("time (s) from the first frame")
    axes_list[-1].set_xlim(seconds[0], seconds[-1])
    frames_axis = axes_list[0].secondary_xaxis(
        "top", functions=(lambda s: s * result.fps + first, lambda f: (f - first) / result.fps))
    frames_axis.set_xlabel("video frame")
    figure.legend(handles=_legend(truth, truth_blinks, bool(lost)), loc="outside lower center",
                  ncols=7, fontsize=8, frameon=False)
    counts = {kind: sum(1 for i in result.intervals if i.kind == kind)
              for kind in ("micro", "macro")}
    figure.suptitle(f"{title}\n{len(numbers)} frames at {result.fps:g} fps: {counts['micro']} "
                    f"micro, {counts['macro']} macro, {len(result.blinks)} blinks spotted",
                    fontsize=10)
    FigureCanvasAgg(figure)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI)


def _top(curve: np.ndarray, threshold: float) -> float:
    """The panel's height: the curve's highest value and the threshold, with headroom for the
    annotated bars."""
    finite = curve[np.isfinite(curve)]
    highest = max(float(finite.max()) if finite.size else 0.0, threshold, 1e-3)
    return highest * 1.25


def _legend(truth: Sequence[Interval], truth_blinks: Sequence[tuple[int, int]],
            lost: bool) -> list[Patch]:
    handles = [Patch(facecolor=COLOURS[kind], alpha=0.3, edgecolor=COLOURS[kind],
                     label=f"spotted {kind}") for kind in ("micro", "macro")]
    handles.append(Patch(facecolor=COLOURS["blink"], alpha=0.3, label="blink found"))
    if truth or truth_blinks:
        handles.append(Patch(facecolor="black", label="annotated"))
        handles.append(Patch(facecolor="white", edgecolor="grey", linestyle="--",
                             label="spotted, no annotated match"))
    if lost:
        handles.append(Patch(facecolor="none", edgecolor=LOST, hatch="//",
                             label="no face followed"))
    handles.append(Patch(facecolor="white", edgecolor="white", label="- - threshold"))
    return handles
