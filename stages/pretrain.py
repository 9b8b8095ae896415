"""DVC stage `pretrain`: the video network trained on a rendered corpus, for `train.init`.

With `train.init: pretrained` it renders `pretrain.clips` clips, preprocesses them with the
pipeline's own code and trains the video network (see attrmer.pretrain); with any other
`train.init` nothing is trained and the output folder holds only `status.json` saying so, so
that `dvc repro` costs nothing for it.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from attrmer.config import load_params
from attrmer.errors import run_reporting_errors
from attrmer.io import atomic_path, write_json

STATUS = "status.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--manifest", default="data/interim/manifest.csv",
                        help="the dataset's manifest (on the built-in data: whose faces to skip)")
    parser.add_argument("--out", type=Path, default=Path("models/pretrained"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("attrmer").setLevel(logging.INFO)

    def run() -> None:
        params = load_params(args.params)
        if params.train.init != "pretrained":
            with atomic_path(args.out, directory=True) as tmp:
                write_json(tmp / STATUS, {
                    "status": "not used",
                    "reason": f"train.init is {params.train.init!r}, not 'pretrained'"})
            print(f"pretrain: not used (train.init: {params.train.init})")
            return
        from attrmer.pretrain import run_pretraining

        record = run_pretraining(params, args.out, dataset_manifest=args.manifest,
                                 progress=not args.no_progress)
        seconds = record.pop("seconds")
        # No timings in the output: it must be byte-identical when the model is.
        write_json(args.out / STATUS, {"status": "pretrained", **record})
        print(f"pretrain: {record['clips']} clips of faces {record['faces']}, "
              f"{record['steps']} steps, training accuracy "
              f"{record['train_accuracy_last_epoch']:.3f} ({seconds['total']:.0f} s, "
              f"{seconds['corpus']:.0f} s of it for the corpus)")

    return run_reporting_errors("pretrain", run)


if __name__ == "__main__":
    raise SystemExit(main())
