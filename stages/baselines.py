"""DVC stage `baselines@<name>`: a classic baseline (a name of `attrmer.baselines.run.BASELINES`:
LBP-TOP, MDMO, FDM or Sparse MDMO, each with an SVM) on the same split as the method, its C
chosen inside the training subjects, writing its predictions and a summary beside the
method's (one run: every classifier is deterministic)."""

from __future__ import annotations

import argparse
from pathlib import Path

from attrmer.baselines.run import BASELINES, run_baseline
from attrmer.config import load_params
from attrmer.errors import run_reporting_errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", choices=sorted(BASELINES), help="which baseline to run")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--manifest", default="data/interim/manifest.csv")
    parser.add_argument("--rgb", default="data/processed/rgb.h5")
    parser.add_argument("--flow", default="data/processed/flow.h5")
    parser.add_argument("--out", default="metrics/baselines",
                        help="writes <out>/<name>/predictions.csv and <out>/<name>.json")
    args = parser.parse_args(argv)
    out = Path(args.out)

    def run() -> None:
        summary = run_baseline(
            args.name,
            load_params(args.params),
            manifest_path=args.manifest,
            rgb_path=args.rgb,
            flow_path=args.flow,
            out_dir=out / args.name,
            summary_path=out / f"{args.name}.json",
        )
        c = summary["svm_c"]
        chosen = f"C {c:g}" if isinstance(c, float) else f"C per fold {sorted(set(c.values()))}"
        print(f"{args.name}: accuracy {summary['accuracy']['mean']:.4f}, UF1 "
              f"{summary['uf1']['mean']:.4f} ({chosen}, one deterministic run)")

    return run_reporting_errors(f"baselines {args.name}", run)


if __name__ == "__main__":
    raise SystemExit(main())
