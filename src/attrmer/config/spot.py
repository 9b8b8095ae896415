"""The `spot` section: spotting in long videos and the built-in long-video corpus."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from attrmer.config.errors import ConfigError


@dataclass(frozen=True)
class SpotCorpusConfig:
    """The built-in long-video corpus that spotting is measured on (`attrmer.synth.long_video`)."""

    seed: int = 0  # the corpus' own seed: faces, events, timing, noise
    videos: int = 8  # long videos rendered
    # Videos per subject (Filename a, b, ...); the subjects are a seeded draw of the faces.
    videos_per_subject: int = 2
    fps: int = 30  # frame rate (CAS(ME)^3's 30)
    # Each video's length is drawn between these two, seconds.
    min_seconds: float = 20.0
    max_seconds: float = 40.0  # the longest a video is drawn, seconds
    # builtin (the stills at frame_height, 240×240) | casme2 (640×480, face ≈ 280 px).
    resolution: Literal["builtin", "casme2"] = "builtin"
    frame_height: int = 240  # with resolution builtin: the frames' height, pixels
    # Whose faces: bundled (the 11 committed stills, which every tuning corpus draws on) | real
    # (the 82 CC BY photographs of synth.identities: real, which no tuning corpus uses).
    identities: Literal["bundled", "real"] = "bundled"
    # Counts per minute of video (each video's count is the rate's, give or take one; a video
    # has at least one micro-expression, one macro-expression and one utterance).
    micro_per_minute: float = 10.0
    macro_per_minute: float = 8.0  # macro-expressions a minute
    speech_per_minute: float = 6.0  # utterances a minute (GRID speech motion, not annotated)
    blinks_per_minute: float = 15.0  # eye blinks a minute
    # Share of the blinks that fall inside an expression rather than in the rest between.
    blink_in_expression: float = 0.2
    # Scales on the AU amplitudes, as synth.intensity (1: apex at most 2 px on a 112 px
    # aligned face; 5: up to 10 px, a plain smile).
    micro_intensity: float = 1.0
    macro_intensity: float = 5.0  # the same for macro-expressions (5: up to 10 px)
    # Head motion over a video: peak drift (aligned pixels) and peak roll (degrees).
    drift_px: float = 3.0
    rotation_deg: float = 2.0  # peak head roll over a video, degrees
    # Peak head turn (yaw, about the vertical axis) over a video, degrees; 0: none. The face's
    # depth from an ellipsoid and a nose moves the near parts more than the outline.
    yaw_deg: float = 0.0
    noise_sigma: float = 2.0  # sensor noise, grey levels (as synth.noise_sigma)
    flicker: float = 0.02  # illumination flicker (as synth.flicker)
    jpeg_quality: int = 90  # of the written frames

    def validate(self, key: str = "spot.corpus") -> None:
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
        if self.identities not in ("bundled", "real"):
            raise ConfigError(f"{key}.identities: {self.identities!r} is not bundled or real")
        if self.frame_height < 64:
            raise ConfigError(f"{key}.frame_height: {self.frame_height} must be at least 64")
        for name in ("micro_per_minute", "macro_per_minute", "speech_per_minute",
                     "blinks_per_minute", "micro_intensity", "macro_intensity", "drift_px",
                     "rotation_deg", "yaw_deg", "noise_sigma", "flicker"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{key}.{name}: must not be negative")
        if not 0.0 <= self.blink_in_expression <= 1.0:
            raise ConfigError(f"{key}.blink_in_expression: not in [0, 1]")
        if not 1 <= self.jpeg_quality <= 100:
            raise ConfigError(f"{key}.jpeg_quality: {self.jpeg_quality} is not in [1, 100]")


# The built-in corpora of SpotConfig, each spotted and scored by its own run of the spotting
# stages (dvc.yaml's for `corpus`; spotting/dvc.yaml's `spot@<name>` ... for the others).
CORPORA = ("corpus", "corpus_200fps", "tuning_corpus")


@dataclass(frozen=True)
class SpotConfig:
    """Finding micro- and macro-expressions in long videos (`attrmer.spot`), and scoring it."""

    # A spotted interval is a true positive when its IoU with a ground-truth interval of the
    # same video and type is at least this (MEGC: 0.5).
    iou: float = 0.5
    # The long videos the `long_videos`/`spot` stages read: "builtin" (the corpus below,
    # rendered) or the folder of a CAS(ME)^3 part A delivery (its v2 sheet and frames).
    videos: str = "builtin"
    # The built-in corpus scored by `dvc repro` (with spot.videos: builtin) and never tuned on:
    # 30 fps as CAS(ME)^3, faces no tuning corpus uses, the head turning as well as drifting.
    corpus: SpotCorpusConfig = field(default_factory=lambda: SpotCorpusConfig(
        seed=3, identities="real", yaw_deg=5.0))
    # Beside it, built-in whatever spot.videos says: the same design at SAMM-LV's 200 fps, and
    # the corpus the method was tuned on and scored after each change (seed 0, bundled faces).
    corpus_200fps: SpotCorpusConfig = field(default_factory=lambda: SpotCorpusConfig(
        seed=4, videos=4, videos_per_subject=1, fps=200, min_seconds=15.0, max_seconds=25.0,
        identities="real", yaw_deg=5.0))
    tuning_corpus: SpotCorpusConfig = field(default_factory=SpotCorpusConfig)
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
    macro_window_seconds: float = 4.0  # the same for the macro curve, seconds
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
    macro_min_peak: float = 0.5  # the same for macro-expressions, pixels
    macro_noise: float = 1.0  # and times the macro curve's noise
    # Blinks: peaks of the eyes' grey level (its distance from its median over the micro window,
    # in grey levels 0-255) by the same rule, at most blink_max_seconds wide at half their
    # height. During a blink the brows and cheeks, which the eyelid's motion reaches, are left
    # out of the micro curve.
    blink_min_peak: float = 1.0
    blink_noise: float = 4.0  # and times the eyelid curve's noise
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
        for name in CORPORA:
            getattr(self, name).validate(f"spot.{name}")
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


