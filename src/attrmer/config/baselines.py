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
    """Sparse MDMO (Liu, Li, Lai, IEEE TAC 2021): per-frame MDMO vectors, graph-regularised
    sparse coding on a graph built with the paper's sparsity-based distance, pooling.
    Values the paper leaves open or chooses by cross-validation are fixed here (the module
    `attrmer.baselines.sparse_mdmo` says why); only C is chosen inside the training subjects."""

    # Frames of each clip whose MDMO vectors are coded, evenly spaced over the stored flow
    # fields (all 16 by default; the paper interpolates clips to 20-90 frames).
    frames: int = 16
    # Atoms of the dictionary, K: the smallest of the paper's sizes (128, 192, 256), more than
    # the 72 dimensions of a frame's vector as the paper wants, and the cheapest.
    atoms: int = 128
    # λ, the weight of the codes' L1 norm: the smallest of the paper's candidates (0.1-0.5).
    sparsity: float = 0.1
    # w_g, the weight of the graph term tr(Sᵀ L S): the middle of the paper's candidates
    # (0.01-100).
    graph_weight: float = 1.0
    # k of the k-nearest-neighbour graph over each clip's frames: the paper's 5.
    neighbours: int = 5
    # The L1 weight of the sparse code of each frame over the clip's other frames (the
    # distance's Eq. 12, penalised), as a fraction of the weight that makes that code zero:
    # not in the paper (it asks for an exact reconstruction, which 16 frames in 72 dimensions
    # rarely allow); small, so close to its exact form.
    similarity_penalty: float = 0.1
    # v of the pooling v max + (1 - v) mean over a clip's frame codes: the paper chooses it by
    # cross-validation; 0.5 weighs both alike.
    max_pooling_weight: float = 0.5
    # Alternations of the code and atom steps while learning: with `code_iterations`, on the
    # built-in corpus' training side (108 clips, 1728 frames) 10 x 20 ends within ~4% of the
    # objective that 100 x 100 reaches, in ~3 s per dictionary instead of minutes (six are
    # learnt per fold while C is chosen).
    iterations: int = 10
    # FISTA steps per code update while learning, each warm-started from the last codes.
    code_iterations: int = 20
    # FISTA steps that code a clip from zero once the dictionary is learnt (training and test
    # clips alike): 50 end within ~0.5% of the objective that 400 reach.
    transform_iterations: int = 50
    # Which training frames seed the initial atoms.
    seed: int = 0
    # As for LBP-TOP: one C, or a grid chosen by cross-validation on the training subjects.
    svm_c: float | list[float] = field(default_factory=lambda: list(SVM_C_GRID))

    def validate(self) -> None:
        key = "baselines.sparse_mdmo"
        _check_svm_c(self.svm_c, f"{key}.svm_c")
        if self.frames < 2:
            raise ConfigError(f"{key}.frames: {self.frames} must be at least 2 (a frame's "
                              "distance is measured against the clip's other frames)")
        for name in ("atoms", "neighbours", "iterations", "code_iterations",
                     "transform_iterations"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{key}.{name}: must be at least 1")
        if self.sparsity < 0 or self.graph_weight < 0:
            raise ConfigError(f"{key}.sparsity/graph_weight: must not be negative")
        if not 0.0 <= self.similarity_penalty < 1.0:
            raise ConfigError(f"{key}.similarity_penalty: {self.similarity_penalty} is not in "
                              "[0, 1) (at 1 every frame's sparse code is zero)")
        if not 0.0 <= self.max_pooling_weight <= 1.0:
            raise ConfigError(f"{key}.max_pooling_weight: {self.max_pooling_weight} is not in "
                              "[0, 1]")


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
    # Step 1's labelled stills of expressions: the path of an attrmer RGB store, whose
    # labelled clips give their apex frames under their own classes (default: the real-face
    # expression stills that `baselines/dvc.yaml`'s tlcnn_stills stage renders, see
    # attrmer.baselines.deep.stills; or another dataset's store), or "training" (each fold's
    # own training clips' apex frames: nothing to transfer, the network learns nothing more).
    # A store holding any subject this run validates or tests on is refused.
    source: str = "data/processed/tlcnn_stills/rgb.h5"
    # Step 1 also reads each source clip's first stored frame as one more class, neutral.
    source_neutral: bool = True
    # The seed of the stills' corpus (baselines/dvc.yaml's tlcnn_stills stage).
    stills_seed: int = 2000
    # Clips rendered for it on the 82 real faces; those of the six emotions with full
    # prototypes are kept (about three in four).
    stills_clips: int = 600
    # Their expressions' strength in multiples of the micro range (4: up to 8 aligned px, a
    # macro-expression).
    stills_intensity: float = 4.0
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
        for name in ("freeze_cnn", "source_neutral"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{self.section}.{name}: {getattr(self, name)!r} is not "
                                  "true or false")
        if self.stills_clips < 12:
            raise ConfigError(f"{self.section}.stills_clips: {self.stills_clips} must be at "
                              "least 12 (two per emotion)")
        if not 1.0 <= self.stills_intensity <= 8.0:
            raise ConfigError(f"{self.section}.stills_intensity: {self.stills_intensity} is "
                              "not in [1, 8]")
        self._check_epochs("source_epochs", 0)
        self._check_epochs("frame_epochs", 0)
        self._check_epochs("clip_epochs", 1)


@dataclass(frozen=True)
class ApexFlowNetworkConfig:
    """What the two networks on one onset→apex flow image have (STSTNet, Off-ApexNet): the
    image's side and a schedule for the deep baselines' one recipe
    (`attrmer.baselines.deep.fit`); each sets its own paper's values."""

    section: ClassVar[str] = "baselines"
    # The frames the runner counts per clip (`fold_inputs`): one image, the apex frame's flow.
    frames: ClassVar[int] = 1
    # Side of the flow images, px: the papers' 28 (the stored face is 112 px).
    size: int = 28
    # Passes over the training clips; the epoch kept is the one of best validation UF1.
    epochs: int = 100
    lr: float = 1e-4  # Adam's learning rate
    batch_size: int = 16  # images per optimiser step
    # AdamW's: 0 makes it Adam; neither paper names a weight decay.
    weight_decay: float = 0.0

    def validate(self) -> None:
        key = self.section
        if self.size < 8:
            raise ConfigError(f"{key}.size: {self.size} px is too small for the networks' "
                              "poolings; use at least 8")
        if self.epochs < 1:
            raise ConfigError(f"{key}.epochs: {self.epochs} must be at least 1")
        if self.lr <= 0:
            raise ConfigError(f"{key}.lr: {self.lr} must be positive")
        if self.batch_size < 1:
            raise ConfigError(f"{key}.batch_size: {self.batch_size} must be at least 1")
        if self.weight_decay < 0:
            raise ConfigError(f"{key}.weight_decay: {self.weight_decay} must not be negative")


@dataclass(frozen=True)
class StstnetConfig(ApexFlowNetworkConfig):
    """STSTNet (Liong, Gan, See, Khor, Huang, FG 2019): the paper's schedule."""

    section: ClassVar[str] = "baselines.ststnet"
    # The paper's 500 epochs; the epoch kept is the one of best validation UF1.
    epochs: int = 500
    # The paper's initial learning rate.
    lr: float = 5e-5
    # Images per optimiser step: not given in the paper; 16, as the other deep baselines (the
    # authors' code's 256 is one step per epoch on ~100 training clips: still far from
    # converged after the 500 epochs at this learning rate).
    batch_size: int = 16


@dataclass(frozen=True)
class OffApexNetConfig(ApexFlowNetworkConfig):
    """Off-ApexNet (Gan, Liong, Yau, Huang, Tan, Signal Process. Image Commun. 2019)."""

    section: ClassVar[str] = "baselines.offapexnet"
    # This implementation's choice, not the paper's (as are lr, batch_size and dropout);
    # 100: on the built-in data the training loss is near zero by then. The epoch kept is
    # the one of best validation UF1.
    epochs: int = 100
    # Adam's learning rate: not taken from the paper; 1e-4.
    lr: float = 1e-4
    # Images per optimiser step: not taken from the paper; 16, as the other deep baselines.
    batch_size: int = 16
    # Dropout after each of the two 1024-unit fully connected layers: not taken from the
    # paper; 0.5, the usual rate for such layers.
    dropout: float = 0.5

    def validate(self) -> None:
        super().validate()
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{self.section}.dropout: {self.dropout} is not in [0, 1)")


@dataclass(frozen=True)
class BaselinesConfig:
    lbptop: LbpTopConfig = field(default_factory=LbpTopConfig)
    mdmo: MdmoConfig = field(default_factory=MdmoConfig)
    fdm: FdmConfig = field(default_factory=FdmConfig)
    sparse_mdmo: SparseMdmoConfig = field(default_factory=SparseMdmoConfig)
    elrcn: ElrcnConfig = field(default_factory=ElrcnConfig)
    netab: NetabConfig = field(default_factory=NetabConfig)
    tlcnn: TlcnnConfig = field(default_factory=TlcnnConfig)
    ststnet: StstnetConfig = field(default_factory=StstnetConfig)
    offapexnet: OffApexNetConfig = field(default_factory=OffApexNetConfig)

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            getattr(self, f.name).validate()


