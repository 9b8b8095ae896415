"""Face alignment: one similarity transform per clip, applied to every frame.

Landmark jitter between frames is as large as a micro-expression, so a clip gets ONE geometry:
dlib's HOG detector finds the face on the onset frame (retrying with upsampling, then on later
frames; the largest face wins), the 68-point model locates the landmarks, and a weighted
least-squares similarity transform (Umeyama) takes the eye centres, nose tip and mouth corners
onto a fixed template in the size×size output. Every frame is warped with that one transform,
as it is read: given frames decoded on access (`LazyFrames`), a clip is aligned holding one
full-resolution frame at a time, however long the clip and large its frames.

Not for detecting faces per frame or tracking them; a clip whose face cannot be found raises
`ClipError` with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from attrmer.preprocess.frames import ClipError
from attrmer.resources import landmark_model_path

# dlib 68-point indices (image left/right, i.e. the subject's right eye is "left").
LEFT_EYE = slice(36, 42)
RIGHT_EYE = slice(42, 48)
NOSE_TIP = 30
MOUTH_LEFT = 48
MOUTH_RIGHT = 54

# Where the five key points land, as fractions of the output side: inter-ocular distance 0.30
# of the side, eyes at 0.29 of its height, mouth 1.15 inter-ocular distances below them. Chosen
# so that every one of the 68 landmarks (brows, jaw line, chin: AU1, AU2, AU4, AU17) lands at
# least 4 px inside a 112 px crop: on the bundled stills and on 99 frames of the real clips the
# closest landmark is 6.7 px from the edge (jaw line), the chin at least 9 px above the bottom,
# and MDMO's forehead regions stay inside too (tests/test_align.py checks both).
TEMPLATE = np.array(
    [
        [0.350, 0.290],  # left eye centre
        [0.650, 0.290],  # right eye centre
        [0.500, 0.460],  # nose tip
        [0.377, 0.635],  # left mouth corner
        [0.623, 0.635],  # right mouth corner
    ]
)

# Weights of the five points in the fit. The eye centres are the steadiest landmarks (the
# mouth corners move with AU12, AU15 and AU20, the very movements to be recognised), so they
# dominate: the eyes land on the template within about a pixel whatever the face's proportions.
KEY_POINT_WEIGHTS = np.array([4.0, 4.0, 1.0, 1.0, 1.0])

# Detection runs on frames scaled down to this longest side: HOG finds faces of 80 px and
# more, and the face of a micro-expression recording is far larger than that (CASME II's
# ~280 px face of a 640×480 frame is 140 px here). A smaller face is found by the retry with
# upsampling, i.e. at twice this side.
DETECT_MAX_SIDE = 320
# Share of the 68 landmarks that may fall outside the image before the face counts as
# leaving the frame (dlib extrapolates the points of a cut-off face beyond the border).
MAX_OUTSIDE_FRACTION = 0.1


@dataclass
class Alignment:
    frames: np.ndarray  # (n, size, size, 3) uint8 RGB
    matrix: np.ndarray  # (2, 3) float64: source pixel -> aligned pixel
    landmarks: np.ndarray  # (68, 2) float32 in aligned coordinates
    source_landmarks: np.ndarray  # (68, 2) float32 in the detection frame's coordinates
    detected_frame: int  # index of the frame the geometry came from
    status: str = "ok"


def key_points(landmarks: np.ndarray) -> np.ndarray:
    """Eye centres, nose tip and mouth corners (5×2) from 68 landmarks."""
    return np.stack(
        [
            landmarks[LEFT_EYE].mean(axis=0),
            landmarks[RIGHT_EYE].mean(axis=0),
            landmarks[NOSE_TIP],
            landmarks[MOUTH_LEFT],
            landmarks[MOUTH_RIGHT],
        ]
    ).astype(np.float64)


def similarity_transform(
    source: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Weighted least-squares rotation + uniform scale + translation (Umeyama 1991) taking
    `source` points onto `target` points, as a 2×3 matrix.

    In 2-D Umeyama's SVD solution has a closed form: with the points centred on their weighted
    means and read as complex numbers s and t, scale·rotation is a + ib = Σ w s̄ t / Σ w |s|²
    (which never reflects). It is computed here with elementwise products and exactly rounded
    sums (`math.fsum`) rather than BLAS and LAPACK, whose kernels depend on the CPU: the
    matrix, and the pixels warped by it, are then the same bits on every machine.
    """
    source = np.asarray(source, np.float64)
    target = np.asarray(target, np.float64)
    weights = np.ones(len(source)) if weights is None else np.asarray(weights, np.float64)
    weights = weights / math.fsum(weights)
    sx, sy, tx, ty = source[:, 0], source[:, 1], target[:, 0], target[:, 1]
    mean_sx, mean_sy = math.fsum(weights * sx), math.fsum(weights * sy)
    mean_tx, mean_ty = math.fsum(weights * tx), math.fsum(weights * ty)
    sx, sy, tx, ty = sx - mean_sx, sy - mean_sy, tx - mean_tx, ty - mean_ty
    variance = math.fsum(weights * (sx * sx + sy * sy))
    if variance == 0:
        raise ValueError("similarity transform needs distinct source points")
    a = math.fsum(weights * (sx * tx + sy * ty)) / variance
    b = math.fsum(weights * (sx * ty - sy * tx)) / variance
    return np.array([[a, -b, mean_tx - (a * mean_sx - b * mean_sy)],
                     [b, a, mean_ty - (b * mean_sx + a * mean_sy)]])


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """`points` (…, 2) mapped by the 2×3 `matrix`, elementwise (the same bits on every CPU,
    unlike a BLAS product)."""
    points = np.asarray(points, np.float64)
    m = np.asarray(matrix, np.float64)
    x, y = points[..., 0], points[..., 1]
    return np.stack([m[0, 0] * x + m[0, 1] * y + m[0, 2],
                     m[1, 0] * x + m[1, 1] * y + m[1, 2]], axis=-1)


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2×3 affine map `outer` after `inner`, elementwise like `apply_transform`."""
    outer, inner = np.asarray(outer, np.float64), np.asarray(inner, np.float64)
    linear = outer[:, :1] * inner[0] + outer[:, 1:2] * inner[1]
    linear[:, 2] += outer[:, 2]
    return linear


class FaceAligner:
    """dlib HOG detector + 68-point predictor, loaded on first use.

    Picklable: only the settings travel to a worker process, which loads its own dlib objects.
    """

    def __init__(self, size: int = 112, *, max_detection_frames: int = 8) -> None:
        self.size = size
        self.max_detection_frames = max_detection_frames
        self.template = TEMPLATE * size
        self._detector = None
        self._predictor = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_detector"] = None
        state["_predictor"] = None
        return state

    def _load(self) -> None:
        if self._detector is None:
            import dlib

            self._detector = dlib.get_frontal_face_detector()
            self._predictor = dlib.shape_predictor(str(landmark_model_path()))

    def detect(self, frame: np.ndarray, upsample: int = 0) -> np.ndarray | None:
        """68 landmarks (float32, frame coordinates) of the largest face, or None."""
        import dlib

        self._load()
        height, width = frame.shape[:2]
        shrink = min(1.0, DETECT_MAX_SIDE / max(height, width))
        small = frame
        if shrink < 1.0:
            small = cv2.resize(frame, (round(width * shrink), round(height * shrink)),
                               interpolation=cv2.INTER_AREA)
        faces = self._detector(small, upsample)
        if len(faces) == 0:
            return None
        face = max(faces, key=lambda r: r.width() * r.height())
        rect = dlib.rectangle(
            round(face.left() / shrink), round(face.top() / shrink),
            round(face.right() / shrink), round(face.bottom() / shrink),
        )
        shape = self._predictor(frame, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    def detection_attempts(self, count: int) -> dict[int, tuple[int, ...]]:
        """Where a clip of `count` frames is searched for its face: frame index -> the
        upsampling levels tried on it, in the order tried. The onset frame first, then up to
        `max_detection_frames` later frames spread over the clip; ascending indices, so that
        one pass over the frames meets every attempt in its turn."""
        attempts = {0: (0, 1)}
        if count > 1 and self.max_detection_frames > 0:
            later = np.linspace(1, count - 1, self.max_detection_frames).round()
            attempts.update((int(i), (0, 1)) for i in np.unique(later))
        return attempts

    def align(self, frames: Sequence[np.ndarray]) -> Alignment:
        """Warp every frame of a clip with the one transform found on its onset frame (or the
        first later frame of `detection_attempts` that shows a face).

        One pass in order: each frame is read once, searched for the face while none is found
        yet, and warped as soon as the transform is known; only the frames before the one the
        face was found on (none, when it is the onset) are read a second time. The first
        unreadable frame (`ClipError` from reading `frames[i]`) fails the clip before a face
        that is missing or leaves the frame does, as if the clip had been decoded whole first.
        """
        count = len(frames)
        if count == 0:
            raise ClipError("no frames")
        attempts = self.detection_attempts(count)
        aligned = np.empty((count, self.size, self.size, 3), np.uint8)
        found: tuple[int, np.ndarray, np.ndarray] | None = None  # index, landmarks, matrix
        face_problem: ClipError | None = None
        warp: FrameWarp | None = None
        for index in range(count):
            frame = frames[index]
            if index == 0:
                height, width = frame.shape[:2]
            if found is None and face_problem is None and index in attempts:
                landmarks = self._first_face(frame, attempts[index])
                if landmarks is not None:
                    try:
                        matrix = self._clip_transform(frame, index, landmarks)
                    except ClipError as exc:
                        face_problem = exc  # raised once every frame has been read
                    else:
                        found = (index, landmarks, matrix)
                        warp = FrameWarp(matrix, self.size, width, height)
            if warp is not None:
                warp(frame, aligned[index])
        if face_problem is not None:
            raise face_problem
        if found is None or warp is None:
            raise ClipError("no face found")
        detected, landmarks, matrix = found
        for index in range(detected):
            warp(frames[index], aligned[index])
        return Alignment(
            frames=aligned,
            matrix=matrix,
            landmarks=apply_transform(matrix, landmarks).astype(np.float32),
            source_landmarks=landmarks,
            detected_frame=detected,
        )

    def _first_face(self, frame: np.ndarray, upsampling: tuple[int, ...]) -> np.ndarray | None:
        for upsample in upsampling:
            landmarks = self.detect(frame, upsample)
            if landmarks is not None:
                return landmarks
        return None

    def _clip_transform(self, frame: np.ndarray, index: int, landmarks: np.ndarray
                        ) -> np.ndarray:
        """The similarity transform onto the template, unless the face leaves the frame."""
        height, width = frame.shape[:2]
        outside = _outside(landmarks, width, height)
        key_outside = _outside(key_points(landmarks), width, height)
        if outside.mean() > MAX_OUTSIDE_FRACTION or key_outside.any():
            raise ClipError(
                "face leaves the frame",
                f"{int(outside.sum())} of 68 landmarks outside frame {index}",
            )
        return similarity_transform(key_points(landmarks), self.template, KEY_POINT_WEIGHTS)


def warp_frames(frames: Sequence[np.ndarray], matrix: np.ndarray, size: int, *,
                antialias: bool = True) -> np.ndarray:
    """Every frame warped by `matrix` (source pixel -> aligned pixel) to size×size RGB uint8
    (`FrameWarp`, planned on the first frame's size)."""
    aligned = np.empty((len(frames), size, size, 3), np.uint8)
    if len(frames) == 0:
        return aligned
    height, width = frames[0].shape[:2]
    warp = FrameWarp(matrix, size, width, height, antialias=antialias)
    for index, frame in enumerate(frames):
        warp(frame, aligned[index])
    return aligned


class FrameWarp:
    """One clip's warp (`matrix`: source pixel -> aligned pixel) of width×height frames to
    size×size RGB uint8, applied one frame at a time: `warp(frame, out)`.

    A similarity warp with bilinear sampling reads 4 source pixels per output pixel: shrinking
    a face 3-5x (CASME II, SAMM, MMEW frames to 112 px) that way aliases the sensor noise and
    the skin's fine texture into patterns that move differently from frame to frame, i.e.
    false flow larger than a micro-expression. So when the warp shrinks, only the part of the
    frame the output sees is first area-averaged (`cv2.INTER_AREA`: each output pixel the mean
    of the source pixels it covers) down to the output's own scale, and the warp that is left
    (rotation, sub-pixel shift, a scale near 1) samples that. The area pass goes by a whole
    factor first (OpenCV's fast path, ~10x quicker than a fractional one), then by what is
    left, so its cost stays a small share of decoding the frame at any downscale.

    antialias=False is the plain bilinear warp, kept for measuring what the area pass buys.
    """

    def __init__(self, matrix: np.ndarray, size: int, width: int, height: int, *,
                 antialias: bool = True) -> None:
        self.matrix = np.asarray(matrix, np.float64)
        self.size = size
        self.plan = _prefilter_plan(self.matrix, size, width, height) if antialias else None
        # The area passes' outputs, allocated once per clip rather than once per frame.
        self._scratch: list[np.ndarray | None] = [None] * (len(self.plan.steps)
                                                           if self.plan else 0)

    def __call__(self, frame: np.ndarray, out: np.ndarray) -> None:
        """Warp `frame` into `out` (size×size×3 uint8, e.g. one frame of a clip's array)."""
        source, residual = frame, self.matrix
        if self.plan is not None:
            top, bottom, left, right = self.plan.crop
            source = frame[top:bottom, left:right]
            for step_index, step in enumerate(self.plan.steps):
                source = cv2.resize(source, step, dst=self._scratch[step_index],
                                    interpolation=cv2.INTER_AREA)
                self._scratch[step_index] = source
            residual = self.plan.residual
        cv2.warpAffine(source, residual, (self.size, self.size), dst=out,
                       flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def transform_scale(matrix: np.ndarray) -> float:
    """Aligned pixels per source pixel of a similarity transform (below 1: it shrinks)."""
    m = np.asarray(matrix, np.float64)
    return math.sqrt(abs(float(m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0])))


# Shrinks by less than this are left to the warp: bilinear sampling at a scale this close to 1
# reads nearly every source pixel and aliases next to nothing.
PREFILTER_MIN_DOWNSCALE = 1.15


@dataclass(frozen=True)
class _Prefilter:
    crop: tuple[int, int, int, int]  # top, bottom, left, right in the source frame
    steps: tuple[tuple[int, int], ...]  # (width, height) after each area resize
    residual: np.ndarray  # 2×3: last resized image -> aligned pixels


def _prefilter_plan(matrix: np.ndarray, size: int, width: int, height: int
                    ) -> _Prefilter | None:
    """The warp split into area downscales of the source crop and what is left of it, or None
    when the warp barely shrinks."""
    matrix = np.asarray(matrix, np.float64)
    scale = transform_scale(matrix)
    if scale * PREFILTER_MIN_DOWNSCALE > 1.0:
        return None
    # The source region the output square sees, plus a margin for the bilinear footprint.
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0], [size - 1, 0], [0, size - 1], [size - 1, size - 1]], np.float64)
    seen = apply_transform(inverse, corners)
    margin = 2.0 / scale
    factor = int(1.0 / scale)  # the whole part of the shrink
    left, right = _span(seen[:, 0].min() - margin, seen[:, 0].max() + margin, width, factor)
    top, bottom = _span(seen[:, 1].min() - margin, seen[:, 1].max() + margin, height, factor)
    crop_w, crop_h = right - left, bottom - top
    steps = []
    if factor >= 2 and crop_w % factor == 0 and crop_h % factor == 0:
        steps.append((crop_w // factor, crop_h // factor))
    if not steps or scale * factor * PREFILTER_MIN_DOWNSCALE <= 1.0:
        steps.append((max(1, round(crop_w * scale)), max(1, round(crop_h * scale))))
    small_w, small_h = steps[-1]
    # Area resampling maps pixel centres as x' = (x + ½)·s − ½ on each axis, and two such maps
    # compose into one; with the crop's offset and the inverse of that map, the residual warp
    # takes resized pixels to aligned ones exactly.
    sx, sy = small_w / crop_w, small_h / crop_h
    to_small = np.array([[sx, 0.0, (0.5 - left) * sx - 0.5],
                         [0.0, sy, (0.5 - top) * sy - 0.5]])
    residual = compose(matrix, cv2.invertAffineTransform(to_small))
    return _Prefilter((top, bottom, left, right), tuple(steps), residual)


def _span(low: float, high: float, extent: int, factor: int) -> tuple[int, int]:
    """[start, stop) within [0, extent) covering [low, high], grown to a multiple of `factor`
    long where the frame allows (so the whole-factor area pass applies)."""
    start = int(np.clip(np.floor(low), 0, extent - 1))
    stop = int(np.clip(np.ceil(high) + 1, start + 1, extent))
    if factor >= 2:
        missing = -(stop - start) % factor
        grow = min(missing, extent - stop)
        stop += grow
        start = max(0, start - (missing - grow))
    return start, stop


def _outside(points: np.ndarray, width: int, height: int) -> np.ndarray:
    return ((points[:, 0] < 0) | (points[:, 0] > width - 1)
            | (points[:, 1] < 0) | (points[:, 1] > height - 1))
