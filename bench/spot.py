"""Benchmark of `attrmer spot` on a 640×480, 30 fps long video against decoding it alone.

Spotting reads every frame of a video minutes long, so its cost is measured against the floor
under it: decoding the same file with the same reader (`attrmer.spot.reading.video_frames`,
OpenCV's FFmpeg backend), nothing else, with FFmpeg's own choice of threads and with one
thread; the faster of the two is the reference. Each is timed `--repeats` times, alternating
with spotting, in this process, and the medians are printed as frames per second and as
ratios; the goal is spotting within 2x the decode-only time on two cores. Loading dlib's
models is a one-off cost of the first call and is printed apart, outside the ratio.

The video is ../shared/data/faces-video/WolfgangLanger_Pexels.mp4 (a woman crying, then
laughing: head motion and large expressions, so the face is re-detected often) scaled to
480 px high, centre-cropped to 640×480 and played forwards and backwards to `--seconds`, then
written as MPEG-4 at 30 fps in a temporary folder. Without the shared data, or with
`--synthetic`, a committed face still drifting by a fraction of a pixel, with sensor noise
and a mouth movement every 2 s, stands in.

    python bench/spot.py [--seconds 60] [--repeats 3] [--synthetic]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from attrmer.config import SpotConfig
from attrmer.preprocess.align import FaceAligner
from attrmer.spot.reading import spot_path, video_frames
from attrmer.synth.make_stills import FACES_DIR, LANDMARKS_FILE

REPO = Path(__file__).resolve().parents[1]
SHARED_VIDEO = REPO.parent / "shared" / "data" / "faces-video" / "WolfgangLanger_Pexels.mp4"
STILL = FACES_DIR / "pexels-wolfgang-langer.jpg"
WIDTH, HEIGHT, FPS = 640, 480, 30
GOAL = 2.0


def real_footage(count: int) -> list[np.ndarray]:
    """The shared clip at 640×480 (BGR), forwards then backwards until `count` frames."""
    frames = []
    for frame in video_frames(SHARED_VIDEO):
        height, width = frame.shape[:2]
        scaled = cv2.resize(frame, (round(width * HEIGHT / height), HEIGHT),
                            interpolation=cv2.INTER_LINEAR)
        left = (scaled.shape[1] - WIDTH) // 2
        frames.append(scaled[:, left:left + WIDTH])
    loop = frames + frames[-2:0:-1]
    return [loop[i % len(loop)] for i in range(count)]


def still_footage(count: int) -> list[np.ndarray]:
    """A face still on a 640×480 canvas: drift, sensor noise, a mouth pulled every 2 s."""
    still = cv2.imread(str(STILL))
    if still is None:
        raise SystemExit(f"{STILL}: no face still to build the video from")
    faces = json.loads((FACES_DIR / LANDMARKS_FILE).read_text())["faces"]
    landmarks = next(f["landmarks"] for f in faces if f["still"] == STILL.name)
    scale = 300 / still.shape[0]
    still = cv2.resize(still, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    height, width = still.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    x, y = (c * scale for c in landmarks[48])  # the left mouth corner
    mouth = np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * 12.0 ** 2)).astype(np.float32)
    rng = np.random.default_rng(0)
    frames = []
    for t in range(count):
        phase = t % (2 * FPS)
        pull = 4.0 * max(0.0, 1.0 - abs(phase - 8) / 5.0)  # 10 frames, every 2 s
        face = cv2.remap(still, xs, ys - pull * mouth, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)
        drift = np.float32([[1, 0, 170 + 3 * np.sin(t / 90)], [0, 1, 90 + 2 * np.cos(t / 70)]])
        canvas = cv2.warpAffine(face, drift, (WIDTH, HEIGHT), borderValue=(90, 90, 90))
        noisy = canvas.astype(np.float32) + rng.normal(0, 2.0, canvas.shape)
        frames.append(np.clip(noisy, 0, 255).astype(np.uint8))
    return frames


def write_video(frames: list[np.ndarray], path: Path) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise SystemExit(f"{path}: OpenCV cannot write MPEG-4 here")
    for frame in frames:
        writer.write(frame)
    writer.release()


def decode_only(path: Path, threads: int | None) -> tuple[int, float]:
    start = time.perf_counter()
    frames = sum(1 for _ in video_frames(path, threads=threads))
    return frames, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="video length (default 60)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--synthetic", action="store_true",
                        help="the face still instead of the shared real clip")
    args = parser.parse_args(argv)
    count = max(FPS, round(args.seconds * FPS))
    real = SHARED_VIDEO.is_file() and not args.synthetic
    with tempfile.TemporaryDirectory(prefix="attrmer-bench-spot-") as work:
        video = Path(work) / "long.mp4"
        print(f"writing {count} frames to {video} ...", file=sys.stderr)
        write_video(real_footage(count) if real else still_footage(count), video)
        note = (f"{SHARED_VIDEO.name} at {WIDTH}x{HEIGHT}, forwards and backwards" if real
                else f"{STILL.name} on a {WIDTH}x{HEIGHT} canvas, drifting")
        print(f"video:   {note}; {count} frames, {count / FPS:.0f} s at {FPS} fps, MPEG-4 "
              f"({video.stat().st_size / 2**20:.1f} MiB)")
        print(f"machine: {os.cpu_count()} cores, OpenCV threads {cv2.getNumThreads()}, load "
              f"average {os.getloadavg()[0]:.2f} (other processes slow both figures)")
        aligner = FaceAligner(SpotConfig().flow_size)
        start = time.perf_counter()
        aligner.detect(np.zeros((64, 64, 3), np.uint8))
        print(f"dlib model loading (one-off, excluded): {time.perf_counter() - start:.2f} s")

        decode, decode_one, spot = [], [], []
        for _ in range(args.repeats):
            frames, seconds = decode_only(video, None)
            decode.append(seconds)
            decode_one.append(decode_only(video, 1)[1])
            start = time.perf_counter()
            result = spot_path(video, kind="video", fps=FPS, aligner=aligner)
            spot.append(time.perf_counter() - start)
        if frames != count or len(result.tracks) != count:
            raise SystemExit(f"decoded {frames} and spotted {len(result.tracks)} of {count} frames")

    spot_s = statistics.median(spot)
    rows = {"decode only, FFmpeg threads": statistics.median(decode),
            "decode only, one thread": statistics.median(decode_one)}
    decode_s = min(rows.values())
    rows["spotting"] = spot_s
    print(f"\n{'':<28}{'median s':>9}{'frames/s':>10}{'x decode':>10}   ({args.repeats} runs)")
    for name, seconds in rows.items():
        print(f"{name:<28}{seconds:>9.2f}{count / seconds:>10.0f}{seconds / decode_s:>10.2f}")
    counts = {kind: sum(1 for i in result.intervals if i.kind == kind)
              for kind in ("micro", "macro")}
    print(f"\nspotted {counts['micro']} micro, {counts['macro']} macro, {len(result.blinks)} "
          f"blinks; face (re)detected {len(result.detections)} times "
          f"({count / FPS / max(1, len(result.detections)):.1f} s apart on average)")
    verdict = "within" if spot_s / decode_s <= GOAL else "OVER"
    print(f"headline: spotting runs at {count / spot_s:.0f} frames/s, {spot_s / decode_s:.2f}x "
          f"decoding the same video alone (the faster decoding, {count / decode_s:.0f} "
          f"frames/s), {verdict} the {GOAL:g}x goal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
