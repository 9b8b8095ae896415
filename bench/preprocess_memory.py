"""Peak memory and time of one preprocessing worker on a long, large clip: the align stage's
streamed path (each frame decoded, aligned and dropped: `LazyFrames`) against the path it
replaced (the whole clip decoded first, then aligned), measured in the same run.

The clip is the longest `data.max_clip_seconds: 5` admits at 200 fps, 1,000 frames, at the
frame size and face scale of a real dataset (`synth.resolution`: samm, 2040×1088, and casme2,
640×480). Rendering 1,000 SAMM-size frames takes minutes, so the renderer draws one clip of
the default corpus (its first, 40 to 90 frames), and its JPEG files are repeated forwards and
backwards to 1,000 frame files: the decoder and the aligner do the work of 1,000 frames, but
their content repeats (what is measured, memory and time per frame, does not depend on it).

Each measurement runs in a fresh process set up as a stage's worker (one OpenCV and one BLAS
thread, dlib's models loaded before the clock starts); its peak is the process's high-water
mark of resident memory (`VmHWM`; not `ru_maxrss`, which Linux carries over from the parent
through fork and exec). Measured per clip: decoding its frames alone (streamed, the floor
under aligning them), aligning them both ways, and the interpolate and flow stages' work on
the aligned clip (TIM, Farneback, encoding), whose peak also bounds a worker of those stages.
`attrmer.preprocess.pipeline.WORKER_PEAK_BYTES` is chosen from these figures.

    python bench/preprocess_memory.py [--frames 1000] [--json bench/results/preprocess_memory.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from attrmer.config import Params
from attrmer.frame_layouts import SYNTH_RESOLUTIONS

# The goal of issue 36: a worker aligning a 1,000-frame SAMM clip stays under this.
GOAL_BYTES = 10**9
MIB = 2**20


def write_long_clip(folder: Path, resolution: str, frames: int) -> dict:
    """`frames` JPEG files of one rendered clip at `resolution`, its frames repeated forwards
    and backwards; a description of what was written."""
    from attrmer.synth.identities import load_corpus_faces
    from attrmer.synth.render import encode_jpeg, plan_corpus, render_clip

    synth = Params.from_dict({"synth": {**Params().to_dict()["synth"],
                                        "resolution": resolution}}).synth
    faces = load_corpus_faces(synth)
    spec = plan_corpus(synth, faces)[0]
    print(f"{resolution}: rendering {spec.n_frames} distinct frames ...", file=sys.stderr)
    rendered = render_clip(spec, faces[spec.subject - 1], synth)
    encoded = [encode_jpeg(frame, synth.jpeg_quality, grey=SYNTH_RESOLUTIONS[resolution].grey)
               for frame in rendered.frames]
    cycle = list(range(len(encoded))) + list(range(len(encoded) - 2, 0, -1))
    folder.mkdir(parents=True)
    for number in range(frames):
        (folder / f"img{number + 1}.jpg").write_bytes(encoded[cycle[number % len(cycle)]])
    height, width = rendered.frames[0].shape[:2]
    return {"frame_size": [width, height], "distinct_frames": len(encoded),
            "jpeg_bytes_per_frame": round(sum(map(len, encoded)) / len(encoded))}


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far (`VmHWM` of /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise SystemExit("/proc/self/status has no VmHWM: this benchmark needs Linux")


def _set_up_worker() -> None:
    """As `pipeline._init_pool_process` sets up a stage's worker: one thread per library."""
    import cv2
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)
    threadpool_limits(1)


def _measure(task: str, folder: str, aligned_npy: str, queue: multiprocessing.Queue) -> None:
    """One measurement in this (fresh) process: its seconds and peak RSS, onto `queue`."""
    _set_up_worker()
    from attrmer.config import FlowConfig
    from attrmer.preprocess.align import FaceAligner
    from attrmer.preprocess.clip import align_clip, flow_from_aligned, rgb_from_aligned
    from attrmer.preprocess.frames import LazyFrames, frame_files, load_clip_frames
    from attrmer.preprocess.store import encode_clip

    paths = frame_files(Path(folder))
    aligner = FaceAligner(112)
    aligner.detect(np.zeros((64, 64, 3), np.uint8))  # dlib's models loaded off the clock
    floor = peak_rss_bytes()
    start = time.perf_counter()
    if task == "decode only (streamed)":
        for _ in LazyFrames(paths):
            pass
    elif task == "align: whole clip decoded first (before)":
        # The align stage's worker before streaming: decode every frame, then align the list.
        alignment = align_clip(load_clip_frames(paths), aligner)
        encode_clip(alignment.frames, 0)
    elif task == "align: streamed (now)":
        alignment = align_clip(LazyFrames(paths), aligner)
        encode_clip(alignment.frames, 0)
        np.save(aligned_npy, alignment.frames)
    elif task == "interpolate (TIM, on the aligned clip)":
        encode_clip(rgb_from_aligned(np.load(aligned_npy), 16), 1)
    elif task == "flow (TIM + Farneback, on the aligned clip)":
        flow = flow_from_aligned(np.load(aligned_npy), 16, FlowConfig())
        encode_clip(flow.astype(np.float16), 1)
    else:
        raise ValueError(task)
    seconds = time.perf_counter() - start
    peak = peak_rss_bytes()
    queue.put({"seconds": seconds, "peak_rss_bytes": peak, "process_floor_bytes": floor})


TASKS = ("decode only (streamed)", "align: whole clip decoded first (before)",
         "align: streamed (now)", "interpolate (TIM, on the aligned clip)",
         "flow (TIM + Farneback, on the aligned clip)")


def measure_in_fresh_process(task: str, folder: Path, aligned_npy: Path) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_measure, args=(task, str(folder), str(aligned_npy), queue))
    process.start()
    result = queue.get()
    process.join()
    if process.exitcode != 0:
        raise SystemExit(f"{task}: the measuring process exited with {process.exitcode}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=1000,
                        help="frame files per clip (default: 5 s at 200 fps)")
    parser.add_argument("--resolution", nargs="+", default=["samm", "casme2"],
                        choices=sorted(SYNTH_RESOLUTIONS))
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    from attrmer.cpus import machine_description

    results: dict = {"machine": machine_description(), "frames": args.frames,
                     "goal_peak_bytes": GOAL_BYTES, "clips": {}}
    with tempfile.TemporaryDirectory(prefix="attrmer-bench-memory-") as tmp:
        for resolution in args.resolution:
            folder = Path(tmp) / resolution
            clip = write_long_clip(folder, resolution, args.frames)
            aligned_npy = Path(tmp) / f"{resolution}-aligned.npy"
            clip["measured"] = {}
            for task in TASKS:
                print(f"{resolution}: {task} ...", file=sys.stderr)
                clip["measured"][task] = measure_in_fresh_process(task, folder, aligned_npy)
            results["clips"][resolution] = clip

    for resolution, clip in results["clips"].items():
        measured = clip["measured"]
        width, height = clip["frame_size"]
        print(f"\n{resolution}: {args.frames} frames of {width}×{height} "
              f"({clip['distinct_frames']} distinct, repeated), one worker process")
        print(f"{'':<46}{'peak RSS MiB':>13}{'above floor':>12}{'seconds':>9}{'× decode':>9}")
        decode = measured["decode only (streamed)"]["seconds"]
        for task, figures in measured.items():
            peak, floor = figures["peak_rss_bytes"], figures["process_floor_bytes"]
            print(f"{task:<46}{peak / MIB:>13.0f}{(peak - floor) / MIB:>12.0f}"
                  f"{figures['seconds']:>9.2f}{figures['seconds'] / decode:>9.2f}")
        before = measured["align: whole clip decoded first (before)"]
        now = measured["align: streamed (now)"]
        clip["align_peak_ratio_before_over_now"] = before["peak_rss_bytes"] / now["peak_rss_bytes"]
        clip["align_time_ratio_before_over_now"] = before["seconds"] / now["seconds"]
        clip["worker_peak_bytes"] = max(figures["peak_rss_bytes"]
                                        for task, figures in measured.items()
                                        if task != "align: whole clip decoded first (before)")
        print(f"align's peak: {before['peak_rss_bytes'] / MIB:.0f} MiB before, "
              f"{now['peak_rss_bytes'] / MIB:.0f} MiB now "
              f"({clip['align_peak_ratio_before_over_now']:.1f}× less); time "
              f"{before['seconds']:.1f} s before, {now['seconds']:.1f} s now; the largest "
              f"peak of a stage's worker now {clip['worker_peak_bytes'] / MIB:.0f} MiB "
              f"(goal: under {GOAL_BYTES / 1e9:.0f} GB)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    worst = max(clip["worker_peak_bytes"] for clip in results["clips"].values())
    return 0 if worst <= GOAL_BYTES else 1


if __name__ == "__main__":
    raise SystemExit(main())
