"""The training loop: one fold of one seed of the paper's joint video + attribute training.

`fit_fold` builds the networks, trains epoch by epoch (resuming from a checkpoint), selects
the model on validation subjects and predicts the fold's test side once. Model selection
never looks at test subjects: the reported model is the last epoch's, or the best epoch on a
validation split carved from the training subjects. Not for a run over seeds and folds (see
attrmer.train.run), for aggregating seeds (attrmer.evaluate) or for inference (predict).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from attrmer.attributes import NO_AU_SENTENCE, has_au_codes
from attrmer.config import Params, TrainConfig
from attrmer.evaluate.calibration import (
    negative_log_likelihood,
)
from attrmer.model import AttributeNet, JointLoss, VideoNet
from attrmer.model.inputs import flow_from_motion, flow_input, prepare_rgb
from attrmer.train.augment import augment_batch, mirrored_texts
from attrmer.train.checkpoint import (
    Checkpoint,
    load_checkpoint,
    params_hash,
    save_checkpoint,
    training_code_fingerprint,
)
from attrmer.train.data import (
    ClipCache,
    ClipPairDataset,
    Fold,
    NetworkInputs,
    TrainingTable,
)
from attrmer.train.distributed import DistributedContext
from attrmer.train.runtime import Runtime, runtime_arithmetic
from attrmer.train.selection import best_epoch_on_test, cross_fitted_validation, improves
from attrmer.train.warm_start import source_fingerprint, warm_start

log = logging.getLogger(__name__)

class JointModel(nn.Module):
    """The video network and, unless ablated, the attribute branch, trained as one module."""

    def __init__(self, video: VideoNet, attributes: AttributeNet | None) -> None:
        super().__init__()
        self.video = video
        self.attributes = attributes

    def forward(self, rgb, flow, input_ids=None, attention_mask=None):
        video_logits, z_m = self.video(rgb, flow)
        if self.attributes is None:
            return video_logits, z_m, None, None
        text_logits, z_a = self.attributes(input_ids, attention_mask)
        return video_logits, z_m, text_logits, z_a


def training_settings(params: Params, seed: int) -> dict[str, Any]:
    """What a checkpoint must agree on to be resumed: everything but the list of other seeds."""
    settings = params.to_dict()
    # Nor where and how often it runs: the executor does not change what a training computes
    # (the thread count, train.threads, does, and stays).
    settings["train"] = {k: v for k, v in settings["train"].items()
                         if k not in ("seeds", "checkpoint_interval_s", "executor", "ray")}
    settings.pop("baselines", None)
    settings["seed"] = seed
    return settings


@dataclass
class FoldResult:
    predictions: pd.DataFrame
    model: VideoNet
    selected_epoch: int
    history: list[dict[str, float]]
    n_train: int = 0
    n_val: int = 0
    epochs: int = 0  # epochs trained (train.epochs, raised by min_steps, cut by patience)
    # The selected model's predictions of the validation side (empty without one).
    validation: pd.DataFrame | None = None
    # The validation side as predicted at epochs chosen without each clip (cross-fitted,
    # attrmer.train.selection): what the temperature is fitted on.
    calibration: pd.DataFrame | None = None
    # The test side at the epoch that scores best on it: the inflated figure many papers
    # report, written beside the honest one and read by nothing that chooses.
    best_on_test: pd.DataFrame | None = None


@dataclass(frozen=True)
class EpochRecord:
    """What one finished epoch reports to the callback (DVCLive curves, tests, ...)."""

    fold: str
    epoch: int
    values: dict[str, float]


EpochCallback = Callable[[EpochRecord], None]


@dataclass
class _Training:
    """Everything one fold's training holds: built once, then stepped epoch by epoch."""

    model: JointModel
    trained: nn.Module  # the model, wrapped for DDP when several processes train
    loss_fn: JointLoss
    optimizer: torch.optim.Optimizer
    loader: DataLoader
    sampler: DistributedSampler | None
    tokens: dict[str, torch.Tensor] | None
    mirror: torch.Tensor  # text id -> text id of the mirrored sentence
    coded: torch.Tensor  # text id -> whether its sentence codes an AU (the branch learns)
    generator: torch.Generator
    cache: ClipCache
    epochs: int  # train.epochs, raised to reach train.min_steps

    @property
    def steps_per_epoch(self) -> int:
        return len(self.loader)


def planned_epochs(cfg: TrainConfig, steps_per_epoch: int) -> int:
    """train.epochs, or more when that many epochs would take fewer than train.min_steps."""
    return max(cfg.epochs, -(-cfg.min_steps // max(steps_per_epoch, 1)))


def warmup_factor(cfg: TrainConfig, step: int) -> float:
    """Learning-rate multiplier at optimiser step `step` (0-based): linear warm-up, then 1."""
    return 1.0 if cfg.warmup_steps == 0 else min(1.0, (step + 1) / cfg.warmup_steps)


def video_parameter_groups(video: VideoNet, lr: float, backbone_lr_scale: float
                           ) -> list[dict]:
    """The video network's optimiser groups: one at `lr`, or with a backbone scale other than
    1 the streams' convolutional layers apart at `lr` × the scale (left out, frozen, at 0)."""
    if backbone_lr_scale == 1.0:
        return [{"params": video.parameters(), "lr": lr}]
    encoders = (video.rgb_encoder, video.flow_encoder)
    backbone = [p for encoder in encoders for name, p in encoder.named_parameters()
                if not name.startswith("fc.")]
    chosen = {id(p) for p in backbone}
    head = [p for p in video.parameters() if id(p) not in chosen]
    if backbone_lr_scale == 0.0:
        for parameter in backbone:
            parameter.requires_grad_(False)
        return [{"params": head, "lr": lr}]
    return [{"params": backbone, "lr": lr * backbone_lr_scale}, {"params": head, "lr": lr}]


def build_training(params: Params, table: TrainingTable, fold: Fold, *, seed: int,
                   runtime: Runtime, dist: DistributedContext,
                   init: Path | None = None) -> _Training:
    """The fold's networks, loss, optimiser and loader, seeded by `seed`; the video network
    starts from the model directory `init` when one is given."""
    cfg = params.train
    torch.manual_seed(seed)
    num_classes = len(table.classes)
    video = VideoNet.from_config(params.model, num_classes=num_classes)
    if init is not None:
        warm_start(video, init, table.classes, params)
    attributes = (AttributeNet.from_config(params.model, num_classes=num_classes)
                  if cfg.attribute_branch else None)
    model = JointModel(video, attributes).to(runtime.device)
    if runtime.channels_last:
        model.video.to(memory_format=torch.channels_last_3d)
    sentences, mirror = mirrored_texts(table.sentences)
    if attributes is not None and not coded_clips(fold.train):
        log.warning("%s: no training clip has AU codes (every sentence is %r): the attribute "
                    "branch does not train; this run is the video network's cross-entropy at "
                    "(1 - alpha) of its rate", fold.name, NO_AU_SENTENCE)
    tokens = None
    if attributes is not None:
        tokens = {k: v.to(runtime.device) for k, v in attributes.tokenize(sentences).items()}
    groups = video_parameter_groups(model.video, cfg.lr, cfg.backbone_lr_scale)
    if attributes is not None:
        groups.append({"params": attributes.parameters(), "lr": cfg.lr * cfg.text_lr_scale})
    for group in groups:
        group["base_lr"] = group["lr"]
    # The fused step is several times faster on CPU for BERT's 22M parameters.
    optimizer = torch.optim.Adam(groups, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)

    generator = torch.Generator().manual_seed(seed)
    # Clips scored every epoch (validation, and the test side for the figure "best epoch on
    # test") are inflated once and kept, instead of once per epoch.
    cache: ClipCache = {}
    # The training side is read once, into network inputs; only scoring keeps raw clips.
    train_set = NetworkInputs(ClipPairDataset(fold.train, table.rgb_path, table.flow_path),
                              params.flow, params.model.input_size)
    sampler = None
    if dist.world_size > 1:
        sampler = DistributedSampler(train_set, num_replicas=dist.world_size, rank=dist.rank,
                                     shuffle=True, seed=seed, drop_last=False)
    # A batch larger than a small dataset is the whole training set, not an error.
    per_rank_batch = max(1, min(cfg.batch_size, len(train_set)) // dist.world_size)
    loader = DataLoader(
        train_set, batch_size=per_rank_batch, shuffle=sampler is None, sampler=sampler,
        generator=generator if sampler is None else None, num_workers=cfg.num_workers,
        persistent_workers=cfg.num_workers > 0, pin_memory=runtime.device.type == "cuda",
        drop_last=len(train_set) > per_rank_batch and len(train_set) % per_rank_batch == 1,
    )
    training = _Training(model, dist.wrap(model), JointLoss.from_config(cfg), optimizer,
                         loader, sampler, tokens, torch.tensor(mirror),
                         torch.tensor([has_au_codes(text) for text in sentences]), generator,
                         cache, 0)
    training.epochs = planned_epochs(cfg, training.steps_per_epoch)
    return training


def coded_clips(rows: pd.DataFrame) -> int:
    """How many of `rows` have AU codes, i.e. train the attribute branch."""
    if "sentence" not in rows.columns:
        return 0
    return int(sum(has_au_codes(str(text)) for text in rows["sentence"]))


def train_epoch(t: _Training, params: Params, runtime: Runtime, epoch: int, *,
                description: str, progress: bool) -> dict[str, float]:
    """One pass over the training side; the mean loss terms and training accuracy."""
    cfg = params.train
    if t.sampler is not None:
        t.sampler.set_epoch(epoch)
    t.model.train()
    sums = dict.fromkeys(("loss", "video_ce", "text_ce", "contrastive", "correct"), 0.0)
    seen = 0
    bar = tqdm(t.loader, desc=description, leave=False, disable=not progress, unit="batch")
    for step, (rgb, motion, labels, text_ids) in enumerate(bar):
        rgb, motion, text_ids = augment_batch(rgb, motion, text_ids, cfg.augment, t.mirror,
                                              t.generator)
        global_step = (epoch - 1) * t.steps_per_epoch + step
        for group in t.optimizer.param_groups:
            group["lr"] = group["base_lr"] * warmup_factor(cfg, global_step)
        rgb = runtime.to_device(rgb)
        flow = runtime.to_device(flow_from_motion(motion, params.flow))
        labels, text_ids = labels.to(runtime.device), text_ids.to(runtime.device)
        extra = {}
        if t.tokens is not None:
            extra = {"input_ids": t.tokens["input_ids"][text_ids],
                     "attention_mask": t.tokens["attention_mask"][text_ids]}
        with runtime.autocast():
            video_logits, z_m, text_logits, z_a = t.trained(rgb, flow, **extra)
        terms = t.loss_fn(video_logits.float(), labels, z_m.float(),
                          None if text_logits is None else text_logits.float(),
                          None if z_a is None else z_a.float(), text_ids,
                          t.coded.to(text_ids.device)[text_ids])
        t.optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        t.optimizer.step()
        n = len(labels)
        seen += n
        for name in ("video_ce", "text_ce", "contrastive"):
            sums[name] += getattr(terms, name).item() * n
        sums["loss"] += terms.total.item() * n
        sums["correct"] += int((video_logits.argmax(1) == labels).sum())
        bar.set_postfix(loss=f"{terms.total.item():.3f}")
    record = {k: v / max(seen, 1) for k, v in sums.items() if k != "correct"}
    record["train_accuracy"] = sums["correct"] / max(seen, 1)
    return record


def score_epoch(t: _Training, params: Params, table: TrainingTable, fold: Fold,
                runtime: Runtime) -> tuple[dict[str, float], np.ndarray | None,
                                           np.ndarray | None]:
    """Validation accuracy and loss (what selects the model), the validation probabilities
    (None without validation subjects), and the test probabilities (None without a test side,
    as in pretraining), kept only for the figure "best epoch on test" reported beside the
    honest one; the test accuracy enters the record only when `train.test_curve` asks, under
    a name that says it selects nothing."""
    record: dict[str, float] = {}
    probabilities = None
    if not fold.val.empty:
        val = predict_rows(t.model.video, table, fold.val, params, runtime, cache=t.cache)
        record["val_accuracy"] = prediction_accuracy(val)
        record["val_loss"] = _nll(val, table.classes)
        probabilities = val[[f"prob_{c}" for c in table.classes]].to_numpy(np.float32)
    tested = None
    if not fold.test.empty:
        test = predict_rows(t.model.video, table, fold.test, params, runtime, cache=t.cache)
        tested = test[[f"prob_{c}" for c in table.classes]].to_numpy(np.float32)
        if params.train.test_curve:
            record["test_accuracy_not_for_selection"] = prediction_accuracy(test)
    return record, probabilities, tested


def fit_fold(
    params: Params,
    table: TrainingTable,
    fold: Fold,
    *,
    seed: int,
    checkpoint_path: Path | None = None,
    runtime: Runtime | None = None,
    dist: DistributedContext | None = None,
    on_epoch_end: EpochCallback | None = None,
    progress: bool = True,
    init: Path | None = None,
) -> FoldResult:
    """Train one fold from scratch or from the model directory `init` (or resume it from its
    checkpoint), select on validation subjects only, then predict its test side once."""
    dist = dist or DistributedContext.single()
    runtime = runtime or Runtime.choose(params, dist.device)
    t = build_training(params, table, fold, seed=seed, runtime=runtime, dist=dist, init=init)
    run = _resume(t, params, table, fold, seed=seed, runtime=runtime, dist=dist, init=init,
                  checkpoint_path=checkpoint_path)
    patience = params.train.patience if not fold.val.empty else 0
    for epoch in range(run.state.epoch + 1, t.epochs + 1):
        # Only the main process scores validation; every process follows its decision.
        stale = patience and dist.is_main and epoch - 1 - run.state.best["epoch"] >= patience
        if dist.agree(bool(stale)):
            log.info("%s: no better validation score in %d epochs; stopping after epoch %d",
                     fold.name, patience, epoch - 1)
            break
        record = _run_epoch(t, run, params, table, fold, runtime, dist, epoch,
                            progress=progress)
        if checkpoint_path is not None and dist.is_main:
            run.checkpoint_if_due(t, checkpoint_path, params.train.checkpoint_interval_s)
        if on_epoch_end is not None and dist.is_main:
            on_epoch_end(EpochRecord(fold.name, epoch, record))
    return _finish(t, run, params, table, fold, runtime, dist)


@dataclass
class _FoldRun:
    """A fold's training across epochs: what its checkpoint holds, the best weights so far,
    and when it was last saved."""

    state: Checkpoint
    best_state: dict[str, torch.Tensor] | None
    settings_hash: str
    last_saved: float

    def checkpoint_if_due(self, t: _Training, path: Path, interval_s: float) -> None:
        if time.monotonic() - self.last_saved >= interval_s:
            save_checkpoint(path, model=t.model, optimizer=t.optimizer, generator=t.generator,
                            checkpoint=self.state, settings_hash=self.settings_hash,
                            best_state=self.best_state)
            self.last_saved = time.monotonic()


def _resume(t: _Training, params: Params, table: TrainingTable, fold: Fold, *, seed: int,
            runtime: Runtime, dist: DistributedContext, init: Path | None,
            checkpoint_path: Path | None) -> _FoldRun:
    """The fold's run from its checkpoint when one was written under the same settings,
    else from epoch 0."""
    settings_hash = fold_settings_hash(params, table, fold, seed=seed,
                                       world_size=dist.world_size, init=init,
                                       arithmetic=runtime_arithmetic(runtime))
    run = _FoldRun(Checkpoint(epoch=0, history=[], best={"epoch": 0, "score": -1.0}), None,
                   settings_hash, time.monotonic())
    if checkpoint_path is not None:
        restored = load_checkpoint(checkpoint_path, model=t.model, optimizer=t.optimizer,
                                   generator=t.generator, settings_hash=settings_hash)
        if restored is not None:
            run.state, run.best_state = restored
            log.info("resuming %s from epoch %d", fold.name, run.state.epoch)
    return run


def _run_epoch(t: _Training, run: _FoldRun, params: Params, table: TrainingTable, fold: Fold,
               runtime: Runtime, dist: DistributedContext, epoch: int, *,
               progress: bool) -> dict[str, float]:
    """Train one epoch, score it and keep the weights when validation improves; the
    epoch's record, also appended to the run's history."""
    started = time.monotonic()
    record = train_epoch(t, params, runtime, epoch, progress=progress and dist.is_main,
                         description=f"{fold.name} epoch {epoch}/{t.epochs}")
    if dist.is_main:
        scores, probabilities, tested = score_epoch(t, params, table, fold, runtime)
        record |= scores
        if probabilities is not None:
            run.state.validation[str(epoch)] = probabilities.tolist()
        if tested is not None:
            run.state.test[str(epoch)] = tested.tolist()
        # Wall time of the epoch (training and scoring), for the log and the history; the
        # curves leave it out, so that the stage's outputs stay the same from run to run.
        record["seconds"] = round(time.monotonic() - started, 3)
        if "val_accuracy" in record and improves(record["val_accuracy"], record["val_loss"],
                                                 run.state.best):
            run.state.best = {"epoch": epoch, "score": record["val_accuracy"],
                              "loss": record["val_loss"]}
            run.best_state = copy.deepcopy(t.model.video.state_dict())
        log.info("%s epoch %d/%d  %s", fold.name, epoch, t.epochs,
                 "  ".join(f"{k} {v:.3f}" for k, v in record.items()))
    run.state.history.append(record | {"epoch": epoch})
    run.state.epoch = epoch
    return record


def _finish(t: _Training, run: _FoldRun, params: Params, table: TrainingTable, fold: Fold,
            runtime: Runtime, dist: DistributedContext) -> FoldResult:
    """The selected weights (the best validation epoch's, else the last), and their
    predictions of the test and validation sides."""
    selected = run.state.epoch
    if run.best_state is not None:
        t.model.video.load_state_dict(run.best_state)
        selected = int(run.state.best["epoch"])
    predictions, validation = pd.DataFrame(), pd.DataFrame()
    if dist.is_main:
        predictions = predict_rows(t.model.video, table, fold.test, params, runtime,
                                   cache=t.cache)
        validation = predict_rows(t.model.video, table, fold.val, params, runtime,
                                  cache=t.cache)
    calibration, best_on_test = pd.DataFrame(), pd.DataFrame()
    if dist.is_main and not fold.val.empty and run.state.validation:
        scored = {int(e): np.asarray(p, np.float32) for e, p in run.state.validation.items()}
        probabilities, _ = cross_fitted_validation(fold.val, scored)
        calibration = prediction_frame(fold.val, probabilities, table.classes)
    if dist.is_main and run.state.test:
        tested = {int(e): np.asarray(p, np.float32) for e, p in run.state.test.items()}
        epoch = best_epoch_on_test(tested, fold.test["label"].to_numpy(np.int64))
        best_on_test = prediction_frame(fold.test, tested[epoch], table.classes)
    for frame in (predictions, validation, calibration, best_on_test):
        if not frame.empty:
            frame.insert(2, "fold", fold.name)
    return FoldResult(predictions, t.model.video, selected, run.state.history,
                      n_train=len(fold.train), n_val=len(fold.val), epochs=run.state.epoch,
                      validation=validation, calibration=calibration,
                      best_on_test=best_on_test)


def fold_settings_hash(params: Params, table: TrainingTable, fold: Fold, *, seed: int,
                       world_size: int, init: Path | None,
                       arithmetic: dict[str, Any]) -> str:
    """What a checkpoint or a finished fold's result must have been trained under to be
    taken up again: the settings, the fold's data (every side's clips and labels, the
    stores' sizes and modification times), the starting weights, the code that computes a
    training's result, and the `arithmetic` it ran with (threads, device, autocast)."""
    return params_hash(training_settings(params, seed) | {
        "fold": fold.name, "world": world_size, "data": _data_fingerprint(table, fold),
        "init": source_fingerprint(init), "code": training_code_fingerprint(),
        "arithmetic": arithmetic})


def _data_fingerprint(table: TrainingTable, fold: Fold) -> dict[str, Any]:
    """Enough of the data's identity that a checkpoint never resumes onto other data."""
    stores = [(path.stat().st_size, path.stat().st_mtime_ns)
              for path in (table.rgb_path, table.flow_path)]
    sides = {side: {"keys": list(rows["key"]), "labels": rows["label"].tolist()}
             for side, rows in (("val", fold.val), ("test", fold.test))}
    return {
        "stores": stores,
        "train": params_hash({"keys": list(fold.train["key"]),
                              "labels": fold.train["label"].tolist(),
                              "texts": fold.train["text_id"].tolist(),
                              "sentences": table.sentences}),
        "sides": params_hash(sides),
    }


def prediction_accuracy(predictions: pd.DataFrame) -> float:
    """The share of rows whose prediction is the true class (0 for no row)."""
    if predictions.empty:
        return 0.0
    return float((predictions["y_true"] == predictions["y_pred"]).mean())


def _nll(predictions: pd.DataFrame, classes: list[str]) -> float:
    """Mean negative log-likelihood of the true classes."""
    if predictions.empty:
        return 0.0
    return negative_log_likelihood(predictions[[f"prob_{c}" for c in classes]].to_numpy(),
                                   predictions["y_true"].to_numpy())


@torch.no_grad()
def predict_rows(video: VideoNet, table: TrainingTable, rows: pd.DataFrame, params: Params,
                 runtime: Runtime, batch_size: int = 16,
                 cache: ClipCache | None = None) -> pd.DataFrame:
    """Class probabilities of the video network for `rows` (no text model involved)."""
    was_training = video.training
    video.eval()
    dataset = ClipPairDataset(rows, table.rgb_path, table.flow_path, cache)
    probabilities = []
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        rgb = runtime.to_device(prepare_rgb(torch.stack([x[0] for x in items]),
                                            params.model.input_size))
        flow = runtime.to_device(flow_input(torch.stack([x[1] for x in items]).float(),
                                            params.flow, params.model.input_size))
        # fp32, as `attrmer predict` runs: reported figures must not depend on the hardware.
        logits, _ = video(rgb.float(), flow.float())
        probabilities.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    video.train(was_training)
    probs = np.concatenate(probabilities) if probabilities else np.zeros((0, len(table.classes)))
    return prediction_frame(rows, probs, table.classes)


def prediction_frame(rows: pd.DataFrame, probabilities: np.ndarray,
                     classes: list[str]) -> pd.DataFrame:
    """The predictions table of `rows` (key, subject, label) given their class
    probabilities: key, subject, y_true, y_pred, then prob_<class> for each class."""
    frame = pd.DataFrame({
        "key": list(rows["key"]),
        "subject": list(rows["subject"]),
        "y_true": rows["label"].to_numpy(np.int64),
        "y_pred": probabilities.argmax(1) if len(probabilities) else np.zeros(0, np.int64),
    })
    for i, name in enumerate(classes):
        frame[f"prob_{name}"] = probabilities[:, i] if len(probabilities) else []
    return frame
