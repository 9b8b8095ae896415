"""Time `attrmer predict` on one 72-frame 640×360 clip, split by step.

Steps: decode (the video file to RGB frames), align (face detection, landmarks, one warp per
frame), tim (TIM of the RGB clip to the model's T frames), flow (grey TIM to T+1 frames, then
Farneback), network (input preparation and the video network). Model loading is excluded:
the Predictor is built once, a warm-up run is discarded, then the median and the slowest of
`--repeats` runs are printed. The cold figure comes first: `attrmer predict CLIP` run as a
fresh process, the way a user calls it once, from start to printed answer (imports, loading
every seed's model and dlib's, the clip); its goal is 3 s on two cores, the warm one 0.5 s.

The clip is ../shared/data/faces-video/single_face.mp4 when present, else a committed face
still warped into 72 frames of 640×360 and written as an MP4. The model is models/seeds/seed_<s>
when `dvc repro` has trained one (or --model), else a randomly initialised network of the
default CPU size (width 16, depth 10, input 112, 16 frames) — timing does not depend on the
weights. The target: at most 1 s per clip on a 2-core CPU.

    python bench/predict.py [--video FILE | --synthetic] [--model DIR] [--repeats 5]
                            [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_VIDEO = REPO.parent / "shared" / "data" / "faces-video" / "single_face.mp4"
FACES = REPO / "src" / "attrmer" / "synth" / "faces"
CLIP_FRAMES, CLIP_WIDTH, CLIP_HEIGHT = 72, 640, 360
TARGET_SECONDS = 0.5
COLD_TARGET_SECONDS = 3.0


def cold_start(video: Path, model: Path | list[Path] | None, repeats: int = 3) -> list[float]:
    """Wall seconds of `attrmer predict VIDEO --json` in a fresh interpreter, `repeats` times."""
    import subprocess

    # The installed `attrmer` command, as a user runs it (`python -m` when it is not there).
    script = Path(sys.executable).parent / "attrmer"
    command = ([str(script)] if script.is_file() else [sys.executable, "-m", "attrmer.cli"])
    command += ["predict", str(video), "--json"]
    if isinstance(model, Path):
        command += ["--model", str(model)]
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
        seconds.append(time.perf_counter() - start)
        if result.returncode not in (0,):
            raise SystemExit(f"cold run failed ({result.returncode}): {result.stderr.strip()}")
    return seconds


def synthetic_clip_video(directory: Path) -> Path:
    """A committed face still on a 640×360 frame, drifting slowly over 72 frames, as MP4."""
    stills = sorted(FACES.glob("*.jpg"))
    if not stills:
        raise SystemExit(f"no video given, {SHARED_VIDEO} absent and no face still in {FACES}")
    still = cv2.imread(str(stills[0]))
    side = int(CLIP_HEIGHT * 0.8)
    still = cv2.resize(still, (side, side), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((CLIP_HEIGHT, CLIP_WIDTH, 3), 100, np.uint8)
    top, left = (CLIP_HEIGHT - side) // 2, (CLIP_WIDTH - side) // 2
    canvas[top:top + side, left:left + side] = still
    path = directory / "face_72x640x360.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30,
                             (CLIP_WIDTH, CLIP_HEIGHT))
    for i in range(CLIP_FRAMES):
        angle = 1.5 * np.sin(2 * np.pi * i / CLIP_FRAMES)
        matrix = cv2.getRotationMatrix2D((CLIP_WIDTH / 2, CLIP_HEIGHT / 2), angle, 1.0)
        matrix[:, 2] += (0.05 * i, 0.03 * i)
        writer.write(cv2.warpAffine(canvas, matrix, (CLIP_WIDTH, CLIP_HEIGHT),
                                    borderMode=cv2.BORDER_REPLICATE))
    writer.release()
    return path


def random_model_dir(directory: Path) -> Path:
    """The default CPU model size (params.yaml defaults), randomly initialised."""
    import torch

    from attrmer.config import Params
    from attrmer.model import VideoNet
    from attrmer.modelfile import save_model_dir

    torch.manual_seed(0)
    params = Params.from_dict({"model": {"width": 16, "depth": 10, "input_size": 112},
                               "preprocess": {"size": 112, "frames": 16}})
    classes = ["happiness", "disgust", "repression", "surprise", "sadness"]
    save_model_dir(directory / "random_model", VideoNet.from_config(params.model, len(classes)),
                   params=params, classes=classes)
    return directory / "random_model"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=None)
    parser.add_argument("--synthetic", action="store_true",
                        help="time the clip made from a committed still even if the shared "
                             "video is present")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own, one per core)")
    parser.add_argument("--cold-repeats", type=int, default=3)
    args = parser.parse_args(argv)

    cold_video = args.video or (SHARED_VIDEO if SHARED_VIDEO.is_file() else None)
    cold = None
    if cold_video is not None and args.cold_repeats > 0:
        cold = cold_start(cold_video, args.model, args.cold_repeats)

    import torch

    from attrmer.modelfile import ModelFileError
    from attrmer.predict import STEPS, Predictor, default_model_dirs
    from attrmer.preprocess.frames import read_video

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video = args.video
        if video is None and SHARED_VIDEO.is_file() and not args.synthetic:
            video = SHARED_VIDEO
        if video is not None and not video.is_file():
            parser.error(f"{video}: no such video file")
        clip_note = str(video)
        if video is None:
            video = synthetic_clip_video(tmp)
            clip_note = f"a committed face still warped into {CLIP_FRAMES} frames (mp4)"
        model_dir, model_note = args.model, "given"
        if model_dir is None:
            try:
                model_dir, model_note = default_model_dirs(REPO), "trained by dvc repro"
            except ModelFileError:
                model_dir = random_model_dir(tmp)
                model_note = "NO trained model found: randomly initialised, same size"

        start = time.perf_counter()
        predictor = Predictor(model_dir)
        load_seconds = time.perf_counter() - start
        cfg = predictor.bundle.model
        frames = read_video(video)
        height, width = frames[0].shape[:2]
        print(f"clip:    {clip_note} ({len(frames)} frames, {width}x{height})")
        print(f"model:   {model_dir} ({model_note}); width {cfg.width}, depth {cfg.depth}, "
              f"input {cfg.input_size}, {predictor.bundle.frames} frames")
        print(f"machine: {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
              f"load average {os.getloadavg()[0]:.2f} (other processes slow every step)")
        print(f"model loading (excluded): {load_seconds:.2f} s")

        runs = []
        for repeat in range(args.repeats + 1):
            prediction = predictor.predict_path(video)
            if repeat > 0:  # the first run warms the caches and is discarded
                runs.append(prediction.timings)

    totals = [sum(run.values()) for run in runs]
    print(f"\n{'step':<8} {'median s':>9} {'max s':>8}   ({len(runs)} runs after a warm-up)")
    for step in STEPS:
        values = [run[step] for run in runs]
        print(f"{step:<8} {statistics.median(values):9.3f} {max(values):8.3f}")
    median_total = statistics.median(totals)
    print(f"{'total':<8} {median_total:9.3f} {max(totals):8.3f}")
    verdict = "within" if median_total <= TARGET_SECONDS else "OVER"
    print(f"\nprediction: {prediction.label}; warm: median {median_total:.3f} s per clip with "
          f"{len(predictor.bundles)} model(s), {verdict} the {TARGET_SECONDS:g} s target")
    if cold is not None:
        cold_median = statistics.median(cold)
        verdict = "within" if cold_median <= COLD_TARGET_SECONDS else "OVER"
        print(f"cold: `attrmer predict {cold_video.name}` as a fresh process (every seed's "
              f"model), median "
              f"{cold_median:.2f} s of {len(cold)} (max {max(cold):.2f}), {verdict} the "
              f"{COLD_TARGET_SECONDS:g} s target; {cold_median / median_total:.1f}x the warm "
              "figure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
