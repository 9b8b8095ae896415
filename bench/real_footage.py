"""How the trained models read real faces: per-clip answers on real footage none of them saw.

The clips are the real videos of ../shared/data/faces-video (see its SOURCES.md), cut where a
person's expression is plain to see, plus the GRID speakers, who speak with a neutral face:

| clip | frames | what the face does | expected |
|---|---|---|---|
| single_face.mp4 | all 72 | neutral, then a broad smile | happiness |
| WolfgangLanger_Pexels.mp4 | 235-300 | from calm into a smile | happiness |
| WolfgangLanger_Pexels.mp4 | 1-50 | crying | sadness |
| 10 GRID clips | all 75 | speaking, face neutral | none (speech): uncertain |

For each clip the script prints the ensemble's label, the votes of the seeds' models, whether
the answer is marked uncertain and why, and then the tally: how many smiles got at least 4 of
5 votes for happiness, and the largest share one class takes of all the answers. Nothing here
is used for training or for choosing any setting.

    python bench/real_footage.py [--model models/] [--window given|auto] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VIDEOS = REPO.parent / "shared" / "data" / "faces-video"
GRID = ("bbaf2n", "brbk7n", "lbax4n", "lbbc2a", "lrwp9a", "lwbsza", "pwij3p", "sbia1a",
        "sbwe5n", "swiz3n")
# (file, onset, offset (1-based, inclusive; None: the clip's ends), expected class or None)
CLIPS = (
    ("single_face.mp4", None, None, "happiness"),
    ("WolfgangLanger_Pexels.mp4", 235, 300, "happiness"),
    ("WolfgangLanger_Pexels.mp4", 1, 50, "sadness"),
    *((f"{name}.mpg", None, None, None) for name in GRID),
)
MIN_VOTES = 4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="a model directory or a folder of them (default: models/seeds/seed_*)")
    parser.add_argument("--window", choices=("given", "auto"), default="given",
                        help="classify the frames of the table (given) or let predict find "
                             "the window inside them (auto)")
    parser.add_argument("--json", type=Path, default=None, help="also write the records")
    args = parser.parse_args(argv)
    if not VIDEOS.is_dir():
        print(f"{VIDEOS}: absent; the real clips live there", file=sys.stderr)
        return 1

    from attrmer.predict import Predictor, WindowChoice, default_model_dirs, predict_paths

    predictor = Predictor(args.model if args.model is not None else default_model_dirs(REPO))
    records = []
    for name, onset, offset, expected in CLIPS:
        if args.window == "given":
            window = WindowChoice("given" if onset else "full", onset, offset)
        else:
            window = WindowChoice("auto", onset, offset)  # the search stays inside the cut
        [record] = predict_paths(predictor, [VIDEOS / name], window=window)
        record["expected"] = expected
        record["cut"] = f"{onset or 1}-{offset or 'end'}"
        records.append(record)
        if "error" in record:
            print(f"{name} {record['cut']}: ERROR {record['error']}")
            continue
        votes = ", ".join(f"{k} {v}" for k, v in record["votes"].items())
        doubt = f" UNCERTAIN: {'; '.join(record['reasons'])}" if record["uncertain"] else ""
        print(f"{name:<26} {record['cut']:>8}  expected {expected or 'none (speech)':<14} "
              f"-> {record['label']:<10} ({votes}; motion {record['motion']:.2f} px){doubt}")

    answered = [r for r in records if "error" not in r]
    smiles = [r for r in answered if r["expected"] == "happiness"]
    held = sum(r["votes"].get("happiness", 0) >= MIN_VOTES for r in smiles)
    counts = Counter(r["label"] for r in answered)
    label, top = counts.most_common(1)[0] if counts else ("-", 0)
    expected = [r for r in answered if r["expected"]]
    right = sum(r["label"] == r["expected"] for r in expected)
    print(f"\nsmiles with >= {MIN_VOTES} votes for happiness: {held} of {len(smiles)}")
    print(f"expressive clips right: {right} of {len(expected)}")
    print(f"largest class share of all {len(answered)} answers: {label} {top}/{len(answered)} "
          f"({top / max(len(answered), 1):.0%}; goal: at most half)")
    print(f"marked uncertain: {sum(r['uncertain'] for r in answered)} of {len(answered)}")
    if args.json is not None:
        args.json.write_text(json.dumps(records, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
