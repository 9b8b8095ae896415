"""HDF5 clip stores: the aligned clips, the TIM RGB clips and the flow clips.

One file per stage output, one chunk per clip (gzip + shuffle, or no filter at level 0),
per-clip metadata under `/meta`, the parameters and the failures as root attributes.
`ClipStoreWriter` writes under a temporary name and renames the file only when it is complete,
so an interrupted stage never leaves a store that looks valid. `ClipStore` is the one reader
that training, the baselines and `predict` share; it opens the file read-only and lazily, so it
can be pickled into DataLoader workers, each of which then opens its own handle once.

Layouts (N clips, T frames, S the aligned side):
- aligned: `/frames/<i>` uint8 (n_i, S, S, 3), n_i the clip's source frame count;
- rgb:     `/rgb` uint8 (N, 3, T, S, S);
- flow:    `/flow` float16 (N, 2, T, S, S), raw (u, v) in pixels.
Not for the manifest or model weights.
"""

from __future__ import annotations

import json
import os
import zlib
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from attrmer import __version__
from attrmer.errors import AttrmerError
from attrmer.io import atomic_path

STORE_FORMAT = "attrmer-clips/1"
KINDS = ("aligned", "rgb", "flow")
DATASET_OF_KIND = {"aligned": "frames", "rgb": "rgb", "flow": "flow"}
LAYOUTS = {
    "aligned": "/frames/<i> uint8 (n_i, S, S, 3) RGB aligned source frames, one dataset per "
               "clip; /meta/* one entry per clip",
    "rgb": "/rgb uint8 (N, 3, T, S, S) RGB TIM frames; /meta/* one entry per clip",
    "flow": "/flow float16 (N, 2, T, S, S) raw Farneback (u, v) in pixels; /meta/* one entry "
            "per clip",
}
# Per-clip metadata: scalar columns (-> ClipStore.meta) and fixed-shape arrays
# (-> ClipStore.meta_array).
STRING_META = ("key", "dataset", "subject", "clip", "emotion", "action_units", "aus", "split",
               "align_status")
INT_META = ("label", "onset", "apex", "offset", "n_source_frames", "detected_frame")
ARRAY_META = {"align_matrix": ((2, 3), np.float64), "landmarks": ((68, 2), np.float32)}
JSON_ATTRS = ("params", "failures", "summary")


class StoreError(AttrmerError, ValueError):
    """A store file is missing, not an attrmer store, or asked for something it lacks."""


@dataclass(frozen=True)
class EncodedClip:
    """One clip already passed through HDF5's shuffle and deflate filters.

    Worker processes compress their own clips this way and the writer stores the bytes as the
    clip's chunk, so compression runs in parallel instead of in the one writing process.
    """

    shape: tuple[int, ...]
    dtype: str
    payload: bytes


def encode_clip(data: np.ndarray, gzip_level: int = 1) -> EncodedClip:
    """Shuffle (byte planes, as HDF5's filter does for items wider than one byte) + zlib;
    level 0: the plain bytes, for a dataset without filters (see `_filters`)."""
    data = np.ascontiguousarray(data)
    if gzip_level == 0:
        return EncodedClip(data.shape, data.dtype.str, data.tobytes())
    raw = data.view(np.uint8).reshape(-1, data.itemsize).T if data.itemsize > 1 else data
    return EncodedClip(data.shape, data.dtype.str, zlib.compress(raw.tobytes(), gzip_level))


def _filters(gzip_level: int) -> dict[str, Any]:
    """h5py dataset options matching `encode_clip` at this level."""
    if gzip_level == 0:
        return {}
    return {"compression": "gzip", "compression_opts": gzip_level, "shuffle": True}


class ClipStoreWriter:
    """Context manager that builds one store; the file appears only when the block succeeds.

    Use `add(data, meta)` per clip and `add_failure(key, reason)` per clip that failed.
    """

    def __init__(
        self,
        path: str | Path,
        kind: str,
        *,
        params: dict[str, Any],
        clip_shape: tuple[int, ...] | None = None,
        gzip_level: int = 1,
        failures: list[dict[str, str]] | None = None,
    ) -> None:
        if kind not in KINDS:
            raise StoreError(f"unknown store kind {kind!r} (known: {', '.join(KINDS)})")
        if kind != "aligned" and clip_shape is None:
            raise StoreError(f"a {kind} store needs the clip shape")
        self.path = Path(path)
        self.kind = kind
        self.params = params
        self.clip_shape = tuple(clip_shape) if clip_shape is not None else None
        self.gzip_level = gzip_level
        self.failures: list[dict[str, str]] = list(failures or [])
        self.summary: dict[str, Any] = {}
        self._meta: list[dict[str, Any]] = []
        self._stack: ExitStack | None = None
        self._file: h5py.File | None = None

    def __enter__(self) -> ClipStoreWriter:
        self._stack = ExitStack()
        tmp = self._stack.enter_context(atomic_path(self.path))
        self._file = h5py.File(tmp, "w", track_order=False)
        self._stack.callback(self._file.close)
        if self.kind == "aligned":
            self._file.create_group("frames")
        else:
            self._file.create_dataset(
                DATASET_OF_KIND[self.kind], shape=(0, *self.clip_shape),
                maxshape=(None, *self.clip_shape), chunks=(1, *self.clip_shape),
                dtype=self._dtype(), track_times=False, **_filters(self.gzip_level),
            )
        return self

    def __len__(self) -> int:
        return len(self._meta)

    def add(self, data: np.ndarray | EncodedClip, meta: dict[str, Any]) -> None:
        """Append one clip (an array, or one `encode_clip` made) and its metadata (keys of
        STRING_META, INT_META, ARRAY_META)."""
        assert self._file is not None, "use ClipStoreWriter as a context manager"
        index = len(self._meta)
        if not isinstance(data, EncodedClip):
            data = encode_clip(np.asarray(data, self._dtype()), self.gzip_level)
        if np.dtype(data.dtype) != self._dtype():
            raise StoreError(f"{meta.get('key')}: clip dtype {data.dtype} is not the store's "
                             f"{self._dtype()}")
        if self.kind == "aligned":
            dataset = self._file["frames"].create_dataset(
                str(index), shape=data.shape, dtype=np.uint8, chunks=data.shape,
                track_times=False, **_filters(self.gzip_level),
            )
            dataset.id.write_direct_chunk((0,) * len(data.shape), data.payload)
        else:
            if data.shape != self.clip_shape:
                raise StoreError(f"{meta.get('key')}: clip shape {data.shape} is not the "
                                 f"store's {self.clip_shape}")
            dataset = self._file[DATASET_OF_KIND[self.kind]]
            dataset.resize(index + 1, axis=0)
            dataset.id.write_direct_chunk((index,) + (0,) * len(data.shape), data.payload)
        self._meta.append(meta)

    def _dtype(self) -> np.dtype:
        return np.dtype(np.float16 if self.kind == "flow" else np.uint8)

    def add_failure(self, key: str, reason: str, stage: str) -> None:
        self.failures.append({"key": key, "reason": reason, "stage": stage})

    def __exit__(self, exc_type, exc, traceback) -> bool:
        assert self._stack is not None and self._file is not None
        if exc_type is None:
            try:
                self._write_meta()
                self._write_attrs()
            except BaseException as error:
                # Let atomic_path discard the half-written file, then report the error.
                self._stack.__exit__(type(error), error, error.__traceback__)
                raise
        return bool(self._stack.__exit__(exc_type, exc, traceback))

    def _write_attrs(self) -> None:
        attrs = self._file.attrs
        attrs["format"] = STORE_FORMAT
        attrs["kind"] = self.kind
        attrs["layout"] = LAYOUTS[self.kind]
        attrs["attrmer_version"] = __version__
        attrs["params"] = json.dumps(self.params, sort_keys=True)
        attrs["failures"] = json.dumps(self.failures)
        attrs["summary"] = json.dumps(self.summary, sort_keys=True)

    def _write_meta(self) -> None:
        group = self._file.create_group("meta")
        strings = h5py.string_dtype("utf-8")
        for name in STRING_META:
            values = np.array([str(m.get(name, "")) for m in self._meta], dtype=object)
            group.create_dataset(name, data=values, dtype=strings, track_times=False)
        for name in INT_META:
            values = np.array([int(m.get(name, -1)) for m in self._meta], dtype=np.int64)
            group.create_dataset(name, data=values, track_times=False)
        for name, (shape, dtype) in ARRAY_META.items():
            values = np.zeros((len(self._meta), *shape), dtype)
            for i, m in enumerate(self._meta):
                values[i] = m[name]
            group.create_dataset(name, data=values, track_times=False)


class ClipStore:
    """Read-only view of a store: `len`, `keys`, `meta`, `meta_array`, `attrs`, `read(i)`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise StoreError(f"{self.path}: no such store; run the stage that writes it first")
        try:
            with h5py.File(self.path, "r") as f:
                if f.attrs.get("format") != STORE_FORMAT:
                    raise StoreError(f"{self.path}: not an attrmer clip store "
                                     f"(format attribute {f.attrs.get('format')!r})")
                self.attrs = {name: _decode_attr(name, value) for name, value in f.attrs.items()}
                self._meta = _read_meta(f["meta"])
                self._arrays = {name: f["meta"][name][()] for name in ARRAY_META
                                if name in f["meta"]}
        except OSError as exc:
            raise StoreError(f"{self.path}: not a readable HDF5 file ({exc})") from None
        self.kind: str = self.attrs["kind"]
        self.keys: list[str] = list(self._meta["key"])
        self._index = {key: i for i, key in enumerate(self.keys)}
        self._file: h5py.File | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def meta(self) -> pd.DataFrame:
        """One row per clip: the scalar metadata (key, subject, label, emotion, ...)."""
        return self._meta.copy()

    def meta_array(self, name: str) -> np.ndarray:
        """A per-clip array field, e.g. "landmarks" (N, 68, 2) or "align_matrix" (N, 2, 3)."""
        if name not in self._arrays:
            raise StoreError(f"{self.path}: no per-clip array {name!r} "
                             f"(has: {', '.join(self._arrays)})")
        return self._arrays[name].copy()

    def index_of(self, key: str) -> int:
        try:
            return self._index[key]
        except KeyError:
            raise StoreError(f"{self.path}: no clip with key {key!r}") from None

    def read(self, index: int) -> np.ndarray:
        """One clip as stored: aligned (n, S, S, 3) uint8, rgb (3, T, S, S) uint8 or flow
        (2, T, S, S) float16."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"{self.path}: clip {index} out of range (store has {len(self)})")
        index %= len(self)
        handle = self._handle()
        if self.kind == "aligned":
            return handle["frames"][str(index)][()]
        return handle[DATASET_OF_KIND[self.kind]][index]

    def _handle(self) -> h5py.File:
        # A handle inherited through fork is not safe to use: reopen in each process.
        if self._file is None or self._pid != os.getpid():
            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._file

    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None

    def __enter__(self) -> ClipStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_pid"] = None
        return state

    def __repr__(self) -> str:
        return f"ClipStore({str(self.path)!r}, kind={self.kind!r}, clips={len(self)})"


def _decode_attr(name: str, value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if name in JSON_ATTRS and isinstance(value, str):
        return json.loads(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _read_meta(group: h5py.Group) -> pd.DataFrame:
    columns = {}
    for name in (*STRING_META, *INT_META):
        if name in group:
            values = group[name][()]
            if name in STRING_META:
                values = [v.decode() if isinstance(v, bytes) else str(v) for v in values]
            columns[name] = values
    return pd.DataFrame(columns)
