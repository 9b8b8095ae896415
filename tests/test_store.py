"""HDF5 clip stores: round trips, metadata, atomic writing, lazy read-only handles."""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest

from attrmer.preprocess.store import ClipStore, ClipStoreWriter, StoreError, encode_clip


def meta(i: int) -> dict:
    return {"key": f"sub0{i}/clip{i}", "subject": f"sub0{i}", "label": i % 2,
            "emotion": "happiness", "onset": 1, "apex": 3, "offset": 6, "n_source_frames": 6,
            "align_status": "ok", "detected_frame": 0,
            "align_matrix": np.array([[1.0, 0, i], [0, 1.0, 0]]),
            "landmarks": np.full((68, 2), i, np.float32)}


def write(path: Path, kind: str, clips: list[np.ndarray], shape=None, gzip_level=1) -> None:
    with ClipStoreWriter(path, kind, params={"preprocess": {"frames": 4}},
                         clip_shape=shape, gzip_level=gzip_level) as writer:
        for i, clip in enumerate(clips):
            writer.add(clip, meta(i))
        writer.add_failure("sub09/bad", "missing frame: img3.jpg", "align")


@pytest.mark.parametrize("gzip_level", [0, 1])
@pytest.mark.parametrize("kind", ["aligned", "rgb", "flow"])
def test_round_trip(tmp_path: Path, kind: str, gzip_level: int) -> None:
    rng = np.random.default_rng(0)
    if kind == "aligned":
        shape = None
        clips = [rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8) for n in (5, 9, 2)]
    elif kind == "rgb":
        shape = (3, 4, 16, 16)
        clips = [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(3)]
    else:
        shape = (2, 4, 16, 16)
        clips = [rng.normal(0, 2, shape).astype(np.float16) for _ in range(3)]
    path = tmp_path / f"{kind}.h5"
    write(path, kind, clips, shape, gzip_level)

    store = ClipStore(path)
    assert len(store) == 3 and store.kind == kind
    assert store.keys == ["sub00/clip0", "sub01/clip1", "sub02/clip2"]
    for i, clip in enumerate(clips):
        out = store.read(i)
        assert out.dtype == clip.dtype
        np.testing.assert_array_equal(out, clip)
    assert store.index_of("sub01/clip1") == 1
    assert list(store.meta["label"]) == [0, 1, 0]
    assert list(store.meta["subject"]) == ["sub00", "sub01", "sub02"]
    assert store.meta_array("landmarks").shape == (3, 68, 2)
    assert store.meta_array("align_matrix")[2, 0, 2] == 2.0
    assert store.attrs["params"] == {"preprocess": {"frames": 4}}
    assert store.attrs["failures"][0]["key"] == "sub09/bad"
    assert "uint8" in store.attrs["layout"] or "float16" in store.attrs["layout"]
    assert store.attrs["attrmer_version"]
    store.close()


def test_chunks_are_one_clip_and_compressed(tmp_path: Path) -> None:
    shape = (3, 4, 16, 16)
    write(tmp_path / "rgb.h5", "rgb", [np.zeros(shape, np.uint8)] * 2, shape)
    with h5py.File(tmp_path / "rgb.h5", "r") as f:
        assert f["rgb"].chunks == (1, *shape)
        assert f["rgb"].compression == "gzip" and f["rgb"].shuffle


def test_level_zero_stores_clips_without_filters(tmp_path: Path) -> None:
    clip = np.random.default_rng(2).integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    write(tmp_path / "aligned.h5", "aligned", [clip], gzip_level=0)
    with h5py.File(tmp_path / "aligned.h5", "r") as f:
        dataset = f["frames/0"]
        assert dataset.compression is None and not dataset.shuffle
        assert dataset.chunks == clip.shape
        # Any HDF5 reader sees the plain frames, no attrmer code needed.
        np.testing.assert_array_equal(dataset[()], clip)


def test_encoded_clips_equal_plain_ones(tmp_path: Path) -> None:
    shape = (2, 4, 8, 8)
    clip = np.random.default_rng(1).normal(size=shape).astype(np.float16)
    with ClipStoreWriter(tmp_path / "flow.h5", "flow", params={}, clip_shape=shape) as writer:
        writer.add(encode_clip(clip, 6), meta(0))
        writer.add(clip, meta(1))
    with ClipStore(tmp_path / "flow.h5") as store:
        np.testing.assert_array_equal(store.read(0), store.read(1))


def test_an_interrupted_writer_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "rgb.h5"
    shape = (3, 4, 8, 8)
    with pytest.raises(RuntimeError, match="stop"), ClipStoreWriter(
        path, "rgb", params={}, clip_shape=shape
    ) as writer:
        writer.add(np.zeros(shape, np.uint8), meta(0))
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_wrong_shape_or_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="clip shape"), ClipStoreWriter(
        tmp_path / "rgb.h5", "rgb", params={}, clip_shape=(3, 4, 8, 8)
    ) as writer:
        writer.add(np.zeros((3, 5, 8, 8), np.uint8), meta(0))
    with pytest.raises(StoreError, match="unknown store kind"):
        ClipStoreWriter(tmp_path / "x.h5", "depth", params={})
    assert not (tmp_path / "rgb.h5").exists()


def test_missing_or_foreign_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"nothing\.h5: no such store"):
        ClipStore(tmp_path / "nothing.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(StoreError, match=r"other\.h5: not an attrmer clip store"):
        ClipStore(tmp_path / "other.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(StoreError, match=r"text\.h5: not a readable HDF5 file"):
        ClipStore(tmp_path / "text.h5")


def test_reader_opens_lazily_read_only_and_pickles(tmp_path: Path) -> None:
    shape = (3, 4, 8, 8)
    clips = [np.full(shape, i, np.uint8) for i in range(3)]
    write(tmp_path / "rgb.h5", "rgb", clips, shape)
    store = ClipStore(tmp_path / "rgb.h5")
    assert store._file is None  # nothing held open until the first read
    store.read(1)
    assert store._file.mode == "r"
    copy = pickle.loads(pickle.dumps(store))
    assert copy._file is None
    np.testing.assert_array_equal(copy.read(2), clips[2])
    np.testing.assert_array_equal(store.read(-1), clips[2])
    with pytest.raises(IndexError):
        store.read(3)
    with pytest.raises(StoreError, match="no clip with key"):
        store.index_of("nobody")
    with pytest.raises(StoreError, match="no per-clip array"):
        store.meta_array("depth")
    store.close()
    copy.close()
