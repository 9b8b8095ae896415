"""TLCNN's step-1 source: expression stills of real faces, rendered once into an RGB store.

TLCNN (Wang et al. 2018) first teaches its frame CNN expressions from static images of
macro-expressions before it sees a micro-expression. The built-in data has no such images, and
its own training clips' apex frames (the `"training"` source) give step 1 nothing the later
steps do not already have. This source does:

* **Real faces.** The 82 real people of the CC BY photograph sets (`attrmer.synth.identities`,
  subjects 12 to 93), whose neutral photographs are committed downscaled. None of them is a
  subject of any dataset, and the real-face development benchmark's people are not among them.
* **Full expressions.** Each clip moves by one of its emotion's full EMFACS prototypes
  (`synth.prototypes: 1`), every AU at `stills_intensity` times the micro range (a
  macro-expression); happiness moves by a real person's smile, measured from their neutral
  and smiling photographs (`synth.real_smiles: 1`). The six emotions with prototypes
  (`STILL_CLASSES`) are the classes; repression and others have no full expression.
* **Neutral.** Step 1 reads each clip's apex frame under its emotion and, with
  `source_neutral`, its first stored frame (one sixteenth of the way from onset, before the
  expression has built up) under one more class, neutral.

The corpus goes through the pipeline's own alignment and TIM (`attrmer.datasets.prepare`,
`attrmer.preprocess.pipeline`), so a still is cropped and scaled as every clip is. The store
written here is what `baselines.tlcnn.source` names by default. Not for the other steps
(`attrmer.baselines.deep.transfer`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from attrmer.config import Params
from attrmer.io import owned_folder, write_json

# The emotions with full prototypes (attrmer.synth.render.EMOTIONS), in this order.
STILL_CLASSES = ("happiness", "disgust", "surprise", "sadness", "fear", "anger")
STORE_NAME = "rgb.h5"
RECORD_NAME = "stills.json"
OWN_NAMES = frozenset({STORE_NAME, "manifest.csv", RECORD_NAME})


def stills_params(params: Params, corpus: Path) -> Params:
    """The settings the stills' corpus is rendered and prepared with: the run's own alignment
    and TIM, the corpus of `baselines.tlcnn` (seed, clips, intensity) on the real faces."""
    config = params.baselines.tlcnn
    synth = dataclasses.replace(
        params.synth, seed=config.stills_seed, clips=config.stills_clips, faces=[],
        identities="real", real_smiles=1.0, prototypes=1.0, intensity=config.stills_intensity,
        speech_probability=0.0, blink_probability=0.0,
        # Short takes: step 1 reads two frames of each, and TIM spreads any length over the
        # stored frames.
        min_frames=20, max_frames=30)
    data = dataclasses.replace(params.data, name="synthetic", root=str(corpus),
                               classes=list(STILL_CLASSES), roots={}, adapters={})
    return dataclasses.replace(params, synth=synth, data=data)


def render_expression_stills(params: Params, out_dir: str | Path, *,
                             progress: bool = True) -> dict[str, Any]:
    """Render the corpus, align it and resample it in time; write `out_dir` (replaced whole:
    rgb.h5, manifest.csv and stills.json, the record returned). A folder holding anything
    else is refused before anything is rendered."""
    from attrmer.io import claim_folder

    claim_folder(out_dir, command="tlcnn stills", own_names=OWN_NAMES)
    from attrmer.datasets.prepare import prepare_dataset
    from attrmer.manifest import all_training, write_manifest
    from attrmer.preprocess.pipeline import run_align, run_interpolate

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="attrmer-stills-"))
    try:
        corpus_params = stills_params(params, work / "corpus")
        Path(corpus_params.data.root).mkdir(parents=True)
        # prepare's summary describes a train/test split that step 1 ignores: not printed.
        with contextlib.redirect_stdout(io.StringIO()):
            manifest = prepare_dataset(corpus_params, work / "interim")
        manifest = all_training(manifest)
        manifest_path = work / "interim" / "manifest.csv"
        write_manifest(manifest, manifest_path)
        cfg = corpus_params.preprocess
        run_align(manifest_path, work / "aligned.h5", cfg, gzip_level=0,
                  max_detection_frames=cfg.max_detection_frames, progress=progress)
        run_interpolate(work / "aligned.h5", work / STORE_NAME, cfg,
                        gzip_level=cfg.gzip_level, progress=progress)
        usable = manifest[manifest["status"] == "ok"]
        record = {
            "clips": len(usable),
            "people": int(usable["subject"].nunique()),
            "classes": list(STILL_CLASSES),
            "class_counts": {c: int((usable["class_name"] == c).sum()) for c in STILL_CLASSES},
            "intensity": corpus_params.synth.intensity,
            "seed": corpus_params.synth.seed,
            "seconds": round(time.perf_counter() - started, 1),
        }
        with owned_folder(out_dir, command="tlcnn stills", own_names=OWN_NAMES) as tmp:
            shutil.move(work / STORE_NAME, tmp / STORE_NAME)
            shutil.copy(manifest_path, tmp / "manifest.csv")
            write_json(tmp / RECORD_NAME, record)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return record
