"""Region tracks to spotted expressions: the micro, macro and blink curves (each region's
distance from its running-median neutral), their resting levels and thresholds, the peaks that
clear them with their onset, apex and offset, the blink and speech filters, and what spotting
found in a video (`SpotResult`, `spot_tracks`). Part of the spotting method described in
`attrmer.spot` (its "The reference", "Thresholds", "Blinks" and "Speech").

Not for making the tracks (`attrmer.spot.tracking`), nor for reading a video
(`attrmer.spot.reading`), nor for the expression window of one short clip
(`attrmer.spot.signal`), nor for scoring spotted intervals against annotations
(`attrmer.spot.evaluate`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from attrmer.config import SpotConfig
from attrmer.spot.intervals import Interval
from attrmer.spot.regions import CHIN, EXPRESSION, EYES, MOUTH, NEAR_EYES, NOSE, REGION_NAMES
from attrmer.spot.tracking import RegionTracks

# 1.4826 * MAD estimates the standard deviation of Gaussian noise.
MAD_TO_SIGMA = 1.4826
# Samples in a running median's window: a longer window is subsampled to about this many
# (the neutral position drifts slowly, and a 4 s window at 200 fps is 1601 frames).
MEDIAN_SAMPLES = 33


@dataclass(frozen=True)
class Peak:
    """A span of a signal, 0-based and inclusive, and its height above the resting level."""

    onset: int
    apex: int
    offset: int
    height: float

    @property
    def frames(self) -> int:
        return self.offset - self.onset + 1


@dataclass(frozen=True)
class MotionSignals:
    """Per-frame motion, pixels of a 112-px aligned face (NaN where no face was followed).

    `micro` and `macro`: the strongest expression region's distance from its neutral position
    (the median over `micro_window_seconds` or `macro_window_seconds` either side); `eyes`: the
    same for the eye regions at the micro window, the blink curve. `*_region` names the
    strongest region's index in `REGIONS` per frame. `levels` and `thresholds` give each
    curve's resting level and the height its peaks must clear; `blinks` the blinks found."""

    micro: np.ndarray
    macro: np.ndarray
    eyes: np.ndarray
    micro_region: np.ndarray
    macro_region: np.ndarray
    levels: dict[str, float]
    thresholds: dict[str, float]
    blinks: list[Peak]


def running_median(values: np.ndarray, half: int) -> np.ndarray:
    """(n, c) -> (n, c): each column's median over frames t - half .. t + half (the ends
    repeated), from at most `MEDIAN_SAMPLES` evenly spaced samples of the window."""
    n = len(values)
    step = max(1, -(-(2 * half + 1) // MEDIAN_SAMPLES))
    samples = np.arange(0, n, step)
    reach = max(1, half // step)
    padded = np.pad(values[samples], ((reach, reach), (0, 0)), mode="edge")
    medians = np.median(sliding_window_view(padded, 2 * reach + 1, axis=0), axis=-1)
    if step == 1:
        return medians
    frames = np.arange(n)
    return np.stack([np.interp(frames, samples, medians[:, c]) for c in range(values.shape[1])],
                    axis=1)


def moving_average(values: np.ndarray, width: int) -> np.ndarray:
    """(n, c) -> (n, c): the mean over `width` frames centred on each (ends repeated)."""
    if width <= 1:
        return values
    before = (width - 1) // 2
    padded = np.pad(values, ((before, width - 1 - before), (0, 0)), mode="edge")
    cumulative = np.concatenate([np.zeros((1, values.shape[1])), np.cumsum(padded, axis=0)])
    return (cumulative[width:] - cumulative[:-width]) / width


def true_spans(keep: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], keep.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _pieces(tracks: RegionTracks) -> list[tuple[int, int]]:
    """[start, stop) of the stretches of frames with one continuous track."""
    valid = np.isfinite(tracks.positions).all(axis=(1, 2))
    pieces = []
    for start, stop in true_spans(valid):
        breaks = [t for t in range(start + 1, stop) if not tracks.joined[t]]
        bounds = [start, *breaks, stop]
        pieces += list(itertools.pairwise(bounds))
    return pieces


def departure(tracks: RegionTracks, values: np.ndarray, half: int, smooth: int) -> np.ndarray:
    """(frames, regions, c) readings of the tracks -> (frames, regions): each region's
    distance from its median reading over `half` frames either side (its neutral), averaged
    over `smooth` frames; NaN where there is no track."""
    n, regions, channels = values.shape
    result = np.full((n, regions), np.nan)
    for start, stop in _pieces(tracks):
        piece = values[start:stop].astype(np.float64).reshape(stop - start, -1)
        away = (piece - running_median(piece, half)).reshape(stop - start, regions, channels)
        result[start:stop] = moving_average(np.linalg.norm(away, axis=-1), smooth)
    return result


def resting_level(signal: np.ndarray, min_peak: float, noise: float) -> tuple[float, float]:
    """(resting level, threshold): the median of the signal, and the height a peak must
    reach: `min_peak` above the level and `noise` times the signal's spread (1.4826 MAD)."""
    finite = signal[np.isfinite(signal)]
    if finite.size == 0:
        return 0.0, math.inf
    level = float(np.median(finite))
    spread = MAD_TO_SIGMA * float(np.median(np.abs(finite - level)))
    return level, level + max(min_peak, noise * spread)


def find_peaks(signal: np.ndarray, threshold: float, level: float,
               rest_fraction: float) -> list[Peak]:
    """Every stretch where `signal` exceeds `threshold`, as a peak: the apex its maximum, the
    onset the last frame before it back at rest and the offset the first after it, "rest"
    being `level` plus `rest_fraction` of the apex's height above it (NaN counts as rest).
    Peaks whose spans overlap are merged into the higher one."""
    values = np.nan_to_num(np.asarray(signal, np.float64), nan=-math.inf)
    last = len(values) - 1
    peaks: list[Peak] = []
    for start, stop in true_spans(values > threshold):
        apex = start + int(np.argmax(values[start:stop]))
        height = float(values[apex]) - level
        rest = level + rest_fraction * height
        before = np.flatnonzero(values[:apex] <= rest)
        after = np.flatnonzero(values[apex + 1:] <= rest)
        onset = int(before[-1]) if before.size else 0
        offset = apex + 1 + int(after[0]) if after.size else last
        peak = Peak(onset, apex, offset, height)
        if peaks and onset <= peaks[-1].offset:
            higher = peak if height > peaks[-1].height else peaks[-1]
            peak = Peak(min(onset, peaks[-1].onset), higher.apex,
                        max(offset, peaks[-1].offset), higher.height)
            peaks[-1] = peak
        else:
            peaks.append(peak)
    return peaks


def half_height_width(signal: np.ndarray, peak: Peak, level: float) -> int:
    """Frames of the peak's span in which `signal` is at least half the apex's height above
    `level`."""
    span = np.nan_to_num(signal[peak.onset:peak.offset + 1], nan=level)
    return int((span >= level + 0.5 * peak.height).sum())


def _frames(seconds: float, fps: float) -> int:
    return max(1, round(seconds * fps))


def steady_through_blinks(tracks: RegionTracks, blinks: list[Peak]) -> np.ndarray:
    """Region positions with the nose reference held steady across each blink.

    A closing eyelid's flow reaches the nose region above it and pulls the reference by
    about 0.1 px, which then shows as the same shift of every other region, the mouth's
    included (on the tuning corpora, 12 of 20 false micro-expressions at blinks were led by
    a mouth corner). Over a blink's frames the nose's motion is replaced by the straight line
    between its positions just before and just after, and every region is re-referenced to
    that line; outside blinks nothing changes."""
    positions = tracks.positions.astype(np.float64)
    n = len(positions)
    for blink in blinks:
        before, after = blink.onset - 1, blink.offset + 1
        if before < 0 or after >= n:
            continue
        nose = positions[:, NOSE]
        if not (np.isfinite(nose[before]).all() and np.isfinite(nose[after]).all()):
            continue
        span = slice(blink.onset, blink.offset + 1)
        share = (np.arange(blink.onset, blink.offset + 1) - before)[:, None] / (after - before)
        steady = nose[before] + share * (nose[after] - nose[before])
        pull = nose[span] - steady  # (frames, 2): how far the lid moved the reference
        others = np.arange(positions.shape[1]) != NOSE
        positions[span, others] += pull[:, None, :]
        positions[span, NOSE] = steady
    return positions


def motion_signals(tracks: RegionTracks, *, fps: float,
                   cfg: SpotConfig | None = None) -> MotionSignals:
    """The micro, macro and blink curves of a video's region tracks (see `MotionSignals`)."""
    cfg = cfg or SpotConfig()
    smooth = _frames(cfg.smooth_seconds, fps)
    micro_window = _frames(cfg.micro_window_seconds, fps)
    valid = np.isfinite(tracks.positions).all(axis=(1, 2))
    # Blinks by the eyes' grey level: the flow of a closing lid is ill-posed (it covers the
    # eye rather than moving it), and its grey level changes by several levels at once.
    shading = departure(tracks, tracks.brightness[:, EYES, None], micro_window, smooth)
    eyes = np.where(valid, np.nan_to_num(shading).max(axis=1), np.nan)
    eye_level, eye_threshold = resting_level(eyes, cfg.blink_min_peak, cfg.blink_noise)
    # A blink's length is its width at half height: the curve's slow return to rest after the
    # lid opens says nothing of how long the eye was closing.
    blinks = [p for p in find_peaks(eyes, eye_threshold, eye_level, cfg.rest_fraction)
              if half_height_width(eyes, p, eye_level) <= _frames(cfg.blink_max_seconds, fps)]
    blinking = np.zeros(len(tracks), bool)
    for blink in blinks:
        blinking[blink.onset:blink.offset + 1] = True
    positions = steady_through_blinks(tracks, blinks)
    micro_regions = departure(tracks, positions, micro_window, smooth)
    macro_regions = departure(tracks, positions, _frames(cfg.macro_window_seconds, fps), smooth)
    valid = np.isfinite(micro_regions).all(axis=1)

    expression = np.nan_to_num(micro_regions[:, EXPRESSION])
    expression[np.ix_(blinking, NEAR_EYES)] = 0.0
    micro = np.where(valid, expression.max(axis=1), np.nan)
    micro_region = EXPRESSION[expression.argmax(axis=1)]
    expression = np.nan_to_num(macro_regions[:, EXPRESSION])
    macro = np.where(valid, expression.max(axis=1), np.nan)
    macro_region = EXPRESSION[expression.argmax(axis=1)]

    micro_level, micro_threshold = resting_level(micro, cfg.micro_min_peak, cfg.micro_noise)
    macro_level, macro_threshold = resting_level(macro, cfg.macro_min_peak, cfg.macro_noise)
    return MotionSignals(
        micro=micro.astype(np.float32), macro=macro.astype(np.float32),
        eyes=eyes.astype(np.float32), micro_region=micro_region, macro_region=macro_region,
        levels={"micro": micro_level, "macro": macro_level, "blink": eye_level},
        thresholds={"micro": micro_threshold, "macro": macro_threshold,
                    "blink": eye_threshold},
        blinks=blinks,
    )


@dataclass(frozen=True)
class SpottedPeak:
    """A spotted expression, 0-based frames of the decoded sequence."""

    kind: str
    peak: Peak
    region: str


def jaw_opening(tracks: RegionTracks, peak: Peak, half: int) -> float:
    """How far the chin drops below its neutral position (the median over `half` frames
    either side) during the peak, in pixels: the jaw opening that speech makes with every
    syllable and an expression of the mouth rarely makes."""
    start, stop = max(0, peak.onset - half), min(len(tracks), peak.offset + 1 + half)
    chin = tracks.positions[start:stop, CHIN, 1:].astype(np.float64)
    if not np.isfinite(chin).all():
        return 0.0
    drop = chin - running_median(chin, half)
    return float(drop[peak.onset - start:peak.offset + 1 - start].max())


def spot_peaks(signals: MotionSignals, tracks: RegionTracks, *, fps: float,
               cfg: SpotConfig | None = None) -> list[SpottedPeak]:
    """Micro- and macro-expressions from the curves, in time order.

    Macro: peaks of the macro curve lasting longer than `micro_max_seconds` (offset - onset).
    Micro: peaks of the micro curve lasting `min_seconds` to `micro_max_seconds` whose apex is
    not inside a macro interval (the fast onset of a macro-expression shows on the micro curve
    too). A peak led by a mouth region during which the jaw opens by more than
    `speech_jaw_drop` is speech."""
    cfg = cfg or SpotConfig()
    longest_micro = _frames(cfg.micro_max_seconds, fps)
    shortest = _frames(cfg.min_seconds, fps)

    neutral = _frames(cfg.macro_window_seconds, fps)

    def spoken(peak: Peak, region: int) -> bool:
        return region in MOUTH and jaw_opening(tracks, peak, neutral) > cfg.speech_jaw_drop

    macro = [p for p in find_peaks(signals.macro, signals.thresholds["macro"],
                                   signals.levels["macro"], cfg.rest_fraction)
             if p.offset - p.onset > longest_micro
             and not spoken(p, signals.macro_region[p.apex])]
    micro = [p for p in find_peaks(signals.micro, signals.thresholds["micro"],
                                   signals.levels["micro"], cfg.rest_fraction)
             if shortest <= p.offset - p.onset <= longest_micro
             and not any(m.onset <= p.apex <= m.offset for m in macro)
             and not spoken(p, signals.micro_region[p.apex])]
    spotted = [SpottedPeak("macro", p, REGION_NAMES[signals.macro_region[p.apex]])
               for p in macro]
    spotted += [SpottedPeak("micro", p, REGION_NAMES[signals.micro_region[p.apex]])
                for p in micro]
    return sorted(spotted, key=lambda s: (s.peak.onset, s.peak.offset))


@dataclass
class SpotResult:
    """What spotting found in one video. Intervals and blinks are in the video's own frame
    numbers (`frame_numbers[i]` is decoded frame i's); `regions[i]` names the region that
    moved most at interval i's apex."""

    intervals: list[Interval]
    regions: list[str]
    blinks: list[tuple[int, int]]
    signals: MotionSignals
    tracks: RegionTracks
    frame_numbers: np.ndarray
    fps: float

    @property
    def detections(self) -> list[int]:
        return [int(self.frame_numbers[t]) for t in self.tracks.detections]

    def seconds(self, frame: int) -> float:
        """When a frame (a video frame number) begins, from the first frame's start."""
        return (frame - int(self.frame_numbers[0])) / self.fps


def spot_tracks(tracks: RegionTracks, *, fps: float, cfg: SpotConfig | None = None,
                frame_numbers: np.ndarray | None = None) -> SpotResult:
    """Signals, intervals and blinks of region tracks; frames numbered 1.. unless given."""
    cfg = cfg or SpotConfig()
    numbers = (np.arange(1, len(tracks) + 1) if frame_numbers is None
               else np.asarray(frame_numbers, np.int64))
    if len(numbers) != len(tracks):
        raise ValueError(f"{len(numbers)} frame numbers for {len(tracks)} frames")
    signals = motion_signals(tracks, fps=fps, cfg=cfg)
    spotted = spot_peaks(signals, tracks, fps=fps, cfg=cfg)
    intervals = [Interval(int(numbers[s.peak.onset]), int(numbers[s.peak.apex]),
                          int(numbers[s.peak.offset]), s.kind, round(s.peak.height, 3))
                 for s in spotted]
    blinks = [(int(numbers[b.onset]), int(numbers[b.offset])) for b in signals.blinks]
    return SpotResult(intervals, [s.region for s in spotted], blinks, signals, tracks,
                      numbers, fps)
