"""The align stage streams a clip: frames are decoded on access (`LazyFrames`) and aligned one
at a time, with the output and the failure reasons of aligning the clip decoded whole; and the
stages' default worker count respects the memory available."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from attrmer import memory
from attrmer.manifest import COLUMNS, write_manifest
from attrmer.preprocess import frames as frames_module
from attrmer.preprocess.align import FaceAligner
from attrmer.preprocess.clip import align_clip
from attrmer.preprocess.frames import ClipError, LazyFrames, load_clip_frames
from attrmer.preprocess.pipeline import WORKER_PEAK_BYTES, resolve_workers, run_align
from attrmer.preprocess.store import ClipStore
from tests.test_preprocess_stages import manifest_row, write_clip

STILL = Path(__file__).resolve().parents[1] / "src/attrmer/synth/faces/grid-brbk7n.jpg"
# SAMM's frame size: the frames a whole-clip decode could not hold 1,000 of.
HEIGHT, WIDTH = 1088, 2040


@pytest.fixture(scope="module")
def aligner() -> FaceAligner:
    return FaceAligner(112)


@pytest.fixture(scope="module")
def large_face() -> np.ndarray:
    """The bundled still, 4x enlarged, on a SAMM-size grey canvas (RGB)."""
    if not STILL.is_file():
        pytest.skip(f"{STILL} is absent")
    face = cv2.cvtColor(cv2.imread(str(STILL)), cv2.COLOR_BGR2RGB)
    face = cv2.resize(face, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    canvas = np.full((HEIGHT, WIDTH, 3), 110, np.uint8)
    top, left = (HEIGHT - face.shape[0]) // 2, (WIDTH - face.shape[1]) // 2
    canvas[top:top + face.shape[0], left:left + face.shape[1]] = face
    return canvas


class TrackedFrame(np.ndarray):
    """An ndarray that a weak reference can follow, to see when it is freed."""


class MadeOnAccess(Sequence[np.ndarray]):
    """A clip whose full-size frames are made when indexed, as `LazyFrames` decodes them: the
    face moving a fraction of a pixel per frame, a blank canvas before `face_from`. Records
    every index read and the most frames it handed out that were alive at once."""

    def __init__(self, face: np.ndarray, count: int, face_from: int = 0) -> None:
        self.face, self.count, self.face_from = face, count, face_from
        self.reads: list[int] = []
        self.most_alive = 0
        self._handed_out: list[weakref.ref] = []

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        if not 0 <= index < self.count:
            raise IndexError(index)
        if index < self.face_from:
            frame = np.full_like(self.face, 110)
        else:
            shift = np.float32([[1, 0, 0.2 * index], [0, 1, 0.1 * index]])
            frame = cv2.warpAffine(self.face, shift, (WIDTH, HEIGHT),
                                   borderMode=cv2.BORDER_REPLICATE)
        frame = frame.view(TrackedFrame)
        self._handed_out = [ref for ref in self._handed_out if ref() is not None]
        self._handed_out.append(weakref.ref(frame))
        self.most_alive = max(self.most_alive, len(self._handed_out))
        self.reads.append(index)
        return frame


def test_a_long_clip_of_large_frames_is_aligned_one_frame_at_a_time(
        aligner: FaceAligner, large_face: np.ndarray) -> None:
    clip = MadeOnAccess(large_face, 30)
    streamed = align_clip(clip, aligner)
    # Each frame read once, in order; the frame being read and the one before it (still held
    # by the loop while the next is read) are the only full-size frames alive at any time.
    assert clip.reads == list(range(30))
    assert clip.most_alive <= 2
    whole = aligner.align([np.asarray(clip[i]) for i in range(30)])
    assert streamed.detected_frame == whole.detected_frame == 0
    np.testing.assert_array_equal(streamed.frames, whole.frames)
    np.testing.assert_array_equal(streamed.matrix, whole.matrix)
    np.testing.assert_array_equal(streamed.landmarks, whole.landmarks)


def test_frames_before_a_late_face_are_read_again_not_kept(
        aligner: FaceAligner, large_face: np.ndarray) -> None:
    clip = MadeOnAccess(large_face, 30, face_from=5)
    streamed = align_clip(clip, aligner)
    detected = streamed.detected_frame
    assert detected >= 5 and detected in aligner.detection_attempts(30)
    assert clip.reads == list(range(30)) + list(range(detected))
    assert clip.most_alive <= 2
    whole = aligner.align([np.asarray(clip[i]) for i in range(30)])
    assert whole.detected_frame == detected
    np.testing.assert_array_equal(streamed.frames, whole.frames)


def test_lazy_frames_decode_on_every_access_and_keep_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"img{i + 1}.png")
        cv2.imwrite(str(paths[-1]), rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))
    decoded: list[str] = []
    decode = frames_module.decode_image
    monkeypatch.setattr(frames_module, "decode_image",
                        lambda path: decoded.append(path.name) or decode(path))
    clip = LazyFrames(paths)
    assert len(clip) == 3 and decoded == []
    np.testing.assert_array_equal(clip[2], decode(paths[2]))
    clip[2]
    assert decoded == ["img3.png", "img1.png", "img3.png"]  # the first, for its size, once
    assert [f.shape for f in clip] == [(20, 30, 3)] * 3
    with pytest.raises(ClipError, match="no frames"):
        LazyFrames([])


def test_the_first_bad_frame_fails_a_clip_before_its_face_does(
        aligner: FaceAligner, tmp_path: Path) -> None:
    """As when the clip was decoded whole before alignment: a missing or corrupt frame is the
    reason recorded, though no face can be found on any frame."""
    for i in range(6):
        cv2.imwrite(str(tmp_path / f"img{i + 1}.jpg"), np.full((120, 160, 3), 60 + i, np.uint8))
    paths = [tmp_path / f"img{i + 1}.jpg" for i in range(6)]
    with pytest.raises(ClipError, match="no face found"):
        align_clip(LazyFrames(paths), aligner)
    (tmp_path / "img4.jpg").unlink()
    with pytest.raises(ClipError) as info:
        align_clip(LazyFrames(paths), aligner)
    assert (info.value.reason, info.value.detail) == ("missing frame", "img4.jpg")
    (tmp_path / "img4.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a JPEG stream \xff\xd9")
    with pytest.raises(ClipError, match=r"corrupt image: img4\.jpg"):
        align_clip(LazyFrames(paths), aligner)
    # A lone frame is read before the clip is refused as too short.
    with pytest.raises(ClipError, match=r"corrupt image: img4\.jpg"):
        align_clip(LazyFrames(paths[3:4]), aligner)
    with pytest.raises(ClipError, match="one-frame clip"):
        align_clip(LazyFrames(paths[:1]), aligner)


def test_the_align_stage_decodes_each_frame_once(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    if not STILL.is_file():
        pytest.skip(f"{STILL} is absent")
    write_clip(tmp_path / "sub01" / "ep1", cv2.imread(str(STILL)), 9, seed=0)
    write_manifest(pd.DataFrame([manifest_row(tmp_path, "sub01", "ep1", 9, label=0)],
                                columns=COLUMNS), tmp_path / "manifest.csv")
    decoded: list[str] = []
    decode = frames_module.decode_image
    monkeypatch.setattr(frames_module, "decode_image",
                        lambda path: decoded.append(path.name) or decode(path))
    from attrmer.config import PreprocessConfig

    run_align(tmp_path / "manifest.csv", tmp_path / "aligned.h5",
              PreprocessConfig(size=64, workers=1), progress=False)
    assert decoded == [f"img{i + 1}.jpg" for i in range(9)]
    with ClipStore(tmp_path / "aligned.h5") as store:
        whole = FaceAligner(64).align(load_clip_frames(
            [tmp_path / "sub01" / "ep1" / f"img{i + 1}.jpg" for i in range(9)]))
        np.testing.assert_array_equal(store.read(0), whole.frames)


# --- how many workers ------------------------------------------------------------------------

@pytest.mark.parametrize(("workers", "cpus", "available", "tasks", "expected"), [
    (0, 8, None, 100, 8),  # memory unknown: one per CPU
    (0, 8, 100 * WORKER_PEAK_BYTES, 100, 8),  # memory to spare: one per CPU
    (0, 8, 3 * WORKER_PEAK_BYTES + WORKER_PEAK_BYTES // 2, 100, 3),  # memory holds 3
    (0, 8, WORKER_PEAK_BYTES // 4, 100, 1),  # not even one fits: still one
    (0, 8, 100 * WORKER_PEAK_BYTES, 5, 5),  # no more workers than clips
    (4, 8, WORKER_PEAK_BYTES, 100, 4),  # a count given is taken as it is
])
def test_default_workers_are_as_many_as_cpus_and_memory_allow(
        monkeypatch: pytest.MonkeyPatch, workers: int, cpus: int, available: int | None,
        tasks: int, expected: int) -> None:
    import attrmer.cpus

    monkeypatch.setattr(attrmer.cpus, "available_cpus", lambda: cpus)
    monkeypatch.setattr(memory, "available_memory", lambda: available)
    assert resolve_workers(workers, tasks) == expected


def test_available_memory_is_the_smaller_of_meminfo_and_the_cgroup_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemAvailable:    8000000 kB\n")
    assert memory.meminfo_available(meminfo) == 8_000_000 * 1024
    assert memory.meminfo_available(tmp_path / "absent") is None

    # cgroup v2: 4 GiB limit, 3 GiB used of which 1 GiB droppable page cache -> 2 GiB left.
    proc = tmp_path / "proc-cgroup"
    proc.write_text("0::/job\n")
    job = tmp_path / "cgroup" / "job"
    job.mkdir(parents=True)
    (job / "memory.max").write_text(f"{4 * 2**30}\n")
    (job / "memory.current").write_text(f"{3 * 2**30}\n")
    (job / "memory.stat").write_text(f"anon 1\ninactive_file {2**30}\nactive_file 5\n")
    assert memory.cgroup_available(tmp_path / "cgroup", proc) == 2 * 2**30
    (job / "memory.max").write_text("max\n")
    assert memory.cgroup_available(tmp_path / "cgroup", proc) is None

    # cgroup v1: no limit is written as a huge number.
    v1 = tmp_path / "v1"
    (v1 / "memory").mkdir(parents=True)
    (v1 / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (v1 / "memory" / "memory.usage_in_bytes").write_text("100\n")
    assert memory.cgroup_available(v1, tmp_path / "absent") is None
    (v1 / "memory" / "memory.limit_in_bytes").write_text(f"{2**30}\n")
    assert memory.cgroup_available(v1, tmp_path / "absent") == 2**30 - 100

    monkeypatch.setattr(memory, "meminfo_available", lambda: 8 * 2**30)
    monkeypatch.setattr(memory, "cgroup_available", lambda: 2 * 2**30)
    assert memory.available_memory() == 2 * 2**30
    monkeypatch.setattr(memory, "cgroup_available", lambda: None)
    assert memory.available_memory() == 8 * 2**30
