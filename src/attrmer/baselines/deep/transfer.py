"""TLCNN's training on one fold: its paper's two transfer steps, then the LSTM.

1. **Source stills**: the frame CNN learns expressions from labelled static images, its own
   classifier over the source's classes (`baselines.tlcnn.source`: by default full
   expressions rendered on real faces, `attrmer.baselines.deep.stills`, each clip's apex
   frame under its emotion and its first frame as neutral; or another attrmer RGB store's
   labelled clips; or the fold's own training clips' apex frames). No validation: the source
   is not the task, so the last epoch is kept.
2. **Micro-expression frames**: a fresh frame classifier over the task's classes, and the
   whole CNN trained on every frame of the training clips, each labelled with its clip's
   emotion; the epoch of best frame-level validation UF1 is kept.
3. **Clips**: the LSTM over the CNN's per-frame features (the CNN fixed when `freeze_cnn`),
   the epoch of best clip-level validation UF1 kept; it predicts the test clips.

The seed fixes every initialisation and every batch order. Not for the networks
(`attrmer.baselines.deep.tlcnn`) or the other methods' training (`attrmer.baselines.deep.run`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from attrmer.baselines.deep.fit import (
    FoldInputs,
    FoldOutcome,
    Schedule,
    apex_positions,
    fit_classifier,
    predict_probabilities,
)
from attrmer.baselines.shared import BaselineSetupError
from attrmer.config import Params, TlcnnConfig
from attrmer.preprocess.store import ClipStore, StoreError

TRAINING_SOURCE = "training"


def source_stills(module: ModuleType, config: TlcnnConfig,
                  data: FoldInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """Step 1's images (N, 3, S, S) and labels (N,), class indices from 0."""
    if config.source == TRAINING_SOURCE:
        frames = data.train[torch.arange(len(data.train)), data.train_apex]
        return frames, data.train_labels
    path = Path(config.source)
    if not path.is_file():
        raise missing_source(path)
    # Every seed and fold reads the same stills: read once while the file stays the same.
    stamp = (path.resolve(), path.stat().st_mtime_ns, path.stat().st_size)
    return _store_stills(module, config, stamp)


def missing_source(path: Path) -> BaselineSetupError:
    """The one-line error for a source store that is not there, with how to make the
    default one."""
    return BaselineSetupError(
        f"baselines.tlcnn.source: {path}: no such RGB store (\"{TRAINING_SOURCE}\", or run "
        "`dvc repro baselines/dvc.yaml` to render the default real-face stills)")


@functools.lru_cache(maxsize=2)
def _store_stills(module: ModuleType, config: TlcnnConfig,
                  stamp: tuple[Path, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The apex frame of each labelled clip of the store `stamp[0]` (`config.source`, as it
    was at `stamp`) under its class and, with `source_neutral`, the clip's first stored frame
    under one more class, neutral."""
    path = stamp[0]
    where = f"baselines.tlcnn.source: {config.source}"
    try:
        with ClipStore(path) as store:
            meta = store.meta
            if store.attrs.get("kind") != "rgb" or "label" not in meta.columns:
                raise BaselineSetupError(f"{where}: not an RGB store with labelled clips")
            labelled = meta[meta["label"] >= 0].reset_index(drop=True)
            if labelled.empty:
                raise BaselineSetupError(f"{where}: no labelled clip")
            images, neutral = [], []
            for row, key in enumerate(labelled["key"]):
                clip = store.read(store.index_of(key))
                apex = apex_positions(labelled.iloc[[row]], clip.shape[1])[0]
                images.append(module.prepare_images(clip[:, apex:apex + 1], config)[0])
                if config.source_neutral:
                    neutral.append(module.prepare_images(clip[:, :1], config)[0])
    except StoreError as exc:
        raise BaselineSetupError(f"{where}: {exc}") from None
    # The source's own classes, numbered from 0 in the order of its label numbers; neutral
    # after them.
    classes = np.unique(labelled["label"].to_numpy(np.int64))
    labels = np.searchsorted(classes, labelled["label"].to_numpy(np.int64))
    if len(classes) + bool(neutral) < 2:
        raise BaselineSetupError(f"{where}: its labelled clips have one class; step 1 needs two")
    labels = np.concatenate([labels, np.full(len(neutral), len(classes))])
    return torch.from_numpy(np.stack(images + neutral)), torch.as_tensor(labels)


def train_tlcnn(module: ModuleType, config: TlcnnConfig, data: FoldInputs, *, seed: int,
                n_classes: int, params: Params) -> FoldOutcome:
    def schedule(epochs: int, batch_size: int) -> Schedule:
        return Schedule(epochs=epochs, lr=config.lr, batch_size=batch_size,
                        weight_decay=config.weight_decay)

    torch.manual_seed(seed)
    stills, still_labels = source_stills(module, config, data)
    cnn = module.build_frame_cnn(config, int(still_labels.max()) + 1)
    if config.source_epochs:
        fit_classifier(cnn, stills, still_labels, seed=seed,
                       schedule=schedule(config.source_epochs, config.frame_batch_size))
    cnn.replace_head(n_classes)
    frames, frame_labels = module.clip_frames(data.train, data.train_labels)
    val_frames, val_frame_labels = module.clip_frames(data.val, data.val_labels)
    frame_epoch = 0
    if config.frame_epochs:
        frame_epoch = fit_classifier(
            cnn, frames, frame_labels, seed=seed, val_inputs=val_frames,
            val_labels=val_frame_labels,
            schedule=schedule(config.frame_epochs, config.frame_batch_size)).epoch
    model = module.build_clip_model(cnn, config, n_classes)
    result = fit_classifier(model, data.train, data.train_labels, seed=seed,
                            val_inputs=data.val, val_labels=data.val_labels,
                            schedule=schedule(config.clip_epochs, config.batch_size),
                            test=(data.test, data.test_labels))
    return FoldOutcome(predict_probabilities(result.model, data.test),
                       {"frames": frame_epoch, "clips": result.epoch}, result.best_on_test)
