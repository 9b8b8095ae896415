"""Pretraining the video network on a large rendered corpus, for `train.init: pretrained`.

The built-in renderer can draw any number of labelled micro-expressions on the bundled faces.
`pretrain` renders `pretrain.clips` of them with their own seed (never the dataset's own
clips), runs them through the pipeline's own alignment, TIM and flow, trains the video network
alone (both streams and the classifier, cross-entropy, no text model) for `pretrain.steps`
optimiser steps and writes an ordinary model directory; `train` then starts each seed from it
(`attrmer.train.warm_start`).

Which faces it sees: of the bundled faces, on the built-in dataset only its training
subjects' (not the validation or test subjects'), so that no face the model is chosen or scored
on is ever pretrained on, and on any other dataset all of them; with `pretrain.identities` all
or real, the 82 real faces too or instead (none of them is a subject of any dataset, and the
real-face development benchmark's people are not among them). `pretrain.real_smiles` moves a
share of the happiness clips with real smiles.
Not for training on the user's data (`attrmer.train`) nor for rendering the built-in dataset
itself (`attrmer.synth`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from attrmer.config import ConfigError, Params
from attrmer.manifest import all_training, read_manifest, usable, write_manifest

log = logging.getLogger(__name__)

# The stills in attrmer/synth/faces (subjects 1..11 of the built-in corpus).
BUNDLED_FACES = 11


def pretraining_faces(params: Params, dataset_manifest: str | Path | None) -> list[int]:
    """The faces the corpus is drawn on (subject numbers from 1; empty: all bundled ones):
    `bundled_faces` and, with pretrain.identities all, every real face after them."""
    bundled = bundled_faces(params, dataset_manifest)
    if params.pretrain.identities == "all" and bundled:
        from attrmer.synth.identities import real_subjects

        return bundled + real_subjects()
    return bundled


def bundled_faces(params: Params, dataset_manifest: str | Path | None) -> list[int]:
    """The bundled faces the corpus is drawn on (subject numbers from 1; empty: all)."""
    if params.pretrain.identities == "real":
        return []
    faces = params.pretrain.faces
    if isinstance(faces, list):
        unknown = sorted(set(faces) - set(range(1, BUNDLED_FACES + 1)))
        if unknown:
            raise ConfigError(f"pretrain.faces: no bundled face {unknown[0]} (there are "
                              f"{BUNDLED_FACES}, numbered from 1)")
        return sorted(faces)
    members = set(params.data.roots) | set(params.data.adapters.values())
    if params.data.name != "synthetic" and "synthetic" in members:
        raise ConfigError(
            "pretrain.faces: auto cannot tell which built-in faces a composite's synthetic "
            "member tests on; list the faces, or set train.init: scratch")
    if params.data.name != "synthetic":
        return []
    if params.split.protocol != "holdout":
        raise ConfigError(
            "pretrain.faces: auto on the built-in dataset keeps its test subjects' faces out, "
            f"but under split.protocol {params.split.protocol} every subject is tested; list "
            "the faces, or set train.init: scratch")
    if dataset_manifest is None:
        raise ConfigError("pretrain.faces: auto on the built-in dataset needs its manifest")
    rows = usable(read_manifest(dataset_manifest))
    # Training subjects only: the validation subjects' faces stay unseen too, so that choosing
    # between settings on them (scratch or pretrained, say) stays fair.
    training_side = rows[rows["split"] == "train"]["subject"]
    numbers = sorted({_face_number(subject) for subject in training_side})
    if len(numbers) < 2:
        raise ConfigError(f"{dataset_manifest}: fewer than two training subjects to pretrain on")
    return numbers


def _face_number(subject: str) -> int:
    # The built-in corpus names subject k "subkk" (attrmer.synth.render.clip_dir).
    match = re.fullmatch(r"sub0*(\d+)", str(subject))
    if match is None:
        raise ConfigError(f"subject {subject!r} is not a built-in subject name (subNN)")
    return int(match.group(1))


def pretraining_params(params: Params, root: Path, faces: list[int]) -> Params:
    """The settings the corpus is rendered, prepared and trained with: the user's own
    preprocessing, flow and network, the pretraining's corpus and schedule."""
    cfg = params.pretrain
    train = dataclasses.replace(
        params.train, attribute_branch=False, alpha=0.0, epochs=1, min_steps=cfg.steps,
        batch_size=cfg.batch_size, lr=cfg.lr, patience=0, test_curve=False, init="scratch",
        backbone_lr_scale=1.0)
    return dataclasses.replace(
        params,
        data=dataclasses.replace(params.data, name="synthetic", root=str(root / "corpus"),
                                 classes=cfg.classes),
        synth=dataclasses.replace(params.synth, seed=cfg.seed, clips=cfg.clips, faces=faces,
                                  identities=cfg.identities, real_smiles=cfg.real_smiles,
                                  prototypes=cfg.prototypes,
                                  speech_probability=cfg.speech, speech_px=cfg.speech_px),
        # Every subject trains: nothing is selected on the corpus, the last step is kept.
        split=dataclasses.replace(params.split, protocol="holdout", validation_fraction=0.0),
        train=train,
    )


def run_pretraining(params: Params, out_dir: str | Path, *,
                    dataset_manifest: str | Path | None = None,
                    work_dir: str | Path | None = None,
                    progress: bool = True) -> dict[str, Any]:
    """Render, preprocess and train; write the model directory `out_dir`; return its record.

    work_dir: where the corpus and its stores are made (default: a temporary folder, removed
    afterwards). An interrupted pretraining starts again: it keeps no checkpoint (the corpus
    is re-rendered in a new folder anyway, and the whole takes minutes).
    """
    from attrmer.datasets.prepare import prepare_dataset
    from attrmer.preprocess.pipeline import build_stores

    faces = pretraining_faces(params, dataset_manifest)
    started = time.perf_counter()
    own_work = work_dir is None
    work = Path(tempfile.mkdtemp(prefix="attrmer-pretrain-")) if own_work else Path(work_dir)
    try:
        pt = pretraining_params(params, work, faces)
        # Made here: prepare renders outside the project only into a folder made for it.
        Path(pt.data.root).mkdir(parents=True, exist_ok=True)
        interim = work / "interim"
        # prepare's summary describes a train/test split that pretraining then overrides
        # (every clip trains): kept in the work folder, not printed.
        with contextlib.redirect_stdout(io.StringIO()):
            manifest = prepare_dataset(pt, interim)
        log.info("pretraining corpus: %d of %d rendered clips in the class set",
                 int((manifest["status"] == "ok").sum()), len(manifest))
        manifest_path = interim / "manifest.csv"
        write_manifest(all_training(manifest), manifest_path)
        rgb, flow = build_stores(manifest_path, work, pt.preprocess, pt.flow, progress=progress)
        rendered = time.perf_counter() - started
        record = _fit(pt, manifest_path, rgb, flow, out_dir, faces=faces, progress=progress)
    finally:
        if own_work:
            shutil.rmtree(work, ignore_errors=True)
    record["seconds"] = {"corpus": round(rendered, 1),
                         "total": round(time.perf_counter() - started, 1)}
    return record


def _fit(pt: Params, manifest_path: Path, rgb: Path, flow: Path, out_dir: str | Path, *,
         faces: list[int], progress: bool) -> dict[str, Any]:
    from attrmer.manifest import class_names
    from attrmer.modelfile import save_model_dir
    from attrmer.train.data import Fold, TrainingTable
    from attrmer.train.loop import fit_fold

    rows = usable(read_manifest(manifest_path)).assign(sentence="", text_id=0)
    classes = class_names(rows)
    empty = rows.iloc[0:0]
    fold = Fold("pretrain", rows, empty, empty)
    table = TrainingTable(rows, classes, [""], [fold], rgb, flow)
    result = fit_fold(pt, table, fold, seed=pt.pretrain.seed, progress=progress)
    last = result.history[-1] if result.history else {}
    record = {
        "clips": len(rows),
        "subjects": sorted(set(rows["subject"])),
        "faces": faces or pt.synth.identities,
        "identities": pt.synth.identities,
        "real_smiles": pt.synth.real_smiles,
        "prototypes": pt.synth.prototypes,
        "classes": classes,
        "class_counts": {c: int((rows["label"] == i).sum()) for i, c in enumerate(classes)},
        # train.min_steps raises whole epochs: a few more steps than asked, never fewer.
        "steps": result.epochs * -(-len(rows) // min(pt.train.batch_size, len(rows))),
        "epochs": result.epochs,
        "train_accuracy_last_epoch": round(float(last.get("train_accuracy", 0.0)), 4),
        "seed": pt.pretrain.seed,
    }
    save_model_dir(out_dir, result.model, params=pt, classes=classes,
                   extra={"pretraining": record})
    log.info("pretrained on %d clips of faces %s: %d epochs, training accuracy %.3f",
             len(rows), record["faces"], result.epochs, record["train_accuracy_last_epoch"])
    return record
