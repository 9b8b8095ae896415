"""Frame reading, `preprocess_clip` and the align / interpolate / flow stages end to end."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml

from attrmer.config import FlowConfig, PreprocessConfig
from attrmer.manifest import COLUMNS, frame_paths, write_manifest
from attrmer.preprocess.align import FaceAligner
from attrmer.preprocess.clip import preprocess_clip
from attrmer.preprocess.frames import (
    ClipError,
    load_clip_frames,
    read_frame_folder,
    read_video,
)
from attrmer.preprocess.pipeline import PreprocessError, run_align
from attrmer.preprocess.store import ClipStore
from stages import align as align_stage
from stages import flow as flow_stage
from stages import interpolate as interpolate_stage

STILL = Path(__file__).resolve().parents[1] / "src/attrmer/synth/faces/grid-lwbsza.jpg"


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    if not STILL.is_file():
        pytest.skip(f"{STILL} is absent")
    return cv2.imread(str(STILL))  # BGR, as written to disk below


def write_clip(folder: Path, face: np.ndarray, n: int, seed: int) -> None:
    """n JPEG frames of the face on a small canvas, drifting by a fraction of a pixel."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    canvas = np.full((260, 300, 3), 110, np.uint8)
    h, w = face.shape[:2]
    canvas[15:15 + h, 30:30 + w] = face
    for i in range(n):
        shift = np.float32([[1, 0, 0.1 * i], [0, 1, 0.05 * i]])
        frame = cv2.warpAffine(canvas, shift, (300, 260), borderMode=cv2.BORDER_REFLECT)
        frame = np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"img{i + 1}.jpg"), frame)


def manifest_row(root: Path, subject: str, clip: str, n: int, label: int) -> dict:
    return {"key": f"{subject}/{clip}", "dataset": "test", "subject": subject, "clip": clip,
            "frame_dir": str(root / subject / clip), "frame_pattern": "img{}.jpg",
            "onset": 1, "apex": n // 2, "offset": n, "action_units": "12",
            "aus": '[{"number": 12}]', "emotion": "happiness", "label": label,
            "class_name": "happiness",
            "split": "train", "status": "ok", "reason": ""}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, face: np.ndarray) -> Path:
    """Four good clips, one with a missing frame, one without a face, one excluded row."""
    root = tmp_path_factory.mktemp("corpus")
    rows = []
    for c, n in enumerate((7, 9, 12, 5)):
        write_clip(root / f"sub0{c % 2 + 1}" / f"ep{c}", face, n, seed=c)
        rows.append(manifest_row(root, f"sub0{c % 2 + 1}", f"ep{c}", n, label=c % 2))
    write_clip(root / "sub03" / "gap", face, 6, seed=9)
    (root / "sub03" / "gap" / "img4.jpg").unlink()
    rows.append(manifest_row(root, "sub03", "gap", 6, label=0))
    noface = root / "sub03" / "noface"
    noface.mkdir(parents=True)
    for i in range(4):
        cv2.imwrite(str(noface / f"img{i + 1}.jpg"), np.full((120, 160, 3), 60 + i, np.uint8))
    rows.append(manifest_row(root, "sub03", "noface", 4, label=1))
    rows.append({**manifest_row(root, "sub04", "other", 4, label=-1), "status": "excluded",
                 "reason": "class not in the chosen set"})
    write_manifest(pd.DataFrame(rows, columns=COLUMNS), root / "manifest.csv")
    params = {"preprocess": {"size": 64, "frames": 6, "workers": 1,
                             "max_failure_fraction": 0.4}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


# --- reading frames ----------------------------------------------------------------------------

def jpeg_bytes(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image)[1].tobytes()


def test_bad_frames_get_their_reasons(tmp_path: Path) -> None:
    good = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    (tmp_path / "good.jpg").write_bytes(jpeg_bytes(good))
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG stream \xff\xd9")
    data = jpeg_bytes(good)
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "wide.jpg").write_bytes(jpeg_bytes(np.zeros((40, 60, 3), np.uint8)))
    (tmp_path / "empty.jpg").write_bytes(b"")
    cases = {
        "corrupt.jpg": "corrupt image",
        "truncated.jpg": "truncated JPEG",
        "missing.jpg": "missing frame",
        "wide.jpg": "frames of different sizes",
        "empty.jpg": "empty frame file",
    }
    for name, reason in cases.items():
        with pytest.raises(ClipError) as info:
            load_clip_frames([tmp_path / "good.jpg", tmp_path / name])
        assert info.value.reason == reason, name
        assert name in str(info.value)
    with pytest.raises(ClipError, match="no frames"):
        load_clip_frames([])


def test_grey_images_become_rgb(tmp_path: Path) -> None:
    grey = np.random.default_rng(0).integers(0, 256, (30, 40), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    colour = np.zeros((30, 40, 3), np.uint8)
    colour[..., 2] = 200  # red in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "colour.png"), colour)
    frames = load_clip_frames([tmp_path / "grey.png", tmp_path / "colour.png"])
    assert frames[0].shape == (30, 40, 3)
    np.testing.assert_array_equal(frames[0][..., 1], grey)
    assert frames[1][0, 0].tolist() == [200, 0, 0]  # RGB in memory


def test_frame_folder_sorts_naturally(tmp_path: Path) -> None:
    for i in (10, 2, 1):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), np.full((4, 4, 3), i, np.uint8))
    (tmp_path / "notes.txt").write_text("not a frame")
    frames = read_frame_folder(tmp_path)
    assert [int(f[0, 0, 0]) for f in frames] == [1, 2, 10]
    with pytest.raises(ClipError, match="no such frame folder"):
        read_frame_folder(tmp_path / "absent")


def test_video_errors(tmp_path: Path) -> None:
    with pytest.raises(ClipError, match="no such video file"):
        read_video(tmp_path / "absent.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 2048)
    with pytest.raises(ClipError) as info:
        read_video(tmp_path / "junk.mp4")
    assert "junk.mp4" in str(info.value)


def test_video_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG AVI")
    for i in range(5):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    frames = read_video(path)
    assert len(frames) == 5 and frames[0].shape == (48, 64, 3)
    assert len(read_video(path, max_frames=2)) == 2


# --- one clip ----------------------------------------------------------------------------------

def test_preprocess_clip_shapes_and_one_frame_clip(corpus: Path) -> None:
    frames = read_frame_folder(corpus / "sub01" / "ep0")
    aligner = FaceAligner(64)
    clip = preprocess_clip(frames, aligner=aligner, frames_out=6, flow_cfg=FlowConfig())
    assert clip.rgb.shape == (3, 6, 64, 64) and clip.rgb.dtype == np.uint8
    assert clip.flow.shape == (2, 6, 64, 64) and clip.flow.dtype == np.float32
    assert clip.landmarks.shape == (68, 2) and clip.matrix.shape == (2, 3)
    assert clip.status == "ok" and clip.n_source_frames == 7
    # The clip drifts 0.1 px per frame to the right: small positive u, no min-max stretching.
    assert 0 < float(np.median(clip.flow[0])) < 0.5
    with pytest.raises(ClipError) as info:
        preprocess_clip(frames[:1], aligner=aligner, frames_out=6, flow_cfg=FlowConfig())
    assert info.value.reason == "one-frame clip"


# --- the stages --------------------------------------------------------------------------------

def run_stages(corpus: Path, out: Path, extra: list[str] = ()) -> None:
    params = ["--params", str(corpus / "params.yaml"), "--no-progress", *extra]
    assert align_stage.main([*params, "--manifest", str(corpus / "manifest.csv"),
                             "--out", str(out / "aligned.h5")]) == 0
    assert interpolate_stage.main([*params, "--aligned", str(out / "aligned.h5"),
                                   "--out", str(out / "rgb.h5")]) == 0
    assert flow_stage.main([*params, "--aligned", str(out / "aligned.h5"),
                            "--out", str(out / "flow.h5")]) == 0


def test_stages_write_the_three_stores(corpus: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    run_stages(corpus, tmp_path)
    summary = capsys.readouterr().err
    assert "align: 6 clips in, 4 out, 2 failed" in summary
    assert "missing frame: 1" in summary and "no face found: 1" in summary

    aligned = ClipStore(tmp_path / "aligned.h5")
    rgb = ClipStore(tmp_path / "rgb.h5")
    flow = ClipStore(tmp_path / "flow.h5")
    keys = ["sub01/ep0", "sub02/ep1", "sub01/ep2", "sub02/ep3"]
    assert aligned.keys == rgb.keys == flow.keys == keys
    assert [aligned.read(i).shape[0] for i in range(4)] == [7, 9, 12, 5]
    assert rgb.read(0).shape == (3, 6, 64, 64) and rgb.read(0).dtype == np.uint8
    assert flow.read(0).shape == (2, 6, 64, 64) and flow.read(0).dtype == np.float16
    for store in (aligned, rgb, flow):
        failures = {f["key"]: f["reason"] for f in store.attrs["failures"]}
        assert failures == {"sub03/gap": "missing frame: img4.jpg",
                            "sub03/noface": "no face found"}
        assert list(store.meta["label"]) == [0, 1, 0, 1]
        assert list(store.meta["n_source_frames"]) == [7, 9, 12, 5]
        assert set(store.meta["align_status"]) == {"ok"}
        assert store.meta_array("landmarks").shape == (4, 68, 2)
        assert store.meta_array("align_matrix").shape == (4, 2, 3)
    assert rgb.attrs["params"]["preprocess"]["frames"] == 6
    assert flow.attrs["params"]["flow"]["reference"] == "consecutive"
    assert rgb.attrs["summary"]["clips_out"] == 4

    # The stages and predict share one implementation: same frames, same inputs.
    row = pd.read_csv(corpus / "manifest.csv", keep_default_na=False).iloc[2]
    direct = preprocess_clip(load_clip_frames(frame_paths(row)), aligner=FaceAligner(64),
                             frames_out=6, flow_cfg=FlowConfig())
    np.testing.assert_array_equal(rgb.read(2), direct.rgb)
    np.testing.assert_array_equal(flow.read(2), direct.flow.astype(np.float16))
    np.testing.assert_allclose(aligned.meta_array("landmarks")[2], direct.landmarks)


def test_too_many_failures_fail_the_stage_and_write_nothing(corpus: Path,
                                                            tmp_path: Path) -> None:
    cfg = PreprocessConfig(size=64, frames=6, workers=1, max_failure_fraction=0.2)
    with pytest.raises(PreprocessError, match="2 of 6 clips failed"):
        run_align(corpus / "manifest.csv", tmp_path / "aligned.h5", cfg, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_no_usable_row_fails_clearly(tmp_path: Path) -> None:
    write_manifest(pd.DataFrame([], columns=COLUMNS), tmp_path / "manifest.csv")
    with pytest.raises(PreprocessError, match="no manifest row has status ok"):
        run_align(tmp_path / "manifest.csv", tmp_path / "aligned.h5", PreprocessConfig())


@pytest.mark.slow
def test_worker_processes_give_the_same_stores(corpus: Path, tmp_path: Path) -> None:
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    run_stages(corpus, serial)
    params = yaml.safe_load((corpus / "params.yaml").read_text())
    params["preprocess"]["workers"] = 2
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    run_stages(corpus, parallel, ["--params", str(tmp_path / "params.yaml")])
    for name in ("aligned.h5", "rgb.h5", "flow.h5"):
        a, b = ClipStore(serial / name), ClipStore(parallel / name)
        assert a.keys == b.keys
        for i in range(len(a)):
            np.testing.assert_array_equal(a.read(i), b.read(i))


def test_a_second_run_writes_identical_files(corpus: Path, tmp_path: Path) -> None:
    # DVC hashes the stores' bytes: a second run on the same input must not look like a change.
    first, second = tmp_path / "first", tmp_path / "second"
    run_stages(corpus, first)
    run_stages(corpus, second)
    for name in ("aligned.h5", "rgb.h5", "flow.h5"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
