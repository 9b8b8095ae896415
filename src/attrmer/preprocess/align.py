"""Face alignment: one similarity transform per clip, applied to every frame.

Landmark jitter between frames is as large as a micro-expression, so a clip gets ONE geometry:
dlib's HOG detector finds the face on the onset frame (retrying with upsampling, then on later
frames; the largest face wins), the 68-point model locates the landmarks, and a weighted
least-squares similarity transform (Umeyama) takes the eye centres, nose tip and mouth corners
onto a fixed template in the size×size output. Every frame is warped with that one transform.

Not for detecting faces per frame or tracking them; a clip whose face cannot be found raises
`ClipError` with the reason.
"""

from __future__ import annotations

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

# Where the five key points land, as fractions of the output side. The crop keeps the brows
# (AU1, AU2, AU4) and the chin (AU17) inside: inter-ocular distance 0.33 of the side, mouth
# 1.16 inter-ocular distances below the eyes, the usual proportions of a frontal face.
TEMPLATE = np.array(
    [
        [0.335, 0.36],  # left eye centre
        [0.665, 0.36],  # right eye centre
        [0.500, 0.55],  # nose tip
        [0.363, 0.74],  # left mouth corner
        [0.637, 0.74],  # right mouth corner
    ]
)

# Weights of the five points in the fit. The eye centres are the steadiest landmarks (the
# mouth corners move with AU12, AU15 and AU20, the very movements to be recognised), so they
# dominate: the eyes land on the template within about a pixel whatever the face's proportions.
KEY_POINT_WEIGHTS = np.array([4.0, 4.0, 1.0, 1.0, 1.0])

# Detection runs on frames scaled down to this longest side: HOG finds faces of 80 px and
# more, and the face of a micro-expression recording is far larger than that.
DETECT_MAX_SIDE = 640
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
    `source` points onto `target` points, as a 2×3 matrix."""
    source = np.asarray(source, np.float64)
    target = np.asarray(target, np.float64)
    weights = np.ones(len(source)) if weights is None else np.asarray(weights, np.float64)
    weights = weights / weights.sum()
    source_mean, target_mean = weights @ source, weights @ target
    source_c, target_c = source - source_mean, target - target_mean
    covariance = (weights[:, None] * target_c).T @ source_c
    u, singular, vt = np.linalg.svd(covariance)
    reflection = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ reflection @ vt
    variance = weights @ (source_c**2).sum(axis=1)
    if variance == 0:
        raise ValueError("similarity transform needs distinct source points")
    scale = np.trace(np.diag(singular) @ reflection) / variance
    translation = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, translation[:, None]])


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


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

    def locate(self, frames: list[np.ndarray]) -> tuple[int, np.ndarray]:
        """(frame index, landmarks): the onset frame first, then up to
        `max_detection_frames` later frames spread over the clip."""
        attempts = [(0, 0), (0, 1)]
        if len(frames) > 1 and self.max_detection_frames > 0:
            later = np.linspace(1, len(frames) - 1, self.max_detection_frames).round()
            attempts += [(int(i), up) for i in np.unique(later) for up in (0, 1)]
        for index, upsample in attempts:
            landmarks = self.detect(frames[index], upsample)
            if landmarks is not None:
                return index, landmarks
        raise ClipError("no face found")

    def align(self, frames: list[np.ndarray]) -> Alignment:
        """Warp every frame of a clip with the one transform found on its onset frame."""
        if not frames:
            raise ClipError("no frames")
        index, landmarks = self.locate(frames)
        height, width = frames[index].shape[:2]
        outside = _outside(landmarks, width, height)
        key_outside = _outside(key_points(landmarks), width, height)
        if outside.mean() > MAX_OUTSIDE_FRACTION or key_outside.any():
            raise ClipError(
                "face leaves the frame",
                f"{int(outside.sum())} of 68 landmarks outside frame {index}",
            )
        matrix = similarity_transform(key_points(landmarks), self.template, KEY_POINT_WEIGHTS)
        aligned = np.empty((len(frames), self.size, self.size, 3), np.uint8)
        for i, frame in enumerate(frames):
            cv2.warpAffine(frame, matrix, (self.size, self.size), dst=aligned[i],
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return Alignment(
            frames=aligned,
            matrix=matrix,
            landmarks=apply_transform(matrix, landmarks).astype(np.float32),
            source_landmarks=landmarks,
            detected_frame=index,
        )


def _outside(points: np.ndarray, width: int, height: int) -> np.ndarray:
    return ((points[:, 0] < 0) | (points[:, 0] > width - 1)
            | (points[:, 1] < 0) | (points[:, 1] > height - 1))
