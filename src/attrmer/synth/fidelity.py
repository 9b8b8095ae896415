"""How faithfully alignment + Farneback recover a known sub-pixel motion at any source scale.

A bundled face still is rendered at a chosen source scale (source pixels per pixel of the
112 px aligned face: 1.6 for the built-in corpus, ~2.5 for CASME II raw frames, 4-5 for SAMM
and MMEW), with fine skin texture at the source's own resolution and fresh sensor noise in
every frame. Two frames differ by a known translation of `shift_aligned_px` aligned pixels.
Both go through the align stage's warp (`warp_frames`, the transform taken from the still's
landmarks, so detection plays no part) and the flow stage's Farneback settings; the error is
the flow's distance from the true motion over the face, and the bias its mean signed error
along the motion.

Used by `bench/fidelity.py` (the table over scales) and by the tests that guard it. Not a
model of any camera: the point is the resampling, which the built-in 240 px corpus (a 1.6x
shrink) cannot reveal.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from attrmer.config import FlowConfig
from attrmer.preprocess.align import (
    KEY_POINT_WEIGHTS,
    TEMPLATE,
    apply_transform,
    key_points,
    similarity_transform,
    transform_scale,
    warp_frames,
)
from attrmer.preprocess.clip import grey_frames
from attrmer.preprocess.flow import farneback_flow
from attrmer.synth.texture import skin_texture


@dataclass(frozen=True)
class FidelityResult:
    scale: float  # source pixels per aligned pixel
    mean_error: float  # aligned pixels: mean |flow − truth| over the face
    bias: float  # aligned pixels: mean signed error along the true motion
    samples: int  # frame pairs measured


# The scene is drawn at least this many pixels per aligned pixel (and at a whole multiple of
# the source scale): a sub-pixel shift applied there is exact to well under 0.01 px, and the
# camera's pixels are then whole blocks of scene pixels, averaged as a sensor integrates light.
SCENE_MIN_SCALE = 8.0


@dataclass
class Scene:
    """A face still drawn at `factor` × the source resolution, with skin texture."""

    image: np.ndarray  # float32 RGB, scene pixels
    landmarks: np.ndarray  # (68, 2) in source pixels
    factor: int  # scene pixels per source pixel
    scale: float  # source pixels per aligned pixel


def face_scene(image: np.ndarray, landmarks: np.ndarray, scale: float, size: int = 112, *,
               texture_seed: int = 0) -> Scene:
    """The still resized so the align stage's transform shrinks the SOURCE by `scale`."""
    matrix = similarity_transform(key_points(landmarks), TEMPLATE * size, KEY_POINT_WEIGHTS)
    still_scale = 1.0 / transform_scale(matrix)
    factor = int(np.ceil(SCENE_MIN_SCALE / scale))
    height, width = image.shape[:2]
    # Source dimensions first, so that the scene is exactly `factor` source pixels per pixel.
    source_size = (max(8, round(width * scale / still_scale)),
                   max(8, round(height * scale / still_scale)))
    scene_size = (source_size[0] * factor, source_size[1] * factor)
    scene = cv2.resize(np.asarray(image, np.float32), scene_size, interpolation=cv2.INTER_CUBIC)
    scene += skin_texture(scene.shape[:2], np.random.default_rng(texture_seed),
                          scale * factor)[..., None]
    fx, fy = source_size[0] / width, source_size[1] / height
    points = (np.asarray(landmarks, np.float64) + 0.5) * [fx, fy] - 0.5
    return Scene(scene, points, factor, scale)


def shifted_pair(scene: Scene, shift: np.ndarray, rng: np.random.Generator,
                 noise_sigma: float) -> list[np.ndarray]:
    """Two uint8 source frames of the scene moved by −shift/2 and +shift/2 (source pixels):
    shifted in the scene, averaged over each source pixel, plus each frame's sensor noise."""
    height, width = scene.image.shape[:2]
    source_size = (width // scene.factor, height // scene.factor)
    frames = []
    for sign in (-0.5, 0.5):
        move = np.float32([[1, 0, sign * shift[0] * scene.factor],
                           [0, 1, sign * shift[1] * scene.factor]])
        moved = cv2.warpAffine(scene.image, move, (width, height), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REFLECT)
        frame = cv2.resize(moved, source_size, interpolation=cv2.INTER_AREA)
        frame += rng.normal(0.0, noise_sigma, frame.shape).astype(np.float32)
        frames.append(np.clip(np.rint(frame), 0, 255).astype(np.uint8))
    return frames


def face_mask(landmarks_aligned: np.ndarray, size: int, erode: int = 6) -> np.ndarray:
    """Inside the landmarks' convex hull, `erode` px in from it: where the flow is measured."""
    mask = np.zeros((size, size), np.uint8)
    hull = cv2.convexHull(np.round(landmarks_aligned).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    if erode:
        mask = cv2.erode(mask, np.ones((2 * erode + 1, 2 * erode + 1), np.uint8))
    return mask.astype(bool)


def measure_scale(
    faces: list[tuple[np.ndarray, np.ndarray]],
    scale: float,
    *,
    size: int = 112,
    shift_aligned_px: float = 0.5,
    directions: int = 2,
    noise_sigma: float = 2.0,
    flow_cfg: FlowConfig | None = None,
    antialias: bool = True,
    seed: int = 0,
) -> FidelityResult:
    """Mean flow error and bias over every face × motion direction at one source scale."""
    flow_cfg = flow_cfg or FlowConfig()
    rng = np.random.default_rng(seed)
    errors, biases = [], []
    for index, (image, landmarks) in enumerate(faces):
        scene = face_scene(image, landmarks, scale, size, texture_seed=seed + index)
        points = scene.landmarks
        matrix = similarity_transform(key_points(points), TEMPLATE * size, KEY_POINT_WEIGHTS)
        mask = face_mask(apply_transform(matrix, points), size)
        for d in range(directions):
            angle = np.pi * (d / directions + 0.125)
            truth = shift_aligned_px * np.array([np.cos(angle), np.sin(angle)])
            # The same motion in source pixels: the inverse of the warp's linear part.
            shift = np.linalg.solve(matrix[:, :2], truth)
            pair = shifted_pair(scene, shift, rng, noise_sigma)
            aligned = warp_frames(pair, matrix, size, antialias=antialias)
            grey = grey_frames(aligned)
            flow = farneback_flow(grey, flow_cfg)[:, 0]  # (2, H, W)
            error = flow[:, mask].T - truth  # (pixels, 2)
            errors.append(float(np.linalg.norm(error, axis=1).mean()))
            biases.append(float((error @ (truth / shift_aligned_px)).mean()))
    return FidelityResult(scale, float(np.mean(errors)), float(np.mean(biases)), len(errors))
