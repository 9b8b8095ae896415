"""The real-face development benchmark: people and motion that no training corpus sees.

Made from the 20 London people kept out of the committed faces (`attrmer.synth.real_stills.
development_people`), read from ../shared/data/faces-stills (see attrmer.synth.development):

- `learn`: 15 of them × happiness (their own smile as measured), sadness and surprise (the AU
  model, or with `--motion unseen` dense fields of a design no training corpus draws: can the
  method learn a motion from a handful of clips?), one clip each at micro amplitude, in the
  CASME II layout; the method as a params file sets it (default: params.yaml, the default
  settings) against MDMO + SVM on the same subject-independent split (27 training clips, of
  which 2 subjects' select the epoch, and 18 test clips), the method over 5 seeds. It runs the
  pipeline's own functions: prepare (the casme2 adapter), align, TIM, flow, attributes,
  pretraining when train.init says so, training.
- `smiles`: the default models (or --model) on a subtle real smile of each of the 20 people
  (their measured smile at 30 % of its amplitude, 480 px, 30 fps, `--window auto`): how many
  read as happiness, and how often the answers marked certain are right against those marked
  uncertain.

- `zeroshot`: a network as it comes (default: the pretrained one, models/pretrained) on the
  45 clips of `learn`, before any training on them: which class each one reads as. A network
  that learned a class's motion rather than the renderer's reads it from another design.

    python bench/real_faces.py learn [--params params.yaml] [--seeds 0 1 2 3 4] [--json F]
    python bench/real_faces.py smiles [--model models/seeds] [--json F]
    python bench/real_faces.py zeroshot [--model models/pretrained] [--motion posed] [--json F]

Settings are chosen on these figures and on validation subjects; the clips reported as the
project's results are never used for it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
STILLS = REPO.parent / "shared" / "data" / "faces-stills"
CLASSES = ["happiness", "sadness", "surprise"]
# The development corpus' motions (attrmer.synth.development.MOTIONS), without importing it.
MOTIONS = ("model", "unseen", "posed")


def development_stores(args: argparse.Namespace, work: Path) -> tuple[Any, Path, Path, Path]:
    """The development corpus of `args` (people, motion, intensity) rendered under `work` and
    read as CASME II: (params for it, its manifest, the rgb and flow stores)."""
    from attrmer.config import SynthConfig, load_params
    from attrmer.datasets.prepare import prepare_dataset
    from attrmer.preprocess.pipeline import build_stores
    from attrmer.synth.development import build_development_corpus

    params = load_params(args.params)
    corpus = build_development_corpus(work / "corpus", STILLS, people_count=args.people,
                                      motion=args.motion,
                                      cfg=SynthConfig(intensity=args.intensity))
    params = dataclasses.replace(params, data=dataclasses.replace(
        params.data, name="casme2", root=str(corpus), classes=CLASSES))
    params.validate()
    manifest = work / "interim" / "manifest.csv"
    prepare_dataset(params, manifest.parent)
    rgb, flow = build_stores(manifest, work, params.preprocess, params.flow, progress=False)
    return params, manifest, rgb, flow


def learn(args: argparse.Namespace) -> dict:
    from attrmer.attributes import run_attributes
    from attrmer.baselines.run import baseline_folds, extract_features, predict_folds
    from attrmer.evaluate.metrics import accuracy, uf1
    from attrmer.manifest import read_manifest, usable
    from attrmer.pretrain import run_pretraining
    from attrmer.train import TrainingLayout, train_seed
    from attrmer.train.tasks import TrainingInputs

    with tempfile.TemporaryDirectory(prefix="attrmer-real-faces-") as tmp:
        work = Path(tmp)
        params, manifest_path, rgb, flow = development_stores(args, work)
        attributes = work / "attributes.csv"
        run_attributes(manifest_path, attributes, params.attributes)
        pretrained = args.pretrained or work / "pretrained"
        started = time.perf_counter()
        if params.train.init == "pretrained" and args.pretrained is None:
            run_pretraining(params, pretrained, dataset_manifest=manifest_path, progress=False)
            if args.keep_pretrained is not None:
                import shutil

                shutil.copytree(pretrained, args.keep_pretrained, dirs_exist_ok=True)
        pretraining_seconds = time.perf_counter() - started
        accuracies, f1s, validation = [], [], []
        started = time.perf_counter()
        for seed in args.seeds:
            layout = TrainingLayout(
                inputs=TrainingInputs(manifest=manifest_path, rgb=rgb, flow=flow,
                                      attributes=attributes, pretrained=pretrained),
                models=work / "models", metrics=work / "metrics",
                checkpoints=work / "checkpoints", live=work / f"live_{seed}")
            metrics = train_seed(params, seed, layout, progress=False)
            accuracies.append(metrics["accuracy"])
            f1s.append(metrics["uf1"])
            val = pd.read_csv(work / "metrics" / f"seed_{seed}_validation.csv")
            validation.append(float((val["y_true"] == val["y_pred"]).mean()))
        training_seconds = time.perf_counter() - started
        rows = usable(read_manifest(manifest_path))
        folds = baseline_folds(rows, params.split.protocol)
        features = extract_features("mdmo", params, flow, list(rows["key"]))
        predictions, chosen = predict_folds("mdmo", params, features, rows, folds, CLASSES)
        y_true, y_pred = predictions["y_true"].to_numpy(), predictions["y_pred"].to_numpy()
        sizes = rows["split"].value_counts().to_dict()
    result = {
        "params": str(args.params), "motion": args.motion, "intensity": args.intensity,
        "seeds": args.seeds, "clips": sizes,
        "method_accuracy": _mean_sd(accuracies), "method_uf1": _mean_sd(f1s),
        "method_validation_accuracy": float(np.mean(validation)),
        "method_accuracy_by_seed": [round(a, 4) for a in accuracies],
        "mdmo_accuracy": float(accuracy(y_true, y_pred)),
        "mdmo_uf1": float(uf1(y_true, y_pred, list(range(len(CLASSES))))),
        "mdmo_c": chosen,
        "seconds": {"pretraining": round(pretraining_seconds, 1),
                    "training_per_seed": round(training_seconds / len(args.seeds), 1)},
    }
    acc, f1 = result["method_accuracy"], result["method_uf1"]
    print(f"real-face development benchmark, learning ({args.params}; sadness and surprise "
          f"moved by the {args.motion} motion; intensity {args.intensity:g}; clips {sizes})")
    print(f"  method       accuracy {100 * acc[0]:.1f} ± {100 * acc[1]:.1f} %   UF1 "
          f"{100 * f1[0]:.1f} ± {100 * f1[1]:.1f} %   validation "
          f"{100 * result['method_validation_accuracy']:.1f} %   ({len(args.seeds)} seeds)")
    print(f"  MDMO + SVM   accuracy {100 * result['mdmo_accuracy']:.1f} %   UF1 "
          f"{100 * result['mdmo_uf1']:.1f} %   (C {chosen}, one deterministic run)")
    return result


def smiles(args: argparse.Namespace) -> dict:
    from attrmer.predict import Predictor, WindowChoice, default_model_dirs, predict_paths
    from attrmer.synth.development import load_pair, write_smile_video
    from attrmer.synth.make_stills import _Landmarker
    from attrmer.synth.real_stills import development_people, people

    predictor = Predictor(args.model if args.model is not None else default_model_dirs(REPO))
    landmarker = _Landmarker()
    records = []
    with tempfile.TemporaryDirectory(prefix="attrmer-smiles-") as tmp:
        for number, person in enumerate(development_people(people(STILLS))):
            pair = load_pair(person, landmarker, side=480, crop=False)
            video = write_smile_video(Path(tmp) / f"{person.set}-{person.id}.mp4", pair,
                                      fraction=args.fraction, seed=number)
            [record] = predict_paths(predictor, [video], window=WindowChoice("auto", None, None))
            record["person"] = f"{person.set}-{person.id}"
            records.append(record)
            if "error" in record:
                print(f"{record['person']}: ERROR {record['error']}")
                continue
            votes = ", ".join(f"{k} {v}" for k, v in record["votes"].items())
            doubt = f"  uncertain: {'; '.join(record['reasons'])}" if record["uncertain"] else ""
            print(f"{record['person']}: {record['label']} ({votes}){doubt}")
    answered = [r for r in records if "error" not in r]
    right = [r["label"] == "happiness" for r in answered]
    certain = [ok for ok, r in zip(right, answered, strict=True) if not r["uncertain"]]
    doubtful = [ok for ok, r in zip(right, answered, strict=True) if r["uncertain"]]
    result = {
        "model": str(args.model or "models/seeds"), "fraction": args.fraction,
        "people": len(records), "answered": len(answered), "happiness": sum(right),
        "labels": dict(Counter(r["label"] for r in answered)),
        "certain": [sum(certain), len(certain)], "uncertain": [sum(doubtful), len(doubtful)],
        "records": [{k: r.get(k) for k in ("person", "label", "votes", "uncertain", "reasons",
                                           "error")} for r in records],
    }
    print(f"\nsubtle real smiles of {len(records)} people no training saw: happiness "
          f"{sum(right)} / {len(answered)}; {result['labels']}")
    print(f"  answers marked certain right {_rate(certain)}; marked uncertain right "
          f"{_rate(doubtful)}")
    return result


def zeroshot(args: argparse.Namespace) -> dict:
    from attrmer.manifest import read_manifest, usable
    from attrmer.modelfile import load_model_dir
    from attrmer.train.data import TrainingTable
    from attrmer.train.loop import predict_rows
    from attrmer.train.runtime import Runtime

    result: dict = {"motion": args.motion, "intensity": args.intensity, "models": {}}
    with tempfile.TemporaryDirectory(prefix="attrmer-zeroshot-") as tmp:
        work = Path(tmp)
        params, manifest, rgb, flow = development_stores(args, work)
        rows = usable(read_manifest(manifest))
        for model in args.model:
            bundle = load_model_dir(model)
            labels = {name: i for i, name in enumerate(bundle.classes)}
            frame = rows.assign(label=[labels[e] for e in rows["emotion"]], text_id=0)
            table = TrainingTable(frame, bundle.classes, [""], [], rgb, flow)
            settings = dataclasses.replace(params, flow=bundle.flow, model=bundle.model)
            predictions = predict_rows(bundle.network, table, frame, settings,
                                       Runtime.choose(settings, None))
            read = {name: dict(Counter(bundle.classes[p] for p in predictions["y_pred"][
                frame["emotion"].to_numpy() == name])) for name in CLASSES}
            right = {name: read[name].get(name, 0) for name in CLASSES}
            result["models"][str(model)] = {"read_as": read, "right": right,
                                            "clips_per_class": int(len(frame) / len(CLASSES))}
            print(f"{model} on the development clips ({args.motion} sadness and surprise), "
                  "before any training on them:")
            for name in CLASSES:
                print(f"  {name:10s} right {right[name]:2d} / {len(frame) // len(CLASSES)}   "
                      f"read as {read[name]}")
    return result


def _mean_sd(values: list[float]) -> list[float]:
    return [float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0]


def _rate(hits: list[bool]) -> str:
    return f"{sum(hits)} / {len(hits)}" + (f" ({sum(hits) / len(hits):.0%})" if hits else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="check", required=True)
    learning = sub.add_parser("learn", help="the method against MDMO + SVM on 45 clips")
    learning.add_argument("--params", type=Path, default=REPO / "params.yaml")
    learning.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    learning.add_argument("--people", type=int, default=15)
    learning.add_argument("--motion", choices=MOTIONS, default="model",
                          help="sadness and surprise moved by the renderer's AU model (default) "
                               "or by a design no training corpus draws (unseen, posed)")
    learning.add_argument("--intensity", type=float, default=1.0,
                          help="scale on every clip's apex amplitude (1: 0.5-1.8 px of the "
                               "112 px face, as the built-in corpus)")
    learning.add_argument("--pretrained", type=Path, default=None,
                          help="start from this pretrained model instead of pretraining here "
                               "(it must come from the same params' pretrain section)")
    learning.add_argument("--keep-pretrained", type=Path, default=None,
                          help="copy the model pretrained here to this folder")
    transfer = sub.add_parser("smiles", help="the default models on 20 subtle real smiles")
    transfer.add_argument("--model", type=Path, default=None,
                          help="a model directory or a folder of them (default: models/seeds)")
    transfer.add_argument("--fraction", type=float, default=0.3,
                          help="share of the measured smile's amplitude (default 0.3)")
    zero = sub.add_parser("zeroshot", help="a network as it comes on the 45 clips of learn")
    zero.add_argument("--model", type=Path, nargs="+",
                      default=[REPO / "models" / "pretrained"],
                      help="model directories (default: models/pretrained)")
    zero.add_argument("--params", type=Path, default=REPO / "params.yaml",
                      help="the preprocessing settings of the clips")
    zero.add_argument("--people", type=int, default=15)
    zero.add_argument("--motion", choices=MOTIONS, default="posed")
    zero.add_argument("--intensity", type=float, default=1.0)
    for command in (learning, transfer, zero):
        command.add_argument("--json", type=Path, default=None, help="also write the figures")
    args = parser.parse_args(argv)
    if not STILLS.is_dir():
        print(f"{STILLS}: absent; the development people's photographs live there",
              file=sys.stderr)
        return 1
    result = {"learn": learn, "smiles": smiles, "zeroshot": zeroshot}[args.check](args)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
