"""Render the long-video corpus: frames, the CAS(ME)^3 part A sheet and the ground truth.

Each frame is the video's face still warped by a weighted sum of dense fields, as in the
built-in corpus (`attrmer.synth.render`): one per expression (its apex field, weighted by its
timing profile), one blink field (weighted by lid closure), one field per speech component
(weighted by the replayed track's coefficients), and one head-roll field (weighted by the roll
angle), plus the head's drift as a shift; then illumination flicker, sensor noise and JPEG.

Not for planning the events (`timeline.py`) or measuring speech (`speech.py`).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from attrmer.config import SpotCorpusConfig
from attrmer.io import owned_folder
from attrmer.synth.identities import Face, load_faces, real_subjects
from attrmer.synth.long_video.speech import (
    SPEECH_NOTICE,
    SpeechTracks,
    load_speech_tracks,
    speech_fields,
)
from attrmer.synth.long_video.timeline import (
    KIND_NAMES,
    OBJECTIVE_CLASS,
    SPEECH_FADE_S,
    VideoSpec,
    blink_end,
    held_profile,
    plan_long_corpus,
)
from attrmer.synth.render import (
    ALIGNED_SIZE,
    MAX_APEX_ALIGNED_PX,
    au_cell,
    blink_field,
    blink_profile,
    camera_frame,
    default_workers,
    encode_jpeg,
    expression_field,
    expression_profile,
    save_workbook,
)
from attrmer.synth.warp import Warper

SHEET_NAME = "CAS(ME)3_part_A_v2.xlsx"
CORPUS_JSON = "corpus.json"
FRAME_FOLDER = "color"
EXPRESSIONS_WORKSHEET = "AU+Emotion"
BLINKS_WORKSHEET = "eye blink"
EXPRESSION_HEADER = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Expression type",
                     "Objective class")
BLINK_HEADER = ("Subject", "Filename", "Onset", "Offset")


def roll_field(face: Face) -> np.ndarray:
    """Displacement per radian of head roll about the face's centre (first order: the roll
    stays within a few degrees, where the error is a hundredth of a pixel)."""
    height, width = face.image.shape[:2]
    centre = face.landmarks.mean(axis=0)
    x, y = np.meshgrid(np.arange(width, dtype=np.float32) - np.float32(centre[0]),
                       np.arange(height, dtype=np.float32) - np.float32(centre[1]))
    return np.stack([-y, x], axis=-1)


# The head as seen from above: an ellipsoid as deep as it is wide (its half-width: the
# jaw's), and the nose standing out of it by this share of that half-width.
NOSE_HEIGHT = 0.35
NOSE_SPREAD = 0.15  # the nose bump's standard deviation, in half-widths


def yaw_field(face: Face) -> np.ndarray:
    """Displacement per radian of head turn about the vertical axis through the head's centre
    (first order): a point moves sideways by its depth in front of that axis, so the nose moves
    most and the outline not at all."""
    height, width = face.image.shape[:2]
    marks = face.landmarks
    jaw = marks[:17]
    centre_x = float(jaw[:, 0].mean())
    half_width = float(jaw[:, 0].max() - jaw[:, 0].min()) / 2
    top, bottom = float(marks[17:27, 1].min()), float(jaw[:, 1].max())
    # The brows sit about a third of the way down the head: the ellipse reaches above them.
    half_height = (bottom - top) * 0.75
    centre_y = bottom - half_height
    x, y = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    inside = 1.0 - ((x - centre_x) / half_width) ** 2 - ((y - centre_y) / half_height) ** 2
    depth = half_width * np.sqrt(np.clip(inside, 0.0, None))
    nose = marks[30]
    spread = NOSE_SPREAD * half_width
    depth += NOSE_HEIGHT * half_width * np.exp(
        -((x - nose[0]) ** 2 + (y - nose[1]) ** 2) / (2 * spread ** 2))
    depth[inside <= 0] = 0.0  # outside the head (hair, background) nothing turns
    return np.stack([depth, np.zeros_like(depth)], axis=-1).astype(np.float32)


def speech_taper(n_frames: int, fps: float) -> np.ndarray:
    """1 inside an utterance, raised-cosine fades to 0 at its first and last frames."""
    fade = max(1, round(SPEECH_FADE_S * fps))
    i = np.arange(n_frames, dtype=np.float64)
    edge = np.minimum(i, n_frames - 1 - i) / fade
    return 0.5 * (1 - np.cos(np.pi * np.clip(edge, 0, 1)))


@dataclasses.dataclass
class VideoMotion:
    """Fields and their per-frame weights, and the truth the rendering fixed."""

    fields: list[np.ndarray]
    weights: np.ndarray  # (frames, fields)
    shift: np.ndarray  # (frames, 2) frame pixels
    truth: dict


def video_motion(spec: VideoSpec, face: Face, tracks: SpeechTracks, cfg: SpotCorpusConfig
                 ) -> VideoMotion:
    """The fields a video is warped by, their weight in every frame, and its ground truth."""
    n = spec.n_frames
    ppa = face.pixels_per_aligned_pixel
    fields: list[np.ndarray] = [roll_field(face)]
    columns: list[np.ndarray] = [spec.roll]
    if spec.yaw is not None:
        fields.append(yaw_field(face))
        columns.append(spec.yaw)
    expressions = []
    for event in spec.expressions:
        intensity = cfg.micro_intensity if event.kind == "micro" else cfg.macro_intensity
        apex = expression_field(face, list(event.aus), MAX_APEX_ALIGNED_PX * intensity)
        profile = (expression_profile(event.n_frames, event.apex_index) if event.kind == "micro"
                   else held_profile(event.n_frames, event.apex_index, event.hold_frames,
                                     event.hold_level))
        column = np.zeros(n)
        column[event.start:event.end + 1] = profile
        fields.append(apex.field)
        columns.append(column)
        expressions.append({
            "kind": event.kind,
            "onset": event.start + 1, "apex": event.start + event.apex_index + 1,
            "offset": event.end + 1,
            "seconds": round((event.n_frames - 1) / cfg.fps, 3),
            "emotion": event.emotion,
            "objective_class": OBJECTIVE_CLASS[event.emotion],
            "au": str(au_cell(event.aus)),
            "action_units": [dataclasses.asdict(a) for a in apex.aus],
            "apex_displacement_aligned_px": round(apex.peak_px / ppa, 4),
            "hold_frames": event.hold_frames,
        })
    if spec.blinks:
        fields.append(blink_field(face, 1.0))
        columns.append(sum(b.closure * blink_profile(n, b) for b in spec.blinks))
    utterances = []
    if spec.utterances:
        components = speech_fields(face, tracks)
        speech = np.zeros((n, len(components)))
        for utterance in spec.utterances:
            coefficients = tracks.coefficients(utterance.track, cfg.fps)[:utterance.n_frames]
            taper = speech_taper(utterance.n_frames, cfg.fps)
            speech[utterance.start:utterance.end + 1] = (
                coefficients * (utterance.gain * taper)[:, None])
            utterances.append({"onset": utterance.start + 1, "offset": utterance.end + 1,
                               "source": tracks.videos[utterance.track],
                               "gain": utterance.gain})
        fields += components
        columns += list(speech.T)
    inside = [any(e.start <= b.start <= e.end for e in spec.expressions) for b in spec.blinks]
    truth = {
        "subject": spec.subject_name,
        "filename": spec.filename,
        "frames": n,
        "seconds": round(n / cfg.fps, 3),
        "still": face.still,
        "pixels_per_aligned_pixel": round(ppa, 4),
        "interocular_px": round(face.frame.interocular, 3),
        "expressions": expressions,
        "blinks": [{"onset": b.start + 1, "offset": blink_end(b) + 1,
                    "close_frames": b.close_frames, "open_frames": b.open_frames,
                    "closure": b.closure, "inside_expression": flag}
                   for b, flag in zip(spec.blinks, inside, strict=True)],
        "speech": utterances,
        "drift_peak_aligned_px": round(float(np.linalg.norm(spec.drift, axis=1).max()), 3),
        "roll_peak_deg": round(float(np.rad2deg(np.abs(spec.roll).max())), 3),
        **({"yaw_peak_deg": round(float(np.rad2deg(np.abs(spec.yaw).max())), 3)}
           if spec.yaw is not None else {}),
        "gain_range": [round(float(spec.gain.min()), 4), round(float(spec.gain.max()), 4)],
    }
    return VideoMotion(fields, np.stack(columns, axis=1), spec.drift * ppa, truth)


def render_frames(spec: VideoSpec, face: Face, motion: VideoMotion, cfg: SpotCorpusConfig
                  ) -> Iterator[np.ndarray]:
    """The video's frames, RGB uint8 before JPEG, one at a time."""
    warper = Warper(face.image)
    rng = np.random.default_rng(spec.noise_seed)
    for i in range(spec.n_frames):
        warped = warper.warp(list(zip(motion.weights[i].tolist(), motion.fields, strict=True)),
                             (float(motion.shift[i, 0]), float(motion.shift[i, 1])))
        yield camera_frame(warped, float(spec.gain[i]), cfg.noise_sigma, rng)


def frame_dir(root: Path, spec: VideoSpec) -> Path:
    return root / spec.subject_name / spec.filename / FRAME_FOLDER


def write_video(root: Path, spec: VideoSpec, face: Face, tracks: SpeechTracks,
                cfg: SpotCorpusConfig) -> dict:
    motion = video_motion(spec, face, tracks, cfg)
    folder = frame_dir(root, spec)
    folder.mkdir(parents=True, exist_ok=True)
    for number, frame in enumerate(render_frames(spec, face, motion, cfg), start=1):
        (folder / f"{number}.jpg").write_bytes(encode_jpeg(frame, cfg.jpeg_quality))
    return motion.truth


def write_sheet(path: Path, truths: list[dict]) -> None:
    """The part A sheet: worksheets `AU+Emotion` and `eye blink`, frame numbers and AU codes as
    text cells like the real sheet's, byte-identical for identical truth."""
    from openpyxl import Workbook

    workbook = Workbook()
    expressions = workbook.active
    expressions.title = EXPRESSIONS_WORKSHEET
    expressions.append(list(EXPRESSION_HEADER))
    blinks = workbook.create_sheet(BLINKS_WORKSHEET)
    blinks.append(list(BLINK_HEADER))
    for video in truths:
        names = [video["subject"], video["filename"]]
        for e in video["expressions"]:
            expressions.append([*names, str(e["onset"]), str(e["apex"]), str(e["offset"]),
                                e["au"], KIND_NAMES[e["kind"]], e["objective_class"]])
        for b in video["blinks"]:
            blinks.append([*names, str(b["onset"]), str(b["offset"])])
    save_workbook(workbook, path)


# Per-process state of the worker pool, loaded once per worker.
_worker: dict = {}


def _init_worker(cfg: SpotCorpusConfig) -> None:
    # One thread per worker: the pool already uses the cores.
    cv2.setNumThreads(1)
    _worker.update(cfg=cfg, faces=corpus_faces(cfg), tracks=load_speech_tracks())


def _render_task(task: tuple[str, VideoSpec]) -> dict:
    root, spec = task
    faces = {face.subject: face for face in _worker["faces"]}
    return write_video(Path(root), spec, faces[spec.subject], _worker["tracks"], _worker["cfg"])


def corpus_faces(cfg: SpotCorpusConfig) -> list[Face]:
    """The faces the corpus draws on: the bundled stills, or the real photographs alone."""
    faces = load_faces(cfg.frame_height, resolution=cfg.resolution,
                       real=cfg.identities == "real")
    if cfg.identities == "real":
        real = set(real_subjects())
        faces = [face for face in faces if face.subject in real]
    return faces


def _track_frames(tracks: SpeechTracks, fps: float) -> list[int]:
    return [len(tracks.coefficients(i, fps)) for i in range(len(tracks.tracks))]


def render_long_corpus(out_dir: Path, cfg: SpotCorpusConfig, *, workers: int | None = None,
                       progress: bool = True, force: bool = False) -> Path:
    """Render the long-video corpus into `out_dir` (replaced whole, atomically); return it.

    workers: processes rendering videos (None: up to 2; 1: in this process).
    force: replace `out_dir` even when it holds files attrmer did not write.
    """
    cfg.validate()
    out_dir = Path(out_dir)
    faces = corpus_faces(cfg)
    tracks = load_speech_tracks()
    specs = plan_long_corpus(cfg, faces, _track_frames(tracks, cfg.fps))
    by_subject = {face.subject: face for face in faces}
    workers = default_workers() if workers is None else max(1, workers)
    with owned_folder(out_dir, command="attrmer synth --long", force=force) as tmp:
        bar = tqdm(total=len(specs), desc="synth: rendering long videos", unit="video",
                   disable=not progress)
        truths = []
        if workers == 1 or len(specs) == 1:
            for spec in specs:
                truths.append(write_video(tmp, spec, by_subject[spec.subject], tracks, cfg))
                bar.update()
        else:
            context = multiprocessing.get_context("spawn")
            with context.Pool(min(workers, len(specs)), initializer=_init_worker,
                              initargs=(cfg,)) as pool:
                for truth in pool.imap(_render_task, [(str(tmp), s) for s in specs]):
                    truths.append(truth)
                    bar.update()
        bar.close()
        write_sheet(tmp / SHEET_NAME, truths)
        height, width = faces[0].image.shape[:2]
        corpus = {
            "format": f"CAS(ME)^3 part A: {SHEET_NAME} + <Subject>/<Filename>/"
                      f"{FRAME_FOLDER}/<N>.jpg, N from 1",
            "sheet": SHEET_NAME,
            "parameters": dataclasses.asdict(cfg),
            "fps": cfg.fps,
            "frame_size": [width, height],
            "aligned_size": ALIGNED_SIZE,
            "notes": {
                "frames": "onset, apex, offset: 1-based JPG numbers, inclusive; at onset and "
                          "offset the face is still neutral",
                "speech": "utterances are real speech motion replayed on the face; they are "
                          "not expressions and are not in the sheet",
                "blinks": "in the sheet's `eye blink` worksheet; some start inside an "
                          "expression (inside_expression)",
                "objective_class": "by emotion: " + ", ".join(
                    f"{k} {v}" for k, v in OBJECTIVE_CLASS.items()),
                "apex_displacement_aligned_px": "largest displacement of any pixel at apex, "
                                                "in pixels of the 112×112 aligned face",
            },
            "speech_notice": SPEECH_NOTICE,
            "videos": truths,
        }
        (tmp / CORPUS_JSON).write_text(json.dumps(corpus, indent=1) + "\n")
    return out_dir
