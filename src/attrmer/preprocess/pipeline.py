"""The three preprocessing stages: align, interpolate, flow, over a whole dataset.

Each clip goes through the one per-clip path of `attrmer.preprocess.clip` (`align_clip`,
`rgb_from_aligned`, `flow_from_aligned`), which `attrmer predict` uses too, so training and
prediction see identical inputs; its names are re-exported here.

The stage functions spread clips over worker processes, show a progress bar, record every
failed clip with its reason and go on; a stage fails as a whole (and writes nothing) only when
no clip is left or more than `max_failure_fraction` of its clips failed. Not for reading
dataset sheets (see `attrmer.datasets`) or for training.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from attrmer.config import FlowConfig, PreprocessConfig
from attrmer.errors import AttrmerError
from attrmer.manifest import frame_paths, read_manifest, usable
from attrmer.preprocess.align import KEY_POINT_WEIGHTS, TEMPLATE, FaceAligner
from attrmer.preprocess.clip import (
    align_clip,
    flow_from_aligned,
    rgb_from_aligned,
)
from attrmer.preprocess.flow import FLOW_FIELD_KEYS
from attrmer.preprocess.frames import ClipError, LazyFrames
from attrmer.preprocess.store import ClipStore, ClipStoreWriter, encode_clip

# Manifest columns carried into every store's per-clip metadata.
MANIFEST_META = ("key", "dataset", "subject", "clip", "emotion", "action_units", "aus", "split",
                 "label", "onset", "apex", "offset")


class PreprocessError(AttrmerError, RuntimeError):
    """A preprocessing stage failed as a whole (no usable clip, or too many failures)."""


# --- stages ---------------------------------------------------------------------------------

@dataclass
class StageSummary:
    stage: str
    clips_in: int
    clips_out: int = 0
    failures: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The counts, without the time: stored in the output, they must not vary between two
        runs on the same input, or DVC would see a changed file each time."""
        return {"stage": self.stage, "clips_in": self.clips_in, "clips_out": self.clips_out,
                "failures": dict(self.failures)}

    def __str__(self) -> str:
        failed = sum(self.failures.values())
        text = (f"{self.stage}: {self.clips_in} clips in, {self.clips_out} out, "
                f"{failed} failed")
        if failed:
            text += " (" + ", ".join(f"{r}: {c}" for r, c in self.failures.most_common()) + ")"
        return text + f" [{self.seconds:.1f} s]"


def run_align(
    manifest_path: str | Path,
    out_path: str | Path,
    cfg: PreprocessConfig,
    *,
    gzip_level: int = 0,
    max_detection_frames: int = 8,
    progress: bool = True,
) -> StageSummary:
    """Manifest rows with status ok -> aligned.h5 (every frame of every clip, aligned)."""
    rows = usable(read_manifest(manifest_path))
    if rows.empty:
        raise PreprocessError(f"{manifest_path}: no manifest row has status ok; nothing to align")
    tasks = [{name: row[name] for name in (*MANIFEST_META, "frame_dir", "frame_pattern")}
             for row in rows.to_dict("records")]
    aligner = FaceAligner(cfg.size, max_detection_frames=max_detection_frames)
    params = {"preprocess": dataclasses.asdict(cfg), "template": TEMPLATE.tolist(),
              "key_point_weights": KEY_POINT_WEIGHTS.tolist(),
              "max_detection_frames": max_detection_frames, "gzip_level": gzip_level}
    summary = StageSummary("align", clips_in=len(tasks))
    start = time.perf_counter()
    with ClipStoreWriter(out_path, "aligned", params=params, gzip_level=gzip_level) as writer:
        results = _parallel_map(_align_task, tasks, cfg.workers, _init_aligner,
                                (aligner, gzip_level))
        for key, outcome in tqdm(results, total=len(tasks), desc="align", unit="clip",
                                 file=sys.stderr, disable=not progress):
            if isinstance(outcome, ClipError):
                writer.add_failure(key, str(outcome), "align")
                summary.failures[outcome.reason] += 1
            else:
                frames, meta = outcome
                writer.add(frames, meta)
        _finish(summary, writer, cfg, start)
    return summary


def run_interpolate(
    aligned_path: str | Path,
    out_path: str | Path,
    cfg: PreprocessConfig,
    *,
    gzip_level: int = 1,
    progress: bool = True,
) -> StageSummary:
    """aligned.h5 -> rgb.h5: every clip TIM-resampled to `cfg.frames` frames."""
    params = {"preprocess": dataclasses.asdict(cfg), "gzip_level": gzip_level}
    return _derive(aligned_path, out_path, "rgb", "interpolate", _rgb_task, params,
                   (3, cfg.frames, cfg.size, cfg.size), cfg,
                   {"frames_out": cfg.frames, "gzip_level": gzip_level},
                   gzip_level, progress)


def run_flow(
    aligned_path: str | Path,
    out_path: str | Path,
    preprocess_cfg: PreprocessConfig,
    flow_cfg: FlowConfig,
    *,
    gzip_level: int = 1,
    progress: bool = True,
) -> StageSummary:
    """aligned.h5 -> flow.h5: `frames` raw Farneback fields per clip (float16 pixels)."""
    # Only what the fields are computed with: the bound, scale and head-motion keys shape the
    # network's input at training time and would misdescribe the store.
    computed = {k: v for k, v in dataclasses.asdict(flow_cfg).items() if k in FLOW_FIELD_KEYS}
    params = {"preprocess": dataclasses.asdict(preprocess_cfg), "flow": computed,
              "gzip_level": gzip_level}
    shape = (2, preprocess_cfg.frames, preprocess_cfg.size, preprocess_cfg.size)
    return _derive(aligned_path, out_path, "flow", "flow", _flow_task, params, shape,
                   preprocess_cfg,
                   {"frames_out": preprocess_cfg.frames, "flow_cfg": flow_cfg,
                    "gzip_level": gzip_level},
                   gzip_level, progress)



def build_stores(manifest_path: str | Path, folder: str | Path, preprocess_cfg: PreprocessConfig,
                 flow_cfg: FlowConfig, *, progress: bool = True) -> tuple[Path, Path]:
    """The three stages at once, uncompressed, into `folder`: rgb.h5 and flow.h5 (the aligned
    store in between is removed). For corpora made on the fly (pretraining, benchmarks), not
    for the DVC stages, which write each store as its own output."""
    folder = Path(folder)
    aligned, rgb, flow = folder / "aligned.h5", folder / "rgb.h5", folder / "flow.h5"
    run_align(manifest_path, aligned, preprocess_cfg, gzip_level=0,
              max_detection_frames=preprocess_cfg.max_detection_frames, progress=progress)
    run_interpolate(aligned, rgb, preprocess_cfg, gzip_level=0, progress=progress)
    run_flow(aligned, flow, preprocess_cfg, flow_cfg, gzip_level=0, progress=progress)
    aligned.unlink()
    return rgb, flow

def _derive(
    aligned_path: str | Path,
    out_path: str | Path,
    kind: str,
    stage: str,
    task: Callable[[int], tuple[int, Any]],
    params: dict[str, Any],
    shape: tuple[int, ...],
    cfg: PreprocessConfig,
    options: dict[str, Any],
    gzip_level: int,
    progress: bool,
) -> StageSummary:
    """Shared body of interpolate and flow: one output clip per aligned clip."""
    aligned = ClipStore(aligned_path)
    if aligned.kind != "aligned":
        raise PreprocessError(f"{aligned_path}: a {aligned.kind} store, not an aligned one")
    if len(aligned) == 0:
        raise PreprocessError(f"{aligned_path}: holds no aligned clip")
    stored_size = aligned.attrs["params"]["preprocess"]["size"]
    if stored_size != cfg.size:
        raise PreprocessError(f"{aligned_path}: clips are {stored_size} px but "
                              f"preprocess.size is {cfg.size}; run the align stage again")
    params = {**params, "aligned": aligned.attrs["params"]}
    meta = aligned.meta.to_dict("records")
    arrays = {name: aligned.meta_array(name) for name in ("align_matrix", "landmarks")}
    summary = StageSummary(stage, clips_in=len(aligned))
    start = time.perf_counter()
    with ClipStoreWriter(out_path, kind, params=params, clip_shape=shape, gzip_level=gzip_level,
                         failures=aligned.attrs["failures"]) as writer:
        results = _parallel_map(task, range(len(aligned)), cfg.workers, _init_derive,
                                (aligned, options))
        for index, outcome in tqdm(results, total=len(aligned), desc=stage, unit="clip",
                                   file=sys.stderr, disable=not progress):
            if isinstance(outcome, ClipError):
                writer.add_failure(meta[index]["key"], str(outcome), stage)
                summary.failures[outcome.reason] += 1
            else:
                clip_meta = {**meta[index], **{n: a[index] for n, a in arrays.items()}}
                writer.add(outcome, clip_meta)
        _finish(summary, writer, cfg, start)
    aligned.close()
    return summary


def _finish(summary: StageSummary, writer: ClipStoreWriter, cfg: PreprocessConfig,
            start: float) -> None:
    """Print the summary; raise (so the writer discards its file) when too much failed."""
    summary.clips_out = len(writer)
    summary.seconds = time.perf_counter() - start
    writer.summary = summary.as_dict()
    print(summary, file=sys.stderr)
    failed = sum(summary.failures.values())
    if summary.clips_out == 0:
        raise PreprocessError(f"{summary.stage}: every one of {summary.clips_in} clips failed "
                              f"({dict(summary.failures)}); no output written")
    if failed > cfg.max_failure_fraction * summary.clips_in:
        raise PreprocessError(
            f"{summary.stage}: {failed} of {summary.clips_in} clips failed "
            f"({failed / summary.clips_in:.0%}), more than preprocess.max_failure_fraction "
            f"= {cfg.max_failure_fraction:g}; no output written. Reasons: "
            f"{dict(summary.failures)}"
        )


# --- worker processes -----------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _init_pool_process(initializer: Callable[..., None], initargs: tuple) -> None:
    # The clips already run in parallel: OpenCV's and OpenBLAS's own thread pools (TIM's
    # matrix products) would only oversubscribe the cores, and their spinning threads halved
    # the flow stage's speed on 2 cores.
    cv2.setNumThreads(1)
    threadpool_limits(1)
    initializer(*initargs)


def _init_aligner(aligner: FaceAligner, gzip_level: int) -> None:
    _worker["aligner"] = aligner
    _worker["gzip_level"] = gzip_level


def _init_derive(aligned: ClipStore, options: dict[str, Any]) -> None:
    _worker["aligned"] = aligned
    _worker["options"] = options


def _align_task(row: dict[str, Any]) -> tuple[str, Any]:
    try:
        # Decoded one at a time as they are aligned: a worker holds one source frame, not
        # the clip (a 1,000-frame SAMM clip is 6.7 GB decoded).
        frames = LazyFrames(frame_paths(row))
        alignment = align_clip(frames, _worker["aligner"])
    except ClipError as exc:
        return row["key"], exc
    meta = {name: row[name] for name in MANIFEST_META}
    meta.update(n_source_frames=len(frames), align_status=alignment.status,
                align_matrix=alignment.matrix, landmarks=alignment.landmarks,
                detected_frame=alignment.detected_frame)
    return row["key"], (encode_clip(alignment.frames, _worker["gzip_level"]), meta)


def _rgb_task(index: int) -> tuple[int, Any]:
    aligned = _worker["aligned"].read(index)
    if len(aligned) < 2:
        return index, ClipError("one-frame clip", "TIM needs at least 2 frames")
    rgb = rgb_from_aligned(aligned, _worker["options"]["frames_out"])
    return index, encode_clip(rgb, _worker["options"]["gzip_level"])


def _flow_task(index: int) -> tuple[int, Any]:
    aligned = _worker["aligned"].read(index)
    if len(aligned) < 2:
        return index, ClipError("one-frame clip", "TIM needs at least 2 frames")
    options = _worker["options"]
    flow = flow_from_aligned(aligned, options["frames_out"], options["flow_cfg"])
    return index, encode_clip(flow.astype(np.float16), options["gzip_level"])


# What one worker process of the three stages may hold at its peak, for choosing how many run
# side by side. bench/preprocess_memory.py (bench/results/preprocess_memory.json) measured, on
# 1,000-frame clips (5 s at 200 fps, the longest data.max_clip_seconds admits): 252 MiB for
# the align stage streaming 2040×1088 (SAMM) frames, 364 MiB for the interpolate stage's TIM
# and 281 MiB for the flow stage's. What grows with a clip's length is its aligned frames
# (37 MB per 1,000) and TIM's float32 copy of them (150 MB): this bound holds clips of about
# 1,800 frames.
WORKER_PEAK_BYTES = 512 * 2**20


def resolve_workers(workers: int, tasks: int) -> int:
    """Worker processes for `tasks` clips: `preprocess.workers`, capped at the number of clips.

    0 (the default): one per CPU this process may use (`available_cpus`: affinity mask and
    cgroup quota), but no more than the memory available (`available_memory`: MemAvailable
    and the cgroup's limit) holds at `WORKER_PEAK_BYTES` each, and at least one. A count
    given explicitly is taken as it is.
    """
    from attrmer.cpus import available_cpus
    from attrmer.memory import available_memory

    wanted = workers
    if not wanted:
        wanted = available_cpus()
        memory = available_memory()
        if memory is not None:
            wanted = min(wanted, memory // WORKER_PEAK_BYTES)
    return max(1, min(wanted, tasks))


def _parallel_map(
    function: Callable[[Any], Any],
    items: Iterable[Any],
    workers: int,
    initializer: Callable[..., None],
    initargs: tuple,
) -> Iterator[Any]:
    """Results in input order; in this process when one worker suffices."""
    items = list(items)
    count = resolve_workers(workers, len(items))
    if count == 1:
        initializer(*initargs)
        yield from map(function, items)
        return
    # Not fork: a child forked after OpenCV has started its thread pool can hang. The fork
    # server imports this module once, so each worker starts without re-importing it.
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
    else:
        context = multiprocessing.get_context("spawn")
    with context.Pool(count, initializer=_init_pool_process,
                      initargs=(initializer, initargs)) as pool:
        yield from pool.imap(function, items, chunksize=1)
