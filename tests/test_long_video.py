"""The long-video spotting corpus: CAS(ME)^3 part A layout and sheet, clean ground truth,
determinism, the speech motion file, and the built-in clip corpus left as it was."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from openpyxl import load_workbook

from attrmer.config import ConfigError, SpotConfig, SpotCorpusConfig, SynthConfig, load_params
from attrmer.config.spot import CORPORA
from attrmer.io import OWNER_MARKER
from attrmer.synth.cli import cli
from attrmer.synth.identities import load_faces, real_subjects
from attrmer.synth.long_video import render_long_corpus
from attrmer.synth.long_video.corpus import (
    BLINK_HEADER,
    CORPUS_JSON,
    EXPRESSION_HEADER,
    SHEET_NAME,
    corpus_faces,
    yaw_field,
)
from attrmer.synth.long_video.speech import (
    SPEECH_POINTS,
    SPEECH_TRACKS_FILE,
    _displacements,
    _stabilised,
    load_speech_tracks,
)
from attrmer.synth.long_video.timeline import (
    BLINK_CLEARANCE_S,
    MACRO_SECONDS,
    MICRO_SECONDS,
    MIN_REST_S,
    held_profile,
    plan_long_corpus,
)
from attrmer.synth.render import plan_corpus, render_clip, write_sheet

REPO = Path(__file__).resolve().parents[1]
TINY = SpotCorpusConfig(seed=3, videos=2, videos_per_subject=2, min_seconds=12.0,
                        max_seconds=13.0, frame_height=96)
ROMAN = {"I", "II", "III", "IV", "V", "VI", "VII"}
AU_CODE = re.compile(r"^[LR]?\d+(\+[LR]?\d+)*$")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_long_corpus(tmp_path_factory.mktemp("long") / "corpus", TINY, workers=1,
                              progress=False)


@pytest.fixture(scope="module")
def truth(corpus: Path) -> dict:
    return json.loads((corpus / CORPUS_JSON).read_text())


def test_frames_lie_in_the_part_a_layout(corpus: Path, truth: dict) -> None:
    videos = truth["videos"]
    assert [(v["subject"], v["filename"]) for v in videos] == [
        (videos[0]["subject"], "a"), (videos[0]["subject"], "b")]
    assert re.fullmatch(r"spNO\.\d+", videos[0]["subject"])
    for video in videos:
        folder = corpus / video["subject"] / video["filename"] / "color"
        names = {p.name for p in folder.iterdir()}
        assert names == {f"{n}.jpg" for n in range(1, video["frames"] + 1)}
        assert TINY.min_seconds <= video["frames"] / TINY.fps <= TINY.max_seconds
        image = cv2.imread(str(folder / "1.jpg"))
        assert image.shape[0] == TINY.frame_height
        assert [image.shape[1], image.shape[0]] == truth["frame_size"]
    assert sorted(p.name for p in corpus.iterdir()) == sorted(
        [SHEET_NAME, CORPUS_JSON, videos[0]["subject"], OWNER_MARKER])
    assert not list(corpus.parent.glob(".*tmp")), "the temporary folder was left behind"


def test_sheet_has_the_real_sheets_format(corpus: Path, truth: dict) -> None:
    book = load_workbook(corpus / SHEET_NAME)
    assert book.sheetnames == ["AU+Emotion", "eye blink"]
    expressions, blinks = book["AU+Emotion"], book["eye blink"]
    assert tuple(c.value for c in expressions[1]) == EXPRESSION_HEADER
    assert tuple(c.value for c in blinks[1]) == BLINK_HEADER
    # Every cell is text, as in the real sheet (frame numbers included).
    for sheet in (expressions, blinks):
        assert all(cell.data_type == "s" for row in sheet.iter_rows() for cell in row)
    rows = list(expressions.iter_rows(min_row=2, values_only=True))
    assert rows and all(AU_CODE.match(r[5]) for r in rows)
    assert {r[6] for r in rows} == {"Micro-expression", "Macro-expression"}
    assert {r[7] for r in rows} <= ROMAN
    # pandas reads the frame numbers as integers, as it does the real sheet's.
    sheet = pd.read_excel(corpus / SHEET_NAME, sheet_name=None)
    for name in ("Onset", "Apex", "Offset"):
        assert sheet["AU+Emotion"][name].dtype == np.int64
    expected = [(v["subject"], v["filename"], e["onset"], e["apex"], e["offset"], e["au"])
                for v in truth["videos"] for e in v["expressions"]]
    assert list(sheet["AU+Emotion"].iloc[:, :6].itertuples(index=False, name=None)) == expected
    expected_blinks = [(v["subject"], v["filename"], b["onset"], b["offset"])
                       for v in truth["videos"] for b in v["blinks"]]
    assert list(sheet["eye blink"].itertuples(index=False, name=None)) == expected_blinks


@pytest.mark.shared
@pytest.mark.filterwarnings("ignore:.*xlrd engine is deprecated")
def test_sheet_columns_match_the_real_sheet(shared_data: Path) -> None:
    real = pd.read_excel(shared_data / "annotations/casme3/partA/CAS(ME)3_part_A_v2.xls",
                         sheet_name=None, nrows=3)
    assert list(real) == ["AU+Emotion", "eye blink"]
    assert tuple(real["AU+Emotion"].columns) == EXPRESSION_HEADER
    assert tuple(real["eye blink"].columns) == BLINK_HEADER


def test_the_part_a_reader_reads_it(corpus: Path, truth: dict) -> None:
    reader = pytest.importorskip("attrmer.datasets.casme3_lv")
    index = reader.read_long_videos(corpus)
    assert set(index.videos["status"]) == {"ok"}
    assert set(index.intervals["status"]) == {"ok"}
    found = reader.ground_truth(index)
    for video in truth["videos"]:
        key = f"{video['subject']}/{video['filename']}"
        assert [(i.onset, i.apex, i.offset, i.kind) for i in found[key]] == [
            (e["onset"], e["apex"], e["offset"], e["kind"]) for e in video["expressions"]]


def _spans(items: list[dict]) -> list[tuple[int, int]]:
    return [(i["onset"], i["offset"]) for i in items]


def test_intervals_are_inside_the_video_and_apart(truth: dict) -> None:
    fps = TINY.fps
    rest, clearance = round(MIN_REST_S * fps), round(BLINK_CLEARANCE_S * fps)
    for video in truth["videos"]:
        expressions, speech, blinks = video["expressions"], video["speech"], video["blinks"]
        kinds = [e["kind"] for e in expressions]
        assert "micro" in kinds and "macro" in kinds and speech
        for e in expressions:
            assert 1 <= e["onset"] < e["apex"] < e["offset"] <= video["frames"]
            low, high = MICRO_SECONDS if e["kind"] == "micro" else MACRO_SECONDS
            assert low - 1 / fps <= (e["offset"] - e["onset"]) / fps <= high + 1 / fps
        # Expressions and utterances never touch: at least the rest between any two.
        events = sorted(_spans(expressions) + _spans(speech))
        for (_, end), (start, _) in itertools.pairwise(events):
            assert start - end >= rest
        for b in blinks:
            assert 1 <= b["onset"] < b["offset"] <= video["frames"]
            hosts = [e for e in expressions if e["onset"] <= b["onset"] <= e["offset"]]
            assert bool(hosts) == b["inside_expression"]
            if not hosts:
                assert all(b["onset"] - end > clearance or start - b["offset"] > clearance
                           for start, end in events)
            assert not any(s["onset"] <= b["offset"] and b["onset"] <= s["offset"]
                           for s in speech)
        for (_, end), (start, _) in itertools.pairwise(sorted(_spans(blinks))):
            assert start > end


def test_amplitudes_micro_small_macro_several_times_larger(truth: dict) -> None:
    expressions = [e for v in truth["videos"] for e in v["expressions"]]
    micro = [e["apex_displacement_aligned_px"] for e in expressions if e["kind"] == "micro"]
    macro = [e["apex_displacement_aligned_px"] for e in expressions if e["kind"] == "macro"]
    assert max(micro) <= 2.0 * TINY.micro_intensity + 1e-6
    assert max(macro) <= 2.0 * TINY.macro_intensity + 1e-6
    assert np.median(macro) > 2.5 * np.median(micro)


def test_a_macro_apex_moves_the_face_more_than_rest(corpus: Path, truth: dict) -> None:
    video = truth["videos"][0]
    folder = corpus / video["subject"] / video["filename"] / "color"

    def grey(n: int) -> np.ndarray:
        image = cv2.imread(str(folder / f"{n}.jpg"), cv2.IMREAD_GRAYSCALE).astype(np.float32)
        return cv2.GaussianBlur(image, (0, 0), 1.5)

    macro = max((e for e in video["expressions"] if e["kind"] == "macro"),
                key=lambda e: e["apex_displacement_aligned_px"])
    moved = np.percentile(np.abs(grey(macro["apex"]) - grey(macro["onset"])), 99.5)
    # Two neutral frames as far apart as that apex is from its onset, before the first event.
    gap = macro["apex"] - macro["onset"]
    still = np.percentile(np.abs(grey(1 + gap) - grey(1)), 99.5)
    assert moved > 2 * still


def test_same_seed_same_bytes_another_seed_other_frames(corpus: Path, tmp_path: Path) -> None:
    again = render_long_corpus(tmp_path / "again", TINY, workers=2, progress=False)
    files = sorted(p.relative_to(corpus) for p in corpus.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((corpus / f).read_bytes() == (again / f).read_bytes() for f in files)
    other = render_long_corpus(tmp_path / "other", dataclasses.replace(TINY, seed=4),
                               workers=1, progress=False)
    assert (other / SHEET_NAME).read_bytes() != (corpus / SHEET_NAME).read_bytes()


def test_held_profile_rises_holds_and_falls() -> None:
    profile = held_profile(40, 6, 12, 0.8)
    assert profile[0] == 0.0 and profile[-1] == 0.0
    assert int(np.argmax(profile)) == 6 and profile[6] == 1.0
    assert np.isclose(profile[18], 0.8)
    assert np.all(np.diff(profile[:7]) > 0) and np.all(np.diff(profile[6:]) <= 0)


def test_speech_tracks_file_is_small_attributed_and_normalised() -> None:
    assert SPEECH_TRACKS_FILE.stat().st_size < 40_000
    record = json.loads(SPEECH_TRACKS_FILE.read_text())
    assert "CC BY 4.0" in record["notice"] and "Cooke" in record["notice"]
    tracks = load_speech_tracks()
    assert len(tracks.tracks) == 10 and tracks.points == SPEECH_POINTS
    norms = np.linalg.norm(tracks.components.reshape(len(tracks.components), -1), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-3)
    # Speech moves the lips and jaw by a good share of the inter-ocular distance.
    peak = max(float(np.linalg.norm(np.einsum("fk,kpc->fpc", t, tracks.components),
                                    axis=-1).max()) for t in tracks.tracks)
    assert 0.1 < peak < 0.5
    resampled = tracks.coefficients(0, 30.0)
    assert abs(len(resampled) / 30.0 - len(tracks.tracks[0]) / tracks.fps) < 0.05


def test_extraction_removes_head_motion_and_keeps_the_mouths() -> None:
    """A face whose jaw drops while its head turns and moves: the measured displacement is
    the jaw's alone."""
    rest = load_faces(240)[0].landmarks
    frames, jaw = [], np.linspace(0, 6.0, 20)  # pixels
    for i, drop in enumerate(jaw):
        face = rest.copy()
        face[[5, 6, 7, 8, 9, 10, 11, 56, 57, 58, 65, 66, 67]] += [0.0, drop]
        angle, scale = np.deg2rad(0.3 * i), 1 + 0.005 * i
        rotation = scale * np.array([[np.cos(angle), -np.sin(angle)],
                                     [np.sin(angle), np.cos(angle)]])
        frames.append(face @ rotation.T + [1.5 * i, -0.7 * i])
    measured = _displacements(_stabilised(np.stack(frames)))
    chin = SPEECH_POINTS.index(8)
    iod = np.linalg.norm(rest[36:42].mean(0) - rest[42:48].mean(0))
    # The rest shape is the most closed mouth (the first frames); the chin drops down.
    assert measured[-1, chin, 1] == pytest.approx(6.0 / iod, rel=0.15)
    assert abs(measured[-1, chin, 0]) < 0.01
    corner = SPEECH_POINTS.index(48)
    assert np.abs(measured[:, corner]).max() < 0.01


def test_params_yaml_holds_the_config_defaults() -> None:
    spot = load_params(REPO / "params.yaml").spot
    for name in CORPORA:
        assert getattr(spot, name) == getattr(SpotConfig(), name), name
    # The corpus scored once draws on faces no tuning corpus uses, at CAS(ME)^3's rate; the
    # 200 fps one too; the tuning corpus is the one the method was tuned on.
    assert spot.corpus.identities == spot.corpus_200fps.identities == "real"
    assert spot.tuning_corpus == SpotCorpusConfig()
    assert (spot.corpus.fps, spot.corpus_200fps.fps) == (30, 200)


def test_a_turning_head_draws_nothing_else() -> None:
    """The turn comes from its own random stream: a corpus with yaw_deg 0 plans exactly what it
    planned before turns existed, and one that turns differs only in its turn."""
    faces = load_faces(TINY.frame_height)
    still = plan_long_corpus(TINY, faces, [90, 120, 150])
    turning = plan_long_corpus(dataclasses.replace(TINY, yaw_deg=5.0), faces, [90, 120, 150])
    for a, b in zip(still, turning, strict=True):
        assert a.yaw is None and b.yaw is not None
        assert np.rad2deg(np.abs(b.yaw)).max() <= 5.0 + 1e-9
        assert np.rad2deg(np.abs(b.yaw)).max() >= 2.5 - 1e-9
        assert dataclasses.replace(a, drift=None, roll=None, gain=None) == \
            dataclasses.replace(b, drift=None, roll=None, gain=None, yaw=None)
        for name in ("drift", "roll", "gain"):
            assert np.array_equal(getattr(a, name), getattr(b, name))


def test_real_identities_draw_only_the_real_faces() -> None:
    cfg = dataclasses.replace(TINY, identities="real", videos=4, videos_per_subject=1)
    faces = corpus_faces(cfg)
    assert len(faces) == len(real_subjects()) and all(f.still.startswith("real/") for f in faces)
    subjects = {spec.subject for spec in plan_long_corpus(cfg, faces, [90, 120, 150])}
    assert subjects <= set(real_subjects())


def test_a_turn_moves_the_nose_most_and_the_background_not_at_all() -> None:
    face = load_faces(240)[0]
    field = yaw_field(face)
    nose = face.landmarks[30].round().astype(int)
    jaw_edge = face.landmarks[0].round().astype(int)
    assert np.all(field[..., 1] == 0)  # sideways only
    assert field[nose[1], nose[0], 0] == pytest.approx(field[..., 0].max(), rel=0.05)
    assert field[jaw_edge[1], jaw_edge[0], 0] < 0.5 * field[nose[1], nose[0], 0]
    assert field[0, 0, 0] == 0 and field[-1, -1, 0] == 0


@pytest.mark.parametrize(("change", "key"), [
    ({"min_seconds": 8.0}, "spot.corpus.min_seconds"),
    ({"blink_in_expression": 1.5}, "spot.corpus.blink_in_expression"),
    ({"videos_per_subject": 0}, "spot.corpus.videos_per_subject"),
])
def test_bad_settings_name_their_key(change: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(key)):
        dataclasses.replace(SpotCorpusConfig(), **change).validate()


def test_cli_renders_the_long_corpus(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    corpus = dataclasses.asdict(dataclasses.replace(TINY, videos=1))
    params.write_text(yaml.safe_dump({"spot": {"corpus": corpus}}))
    out = tmp_path / "out"
    assert cli(["--long", str(out), "--params", str(params), "--seed", "9", "--workers", "1"]) == 0
    recorded = json.loads((out / CORPUS_JSON).read_text())
    assert recorded["parameters"]["seed"] == 9 and len(recorded["videos"]) == 1
    assert cli(["--long", str(out), "--videos", "30"]) == 2  # more videos than faces
    assert cli([str(out), "--videos", "2"]) == 2


def test_the_builtin_clip_corpus_is_unchanged(tmp_path: Path) -> None:
    """Digests and frame statistics of a 3-clip built-in corpus, recorded before its renderer
    was split into reusable pieces for the long videos."""
    cfg = SynthConfig(clips=3)
    faces = load_faces(cfg.frame_height)
    specs = plan_corpus(cfg, faces)
    # Clips that neither speak (synth.speech_probability 0) nor smile a real smile
    # (synth.real_smiles 0) are the clips drawn before either could be rendered: the same plan
    # without the fields that came with them.
    assert all(spec.speech is None and spec.smile is None for spec in specs)
    plan = json.dumps([{k: v for k, v in dataclasses.asdict(s).items()
                        if k not in ("speech", "smile")} for s in specs], sort_keys=True)
    assert hashlib.sha256(plan.encode()).hexdigest() == (
        "ad9c882c469f8a53f843e7fb4db08ccdc63fe1ee41870c03df8fbb84b4e4ad4c")
    write_sheet(tmp_path / "sheet.xlsx", specs)
    assert hashlib.sha256((tmp_path / "sheet.xlsx").read_bytes()).hexdigest() == (
        "91d682dd6eddd9b26409dc88e73569c2d66aedc668b198cb7a576275e50e17c0")
    # Frame means re-recorded when the stills' bicubic resize stopped going through IPP, whose
    # AVX2 and AVX-512 kernels round differently (the same bytes on either CPU since).
    recorded = [(64, 128.124, 3.581, 1.9543), (74, 121.210, 3.187, 1.9639),
                (43, 116.912, 3.024, 0.9588)]
    for spec, (n_frames, mean, apex_change, apex_px) in zip(specs, recorded, strict=True):
        clip = render_clip(spec, faces[spec.subject - 1], cfg)
        frames = np.stack(clip.frames).astype(np.float64)
        assert len(frames) == n_frames
        assert frames.mean() == pytest.approx(mean, abs=2e-3)
        assert np.abs(frames[spec.apex_index] - frames[0]).mean() == pytest.approx(
            apex_change, abs=2e-3)
        assert clip.truth["apex_displacement_aligned_px"] == pytest.approx(apex_px, abs=1e-4)
