"""DVC stage `baselines@<name>`: a method of Table III (a name of `attrmer.baselines.TITLES`) on
the same split as the method, writing its predictions and a summary beside the method's.

A classic baseline (LBP-TOP, MDMO, FDM, Sparse MDMO: an SVM, its C chosen inside the training
subjects) runs once, being deterministic; a deep one (ELRCN, NetAB, TLCNN, and the reference
points STSTNet and Off-ApexNet: `baselines/dvc.yaml`) trains once per seed of `train.seeds`, its
epoch chosen on the validation subjects."""

from __future__ import annotations

import argparse
from pathlib import Path

from attrmer.baselines import DEEP, TITLES
from attrmer.config import load_params
from attrmer.errors import run_reporting_errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", choices=list(TITLES), help="which baseline to run")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--manifest", default="data/interim/manifest.csv")
    parser.add_argument("--rgb", default="data/processed/rgb.h5")
    parser.add_argument("--flow", default="data/processed/flow.h5")
    parser.add_argument("--out", default="metrics/baselines",
                        help="writes <out>/<name>/ (its predictions) and <out>/<name>.json")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out)

    def run() -> None:
        paths = dict(manifest_path=args.manifest, rgb_path=args.rgb, flow_path=args.flow,
                     out_dir=out / args.name, summary_path=out / f"{args.name}.json")
        if args.name in DEEP:
            from attrmer.baselines.deep.run import run_deep_baseline

            summary = run_deep_baseline(args.name, load_params(args.params),
                                        progress=not args.no_progress, **paths)
            print(f"{args.name}: accuracy {summary['accuracy']['mean']:.4f} ± "
                  f"{summary['accuracy']['std']:.4f}, UF1 {summary['uf1']['mean']:.4f} over "
                  f"{summary['n_seeds']} seed(s), epochs chosen on validation subjects")
            return
        from attrmer.baselines.run import run_baseline

        summary = run_baseline(args.name, load_params(args.params), **paths)
        c = summary["svm_c"]
        chosen = f"C {c:g}" if isinstance(c, float) else f"C per fold {sorted(set(c.values()))}"
        print(f"{args.name}: accuracy {summary['accuracy']['mean']:.4f}, UF1 "
              f"{summary['uf1']['mean']:.4f} ({chosen}, one deterministic run)")

    return run_reporting_errors(f"baselines {args.name}", run)


if __name__ == "__main__":
    raise SystemExit(main())
