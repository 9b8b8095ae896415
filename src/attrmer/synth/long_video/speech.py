"""Mouth and jaw motion of people speaking, measured once on real video, replayed on the faces.

Speech is the distractor a spotter meets most in long recordings: the mouth and jaw move by
more than a macro-expression, several times a second, and none of it is an expression. The
long-video corpus replays real speech on its faces rather than an invented one.

`speech_tracks.json` (committed beside this module) holds that motion, measured on the ten
GRID corpus sample videos (Cooke, Barker, Cunningham, Shao 2006; CC BY 4.0, see
`SPEECH_NOTICE`): dlib's 68 landmarks located on every frame with the project's `FaceAligner`,
head motion removed by a similarity fit of the eye corners and the nose bridge onto their mean
position, the rest shape taken where the lips are most closed, the lower jaw's and the lips'
displacement from it written in the face's own axes (across, down) in inter-ocular distances,
smoothed a little in time (dlib's jitter is a sizeable share of a lip movement), and
compressed to the few principal components that carry nearly all of it. A track is a series
of component coefficients at the source's 25 fps; `SpeechTracks.coefficients` resamples it.

Because the spline warp is linear in its control-point displacements, each component becomes
one dense field per face (`speech_fields`), and a speaking frame is a weighted sum of those
fields, as cheap as any other.

Regenerate the file with `python -m attrmer.synth.long_video.speech <faces-video folder>`.
Not for rendering a video (`corpus.py`) or deciding when someone speaks (`timeline.py`).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from attrmer.io import write_text
from attrmer.preprocess.align import FaceAligner, apply_transform, similarity_transform
from attrmer.synth.identities import Face
from attrmer.synth.motion import FaceFrame, control_points
from attrmer.synth.render import MERGE_SEPARATION_IOD
from attrmer.synth.warp import thin_plate_field

SPEECH_TRACKS_FILE = Path(__file__).resolve().parent / "speech_tracks.json"
SPEECH_NOTICE = (
    "Mouth and jaw motion measured on the GRID audiovisual corpus: Cooke, M., Barker, J., "
    "Cunningham, S., Shao, X. (2006). An audio-visual corpus for speech perception and "
    "automatic speech recognition. The Journal of the Acoustical Society of America 120(5), "
    "2421-2424. Data: https://doi.org/10.5281/zenodo.3625687, licensed CC BY 4.0 "
    "(https://creativecommons.org/licenses/by/4.0/); sample videos from the LipNet repository "
    "(MIT licence). Changes: facial landmarks tracked on every frame, head motion removed, "
    "normalised by the inter-ocular distance, smoothed and compressed to principal components."
)
GRID_VIDEOS = ("bbaf2n", "brbk7n", "lbax4n", "lbbc2a", "lrwp9a", "lwbsza", "pwij3p", "sbia1a",
               "sbwe5n", "swiz3n")
# The lower jaw line and the lips: what moves when someone speaks.
SPEECH_POINTS = (*range(5, 12), *range(48, 68))
# Eye corners and nose bridge: what a speaker's head motion moves but speech does not.
STABLE_POINTS = (27, 28, 29, 30, 36, 39, 42, 45)
COMPONENTS = 6
# Temporal smoothing of the landmark tracks, in source frames (Gaussian sigma).
SMOOTHING_FRAMES = 0.7
# The share of frames with the most closed lips whose median shape is the rest shape.
REST_SHARE = 0.15
# A track keeps the frames from the first to the last one that moves by more than this (RMS
# over the speech points, inter-ocular distances), plus a margin: the silence around it is
# dropped.
SPEAKING_RMS = 0.05
MARGIN_FRAMES = 3
# Coefficients are stored as integers in these units (inter-ocular distances).
COEFFICIENT_STEP = 1e-3


@dataclass(frozen=True)
class SpeechTracks:
    fps: float
    points: tuple[int, ...]
    # (K, len(points), 2): unit-norm displacement patterns, (across, down) per point.
    components: np.ndarray
    videos: tuple[str, ...]
    tracks: tuple[np.ndarray, ...]  # per video (frames, K) coefficients at `fps`

    def coefficients(self, index: int, fps: float) -> np.ndarray:
        """Track `index` resampled to `fps` (frames, K)."""
        track = self.tracks[index]
        source_t = np.arange(len(track)) / self.fps
        target_t = np.arange(0.0, source_t[-1] + 1e-9, 1.0 / fps)
        return np.stack([np.interp(target_t, source_t, track[:, k])
                         for k in range(track.shape[1])], axis=1)


@functools.cache
def load_speech_tracks(path: Path = SPEECH_TRACKS_FILE) -> SpeechTracks:
    try:
        record = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: the speech motion file is missing") from None
    return SpeechTracks(
        fps=float(record["fps"]),
        points=tuple(record["points"]),
        components=np.asarray(record["components"], np.float64),
        videos=tuple(t["video"] for t in record["tracks"]),
        tracks=tuple(np.asarray(t["coefficients"], np.float64) * record["coefficient_step"]
                     for t in record["tracks"]),
    )


def speech_fields(face: Face, tracks: SpeechTracks) -> list[np.ndarray]:
    """One dense (H, W, 2) field per component on `face`, frame pixels per inter-ocular
    distance of coefficient."""
    frame = face.frame
    rest = control_points(frame)
    points = list(tracks.points)
    fields = []
    for component in tracks.components:
        landmarks = frame.landmarks.copy()
        landmarks[points] += frame.interocular * (component[:, :1] * frame.across
                                                  + component[:, 1:] * frame.down)
        # Derived control points (chin boss, the skin beside the lip corners) follow the
        # landmarks they are built from; the eyes do not move, so the face's axes stay put.
        moves = control_points(FaceFrame.from_landmarks(landmarks)) - rest
        fields.append(thin_plate_field(rest, moves, face.image.shape[:2],
                                       min_separation=MERGE_SEPARATION_IOD * frame.interocular))
    return fields


# ------------------------------------------------------------------------------ extraction ---


def _read_video(path: Path) -> tuple[list[np.ndarray], float]:
    """The video's RGB frames (the pipeline's own reader) and the frame rate it declares."""
    from attrmer.preprocess.frames import read_video

    capture = cv2.VideoCapture(str(path))
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS))
    finally:
        capture.release()
    return read_video(path), fps


def _landmark_track(frames: list[np.ndarray], aligner: FaceAligner) -> np.ndarray:
    """(frames, 68, 2) landmarks; a frame without a face takes its neighbours' mean."""
    found = []
    for frame in frames:
        landmarks = aligner.detect(frame)
        found.append(landmarks if landmarks is not None else aligner.detect(frame, 1))
    missing = [i for i, lm in enumerate(found) if lm is None]
    if len(missing) > len(frames) // 10:
        raise RuntimeError(f"no face in {len(missing)} of {len(frames)} frames")
    known = [i for i, lm in enumerate(found) if lm is not None]
    stacked = np.stack([found[i] for i in known]).astype(np.float64)
    track = np.empty((len(frames), 68, 2))
    for p in range(68):
        for axis in range(2):
            track[:, p, axis] = np.interp(np.arange(len(frames)), known, stacked[:, p, axis])
    return track


def _stabilised(track: np.ndarray) -> np.ndarray:
    """Every frame's landmarks moved so its stable points sit on their mean position."""
    stable = list(STABLE_POINTS)
    for _ in range(2):
        reference = track[:, stable].mean(axis=0)
        track = np.stack([apply_transform(similarity_transform(frame[stable], reference), frame)
                          for frame in track])
    return track


def _displacements(track: np.ndarray) -> np.ndarray:
    """(frames, points, 2) displacement of the speech points from the rest shape, in the rest
    face's axes, in inter-ocular distances, smoothed in time."""
    lip_gap = (track[:, [65, 66, 67], 1] - track[:, [61, 62, 63], 1]).mean(axis=1)
    closed = np.argsort(lip_gap, kind="stable")[:max(1, round(REST_SHARE * len(track)))]
    rest = np.median(track[closed], axis=0)
    axes = FaceFrame.from_landmarks(rest)
    moved = track[:, list(SPEECH_POINTS)] - rest[list(SPEECH_POINTS)]
    local = np.stack([moved @ axes.across, moved @ axes.down], axis=-1) / axes.interocular
    return gaussian_filter1d(local, SMOOTHING_FRAMES, axis=0, mode="nearest")


def _speaking_span(displacement: np.ndarray) -> slice:
    rms = np.sqrt((displacement ** 2).sum(axis=-1).mean(axis=-1))
    moving = np.flatnonzero(rms > SPEAKING_RMS)
    if moving.size == 0:
        return slice(0, len(displacement))
    return slice(max(0, moving[0] - MARGIN_FRAMES),
                 min(len(displacement), moving[-1] + MARGIN_FRAMES + 1))


def extract_speech_tracks(video_dir: Path) -> dict:
    """The contents of `speech_tracks.json`, measured on the GRID videos in `video_dir`."""
    aligner = FaceAligner()
    names, spans, fps_seen = [], [], set()
    for stem in GRID_VIDEOS:
        path = Path(video_dir) / f"{stem}.mpg"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: GRID video missing")
        frames, fps = _read_video(path)
        fps_seen.add(round(fps, 3))
        displacement = _displacements(_stabilised(_landmark_track(frames, aligner)))
        names.append(path.name)
        spans.append(displacement[_speaking_span(displacement)])
    if len(fps_seen) != 1:
        raise RuntimeError(f"GRID videos at several frame rates: {sorted(fps_seen)}")
    # Principal directions without centring: zero coefficients must mean the rest shape.
    flat = np.concatenate([s.reshape(len(s), -1) for s in spans])
    _, singular, directions = np.linalg.svd(flat, full_matrices=False)
    energy = singular ** 2 / np.sum(singular ** 2)
    components = directions[:COMPONENTS]
    # A fixed sign per component (its largest entry positive) keeps the file stable.
    signs = np.sign(components[np.arange(COMPONENTS), np.abs(components).argmax(axis=1)])
    components = components * signs[:, None]
    tracks = []
    for name, span in zip(names, spans, strict=True):
        coefficients = span.reshape(len(span), -1) @ components.T
        tracks.append({"video": name, "coefficients": np.rint(
            coefficients / COEFFICIENT_STEP).astype(int).tolist()})
    return {
        "notice": SPEECH_NOTICE,
        "regenerate": "python -m attrmer.synth.long_video.speech <faces-video folder>",
        "fps": fps_seen.pop(),
        "points": list(SPEECH_POINTS),
        "units": "inter-ocular distances in the face's own axes: [across, down] per point; "
                 "across runs from the subject's right eye to the left one",
        "energy_kept": round(float(energy[:COMPONENTS].sum()), 4),
        "coefficient_step": COEFFICIENT_STEP,
        "components": np.round(components.reshape(COMPONENTS, -1, 2), 4).tolist(),
        "tracks": tracks,
    }


def write_speech_tracks(video_dir: Path, path: Path = SPEECH_TRACKS_FILE) -> dict:
    record = extract_speech_tracks(video_dir)
    # One track or component per line: small on disk and still readable in a diff.
    def rows(items: list) -> str:
        return ",\n".join(f"  {json.dumps(item, separators=(',', ':'))}" for item in items)

    fields = [f" {json.dumps(key)}: {json.dumps(value)}" for key, value in record.items()
              if key not in ("components", "tracks")]
    fields.append(f' "components": [\n{rows(record["components"])}\n ]')
    fields.append(f' "tracks": [\n{rows(record["tracks"])}\n ]')
    write_text(path, "{\n" + ",\n".join(fields) + "\n}\n")
    load_speech_tracks.cache_clear()
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the speech motion file on the GRID "
                                                 "sample videos.")
    parser.add_argument("video_dir", type=Path, help="folder holding the GRID .mpg files")
    parser.add_argument("--out", type=Path, default=SPEECH_TRACKS_FILE)
    args = parser.parse_args(argv)
    record = write_speech_tracks(args.video_dir, args.out)
    frames = sum(len(t["coefficients"]) for t in record["tracks"])
    print(f"{args.out}: {len(record['tracks'])} tracks, {frames} frames at {record['fps']} fps, "
          f"{COMPONENTS} components keep {record['energy_kept']:.1%} of the motion",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
