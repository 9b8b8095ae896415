"""Frames of a long video to region tracks: where every region of the face
(`attrmer.spot.regions`) is at every frame relative to the nose, and how bright it is, with the
face aligned once per segment (re-detected near the last face, re-aligned when the nose drifts
or the crop stops resembling the segment's first) and one Farneback flow per frame against the
segment's first crop; overlapping segments are joined. `track_aligned` does the same for a clip
that is already aligned. Part of the spotting method described in `attrmer.spot` (its
"Alignment" and "The flow").

Not for the curves and peaks read from the tracks (`attrmer.spot.peaks`), nor for decoding a
video or a frame folder (`attrmer.spot.reading`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from attrmer.config import FlowConfig, SpotConfig
from attrmer.preprocess.align import (
    KEY_POINT_WEIGHTS,
    TEMPLATE,
    FaceAligner,
    apply_transform,
    key_points,
    similarity_transform,
    transform_scale,
)
from attrmer.preprocess.flow import farneback_flow
from attrmer.preprocess.frames import ClipError
from attrmer.spot.regions import ALIGNED_SIDE, NOSE, REGIONS, face_window, region_weights
from attrmer.spot.signal import face_mask, small_grey

# Frames two consecutive segments both measure, to join their tracks (the median of their
# difference): one frame would carry its flow noise into every later frame.
JOIN_FRAMES = 4
# After a failed detection, or a re-alignment the nose's drift asked for, the next one
# waits this long.
RETRY_SECONDS = 0.25
# Re-detection near the last face: the crop searched, as a multiple of the aligned square's
# extent in the frame, and the side that square is scaled to (the detector finds faces of
# 80 px and more; the face spans about 0.6 of the square).
NEAR_MARGIN = 1.3
NEAR_SQUARE_SIDE = 150.0


@dataclass
class RegionTracks:
    """Where every region is at every frame, and how bright it is, relative to the nose.

    `positions` (frames, regions, 2) is in pixels of a 112-px aligned face (x, y), each
    region's relative to the nose but the nose's own row, which holds the nose's motion in
    the segment (whether something other than the head moved it, a closing eyelid's flow
    spreading onto it for one, is `attrmer.spot.peaks`' question), and
    `brightness` (frames, regions) in grey levels (0-255), NaN where no face was followed: a
    closing eyelid covers the dark of the eye, and the nose's grey level is subtracted so that
    flicker of the light cancels. `joined[t]` is False where frame t does not continue frame
    t - 1's track (the first frame, or a new segment that could not be joined), so that no
    signal compares readings across a break. `detections` are the 0-based frames the face
    was found on and `similarity` each frame's correlation with its segment's first crop.
    """

    positions: np.ndarray
    brightness: np.ndarray
    joined: np.ndarray
    similarity: np.ndarray
    detections: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.positions)


class _CropWarp:
    """A frame's face as the grey `face_window` of the aligned square of side `size`, under
    one similarity transform (source pixel -> aligned pixel).

    The part of the frame the window sees is converted to grey, halved with `cv2.pyrDown` (a
    Gaussian prefilter, so the shrink does not alias skin texture into false flow) to within
    a factor √2 of the window's scale, then warped. pyrDown is ~10x cheaper than an area
    resize, and this is the only per-frame work besides the flow."""

    def __init__(self, matrix: np.ndarray, frame_shape: tuple[int, ...], size: int,
                 colour: int | None) -> None:
        self.matrix = np.asarray(matrix, np.float64)
        rows, cols = face_window(size)
        # Aligned square -> window: a shift by whole pixels.
        matrix = np.asarray(matrix, np.float64) - np.array([[0, 0, cols.start],
                                                            [0, 0, rows.start]])
        self.shape = (cols.stop - cols.start, rows.stop - rows.start)  # (width, height)
        height, width = frame_shape[:2]
        self.halvings = max(0, round(math.log2(1.0 / transform_scale(matrix))))
        factor = 2 ** self.halvings
        corners = apply_transform(cv2.invertAffineTransform(matrix), np.array(
            [[0, 0], [self.shape[0], 0], [0, self.shape[1]], self.shape], np.float64))
        margin = 4 * factor + 2  # the prefilter's reach
        left = int(np.clip(np.floor(corners[:, 0].min()) - margin, 0, width - 1))
        right = int(np.clip(np.ceil(corners[:, 0].max()) + margin, left + 1, width))
        top = int(np.clip(np.floor(corners[:, 1].min()) - margin, 0, height - 1))
        bottom = int(np.clip(np.ceil(corners[:, 1].max()) + margin, top + 1, height))
        self.box = (top, bottom, left, right)
        # pyrDown maps x to x / 2 (output pixel i is centred on input pixel 2i), so a pixel
        # of the halved region lies at left + factor * x in the frame.
        offset = matrix[:, :2] @ np.array([left, top], np.float64) + matrix[:, 2]
        self.residual = np.hstack([matrix[:, :2] * factor, offset[:, None]])
        self.colour = colour

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        top, bottom, left, right = self.box
        region = frame[top:bottom, left:right]
        grey = region if self.colour is None else cv2.cvtColor(region, self.colour)
        for _ in range(self.halvings):
            grey = cv2.pyrDown(grey)
        return cv2.warpAffine(grey, self.residual, self.shape, flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)


class _RegionMeter:
    """Region readings of crops against one reference crop (what one segment measures).

    Written for the per-frame cost: one matrix product gives every region's mean flow and
    grey level at once, and the correlation with the reference uses the reference's
    precomputed unit vector."""

    def __init__(self, reference: np.ndarray, size: int, weights: np.ndarray,
                 flow_cfg: FlowConfig, mask: np.ndarray) -> None:
        self.reference = reference
        self.flow_cfg = flow_cfg
        self.weights_t = np.ascontiguousarray(weights.T)  # (pixels, regions)
        self.scale = np.array([ALIGNED_SIDE / size, ALIGNED_SIDE / size, 1.0], np.float32)
        self.pixels = np.flatnonzero(mask.ravel())
        self._reference_unit = _unit(reference.ravel()[self.pixels])
        self._stacked = np.empty((3, reference.size), np.float32)

    def similarity(self, crop: np.ndarray) -> float:
        """Correlation of the crop with the reference inside the face oval (eyes out)."""
        pixels = crop.ravel()[self.pixels].astype(np.float32)
        # The reference's unit vector sums to 0, so the crop's mean need not be removed
        # before the product, only from its norm.
        spread = float(pixels @ pixels) - float(pixels.sum()) ** 2 / pixels.size
        return float(pixels @ self._reference_unit) / spread ** 0.5 if spread > 0 else 0.0

    def measure(self, crop: np.ndarray) -> tuple[np.ndarray, float]:
        """(regions, 3) readings: x and y relative to the nose in 112-px aligned pixels, and
        the grey level relative to the nose's; and how far the nose itself moved."""
        flow = farneback_flow(np.stack((self.reference, crop)), self.flow_cfg)
        self._stacked[:2] = flow.reshape(2, -1)
        self._stacked[2] = crop.ravel()
        means = (self._stacked @ self.weights_t).T * self.scale  # (regions, 3)
        nose = means[NOSE]
        relative = means - nose
        relative[NOSE, :2] = nose[:2]  # the nose's own motion (see RegionTracks)
        return relative, float(np.hypot(nose[0], nose[1]))


def _unit(pixels: np.ndarray) -> np.ndarray:
    centred = pixels.astype(np.float32) - pixels.mean()
    norm = float(np.linalg.norm(centred))
    return centred / norm if norm > 0 else centred


def flow_settings(flow_cfg: FlowConfig | None, window: int) -> FlowConfig:
    """The flow stage's Farneback settings with the averaging window `window` (px of the
    crop), every field against the reference crop."""
    return dataclasses.replace(flow_cfg or FlowConfig(), reference="onset", winsize=window)


def locate_face(aligner: FaceAligner, frame: np.ndarray, near: np.ndarray | None = None,
                side: int = ALIGNED_SIDE) -> np.ndarray | None:
    """The 68 landmarks of the frame's largest face, or None when there is none.

    With `near` (the similarity transform the face was last aligned with, onto a square of
    side `side`), the detector first looks only around that face, scaled so that the square
    is `NEAR_SQUARE_SIDE` px (the face about 90): about half a whole-frame search's cost (6
    ms against 10 ms on a 640x480 frame), which matters as re-alignment runs every few
    seconds. Otherwise, or when that fails, the whole frame is searched, then again with
    upsampling."""
    if near is not None:
        corners = apply_transform(cv2.invertAffineTransform(near), np.array(
            [[0, 0], [1, 0], [0, 1], [1, 1]], np.float64) * side)
        centre = corners.mean(axis=0)
        extent = float(np.ptp(corners, axis=0).max())
        half = NEAR_MARGIN * extent / 2
        height, width = frame.shape[:2]
        left, top = (max(0, int(c - half)) for c in centre)
        right, bottom = min(width, int(centre[0] + half)), min(height, int(centre[1] + half))
        scale = min(1.0, NEAR_SQUARE_SIDE / extent)
        crop = frame[top:bottom, left:right]
        if scale < 1.0:
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        landmarks = aligner.detect(np.ascontiguousarray(crop))
        if landmarks is not None:
            return (landmarks / scale + np.array([left, top], np.float32)).astype(np.float32)
    landmarks = aligner.detect(frame)
    return landmarks if landmarks is not None else aligner.detect(frame, 1)


@dataclass
class _Segment:
    warp: _CropWarp
    meter: _RegionMeter
    offset: np.ndarray  # added to this segment's readings to continue the previous track
    starts_track: bool  # its first own position begins a new track (nothing to join onto)
    join_left: int = 0  # frames the previous segment still measures beside this one
    differences: list[np.ndarray] = field(default_factory=list)

    def reading(self, frame: np.ndarray, lost_below: float) -> tuple[np.ndarray, float, float]:
        """(readings with offset, or NaN when the face is lost; similarity; nose shift)."""
        crop = self.warp(frame)
        score = self.meter.similarity(crop)
        moved, nose_shift = self.meter.measure(crop)
        if score < lost_below:
            moved = np.full_like(moved, np.nan)
        return moved + self.offset, score, nose_shift


def track_regions(frames: Iterable[np.ndarray], *, fps: float, cfg: SpotConfig | None = None,
                  flow_cfg: FlowConfig | None = None, aligner: FaceAligner | None = None,
                  bgr: bool = False) -> RegionTracks:
    """Region tracks of a video's frames (RGB, or BGR with `bgr=True`, as OpenCV decodes
    videos; or grey), aligned once per segment (see the module)."""
    cfg = cfg or SpotConfig()
    size = cfg.flow_size
    flow_cfg = flow_settings(flow_cfg, cfg.flow_window)
    aligner = aligner or FaceAligner(size)
    template = TEMPLATE * size
    weights = region_weights(size)
    mask = face_mask(size)[face_window(size)]
    realign_every = max(JOIN_FRAMES + 1, round(cfg.realign_seconds * fps))
    retry = max(JOIN_FRAMES + 1, round(RETRY_SECONDS * fps))
    nothing = np.full((len(REGIONS), 3), np.nan, np.float32)

    readings: list[np.ndarray] = []
    joined: list[bool] = []
    similarity: list[float] = []
    detections: list[int] = []
    current: _Segment | None = None
    previous: _Segment | None = None
    next_detection = 0
    misses = 0
    for t, frame in enumerate(frames):
        if t >= next_detection:
            landmarks = locate_face(aligner, frame,
                                    None if current is None else current.warp.matrix, size)
            if landmarks is None:
                # While no face is found, search less and less often (a whole-frame search
                # costs ~40 ms, a hundred frames' flow).
                misses += 1
                next_detection = t + min(retry * 2 ** (misses - 1), realign_every)
            else:
                misses = 0
                matrix = similarity_transform(key_points(landmarks), template, KEY_POINT_WEIGHTS)
                colour = None if frame.ndim == 2 else (
                    cv2.COLOR_BGR2GRAY if bgr else cv2.COLOR_RGB2GRAY)
                warp = _CropWarp(matrix, frame.shape, size, colour)
                segment = _Segment(warp, _RegionMeter(warp(frame), size, weights, flow_cfg, mask),
                                   offset=np.zeros((len(REGIONS), 3), np.float32),
                                   starts_track=current is None)
                if current is not None:
                    previous, segment.join_left = current, JOIN_FRAMES
                current = segment
                detections.append(t)
                next_detection = t + realign_every
        if current is None:
            readings.append(nothing)
            joined.append(False)
            similarity.append(np.nan)
            continue

        value, score, nose_shift = current.reading(frame, cfg.lost_similarity)
        if score < cfg.lost_similarity or nose_shift > cfg.realign_shift:
            next_detection = min(next_detection, max(t + 1, detections[-1] + retry))
        continues = True
        if current.join_left > 0 and previous is not None:
            # Both segments measure this frame: the previous one's track goes on here, and
            # the difference tells the new segment where that track stands.
            old_value, _, _ = previous.reading(frame, cfg.lost_similarity)
            if np.isfinite(old_value).all() and np.isfinite(value).all():
                current.differences.append(old_value - value)
            value = old_value
            current.join_left -= 1
            if current.join_left == 0:
                if current.differences:
                    current.offset = np.median(np.stack(current.differences), axis=0)
                else:
                    current.starts_track = True
                previous = None
        elif current.starts_track:
            continues = current.starts_track = False
        readings.append(value.astype(np.float32))
        joined.append(continues)
        similarity.append(score)

    if not readings:
        raise ClipError("no frames")
    stacked = np.stack(readings)
    return RegionTracks(stacked[..., :2], stacked[..., 2], np.array(joined, bool),
                        np.array(similarity, np.float32), detections)


def track_aligned(aligned: np.ndarray, *, cfg: SpotConfig | None = None,
                  flow_cfg: FlowConfig | None = None) -> RegionTracks:
    """Region tracks of frames that are already aligned to `TEMPLATE` ((n, S, S, 3) RGB
    uint8): one segment, referenced to frame 0."""
    cfg = cfg or SpotConfig()
    if aligned.ndim != 4 or aligned.shape[0] < 2:
        raise ValueError(f"track_aligned needs (n >= 2, S, S, 3) frames, got {aligned.shape}")
    rows, cols = face_window(cfg.flow_size)
    small = np.ascontiguousarray(small_grey(aligned, cfg.flow_size)[:, rows, cols])
    # (2, n - 1, height, width): every frame against frame 0
    flow = farneback_flow(small, flow_settings(flow_cfg, cfg.flow_window))
    weights = region_weights(cfg.flow_size)
    means = np.einsum("cfp,rp->frc", flow.reshape(2, flow.shape[1], -1), weights)
    means *= ALIGNED_SIDE / cfg.flow_size
    relative = means - means[:, NOSE:NOSE + 1]
    relative[:, NOSE] = means[:, NOSE]  # the nose's own motion (see RegionTracks)
    positions = np.concatenate([np.zeros((1, len(REGIONS), 2), np.float32),
                                relative.astype(np.float32)])
    grey = small.reshape(len(small), -1).astype(np.float32) @ weights.T
    brightness = grey - grey[:, NOSE:NOSE + 1]
    mask = face_mask(cfg.flow_size)[rows, cols]
    reference = _unit(small[0][mask])
    similarity = np.array([_unit(frame[mask]) @ reference for frame in small], np.float32)
    joined = np.ones(len(positions), bool)
    joined[0] = False
    return RegionTracks(positions, brightness, joined, similarity, [0])
