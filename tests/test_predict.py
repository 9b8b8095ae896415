"""`attrmer predict`: same prediction from frames and video, JSON schema, every error path."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from attrmer.config import Params
from attrmer.model import VideoNet
from attrmer.modelfile import ModelFileError, save_model_dir
from attrmer.predict import (
    EXIT_INPUT,
    EXIT_MODEL,
    EXIT_OK,
    EXIT_USAGE,
    STEPS,
    InputError,
    Prediction,
    Predictor,
    WindowChoice,
    cli,
    default_model_dirs,
    find_clips,
    predict_paths,
)
from attrmer.predict.command import format_table
from attrmer.predict.long_video import FALLBACK_REASONS

REPO = Path(__file__).resolve().parents[1]
FACES = REPO / "src" / "attrmer" / "synth" / "faces"
CLASSES = ["happiness", "disgust", "repression", "surprise", "sadness"]
CLIP_FRAMES = 10
FULL = WindowChoice("full")


def make_model_dir(directory: Path, *, width: int = 4, seed: int = 0) -> Path:
    """A random-init model directory. Preprocessing keeps the defaults (112 px aligned
    faces, 16 TIM frames), so it is the real one; the network is made cheap (width 4, inputs
    resized to 32 px by prepare_rgb / prepare_flow)."""
    import torch

    torch.manual_seed(seed)
    params = Params.from_dict({"model": {"width": width, "input_size": 32}})
    network = VideoNet.from_config(params.model, num_classes=len(CLASSES))
    save_model_dir(directory, network, params=params, classes=CLASSES)
    return directory


def face_clip(frames: int = CLIP_FRAMES) -> list[np.ndarray]:
    """A committed real face still on a 320×240 canvas, drifting by sub-pixel steps and
    slowly brightening, so the clip has motion for the flow stream."""
    stills = sorted(FACES.glob("grid-*.jpg"))
    if not stills:
        pytest.skip(f"no committed face still in {FACES}")
    still = cv2.cvtColor(cv2.imread(str(stills[0])), cv2.COLOR_BGR2RGB)
    height, width = still.shape[:2]
    canvas = np.full((240, 320, 3), 90, np.uint8)
    top, left = (240 - height) // 2, (320 - width) // 2
    canvas[top:top + height, left:left + width] = still
    clip = []
    for i in range(frames):
        shift = np.float32([[1, 0, 0.3 * i], [0, 1, 0.2 * i]])
        frame = cv2.warpAffine(canvas, shift, (320, 240), borderMode=cv2.BORDER_REPLICATE)
        clip.append(np.clip(frame.astype(np.int16) + i, 0, 255).astype(np.uint8))
    return clip


def write_frame_folder(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True)
    for i, frame in enumerate(frames, start=1):
        cv2.imwrite(str(folder / f"img{i}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return folder


def write_video(path: Path, frames: list[np.ndarray]) -> Path:
    """FFV1 in AVI: lossless, so the video decodes to exactly the frames of the folder."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 25, (width, height))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write FFV1 video")
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("predict")
    frames = face_clip()
    grey = [np.full((96, 96, 3), 128, np.uint8)] * 3
    return {
        "model": make_model_dir(root / "model"),
        "folder": write_frame_folder(root / "frames", frames),
        "video": write_video(root / "clip.avi", frames),
        "grey": write_frame_folder(root / "grey", grey),
        "single": write_frame_folder(root / "single", frames[:1]),
        "root": root,
    }


@pytest.fixture(scope="module")
def predictor(workspace) -> Predictor:
    return Predictor(workspace["model"])


@pytest.fixture
def loaded_once(predictor, monkeypatch) -> None:
    """Let `cli` reuse the module's Predictor for the test model instead of loading dlib and
    the network again (loading itself is tested by the model-error tests and the fixture)."""
    import attrmer.predict.command

    def reuse(model_dirs, device="cpu", *, warm_aligner=True, settings=None):
        assert [Path(d) for d in model_dirs] == predictor.model_dirs
        return predictor

    monkeypatch.setattr(attrmer.predict.command, "Predictor", reuse)


def test_folder_and_video_of_the_same_frames_predict_the_same(predictor, workspace):
    from_folder, from_video = predict_paths(predictor, [workspace["folder"], workspace["video"]],
                                            window=FULL)
    assert "error" not in from_folder and "error" not in from_video, (from_folder, from_video)
    assert from_folder["frames"] == from_video["frames"] == CLIP_FRAMES
    assert from_folder["label"] == from_video["label"]
    for name in CLASSES:
        assert from_folder["probabilities"][name] == pytest.approx(
            from_video["probabilities"][name], abs=1e-4)


def test_predict_frames_returns_a_full_prediction(predictor):
    prediction = predictor.predict_frames(face_clip())
    assert isinstance(prediction, Prediction)
    assert list(prediction.probabilities) == CLASSES
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert prediction.label == max(prediction.probabilities, key=prediction.probabilities.get)
    assert prediction.frames == CLIP_FRAMES
    assert set(prediction.timings) == {"align", "tim", "flow", "network"}
    assert all(seconds >= 0 for seconds in prediction.timings.values())


def test_predict_path_times_every_step(predictor, workspace):
    prediction = predictor.predict_path(workspace["video"], onset=2)
    assert prediction.frames == CLIP_FRAMES - 1
    assert list(prediction.timings) == list(STEPS)
    with pytest.raises(InputError, match="no face found"):
        predictor.predict_path(workspace["grey"])


def test_predict_many_batches_like_one_at_a_time(predictor):
    clip = face_clip()
    shorter = clip[2:]
    one_by_one = [predictor.predict_frames(clip), predictor.predict_frames(shorter)]
    batched = predictor.predict_many([clip, shorter], batch_size=2)
    for single, in_batch in zip(one_by_one, batched, strict=True):
        assert single.label == in_batch.label
        for name in CLASSES:
            assert single.probabilities[name] == pytest.approx(in_batch.probabilities[name],
                                                               abs=1e-5)


def test_json_schema_for_one_clip(workspace, capsys):
    code = cli([str(workspace["folder"]), "--model", str(workspace["model"]), "--json",
                "--window", "full"])
    assert code == EXIT_OK
    [record] = json.loads(capsys.readouterr().out)  # a list, as for several clips
    assert {"path", "label", "probabilities", "frames", "onset", "offset", "model", "window",
            "models", "votes", "agreement", "uncertain", "reasons", "motion"} <= set(record)
    assert record["window"]["how"] == "full"
    assert record["models"] == 1 and record["agreement"] == 1.0
    assert isinstance(record["uncertain"], bool) and isinstance(record["reasons"], list)
    assert isinstance(record["label"], str) and record["label"] in CLASSES
    assert isinstance(record["probabilities"], dict)
    assert set(record["probabilities"]) == set(CLASSES)
    assert all(isinstance(p, float) and 0.0 <= p <= 1.0 for p in record["probabilities"].values())
    assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert (record["frames"], record["onset"], record["offset"]) == (CLIP_FRAMES, 1, CLIP_FRAMES)
    assert record["path"] == str(workspace["folder"])
    assert record["model"] == str(workspace["model"])


def test_several_paths_give_a_list_and_the_output_file(loaded_once, workspace, tmp_path, capsys):
    out = tmp_path / "result" / "predictions.json"
    code = cli([str(workspace["folder"]), str(workspace["video"]), "--model",
                str(workspace["model"]), "--json", "--output", str(out), "--timings"])
    assert code == EXIT_OK
    printed = json.loads(capsys.readouterr().out)
    assert isinstance(printed, list) and len(printed) == 2
    assert json.loads(out.read_text()) == printed
    assert all(set(STEPS) <= set(record["timings"]) for record in printed)
    assert [p.name for p in out.parent.iterdir()] == ["predictions.json"]


def test_table_names_the_label_and_every_class(loaded_once, workspace, capsys):
    code = cli([str(workspace["video"]), "--model", str(workspace["model"])])
    assert code == EXIT_OK
    text = capsys.readouterr().out
    assert str(workspace["video"]) in text
    assert all(name in text for name in CLASSES)


def test_onset_offset_select_the_span(predictor, workspace):
    [record] = predict_paths(predictor, [workspace["video"]],
                             window=WindowChoice("given", 3, 7))
    assert record["window"]["how"] == "given"
    assert (record["onset"], record["offset"], record["frames"]) == (3, 7, 5)


@pytest.mark.parametrize(
    ("onset", "offset", "message"),
    [(0, 5, "must be 1 or more"), (2, 99, "past the clip's last frame"),
     (4, 4, "fewer than 2 frames")],
)
def test_span_out_of_range_is_an_input_error(predictor, workspace, onset, offset, message):
    [record] = predict_paths(predictor, [workspace["folder"]],
                             window=WindowChoice("given", onset, offset))
    assert message in record["error"]
    assert str(workspace["folder"]) in record["error"]


def test_a_folder_of_clips_predicts_each(predictor, workspace, tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    frames = face_clip()
    write_frame_folder(clips / "b_clip", frames)
    write_video(clips / "a_clip.avi", frames)
    (clips / "notes.txt").write_text("not a clip")
    sources = find_clips(clips)
    assert [(s.path.name, s.kind) for s in sources] == [("a_clip.avi", "video"),
                                                         ("b_clip", "frames")]
    records = predict_paths(predictor, [clips])
    assert [Path(r["path"]).name for r in records] == ["a_clip.avi", "b_clip"]
    assert all("label" in r for r in records)


# --- errors ---------------------------------------------------------------------------------

def test_missing_file(predictor, tmp_path, capsys):
    missing = tmp_path / "nowhere.mp4"
    [record] = predict_paths(predictor, [missing])
    assert "no such file" in record["error"] and str(missing) in record["error"]
    # Checked before any model is read: a missing model folder is not what is reported.
    assert cli([str(missing), "--model", str(tmp_path / "no-model")]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "no such file" in err and "no-model" not in err


def test_undecodable_file(predictor, tmp_path):
    garbage = tmp_path / "x.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    [record] = predict_paths(predictor, [garbage])
    assert str(garbage) in record["error"]
    assert "cannot open video" in record["error"] or "no decodable frames" in record["error"]


def test_one_frame_clip(predictor, workspace):
    [record] = predict_paths(predictor, [workspace["single"]])
    assert "at least 2 frames" in record["error"]
    assert str(workspace["single"]) in record["error"]


def test_no_face(predictor, workspace):
    [record] = predict_paths(predictor, [workspace["grey"]])
    assert "no face found" in record["error"] and str(workspace["grey"]) in record["error"]


def test_one_bad_clip_does_not_stop_the_others(loaded_once, workspace, tmp_path, capsys):
    out = tmp_path / "out.json"
    code = cli([str(workspace["grey"]), str(workspace["folder"]), str(tmp_path / "absent"),
                "--model", str(workspace["model"]), "--json", "--output", str(out)])
    captured = capsys.readouterr()
    assert code == EXIT_INPUT
    records = json.loads(captured.out)
    assert [("error" in r) for r in records] == [True, False, True]
    assert records[1]["label"] in CLASSES
    assert "no face found" in captured.err and "absent" in captured.err
    assert json.loads(out.read_text()) == records


def test_a_single_bad_clip_prints_and_writes_nothing(loaded_once, workspace, tmp_path, capsys):
    out = tmp_path / "out.json"
    code = cli([str(workspace["grey"]), "--model", str(workspace["model"]), "--json",
                "--output", str(out)])
    captured = capsys.readouterr()
    assert code == EXIT_INPUT
    # The same shape as for several clips: a list holding the clip's error.
    [record] = json.loads(captured.out)
    assert set(record) == {"path", "error"} and "no face found" in record["error"]
    assert "no face found" in captured.err and str(workspace["grey"]) in captured.err
    assert list(tmp_path.iterdir()) == []


def test_model_dir_missing_files(workspace, tmp_path, capsys):
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "config.json").write_text((workspace["model"] / "config.json").read_text())
    code = cli([str(workspace["folder"]), "--model", str(broken)])
    assert code == EXIT_MODEL
    err = capsys.readouterr().err
    assert str(broken) in err and "model.safetensors" in err


def test_model_dir_absent(workspace, tmp_path, capsys):
    code = cli([str(workspace["folder"]), "--model", str(tmp_path / "no-model")])
    assert code == EXIT_MODEL
    assert "no-model" in capsys.readouterr().err


def test_model_dir_wrong_format_version(workspace, tmp_path, capsys):
    old = tmp_path / "model"
    old.mkdir()
    config = json.loads((workspace["model"] / "config.json").read_text())
    config["format_version"] = 999
    (old / "config.json").write_text(json.dumps(config))
    (old / "model.safetensors").write_bytes((workspace["model"] / "model.safetensors")
                                            .read_bytes())
    code = cli([str(workspace["folder"]), "--model", str(old)])
    assert code == EXIT_MODEL
    err = capsys.readouterr().err
    assert "format version 999" in err and str(old) in err


def test_model_dir_corrupt_weights(workspace, tmp_path, capsys):
    corrupt = tmp_path / "model"
    corrupt.mkdir()
    (corrupt / "config.json").write_text((workspace["model"] / "config.json").read_text())
    (corrupt / "model.safetensors").write_bytes(b"not safetensors at all")
    assert cli([str(workspace["folder"]), "--model", str(corrupt)]) == EXIT_MODEL
    assert str(corrupt) in capsys.readouterr().err


def test_usage_errors_exit_2(workspace, capsys):
    assert cli([]) == EXIT_USAGE
    assert cli([str(workspace["folder"]), "--onset", "5", "--offset", "2"]) == EXIT_USAGE
    assert "before --onset" in capsys.readouterr().err


def test_default_models_are_every_seed_of_the_last_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelFileError, match="dvc repro"):
        default_model_dirs()
    trained = tmp_path / "models" / "seeds"
    for seed in (3, 7, 11):
        (trained / f"seed_{seed}").mkdir(parents=True)
        (trained / f"seed_{seed}" / "config.json").write_text("{}")
    assert default_model_dirs() == [Path(f"models/seeds/seed_{s}") for s in (3, 7, 11)]
    (tmp_path / "params.yaml").write_text("train:\n  seeds: [7, 3]\n")
    assert default_model_dirs() == [Path("models/seeds/seed_3"), Path("models/seeds/seed_7")]
    (tmp_path / "params.yaml").write_text("train:\n  seeds: [7]\n")
    assert default_model_dirs() == [Path("models/seeds/seed_7")]
    # `--model models/` finds the train stage's folder of seeds inside it.
    from attrmer.predict.predictor import model_dirs

    assert model_dirs(tmp_path / "models") == [trained / f"seed_{s}" for s in (3, 7, 11)]


def test_a_folder_of_models_leaves_out_the_pretrained_network(tmp_path):
    from attrmer.predict.predictor import model_dirs

    for name in ("seed_0", "seed_1", "pretrained"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text("{}")
    (tmp_path / "pretrained" / "status.json").write_text('{"status": "pretrained"}')
    assert model_dirs(tmp_path) == [tmp_path / "seed_0", tmp_path / "seed_1"]
    # Named on its own, it is a model like any other.
    assert model_dirs(tmp_path / "pretrained") == [tmp_path / "pretrained"]


# --- real footage ---------------------------------------------------------------------------

def test_real_smile_video_gives_a_valid_prediction(shared_data, workspace, capsys):
    video = shared_data / "faces-video" / "single_face.mp4"
    if not video.is_file():
        pytest.skip(f"{video} is absent")
    trained = REPO / "models" / "seeds" / "seed_0"
    model = trained if (trained / "config.json").is_file() else workspace["model"]
    code = cli([str(video), "--model", str(model), "--json", "--window", "full"])
    assert code == EXIT_OK
    [record] = json.loads(capsys.readouterr().out)
    assert record["frames"] == 72
    assert record["label"] in record["probabilities"]
    assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    with capsys.disabled():
        kind = "trained" if model == trained else "random-init (no trained model)"
        print(f"\nsingle_face.mp4 with the {kind} model {model}: {record['label']} "
              f"{json.dumps({k: round(v, 3) for k, v in record['probabilities'].items()})}")


# --- windows, ensembles and doubt -----------------------------------------------------------

def test_auto_window_names_its_frames_and_seconds(predictor, workspace):
    [record] = predict_paths(predictor, [workspace["video"]])
    window = record["window"]
    assert window["how"] in ("auto", "full (no motion peak)")
    assert 1 <= window["onset"] <= window["apex"] <= window["offset"] <= CLIP_FRAMES
    assert record["frames"] == window["offset"] - window["onset"] + 1
    # The test video is written at 25 fps: frame k starts at (k - 1) / 25 s.
    assert window["seconds"] == [pytest.approx((window["onset"] - 1) / 25, abs=1e-3),
                                 pytest.approx(window["offset"] / 25, abs=1e-3)]
    [folder] = predict_paths(predictor, [workspace["folder"]])
    assert folder["window"]["seconds"] is None  # a frame folder has no frame rate


def test_a_long_video_is_spotted_and_each_micro_expression_classified(predictor, workspace,
                                                                     tmp_path, monkeypatch):
    from test_spot_cli import MOVEMENT, face_video_frames

    import attrmer.predict.long_video as long_video
    from attrmer.predict.clips import ClipSource, WindowChoice

    folder = write_frame_folder(tmp_path / "recording", face_video_frames())
    [record] = predict_paths(predictor, [folder], window=WindowChoice("spot"), fps=30.0)
    window = record["window"]
    assert window["how"] == "spot" and window["spotted"]["kind"] == "micro"
    # The mouth corner moves over frames 41-51 (1-based); the spotted window holds its apex.
    onset, apex, offset = (m + 1 for m in MOVEMENT)
    assert window["onset"] <= apex <= window["offset"]
    assert abs(window["onset"] - onset) <= 3 and abs(window["offset"] - offset) <= 3
    assert record["frames"] == window["offset"] - window["onset"] + 1
    # `auto` spots only a clip longer than LONG_CLIP_SECONDS: 90 frames are 3 s at 30 fps.
    source = ClipSource(folder, "frames")
    assert long_video.clip_frame_count(source) == 90
    assert not long_video.is_long(source, 30.0) and long_video.is_long(source, 5.0)
    monkeypatch.setattr(long_video, "LONG_CLIP_SECONDS", 2.0)
    [auto] = predict_paths(predictor, [folder], fps=30.0)
    assert auto["window"]["how"] == "spot"
    # A face that never moves still gets an answer: the window of strongest motion, marked
    # uncertain with what it is before any other reason.
    still = write_frame_folder(tmp_path / "still", [face_video_frames()[0]] * 60)
    [none] = predict_paths(predictor, [still], window=WindowChoice("spot"), fps=30.0)
    assert "error" not in none and none["label"] in none["probabilities"]
    assert none["window"]["spotted"] == {"kind": "strongest motion"}
    assert none["uncertain"] and none["reasons"][0] == FALLBACK_REASONS["strongest motion"]
    assert "(the strongest motion of the video: nothing was spotted)" in format_table(none)


def test_a_long_video_with_only_a_macro_expression_has_it_classified(predictor, tmp_path):
    from test_spot_cli import face_video_frames

    from attrmer.predict.clips import WindowChoice

    # The mouth corner's movement of `face_video_frames`, slowed to 1.5 s: a macro-expression.
    frames = face_video_frames()
    slow = frames[:40] + [frames[40 + (i * 10) // 45] for i in range(45)] + frames[50:] * 2
    folder = write_frame_folder(tmp_path / "recording", slow)
    [record] = predict_paths(predictor, [folder], window=WindowChoice("spot"), fps=30.0)
    assert record["window"]["how"] == "spot"
    assert record["window"]["spotted"]["kind"] == "macro"
    assert record["uncertain"] and record["reasons"][0] == FALLBACK_REASONS["macro"]
    assert "spot (a spotted macro-expression" in format_table(record)


def test_window_option_is_checked(workspace, capsys):
    assert cli([str(workspace["folder"]), "--window", "soon"]) == EXIT_USAGE
    assert "--window 'soon'" in capsys.readouterr().err
    assert cli([str(workspace["folder"]), "--window", "full", "--onset", "2"]) == EXIT_USAGE
    assert "give one" in capsys.readouterr().err


@pytest.mark.parametrize("device", ["foo", "cuda:7"])
def test_a_device_torch_cannot_use_is_one_line_on_exit_2(workspace, capsys, device):
    import torch

    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has 8 GPUs")
    assert cli([str(workspace["folder"]), "--model", str(workspace["model"]),
                "--device", device]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"--device {device}" in err.replace("'", "")


def test_a_folder_of_models_is_an_ensemble_with_votes(workspace, tmp_path):
    ensemble = tmp_path / "models"
    for seed in range(3):
        make_model_dir(ensemble / f"seed_{seed}", seed=seed)
    predictor = Predictor(ensemble)
    assert len(predictor.bundles) == 3 and predictor.model_dir == ensemble
    [record] = predict_paths(predictor, [workspace["folder"]], window=FULL)
    assert record["models"] == 3 and sum(record["votes"].values()) == 3
    assert record["agreement"] == pytest.approx(record["votes"].get(record["label"], 0) / 3,
                                                abs=1e-4)
    singles = [Predictor(ensemble / f"seed_{s}").predict_path(workspace["folder"])
               for s in range(3)]
    for name in CLASSES:  # the ensemble's probability is the models' mean
        assert record["probabilities"][name] == pytest.approx(
            np.mean([p.probabilities[name] for p in singles]), abs=1e-5)
    if record["agreement"] < 0.8:
        assert record["uncertain"] and any("disagree" in r for r in record["reasons"])


def test_models_of_other_classes_cannot_form_an_ensemble(tmp_path, capsys, workspace):
    import torch

    ensemble = tmp_path / "models"
    make_model_dir(ensemble / "seed_0")
    params = Params.from_dict({"model": {"width": 4, "input_size": 32}})
    torch.manual_seed(0)
    network = VideoNet.from_config(params.model, num_classes=3)
    save_model_dir(ensemble / "seed_1", network, params=params, classes=CLASSES[:3])
    assert cli([str(workspace["folder"]), "--model", str(ensemble)]) == EXIT_MODEL
    assert "ensemble needs models trained on the same inputs" in capsys.readouterr().err


def test_a_short_clip_and_an_untrained_motion_are_uncertain(workspace, tmp_path):
    import torch

    params = Params.from_dict({"model": {"width": 4, "input_size": 32}})
    torch.manual_seed(0)
    network = VideoNet.from_config(params.model, num_classes=len(CLASSES))
    # Training clips that all moved 50-80 px: this clip's motion is far below them.
    model = tmp_path / "model"
    save_model_dir(model, network, params=params, classes=CLASSES,
                   extra={"motion": {"min": 50.0, "p05": 55.0, "median": 60.0, "p95": 75.0,
                                     "max": 80.0},
                          "calibration": {"temperature": 2.0}})
    predictor = Predictor(model)
    [record] = predict_paths(predictor, [workspace["folder"]], window=WindowChoice("given", 1, 3))
    assert record["uncertain"]
    assert any("only 3 frames" in r for r in record["reasons"])
    assert any("barely moves" in r for r in record["reasons"])


def test_a_model_config_with_bad_flow_settings_is_a_model_error(workspace, tmp_path, capsys):
    broken = tmp_path / "model"
    broken.mkdir()
    config = json.loads((workspace["model"] / "config.json").read_text())
    config["flow"]["head_motion"] = "wobble"
    (broken / "config.json").write_text(json.dumps(config))
    (broken / "model.safetensors").write_bytes((workspace["model"] / "model.safetensors")
                                               .read_bytes())
    assert cli([str(workspace["folder"]), "--model", str(broken)]) == EXIT_MODEL
    err = capsys.readouterr().err.strip()
    assert "head_motion" in err and str(broken) in err and "\n" not in err


def _rendered(speech: bool, n: int = 80) -> list[np.ndarray]:
    """A built-in face rendered at 200 fps with a smile (AU12) peaking at frame 30 and, with
    `speech`, the mouth opening and closing 5 times a second (2 syllables in 80 frames)."""
    from attrmer.config import SynthConfig
    from attrmer.synth.identities import load_faces
    from attrmer.synth.motion import AuMotion
    from attrmer.synth.render import ClipSpec, Speech, render_clip

    cfg = SynthConfig(drift_px=0.0, blink_probability=0.0, frame_height=240)
    face = load_faces(cfg.frame_height)[0]
    spec = ClipSpec(subject=face.subject, filename="EP01_01", emotion="happiness",
                    aus=(AuMotion(12, None, 1.5),), onset_frame=1, n_frames=n, apex_index=30,
                    blink=None, drift=((0.0, 0.0),) * n, gain=(1.0,) * n, noise_seed=3,
                    speech=Speech(rate_hz=5.0, phase=0.0, opening_px=3.0) if speech else None)
    return render_clip(spec, face, cfg).frames


def test_a_speaking_mouth_is_uncertain_and_a_micro_expression_is_not(workspace, tmp_path):
    """Rendered speech (the jaw opening 3 px and closing twice) makes the answer uncertain
    with the mouth's count; the same smile without speech opens no cycle."""
    from attrmer.predict.confidence import mouth_cycles

    predictor = Predictor(workspace["model"])
    speaking = write_frame_folder(tmp_path / "speaking", _rendered(True))
    silent = write_frame_folder(tmp_path / "silent", _rendered(False))
    for window in (WindowChoice("auto"), FULL):
        [talk] = predict_paths(predictor, [speaking], window=window)
        [smile] = predict_paths(predictor, [silent], window=window)
        assert talk["uncertain"]
        assert any("the mouth opens and closes 2 times" in r for r in talk["reasons"]), window
        assert not any("mouth" in r for r in smile["reasons"])
        assert "mouth_cycles" not in talk["window"]
    assert mouth_cycles(predictor.align(_rendered(False))) == 0


def test_mouth_cycles_count_openings_and_closings_not_one_held_opening(monkeypatch):
    """The chin's track as a zigzag of legs of at least spot.speech_jaw_drop (1.5 px): two
    legs a cycle; a mouth that opens once and stays open (a laugh, a broad smile) is none."""
    import attrmer.spot.tracking
    from attrmer.predict.confidence import mouth_cycles
    from attrmer.spot.regions import CHIN, REGIONS

    def cycles(chin: list[float]) -> int:
        positions = np.zeros((len(chin), len(REGIONS), 2), np.float32)
        positions[:, CHIN, 1] = chin
        tracks = type("Tracks", (), {"positions": positions})()
        monkeypatch.setattr(attrmer.spot.tracking, "track_aligned", lambda *a, **k: tracks)
        return mouth_cycles(np.zeros((len(chin), 8, 8, 3), np.uint8))

    assert cycles([0, 0.5, 2.0, 2.5, 2.6, 2.4]) == 0  # opens once, holds
    assert cycles([0, 2, 0, 2, 0]) == 2
    assert cycles([0, 2, 0, 2, 1]) == 1  # the second closing is not complete
    assert cycles([0, 1.2, 0.1, 1.3, 0.0, 1.4]) == 0  # below the jaw drop of a syllable
    assert cycles([5, 2, 8, 0]) == 1  # down, up, down: three legs
    assert cycles([0, 3]) == 0  # too few frames to hold a cycle


def test_an_uncertain_answer_says_why_before_any_percentage_and_draws_no_bar() -> None:
    record = {
        "path": "clip.mp4", "label": "happiness", "uncertain": True,
        "reasons": ["the 5 models disagree (3 happiness, 2 repression)"],
        "probabilities": {"happiness": 0.52, "repression": 0.48},
        "window": {"onset": 1, "offset": 30, "apex": 12, "how": "auto", "seconds": None},
        "frames": 30, "models": 5, "votes": {"happiness": 3, "repression": 2},
        "model": "models/seeds",
    }
    lines = format_table(record).splitlines()
    assert lines[0] == "clip.mp4: happiness  (uncertain)"
    assert lines[1] == "  ! the 5 models disagree (3 happiness, 2 repression)"
    assert "#" not in "\n".join(lines) and "52.0%" in lines[-2]
    sure = format_table(record | {"uncertain": False, "reasons": []})
    assert "!" not in sure and "####" in sure


def test_an_interrupted_batch_keeps_the_clips_already_answered(loaded_once, workspace, tmp_path,
                                                                monkeypatch, capsys):
    """Ctrl-C (or SIGTERM) in a batch: the clips answered before it are printed and written
    to --output, one line says how many, and the exit is 130."""
    import attrmer.predict.command as command

    classify = command.classify_prepared
    calls = []

    def interrupted_on_the_third_batch(predictor, jobs, batch_size=8):
        calls.append(len(jobs.prepared))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return classify(predictor, jobs, batch_size)

    monkeypatch.setattr(command, "classify_prepared", interrupted_on_the_third_batch)
    monkeypatch.setattr(command, "PREPARE_AHEAD_MAX_CLIPS", 2)  # a batch of many clips
    out = tmp_path / "answers.json"
    clips = [workspace["folder"], workspace["video"], workspace["folder"], workspace["video"]]
    code = cli([*map(str, clips), "--model", str(workspace["model"]), "--batch-size", "1",
                "--window", "full", "--json", "--output", str(out)])
    captured = capsys.readouterr()
    assert code == 130
    printed = json.loads(captured.out)
    assert len(printed) == 2 and all(r["label"] in CLASSES for r in printed)
    assert json.loads(out.read_text()) == printed
    assert "interrupted after 2 of 4 clips" in captured.err.strip().splitlines()[-1]


def test_a_window_that_outlasts_the_face_says_so(predictor, workspace, tmp_path):
    """--window full (or a given window) keeps every frame asked for; when the face leaves
    the shot within them, the answer is marked uncertain and says from which frame."""
    frames = face_clip()
    gone = [np.full_like(frames[0], 90)] * len(frames)
    folder = write_frame_folder(tmp_path / "leaves", frames + gone)
    [whole] = predict_paths(predictor, [folder], window=FULL)
    assert "error" not in whole, whole
    assert whole["uncertain"]
    assert any(f"leaves the shot {len(frames)} frames into" in r for r in whole["reasons"])
    assert whole["window"]["face_lost_at"] == len(frames) + 1
    [stays] = predict_paths(predictor, [workspace["folder"]], window=FULL)
    assert not any("leaves the shot" in r for r in stays["reasons"])


def test_a_video_cut_short_is_answered_with_a_warning(predictor, workspace, tmp_path):
    """A file shorter than its header declares, or one its decoder finds damaged, is still
    predicted, and the record says what is wrong with the file."""
    from attrmer.predict.clips import video_warnings

    whole = workspace["video"].read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    [record] = predict_paths(predictor, [cut], window=FULL)
    assert "error" not in record, record
    assert record["warnings"] and "cut short" in record["warnings"][0], record["warnings"]
    assert "! the file: the video declares" in format_table(record)
    [intact] = predict_paths(predictor, [workspace["video"]], window=FULL)
    assert intact["warnings"] == []
    said = video_warnings(None, None, ["[mpeg1video @ 0x1] ac-tex damaged at 20 0",
                                       "predict: 50%|#####", "an error-free line"])
    assert len(said) == 1 and "damaged data 1 time(s)" in said[0]
