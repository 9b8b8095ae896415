"""Learning from small datasets: the method against MDMO + SVM on subsets of the built-in data.

Reads a finished pipeline's manifest and stores (`dvc repro` on the built-in corpus), builds
subsets with fewer clips and classes on the same subject-independent split, and trains the
method (params.yaml's setting: validation subjects carved from the training side select the
epoch; nothing looks at the test subjects) and MDMO + SVM (its C chosen by cross-validation
inside the training subjects) on each. Prints, per subset, the clip counts, the method's
accuracy and UF1 (mean ± std over seeds) and MDMO's (one deterministic run).

    python bench/small_data.py                       # subsets "3x1" and "5x2", then "full"
    python bench/small_data.py --subsets 3x1 --seeds 0 1 2 3 4
    python bench/small_data.py --init pretrained     # each seed from models/pretrained

With `--init pretrained` the method starts from the pretrain stage's model (`dvc repro
pretrain` with `train.init: pretrained`; on the built-in data it saw only the training
subjects' faces, so the subsets' test subjects stay unseen). The validation accuracy is printed
beside the test figures: settings are compared on it, never on the test columns.

A subset "CxK" keeps the first C classes of `CLASSES` and at most K clips per subject and class;
"full" keeps the paper's five classes and every clip.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from attrmer.baselines.run import baseline_folds, extract_features, predict_folds
from attrmer.config import load_params
from attrmer.datasets.splits import subject_independent_split
from attrmer.evaluate.metrics import accuracy, uf1
from attrmer.manifest import read_manifest, usable, write_manifest
from attrmer.train import TrainingLayout, train_seed
from attrmer.train.tasks import TrainingInputs

# The classes a "C×K" subset keeps, in order: the three the field's composite benchmarks use
# first (positive, surprise, a negative one), then the rest of the paper's five.
CLASSES = ["happiness", "surprise", "disgust", "repression", "sadness"]


def subset(manifest: pd.DataFrame, classes: int, per_subject: int, seed: int,
           validation_fraction: float) -> pd.DataFrame:
    """The usable rows of the first `classes` classes, `per_subject` clips per subject and
    class, relabelled 0.., on the manifest's own train/test subjects; validation subjects
    carved again from the training side."""
    keep = CLASSES[:classes]
    rows = usable(manifest)
    rows = rows[rows["emotion"].isin(keep)]
    rows = rows.sample(frac=1.0, random_state=seed).groupby(["subject", "emotion"]).head(
        per_subject).copy()
    rows["label"] = rows["emotion"].map({name: i for i, name in enumerate(keep)})
    rows["class_name"] = rows["emotion"]
    rows.loc[rows["split"] == "val", "split"] = "train"
    training = rows[rows["split"] == "train"]
    sides = subject_independent_split(list(training["subject"]), list(training["label"]),
                                      test_fraction=validation_fraction, seed=seed)
    held = {s for s, side in sides.items() if side == "test"}
    rows.loc[rows["subject"].isin(held) & (rows["split"] == "train"), "split"] = "val"
    return rows.sort_values("key").reset_index(drop=True)


def run(name: str, rows: pd.DataFrame, root: Path, args: argparse.Namespace) -> dict:
    params = load_params(args.params)
    if args.init:
        params = dataclasses.replace(params, train=dataclasses.replace(params.train,
                                                                       init=args.init))
    work = root / name
    manifest_path = work / "manifest.csv"
    write_manifest(rows, manifest_path)
    accuracies, f1s, validation = [], [], []
    start = time.perf_counter()
    for seed in args.seeds:
        layout = TrainingLayout(
            inputs=TrainingInputs(manifest=manifest_path, rgb=args.rgb, flow=args.flow,
                                  attributes=args.attributes, pretrained=args.pretrained),
            models=work / "models", metrics=work / "metrics", checkpoints=work / "checkpoints",
            live=work / f"live_{seed}")
        metrics = train_seed(params, seed, layout, progress=False)
        accuracies.append(metrics["accuracy"])
        val = pd.read_csv(work / "metrics" / f"seed_{seed}_validation.csv")
        validation.append(float((val["y_true"] == val["y_pred"]).mean()) if len(val) else
                          float("nan"))
        f1s.append(metrics["uf1"])
    seconds = time.perf_counter() - start
    ok = usable(rows)
    classes = [c for c in CLASSES if c in set(ok["emotion"])]
    folds = baseline_folds(ok, params.split.protocol)
    features = extract_features("mdmo", params, args.flow, list(ok["key"]))
    predictions, chosen = predict_folds("mdmo", params, features, ok, folds, classes)
    y_true, y_pred = predictions["y_true"].to_numpy(), predictions["y_pred"].to_numpy()
    labels = list(range(len(classes)))
    counts = ok["split"].value_counts().to_dict()
    return {
        "subset": name, "classes": len(classes), "train": counts.get("train", 0),
        "val": counts.get("val", 0), "test": counts.get("test", 0),
        "method": (np.mean(accuracies), np.std(accuracies, ddof=1) if len(accuracies) > 1
                   else 0.0),
        "method_uf1": (np.mean(f1s), np.std(f1s, ddof=1) if len(f1s) > 1 else 0.0),
        "method_val": np.mean(validation),
        "mdmo": accuracy(y_true, y_pred), "mdmo_uf1": uf1(y_true, y_pred, labels),
        "mdmo_c": chosen, "seconds_per_seed": seconds / len(args.seeds),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subsets", nargs="+", default=["3x1", "5x2", "full"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--init", default=None,
                        help="train.init for the method (default: the params file's)")
    parser.add_argument("--pretrained", type=Path, default=Path("models/pretrained"),
                        help="what train.init: pretrained starts from")
    parser.add_argument("--manifest", type=Path, default=Path("data/interim/manifest.csv"))
    parser.add_argument("--rgb", type=Path, default=Path("data/processed/rgb.h5"))
    parser.add_argument("--flow", type=Path, default=Path("data/processed/flow.h5"))
    parser.add_argument("--attributes", type=Path,
                        default=Path("data/processed/attributes.csv"))
    args = parser.parse_args(argv)
    params = load_params(args.params)
    manifest = read_manifest(args.manifest)
    results = []
    with tempfile.TemporaryDirectory(prefix="attrmer-small-") as tmp:
        for name in args.subsets:
            if name == "full":
                classes, per_subject = len(CLASSES), 10**6
            else:
                classes, per_subject = (int(x) for x in name.split("x"))
            rows = subset(manifest, classes, per_subject, params.split.seed,
                          params.split.validation_fraction)
            results.append(run(name, rows, Path(tmp), args))
            r = results[-1]
            print(f"{name}: done ({r['seconds_per_seed']:.0f} s per seed)", flush=True)
    init = args.init or params.train.init
    print(f"\nmethod: params {args.params}, train.init {init}, seeds {args.seeds}; MDMO + SVM: "
          "one deterministic run; both on the same split, selection on training subjects only")
    print(f"{'subset':<8}{'classes':>8}{'train/val/test':>16}{'method val %':>14}"
          f"{'method acc %':>16}{'method UF1 %':>16}{'MDMO acc %':>12}{'MDMO UF1 %':>12}")
    for r in results:
        sizes = f"{r['train']}/{r['val']}/{r['test']}"
        acc, f1 = r["method"], r["method_uf1"]
        print(f"{r['subset']:<8}{r['classes']:>8}{sizes:>16}{100 * r['method_val']:>14.1f}"
              f"{100 * acc[0]:>9.1f} ± {100 * acc[1]:<4.1f}{100 * f1[0]:>9.1f} ± "
              f"{100 * f1[1]:<4.1f}{100 * r['mdmo']:>12.1f}{100 * r['mdmo_uf1']:>12.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
