"""The `baselines` section: one block per method compared with in Table III."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from attrmer.config.errors import ConfigError

# The baselines' C grid: four decades around the usual 1.
SVM_C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)


@dataclass(frozen=True)
class LbpTopConfig:
    # Blocks (rows, columns) the face is cut into; one LBP-TOP histogram each.
    grid: list[int] = field(default_factory=lambda: [5, 5])
    radius_xy: int = 1  # radius of the XY plane's circle, pixels
    radius_t: int = 1  # radius along time, frames
    neighbors: int = 8  # points on each circle: 4, 8 or 16
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
    # As for LBP-TOP: one C, or a grid chosen by cross-validation on the training subjects.
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
    # As for LBP-TOP: one C, or a grid chosen by cross-validation on the training subjects.
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


# The deep baselines (attrmer.baselines.deep): sizes that train on two CPU threads in a few
# seconds per epoch. The choices are those of the networks' tables (ELRCN_STREAMS, FUSIONS).
ElrcnVariant = Literal["se", "te"]
NetabFusion = Literal["concat", "mean"]


def _check_choice(value: str, choices: Any, key: str) -> None:
    allowed = typing.get_args(choices)
    if value not in allowed:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(allowed)}")


@dataclass(frozen=True)
class DeepNetworkConfig:
    """What every deep baseline's network and training has: the frames it reads, its width,
    and the one training recipe they share (`attrmer.baselines.deep.fit`)."""

    section: ClassVar[str] = "baselines"
    # Side of the frames the networks read, px (the stored face is 112 px).
    size: int = 48
    # Frames of the stored clip that are read (evenly spaced, first and last included).
    frames: int = 8
    # Channels of the first layer (the small frame CNN: then twice and four times that).
    width: int = 16
    dropout: float = 0.3  # before the classifier
    lr: float = 1e-3  # AdamW's learning rate
    batch_size: int = 16  # clips per optimiser step
    weight_decay: float = 1e-4  # AdamW's

    def validate(self) -> None:
        key = self.section
        if self.size < 16:
            raise ConfigError(f"{key}.size: {self.size} px is too small for three 2x2 "
                              "poolings; use at least 16")
        if self.frames < 2:
            raise ConfigError(f"{key}.frames: {self.frames} must be at least 2")
        if self.width < 1:
            raise ConfigError(f"{key}.width: {self.width} must be at least 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{key}.dropout: {self.dropout} is not in [0, 1)")
        if self.lr <= 0:
            raise ConfigError(f"{key}.lr: {self.lr} must be positive")
        if self.batch_size < 2:
            raise ConfigError(f"{key}.batch_size: {self.batch_size} must be at least 2 "
                              "(batch norm needs two samples)")
        if self.weight_decay < 0:
            raise ConfigError(f"{key}.weight_decay: {self.weight_decay} must not be negative")

    def _check_epochs(self, name: str, least: int) -> None:
        if getattr(self, name) < least:
            raise ConfigError(f"{self.section}.{name}: {getattr(self, name)} must be at "
                              f"least {least}")


@dataclass(frozen=True)
class ElrcnConfig(DeepNetworkConfig):
    """ELRCN (Khor et al., FG 2018) at a CPU size."""

    section: ClassVar[str] = "baselines.elrcn"
    # LSTM units, and units of the fully connected layer after it.
    hidden: int = 64
    # se: the four maps stacked into one CNN; te: one CNN per kind of input.
    variant: ElrcnVariant = "se"
    epochs: int = 40  # the epoch kept is the one of best validation UF1

    def validate(self) -> None:
        super().validate()
        _check_choice(self.variant, ElrcnVariant, f"{self.section}.variant")
        if self.hidden < 1:
            raise ConfigError(f"{self.section}.hidden: {self.hidden} must be at least 1")
        self._check_epochs("epochs", 1)


@dataclass(frozen=True)
class NetabConfig(DeepNetworkConfig):
    """NetAB (a multi-scale 3D network and a 2D network of difference images) at a CPU size."""

    section: ClassVar[str] = "baselines.netab"
    # concat: one classifier over both networks' features; mean: the average of two
    # classifiers' logits.
    fusion: NetabFusion = "concat"
    epochs: int = 40  # the epoch kept is the one of best validation UF1

    def validate(self) -> None:
        super().validate()
        _check_choice(self.fusion, NetabFusion, f"{self.section}.fusion")
        self._check_epochs("epochs", 1)


@dataclass(frozen=True)
class TlcnnConfig(DeepNetworkConfig):
    """TLCNN (Wang et al., Neurocomputing 2018) at a CPU size: its three steps' epochs."""

    section: ClassVar[str] = "baselines.tlcnn"
    # LSTM units.
    hidden: int = 64
    # Step 3 trains the LSTM over a fixed CNN (true) or the whole clip model (false).
    freeze_cnn: bool = True
    # Step 1's labelled stills of expressions: "training" (each fold's training clips' apex
    # frames: no separate source, the case of the built-in data) or the path of an attrmer
    # RGB store of another dataset, prepared by the pipeline in another checkout (e.g. the
    # built-in data's store, copied out, when training on a licensed one): the apex frame of
    # each of its labelled clips, with its own classes. A store holding any subject this run
    # validates or tests on (the run's own store does) is refused.
    source: str = "training"
    # Epochs of step 1 (source stills), step 2 (micro-expression frames), step 3 (clips);
    # 0 skips step 1 or 2.
    source_epochs: int = 20
    frame_epochs: int = 10
    clip_epochs: int = 40
    # Frames (or stills) per batch in steps 1 and 2; `batch_size` clips in step 3.
    frame_batch_size: int = 64

    def validate(self) -> None:
        super().validate()
        if self.hidden < 1:
            raise ConfigError(f"{self.section}.hidden: {self.hidden} must be at least 1")
        if self.frame_batch_size < 2:
            raise ConfigError(f"{self.section}.frame_batch_size: {self.frame_batch_size} "
                              "must be at least 2 (batch norm needs two samples)")
        if not self.source:
            raise ConfigError(f"{self.section}.source: \"training\" or the path of an RGB "
                              "store")
        if not isinstance(self.freeze_cnn, bool):
            raise ConfigError(f"{self.section}.freeze_cnn: {self.freeze_cnn!r} is not "
                              "true or false")
        self._check_epochs("source_epochs", 0)
        self._check_epochs("frame_epochs", 0)
        self._check_epochs("clip_epochs", 1)


@dataclass(frozen=True)
class BaselinesConfig:
    lbptop: LbpTopConfig = field(default_factory=LbpTopConfig)
    mdmo: MdmoConfig = field(default_factory=MdmoConfig)
    fdm: FdmConfig = field(default_factory=FdmConfig)
    sparse_mdmo: SparseMdmoConfig = field(default_factory=SparseMdmoConfig)
    elrcn: ElrcnConfig = field(default_factory=ElrcnConfig)
    netab: NetabConfig = field(default_factory=NetabConfig)
    tlcnn: TlcnnConfig = field(default_factory=TlcnnConfig)

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            getattr(self, f.name).validate()


