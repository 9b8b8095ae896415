"""The sections that say what data is read and how it is prepared: `data`, `split`,
`synth`, `preprocess`, `flow`, `attributes`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from attrmer.config.errors import ConfigError
from attrmer.frame_layouts import SYNTH_RESOLUTIONS

# One dataset each (the adapters of attrmer.datasets), and the names that read several at once.
DATASETS = ("synthetic", "casme2", "mmew", "samm", "casme3", "casme3c", "casme", "smic",
            "smic_vis", "smic_nir")
COMPOSITES = ("megc2019", "composite")
# The face sets the renderer draws on (attrmer.synth.identities).
IDENTITIES = ("bundled", "real", "all")
# What data.name megc2019 reads, in MEGC's order: SMIC-HS, CASME II, SAMM.
MEGC2019_DATASETS = ("smic", "casme2", "samm")
# A composite's dataset name prefixes its subjects as `<name>/<subject>`, which the evaluate
# stage splits on the first "/" to score each dataset: a name holds no "/" (nor "." or spaces).
DATASET_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


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
    # Seed of the subject split: which subjects test, validate and train.
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
    # Seed of everything the corpus draws (emotions, AUs, timing, noise, faces per clip).
    seed: int = 0
    # Clips in the corpus.
    clips: int = 200
    # Frame rate of the rendered clips (CASME II's 200).
    fps: int = 200
    # builtin | casme2 | samm (SYNTH_RESOLUTIONS): the frame size and face scale.
    resolution: str = "builtin"
    # Height of the rendered frames in pixels with resolution builtin (width follows the
    # stills' aspect ratio).
    frame_height: int = 240
    # Scale on every AU's apex displacement (1.0: about 0.3 to 2 px on a 112 px aligned face).
    intensity: float = 1.0
    # Sensor noise, standard deviation in grey levels (0-255).
    noise_sigma: float = 2.0
    # JPEG quality of the written frames (1-100).
    jpeg_quality: int = 90
    # Largest slow head drift over a clip, frame pixels.
    drift_px: float = 0.6
    # Amplitude of the illumination flicker (a share of the brightness).
    flicker: float = 0.02
    # Share of clips with an eye blink (not coded in the sheet, as CASME II's coders did).
    blink_probability: float = 0.15
    # Frame counts of a clip are drawn between these two (onset to offset inclusive).
    min_frames: int = 40
    max_frames: int = 90  # at most this many (under half a second at fps)
    # Which faces (subject numbers from 1) the clips are drawn on; empty: those of
    # `identities`. The pretraining corpus uses it to keep the built-in dataset's test faces out.
    faces: list[int] = field(default_factory=list)
    # bundled: the 11 bundled faces (subjects 1-11, the built-in corpus); real: the 82 real
    # faces of the CC BY photograph sets (subjects 12-93); all: both (attrmer.synth.identities).
    identities: str = "bundled"
    # Share of happiness clips whose motion is a real person's smile (the landmarks of their
    # neutral and smiling photographs, carried onto the clip's face) instead of the AU model's
    # AU6/AU12; rendered through the same warp, noise and timing as every other clip.
    real_smiles: float = 0.0
    # Share of clips whose AUs are one of their emotion's full prototypes (EMFACS: a surprise's
    # brows, lids and jaw at once, the jaw opening furthest) instead of a combination as CASME
    # II's coders wrote them (often one region only). Repression and others have none.
    prototypes: float = 0.0
    # Share of clips in which the person also speaks: the jaw and lips move at a syllable
    # rate, whatever the expression, and the sheet does not code it (coders leave speech
    # out). Up to `speech_px` aligned pixels of mouth opening. The built-in dataset has none;
    # the pretraining corpus sets it (pretrain.speech).
    speech_probability: float = 0.0
    speech_px: float = 2.0  # widest mouth opening of that speech, aligned pixels

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
        if not 0.0 <= self.speech_probability <= 1.0:
            raise ConfigError("synth.speech_probability: not in [0, 1]")
        if self.speech_px <= 0:
            raise ConfigError(f"synth.speech_px: {self.speech_px} must be positive")
        if self.identities not in IDENTITIES:
            raise ConfigError(f"synth.identities: {self.identities!r} is not one of "
                              f"{', '.join(IDENTITIES)}")
        if not 0.0 <= self.real_smiles <= 1.0:
            raise ConfigError(f"synth.real_smiles: {self.real_smiles} is not in [0, 1]")
        if not 0.0 <= self.prototypes <= 1.0:
            raise ConfigError(f"synth.prototypes: {self.prototypes} is not in [0, 1]")
        if self.resolution != "builtin" and self.resolution not in SYNTH_RESOLUTIONS:
            known = ", ".join(["builtin", *SYNTH_RESOLUTIONS])
            raise ConfigError(f"synth.resolution: {self.resolution!r} is not one of {known}")


@dataclass(frozen=True)
class PreprocessConfig:
    # Side of the aligned square face, in pixels.
    size: int = 112
    # Frames per clip after TIM.
    frames: int = 16
    # Worker processes for the per-clip work (0: one per CPU this process may use, but no more
    # than the available memory holds at 512 MiB each; a worker streams its clip's frames).
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
    # OpenCV Farneback's own settings: image scale between pyramid levels, the levels, the
    # averaging window (pixels), iterations per level, the neighbourhood of the polynomial
    # expansion and its Gaussian's sigma.
    pyr_scale: float = 0.5
    levels: int = 3  # pyramid levels
    winsize: int = 15  # averaging window, pixels
    iterations: int = 3  # iterations per pyramid level
    poly_n: int = 5  # neighbourhood of the polynomial expansion, pixels
    poly_sigma: float = 1.2  # sigma of the Gaussian that weighs it
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
    # motion measured on the face alone) | inner (the inner face, where the action units
    # move it: the face's outline left out too).
    region: Literal["frame", "face", "inner"] = "frame"

    def validate(self) -> None:
        if self.region not in ("frame", "face", "inner"):
            raise ConfigError(f"flow.region: {self.region!r} is not frame, face or inner")
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

