"""The synthetic corpus: FACS motion where FACS puts it, micro range, sides, determinism,
detectable faces, and the CASME II sheet format."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from attrmer.config import ConfigError, SynthConfig
from attrmer.synth import render_corpus
from attrmer.synth.cli import cli
from attrmer.synth.contact import farneback
from attrmer.synth.identities import Face, load_faces
from attrmer.synth.motion import (
    CHEEK_LEFT,
    CHEEK_RIGHT,
    CHIN_BOSS,
    SUPPORTED_AUS,
    AuMotion,
    FaceFrame,
    control_points,
    speech_displacement,
)
from attrmer.synth.render import (
    CORPUS_JSON,
    EMOTIONS,
    FRAMES_DIR,
    SHEET_NAME,
    ClipSpec,
    Speech,
    au_cell,
    encode_jpeg,
    expression_profile,
    plan_corpus,
    render_clip,
    speech_profile,
)

# Nuisances on (noise, JPEG, flicker) but no head drift, so flow at apex is the AU's own.
STILL_CFG = SynthConfig(noise_sigma=2.0, jpeg_quality=90, drift_px=0.0, flicker=0.02,
                        blink_probability=0.0)
# A tiny corpus: a few short clips.
TINY_CFG = SynthConfig(seed=5, clips=4, fps=200, min_frames=8, max_frames=12)


@pytest.fixture(scope="module")
def faces() -> list[Face]:
    return load_faces(STILL_CFG.frame_height)


def _decode(frame: np.ndarray, quality: int) -> np.ndarray:
    data = np.frombuffer(encode_jpeg(frame, quality), np.uint8)
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _apex_flow(face: Face, aus: list[AuMotion], cfg: SynthConfig = STILL_CFG) -> np.ndarray:
    """Farneback flow from the onset to the apex frame of a clip with these AUs, as written."""
    n = 9
    spec = ClipSpec(subject=face.subject, filename="EP01_01", emotion="test", aus=tuple(aus),
                    onset_frame=1, n_frames=n, apex_index=4, blink=None,
                    drift=((0.0, 0.0),) * n, gain=(1.0,) * n, noise_seed=11)
    frames = render_clip(spec, face, cfg).frames
    return farneback(_decode(frames[0], cfg.jpeg_quality), _decode(frames[4], cfg.jpeg_quality))


def _region_flow(face: Face, flow: np.ndarray, indices: list[int], radius_iod: float = 0.08
                 ) -> tuple[float, np.ndarray]:
    """Mean flow magnitude and mean flow (in the face's own frame: +x = out to the subject's
    left, +y = down) in discs around control points."""
    frame = face.frame
    points = control_points(frame)
    ys, xs = np.mgrid[: flow.shape[0], : flow.shape[1]]
    radius = radius_iod * frame.interocular
    magnitudes, vectors = [], []
    for i in indices:
        mask = (xs - points[i, 0]) ** 2 + (ys - points[i, 1]) ** 2 <= radius**2
        region = flow[mask]
        magnitudes.append(np.linalg.norm(region, axis=1).mean())
        mean = region.mean(0)
        # Lateral component signed "outwards" from the midline on either side.
        side = np.sign(frame.lateral(points[i : i + 1])[0])
        vectors.append([side * mean @ frame.across, mean @ frame.down])
    return float(np.mean(magnitudes)), np.mean(vectors, axis=0)


UPPER_FAR = [48, 54, 57]  # mouth, for AUs of the upper face
LOWER_FAR = [18, 20, 23, 25]  # brows, for AUs of the lower face
# What FACS says each AU does: (where, which direction, a far region that must stay quieter).
# Directions: "up", "down", "out" (away from the midline), "in".
FACS_EXPECTATIONS: dict[int, tuple[list[int], tuple[str, ...], list[int]]] = {
    1: ([21, 22], ("up",), UPPER_FAR),
    2: ([18, 25], ("up",), UPPER_FAR),
    4: ([21, 22], ("down", "in"), UPPER_FAR),
    5: ([37, 38, 43, 44], ("up",), UPPER_FAR),
    6: ([CHEEK_RIGHT, CHEEK_LEFT], ("up",), LOWER_FAR),
    7: ([40, 41, 46, 47], ("up",), UPPER_FAR),
    9: ([31, 35], ("up",), [56, 57, 58]),
    10: ([50, 51, 52], ("up",), LOWER_FAR),
    12: ([48, 54], ("up", "out"), LOWER_FAR),
    14: ([48, 54], ("out",), LOWER_FAR),
    15: ([48, 54], ("down",), LOWER_FAR),
    17: ([CHIN_BOSS, 57], ("up",), LOWER_FAR),
    20: ([48, 54], ("out",), LOWER_FAR),
    23: ([48, 54], ("in",), LOWER_FAR),
    24: ([57], ("up",), LOWER_FAR),
    25: ([57], ("down",), LOWER_FAR),
    26: ([57, CHIN_BOSS], ("down",), LOWER_FAR),
    27: ([57, CHIN_BOSS, 8], ("down",), LOWER_FAR),
    45: ([37, 38, 43, 44], ("down",), UPPER_FAR),
}
_DIRECTION = {"up": (1, -1.0), "down": (1, 1.0), "out": (0, 1.0), "in": (0, -1.0)}


def test_every_supported_au_has_an_expectation() -> None:
    assert set(FACS_EXPECTATIONS) == set(SUPPORTED_AUS)


@pytest.mark.parametrize("face_index", [0, 10], ids=["grid", "pexels"])
@pytest.mark.parametrize("number", sorted(FACS_EXPECTATIONS))
def test_au_moves_where_and_how_facs_says(faces: list[Face], number: int, face_index: int
                                          ) -> None:
    face = faces[face_index]
    where, directions, far = FACS_EXPECTATIONS[number]
    flow = _apex_flow(face, [AuMotion(number, None, 2.0)])
    magnitude, mean = _region_flow(face, flow, where)
    far_magnitude, _ = _region_flow(face, flow, far)
    assert magnitude > 5.0 * far_magnitude, (number, magnitude, far_magnitude)
    for direction in directions:
        axis, sign = _DIRECTION[direction]
        # The movement in the named direction carries a good share of the region's motion.
        assert sign * mean[axis] > 0.5 * magnitude, (number, direction, mean, magnitude)


def test_au12_corners_move_more_than_brows_and_up_and_out(faces: list[Face]) -> None:
    face = faces[3]
    flow = _apex_flow(face, [AuMotion(12, None, 1.5)])
    right_corner, left_corner = face.landmarks[48], face.landmarks[54]
    corners, _ = _region_flow(face, flow, [48, 54])
    brows, _ = _region_flow(face, flow, list(range(17, 27)))
    assert corners > 3 * brows
    # In image coordinates: the image-left corner (48) moves left and up, 54 right and up.
    for point, outward in ((right_corner, -1.0), (left_corner, 1.0)):
        x, y = np.round(point).astype(int)
        u, v = flow[y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 2).mean(0)
        assert outward * u > 0.2 and v < -0.2, (u, v)


@pytest.mark.parametrize("side", ["L", "R"])
def test_one_sided_au_moves_only_that_side(faces: list[Face], side: str) -> None:
    # CASME II codes sides as the subject's own: L12 is the subject's left corner, landmark 54,
    # which is on the image's right.
    face = faces[1]
    flow = _apex_flow(face, [AuMotion(12, side, 2.0)])
    moving, still = (54, 48) if side == "L" else (48, 54)
    moving_magnitude, _ = _region_flow(face, flow, [moving])
    still_magnitude, _ = _region_flow(face, flow, [still])
    assert moving_magnitude > 4 * still_magnitude, (moving_magnitude, still_magnitude)
    image_side = np.sign(face.landmarks[moving, 0] - face.frame.centre[0])
    assert image_side == (1 if side == "L" else -1)
    assert au_cell((AuMotion(12, side),)) == f"{side}12"


def test_apex_displacement_is_in_the_micro_range(tmp_path: Path, faces: list[Face]) -> None:
    out = render_corpus(tmp_path / "corpus", dataclasses.replace(TINY_CFG, clips=8),
                        workers=1, progress=False)
    clips = json.loads((out / CORPUS_JSON).read_text())["clips"]
    for clip in clips:
        assert 0.2 <= clip["apex_displacement_aligned_px"] <= 2.0 + 1e-6, clip
    # Measured, not just recorded: the flow at apex of the strongest clip allowed stays within
    # a couple of aligned pixels.
    face = faces[0]
    flow = _apex_flow(face, [AuMotion(12, None, 2.0)])
    peak_aligned = np.linalg.norm(flow, axis=2).max() / face.pixels_per_aligned_pixel
    assert 0.5 < peak_aligned < 2.6


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    # One run in this process, one with a worker pool: the bytes must not depend on either.
    first = render_corpus(tmp_path / "a", TINY_CFG, workers=1, progress=False)
    second = render_corpus(tmp_path / "b", TINY_CFG, workers=2, progress=False)
    files_a = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert files_a == files_b
    assert Path(SHEET_NAME) in files_a
    for name in files_a:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    other = render_corpus(tmp_path / "c", dataclasses.replace(TINY_CFG, seed=6), workers=1,
                          progress=False)
    assert (other / SHEET_NAME).read_bytes() != (first / SHEET_NAME).read_bytes()


def test_dlib_finds_the_face_on_every_onset_frame(tmp_path: Path, faces: list[Face]) -> None:
    import dlib

    # As many clips as faces: the subjects take turns, so every face is rendered once.
    cfg = dataclasses.replace(TINY_CFG, clips=len(faces), blink_probability=0.5)
    out = render_corpus(tmp_path / "corpus", cfg, workers=1, progress=False)
    sheet = pd.read_excel(out / SHEET_NAME)
    assert sorted(sheet["Subject"]) == list(range(1, len(faces) + 1))
    detector = dlib.get_frontal_face_detector()
    for row in sheet.itertuples():
        folder = out / FRAMES_DIR / f"sub{row.Subject:02d}" / row.Filename
        path = folder / f"img{row.OnsetFrame}.jpg"
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        assert len(detector(grey, 0)) >= 1, path


def test_sheet_has_the_casme2_format_and_the_frames_are_there(tmp_path: Path) -> None:
    out = render_corpus(tmp_path / "corpus", dataclasses.replace(TINY_CFG, clips=12),
                        workers=1, progress=False)
    sheet = pd.read_excel(out / SHEET_NAME)
    assert list(sheet.columns) == [
        "Subject", "Filename", "Unnamed: 2", "OnsetFrame", "ApexFrame", "OffsetFrame",
        "Unnamed: 6", "Action Units", "Estimated Emotion",
    ]
    assert sheet["Subject"].dtype.kind == "i"
    assert sheet["Filename"].str.fullmatch(r"EP\d{2}_\d{2}f?").all()
    assert sheet["Action Units"].astype(str).str.fullmatch(r"[LR]?\d+(\+[LR]?\d+)*").all()
    # No blink in the AU cell: blinks are a nuisance, not class evidence.
    assert not sheet["Action Units"].astype(str).str.contains("45").any()
    for row in sheet.itertuples():
        assert row.OnsetFrame < row.ApexFrame < row.OffsetFrame
        folder = out / FRAMES_DIR / f"sub{row.Subject:02d}" / row.Filename
        numbers = sorted(int(p.stem[3:]) for p in folder.glob("img*.jpg"))
        assert numbers == list(range(row.OnsetFrame, row.OffsetFrame + 1))
        assert TINY_CFG.min_frames <= len(numbers) <= TINY_CFG.max_frames
    assert sorted(p.stem for p in (out / "contact").glob("*.png")) == sorted(
        set(sheet["Estimated Emotion"]))


def test_the_casme2_adapter_reads_the_corpus(tmp_path: Path) -> None:
    from attrmer.datasets.base import get_adapter

    out = render_corpus(tmp_path / "corpus", TINY_CFG, workers=1, progress=False)
    rows = get_adapter("synthetic", out).rows()
    assert len(rows) == TINY_CFG.clips
    for row in rows:
        assert (row.frame_dir / row.frame_pattern.format(row.onset)).is_file()


def test_default_corpus_plan_follows_casme2_proportions(faces: list[Face]) -> None:
    specs = plan_corpus(SynthConfig(), faces)
    counts = {e.name: sum(s.emotion == e.name for s in specs) for e in EMOTIONS}
    assert sum(counts.values()) == 200
    paper = ["disgust", "happiness", "repression", "surprise", "sadness"]
    assert [counts[name] for name in paper] == sorted((counts[n] for n in paper), reverse=True)
    assert counts["sadness"] >= 10
    assert min(counts["fear"], counts["anger"], counts["others"]) > 0
    # One subject per face, every face used, names unique within a subject.
    assert {s.subject for s in specs} == set(range(1, len(faces) + 1))
    assert len({(s.subject, s.filename) for s in specs}) == len(specs)
    assert all(s.n_frames / SynthConfig().fps < 0.5 for s in specs)
    one_sided = [a for s in specs for a in s.aus if a.side]
    assert one_sided, "some AUs should be one-sided"


def test_expression_profile_is_smooth_from_onset_to_offset() -> None:
    profile = expression_profile(40, 15)
    assert profile[0] == 0 and profile[-1] == pytest.approx(0) and profile[15] == 1
    assert np.all(np.diff(profile[:16]) > 0) and np.all(np.diff(profile[15:]) < 0)
    # No jump: the steepest step of a raised cosine rising over 15 frames is π/30.
    assert np.abs(np.diff(profile)).max() <= np.pi / 30 + 1e-9


def test_face_frame_axes_point_right_and_down(faces: list[Face]) -> None:
    frame = FaceFrame.from_landmarks(faces[0].landmarks)
    assert frame.across[0] > 0.9 and frame.down[1] > 0.9
    assert frame.lateral(faces[0].landmarks[[54]])[0] > 0  # subject's left = image right


def test_cli_renders_with_a_params_file(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("synth:\n  clips: 2\n  min_frames: 6\n  max_frames: 8\n")
    assert cli([str(tmp_path / "out"), "--params", str(params), "--seed", "3",
                "--workers", "1"]) == 0
    corpus = json.loads((tmp_path / "out" / CORPUS_JSON).read_text())
    assert corpus["parameters"]["seed"] == 3 and len(corpus["clips"]) == 2
    assert cli([str(tmp_path / "bad"), "--clips", "0"]) == 2


# ---------------------------------------------------------------------------------- speech ---


def test_speech_moves_the_jaw_and_mouth_not_the_brows(faces):
    """A speaking clip: the chin and lower lip go down and come back at the syllable rate,
    the brows stay; the sheet's AU cell does not code it."""
    face = faces[0]
    n = 60
    cfg = dataclasses.replace(STILL_CFG, speech_probability=1.0)
    # 5 syllables a second at 200 fps: widest at frame 20, closed again at frame 40.
    speech = Speech(rate_hz=5.0, phase=0.0, opening_px=2.0)
    spec = ClipSpec(subject=face.subject, filename="EP01_01", emotion="test", aus=(),
                    onset_frame=1, n_frames=n, apex_index=30, blink=None,
                    drift=((0.0, 0.0),) * n, gain=(1.0,) * n, noise_seed=11, speech=speech)
    clip = render_clip(spec, face, cfg)
    frames = [_decode(f, cfg.jpeg_quality) for f in clip.frames]
    widest = farneback(frames[0], frames[20])
    closed = farneback(frames[0], frames[40])
    chin, (_, chin_down) = _region_flow(face, widest, [CHIN_BOSS, 57, 8])
    brows, _ = _region_flow(face, widest, LOWER_FAR)
    chin_closed, _ = _region_flow(face, closed, [CHIN_BOSS, 57, 8])
    assert chin > 1.0 and chin_down > 0.7  # about 2 aligned px, downwards
    assert brows < 0.25 * chin
    assert chin_closed < 0.3 * chin
    assert clip.truth["speech"] == dataclasses.asdict(speech)
    assert clip.truth["au_cell"] == ""


def test_speech_profile_opens_and_closes_at_the_syllable_rate():
    profile = speech_profile(41, 200.0, Speech(rate_hz=5.0, phase=0.0, opening_px=1.0))
    assert profile[0] == pytest.approx(0.0) and profile[40] == pytest.approx(0.0, abs=1e-12)
    assert profile[20] == pytest.approx(1.0)
    assert not speech_profile(10, 200.0, None).any()


def test_speech_displacement_brings_the_jaw_outline_down(faces):
    frame = faces[0].frame
    moves = speech_displacement(frame)
    assert np.linalg.norm(moves, axis=1).max() == pytest.approx(1.0)
    assert moves[8] @ frame.down == pytest.approx(np.linalg.norm(moves[8]))  # the chin: down
    assert np.linalg.norm(moves[[0, 16]], axis=1).max() == 0.0  # the outline's top stays
    assert np.linalg.norm(moves[17:27], axis=1).max() == 0.0  # brows


def test_speech_share_of_a_corpus_and_none_without_it(faces):
    """speech_probability draws speech for about that share of clips; at 0 nothing is drawn,
    so a corpus without speech is the corpus it always was."""
    cfg = SynthConfig(seed=2, clips=200)
    plain = plan_corpus(cfg, faces)
    assert all(spec.speech is None for spec in plain)
    assert plan_corpus(dataclasses.replace(cfg, speech_px=5.0), faces) == plain
    speaking = plan_corpus(dataclasses.replace(cfg, speech_probability=0.5), faces)
    share = np.mean([spec.speech is not None for spec in speaking])
    assert 0.4 < share < 0.6
    openings = [s.speech.opening_px for s in speaking if s.speech is not None]
    assert min(openings) >= 0.25 * cfg.speech_px and max(openings) <= cfg.speech_px
    # The labels do not depend on speech: the same emotions in the same order.
    assert [s.emotion for s in speaking] == [s.emotion for s in plain]


@pytest.mark.parametrize(("key", "value"), [("speech_probability", 1.5), ("speech_px", 0.0)])
def test_speech_settings_are_checked(key, value):
    with pytest.raises(ConfigError, match=f"synth.{key}"):
        dataclasses.replace(SynthConfig(), **{key: value}).validate()
