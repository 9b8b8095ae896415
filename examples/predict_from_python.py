"""attrmer from Python: classify clips with trained models, without the command line.

    python examples/predict_from_python.py CLIP [CLIP ...] [--model models/seeds]

CLIP is a video file or a folder of frames. `Predictor` loads the models once (one model
directory, or a folder of them: an ensemble); `predict_paths` runs what `attrmer predict`
runs (finding the expression's window, the uncertainty checks) and gives one record per clip;
`predict_frames` classifies frames already in memory (RGB, H x W x 3, uint8, onset to offset).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from attrmer.predict import Predictor, WindowChoice, predict_paths
from attrmer.preprocess.frames import read_video


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clips", nargs="+", type=Path)
    parser.add_argument("--model", type=Path, default=Path("models/seeds"))
    args = parser.parse_args(argv)

    predictor = Predictor(args.model)  # networks, dlib's detector and landmarks: loaded once
    print(f"{len(predictor.bundles)} model(s), classes {', '.join(predictor.classes)}")

    # 1. Paths, as `attrmer predict` reads them: the window is searched for (`auto`).
    for record in predict_paths(predictor, args.clips, window=WindowChoice("auto")):
        if "error" in record:
            print(f"{record['path']}: cannot be predicted: {record['error']}")
            continue
        doubt = f" (uncertain: {'; '.join(record['reasons'])})" if record["uncertain"] else ""
        window = record["window"]
        print(f"{record['path']}: {record['label']} "
              f"{record['probabilities'][record['label']]:.0%}, frames "
              f"{window['onset']}-{window['offset']}{doubt}")

    # 2. Frames already in memory, the whole clip as one expression.
    videos = [path for path in args.clips if path.is_file()]
    if videos:
        prediction = predictor.predict_frames(read_video(videos[0]))
        print(f"{videos[0]} as frames in memory: {prediction.label}, votes {prediction.votes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
