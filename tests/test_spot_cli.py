"""`attrmer spot` on a small generated long video: the files it writes, and its error paths."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from attrmer.cli import COMMANDS
from attrmer.io import OWNER_MARKER
from attrmer.predict.command import EXIT_INPUT, EXIT_OK
from attrmer.spot.command import cli, video_key, video_name
from attrmer.synth.make_stills import FACES_DIR, LANDMARKS_FILE

FRAMES = 90  # 3 s at 30 fps
MOVEMENT = (40, 45, 50)  # 0-based onset, apex, offset of a mouth-corner movement


def face_video_frames() -> list[np.ndarray]:
    """A bundled face still on a 320x240 canvas with sensor noise, its left mouth corner
    pulled down and back over frames 41-51 (1-based)."""
    face = json.loads((FACES_DIR / LANDMARKS_FILE).read_text())["faces"][0]
    still = cv2.imread(str(FACES_DIR / face["still"]))
    corner = np.array(face["landmarks"][48], np.float32)
    height, width = still.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    bump = np.exp(-((xs - corner[0]) ** 2 + (ys - corner[1]) ** 2) / (2 * 9.0 ** 2))
    rng = np.random.default_rng(0)
    onset, apex, offset = MOVEMENT
    frames = []
    for t in range(FRAMES):
        strength = (max(0.0, 1 - abs(t - apex) / (apex - onset)) if onset <= t <= offset
                    else 0.0)
        moved = cv2.remap(still, xs, ys - 4.0 * strength * bump, cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)
        canvas = np.full((240, 320, 3), 90, np.float32)
        top, left = (240 - height) // 2, (320 - width) // 2
        canvas[top:top + height, left:left + width] = moved
        canvas += rng.normal(0, 1.5, canvas.shape)
        frames.append(np.clip(canvas, 0, 255).astype(np.uint8))
    return frames


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The frames in the CAS(ME)^3 layout: spNO.1/a/color/<N>.jpg, N from 1, with depth/."""
    video = tmp_path_factory.mktemp("casme3") / "spNO.1" / "a"
    (video / "color").mkdir(parents=True)
    (video / "depth").mkdir()
    for number, frame in enumerate(face_video_frames(), start=1):
        cv2.imwrite(str(video / "color" / f"{number}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
    cv2.imwrite(str(video / "depth" / "1.png"), np.zeros((8, 8), np.uint8))
    return video


def test_spot_is_a_subcommand() -> None:
    assert COMMANDS["spot"][0] == "attrmer.spot.command"


def test_spot_writes_its_files_and_finds_the_movement(
        long_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth = tmp_path / "truth.csv"
    truth.write_text("video_key,onset,apex,offset,kind\n"
                     "spNO.1/a,41,46,51,micro\nspNO.2/a,10,12,14,micro\n")
    out = tmp_path / "out"
    code = cli([str(long_video), "--out", str(out), "--truth", str(truth), "--json"])
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err
    assert {p.name for p in out.iterdir()} == {"intervals.csv", "intervals.json", "timeline.png",
                                               OWNER_MARKER}
    record = json.loads(captured.out)
    assert record == json.loads((out / "intervals.json").read_text())
    assert record["frames"] == FRAMES and record["fps"] == 30.0  # the folder default, noted:
    assert "30 fps assumed" in captured.err
    assert record["path"].endswith("color")  # the colour frames, not depth/
    micro = [i for i in record["intervals"] if i["kind"] == "micro"]
    assert len(micro) == 1 and micro[0]["matches_truth"]
    assert 38 <= micro[0]["onset"] <= 43 and 49 <= micro[0]["offset"] <= 54
    assert micro[0]["region"] == "mouth_left"
    assert record["truth"]["micro"] == {"tp": 1, "fp": 0, "fn": 0}
    lines = (out / "intervals.csv").read_text().splitlines()
    assert lines[0].startswith("onset,apex,offset,kind,score,region")
    assert len(lines) == 1 + len(record["intervals"])
    image = cv2.imread(str(out / "timeline.png"))
    assert image is not None and image.shape[1] > 1000


def test_the_table_names_each_interval_in_frames_and_seconds(
        long_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli([str(long_video / "color"), "--out", str(tmp_path / "out"), "--fps", "30"]) == \
        EXIT_OK
    out = capsys.readouterr().out
    assert f"{FRAMES} frames (1-{FRAMES}) at 30 fps" in out
    assert "micro" in out and "mouth_left" in out and "wrote" in out


def test_a_missing_path_is_one_line_and_exit_2(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.mp4"
    assert cli([str(missing), "--out", str(tmp_path / "out")]) == EXIT_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(missing) in err[0] and err[0].startswith("attrmer spot:")
    assert not (tmp_path / "out").exists()


def test_an_undecodable_video_is_one_line_and_exit_2(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 100)
    assert cli([str(broken), "--out", str(tmp_path / "out")]) == EXIT_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.mp4" in err[0]


@pytest.mark.parametrize("args, names, code", [
    (["--fps", "0"], "--fps", 2),
    (["--params", "absent.yaml"], "absent.yaml", 1),
    (["--truth", "absent.csv"], "absent.csv", 1),
])
def test_bad_options_and_files_are_one_line(long_video: Path, tmp_path: Path, args: list[str],
                                            names: str, code: int,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert cli([str(long_video), "--out", str(tmp_path / "out"), *args]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and names in err[0]


def test_a_bad_spot_setting_names_its_key(long_video: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("spot:\n  micro_noise: -1\n")
    assert cli([str(long_video), "--params", str(params)]) == EXIT_INPUT
    assert "spot.micro_noise" in capsys.readouterr().err


def test_a_truth_file_without_this_video_is_an_input_error(
        long_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth = tmp_path / "truth.csv"
    truth.write_text("video_key,onset,offset,kind\nspNO.9/b,1,5,micro\n")
    assert cli([str(long_video), "--truth", str(truth)]) == EXIT_INPUT
    assert "spNO.1/a" in capsys.readouterr().err


@pytest.mark.parametrize("rows, says", [
    ("onset,offset,kind\n5,9\n", "row 2: kind ''"),  # a short row
    ("onset,offset,kind\n5,9,micro\n9,5,micro\n", "row 3: interval 9-5"),
    ("video_key,onset,offset,kind\nspNO.9/b,1,5,micro\nspNO.1/a,x,5,micro\n", "row 3:"),
])
def test_a_bad_truth_row_is_named_by_its_row(long_video: Path, tmp_path: Path, rows: str,
                                             says: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    truth = tmp_path / "truth.csv"
    truth.write_text(rows)
    assert cli([str(long_video), "--truth", str(truth), "--out", str(tmp_path / "o")]) == \
        EXIT_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0] and "truth.csv" in err[0]


def test_names_of_a_casme3_frame_folder(long_video: Path) -> None:
    assert video_name(long_video / "color") == "spNO.1_a"
    assert video_key(long_video / "color") == "spNO.1/a"


def test_format_megc_writes_the_scoring_tools_layout(
        long_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Spot-then-recognise of one video: each spotted interval classified by the models and
    written as the challenge's scoring tool reads a submission (subject, video, onset, offset,
    emotion), the same rows printed."""
    from attrmer.spot.strs import MEGC_CLASSES
    from tests.test_predict import make_model_dir

    model = make_model_dir(tmp_path / "model")
    out = tmp_path / "out"
    assert cli([str(long_video), "--out", str(out), "--format", "megc", "--model",
                str(model)]) == EXIT_OK
    printed = capsys.readouterr().out
    written = (out / "megc.csv").read_text()
    assert printed == written
    intervals = json.loads((out / "intervals.json").read_text())["intervals"]
    lines = written.splitlines()
    assert lines[0] == "subject,video,onset,offset,emotion"  # the tool's columns, in its order
    assert len(lines) == 1 + len(intervals) >= 2
    for line, interval in zip(lines[1:], intervals, strict=True):
        subject, video, onset, offset, emotion = line.split(",")
        assert (subject, video) == ("spNO.1", "a")  # as the CAS(ME)^3 sheet names the video
        assert (int(onset), int(offset)) == (interval["onset"], interval["offset"])
        assert emotion in MEGC_CLASSES


def test_format_megc_without_models_is_a_model_error(
        long_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a folder with no models/seeds
    assert cli([str(long_video), "--out", str(tmp_path / "out"), "--format", "megc",
                "--fps", "30"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no trained model" in err[0]
    assert not (tmp_path / "out" / "megc.csv").exists()


def test_json_and_another_format_are_a_usage_error(long_video: Path, tmp_path: Path) -> None:
    assert cli([str(long_video), "--out", str(tmp_path / "out"), "--json",
                "--format", "megc"]) == 2
