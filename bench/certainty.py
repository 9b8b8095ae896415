"""Does `uncertain` mean something? The default models' answers on held-out clips, split by
whether `attrmer predict` marked them uncertain.

Runs `attrmer predict`'s own path (`predict_paths`, the five seeds' ensemble, every reason for
doubt) on the built-in dataset's test subjects' clips (frame folders of `dvc repro`'s corpus,
`--window full`, as the clips are cut), and reads the records of `bench/real_faces.py smiles
--json` for the real-face development smiles when given. Prints, for each set, how often the
answers marked certain are right against those marked uncertain, and which reasons fired.

    python bench/certainty.py [--model models/seeds] [--smiles smiles.json] [--json F]

Nothing here chooses a setting on the test subjects: it reports how the rule behaves there.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tally(records: list[dict], truth: list[str]) -> dict:
    """Right answers among those marked certain and uncertain, and the reasons' counts."""
    certain, doubtful, reasons = [0, 0], [0, 0], Counter()
    for record, expected in zip(records, truth, strict=True):
        if record.get("error"):
            continue
        side = doubtful if record["uncertain"] else certain
        side[0] += record["label"] == expected
        side[1] += 1
        # The reason's kind, without its numbers ("the 5 models disagree (...)" -> "models
        # disagree").
        reasons.update(re.sub(r"\(.*|\d+(\.\d+)?x?|the ", "", r).split(":")[0].strip()[:40]
                       for r in record.get("reasons") or [])
    return {"certain": certain, "uncertain": doubtful, "reasons": dict(reasons.most_common())}


def built_in_test(model: Path | None) -> dict:
    from attrmer.manifest import read_manifest, usable
    from attrmer.predict import Predictor, WindowChoice, default_model_dirs, predict_paths

    manifest = usable(read_manifest(REPO / "data" / "interim" / "manifest.csv"))
    test = manifest[manifest["split"] == "test"]
    folders = [REPO / folder for folder in test["frame_dir"]]
    predictor = Predictor(model if model is not None else default_model_dirs(REPO))
    records = predict_paths(predictor, folders, window=WindowChoice("full", None, None))
    return tally(records, list(test["class_name"]))


def _line(name: str, result: dict) -> str:
    def rate(pair: list[int]) -> str:
        return f"{pair[0]} / {pair[1]}" + (f" ({pair[0] / pair[1]:.0%})" if pair[1] else "")

    return (f"{name}: certain right {rate(result['certain'])}, uncertain right "
            f"{rate(result['uncertain'])}; reasons {result['reasons']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="a model directory or a folder of them (default: models/seeds)")
    parser.add_argument("--smiles", type=Path, default=None,
                        help="the JSON of `bench/real_faces.py smiles --json`")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures")
    args = parser.parse_args(argv)
    results = {"built-in test subjects": built_in_test(args.model)}
    if args.smiles is not None:
        smiles = json.loads(args.smiles.read_text())["records"]
        results["real-face development smiles"] = tally(smiles, ["happiness"] * len(smiles))
    for name, result in results.items():
        print(_line(name, result))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
