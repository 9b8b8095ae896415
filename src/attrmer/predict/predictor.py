"""`Predictor`: one or several trained video networks (the seeds of a run) and the face
aligner, loaded once, turning decoded clips into calibrated, ensembled predictions.

A clip goes through the pipeline's own per-clip code (`attrmer.preprocess.pipeline`: one
alignment per clip, TIM, Farneback flow) and the network inputs are made by
`attrmer.model.inputs`, exactly as in training. Every model scores the clip; each model's
probabilities are first calibrated with the temperature fitted on its validation subjects;
the ensemble's answer is their mean, and `attrmer.predict.confidence` says when not to trust
it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from attrmer.config import ConfigError
from attrmer.modelfile import (
    CONFIG,
    ModelBundle,
    ModelFileError,
    ModelSettings,
    load_model_dir,
    read_model_settings,
)
from attrmer.predict.confidence import Confidence, assess, calibrated, mouth_cycles
from attrmer.preprocess.flow import FLOW_FIELD_KEYS
from attrmer.preprocess.frames import ClipError, natural_key

STEPS = ("decode", "align", "tim", "flow", "network")


@dataclass(frozen=True)
class Prediction:
    """One clip's prediction: the most probable class and every class's probability (the mean
    over the models), how the models voted, and whether to trust it.

    `frames` is the number of source frames used; `timings` the seconds spent per step
    (decode, align, tim, flow, network; a batch's network time is shared out evenly).
    """

    label: str
    probabilities: dict[str, float]
    frames: int
    votes: dict[str, int] = field(default_factory=dict)
    confidence: Confidence | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def agreement(self) -> float:
        """The share of models whose own answer is the ensemble's."""
        total = sum(self.votes.values())
        return self.votes.get(self.label, 0) / total if total else 1.0

    @property
    def uncertain(self) -> bool:
        return bool(self.confidence and self.confidence.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "probabilities": dict(self.probabilities),
            "frames": self.frames,
            "models": sum(self.votes.values()),
            "votes": dict(self.votes),
            "agreement": round(self.agreement, 4),
            "uncertain": self.uncertain,
            "reasons": list(self.confidence.reasons) if self.confidence else [],
            "motion": round(self.confidence.motion, 4) if self.confidence else None,
            "timings": {step: round(seconds, 4) for step, seconds in self.timings.items()},
        }


# The train stage's folder of per-seed models inside models/ (dvc.yaml: models/seeds).
SEEDS_DIR = "seeds"


@dataclass
class PreparedClip:
    """A clip ready for the network: TIM RGB (3, T, S, S) uint8, raw flow (2, T, S, S), and
    how often its mouth opened and closed (`confidence.mouth_cycles`: speech, when twice)."""

    rgb: np.ndarray
    flow: np.ndarray
    frames: int
    timings: dict[str, float]
    mouth_cycles: int = 0
    # The first frame (1-based, within the clip) from which its face is no longer in the shot
    # (`spot.presence.face_span`); None while it stays. The window search cuts such a clip
    # there; a window given or `full` keeps every frame and is marked uncertain.
    face_lost_at: int | None = None


def model_dirs(path: str | Path) -> list[Path]:
    """The model directories `path` stands for: itself when it holds a model, else each of
    its subfolders that does (e.g. `models/seeds` -> its seed_0 ... seed_4), or, failing
    that, the train stage's `seeds/` folder inside it (`models/`), leaving out the pretrain
    stage's network (models/pretrained): it was trained on rendered clips only, is never
    calibrated, and is every seed's starting point rather than one more opinion."""
    path = Path(path)
    if (path / CONFIG).is_file():
        return [path]
    if not path.is_dir():
        raise ModelFileError(f"{path}: no such model directory")
    found = sorted((p for p in path.iterdir()
                    if (p / CONFIG).is_file() and not _is_pretraining_model(p)),
                   key=lambda p: natural_key(p.name))
    if not found and (path / SEEDS_DIR).is_dir():
        return model_dirs(path / SEEDS_DIR)
    if not found:
        raise ModelFileError(f"{path}: neither a model directory ({CONFIG} and weights) nor a "
                             "folder of them; run `dvc repro` first, or pass --model DIR")
    return found


def _is_pretraining_model(directory: Path) -> bool:
    # The pretrain stage marks its output with status.json {"status": "pretrained"}.
    status = directory / "status.json"
    if not status.is_file():
        return False
    try:
        return json.loads(status.read_text()).get("status") == "pretrained"
    except (OSError, ValueError, AttributeError):
        return False


def default_model_dirs(root: str | Path = ".") -> list[Path]:
    """models/seeds/seed_<s> for every seed of params.yaml's train.seeds that exists, i.e.
    the models of the last `dvc repro` (every models/seeds/seed_* when params.yaml is
    absent)."""
    from attrmer.config import ConfigError, load_params

    trained = Path(root) / "models" / SEEDS_DIR
    try:
        seeds = sorted(load_params(Path(root) / "params.yaml").train.seeds)
        found = [trained / f"seed_{s}" for s in seeds]
        found = [p for p in found if (p / CONFIG).is_file()]
    except ConfigError:
        found = []
    if not found and trained.is_dir():
        found = [p for p in model_dirs(trained) if p.name.startswith("seed_")]
    if not found:
        raise ModelFileError(f"{trained}: no trained model (seed_<seed>); run `dvc repro` "
                             "first, or pass --model DIR")
    return found


def check_device(device: str) -> str:
    """`device` if torch can run on it here; ModelFileError's sibling ValueError otherwise,
    in one line that says why."""
    if device == "cpu":
        return device  # every torch runs there; torch is not imported just to say so
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"--device {device!r}: not a torch device (cpu, cuda, cuda:1, mps)"
                         ) from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: this torch install sees no CUDA GPU "
                             f"(torch {torch.__version__}); use --device cpu")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ValueError(f"--device {device}: only {torch.cuda.device_count()} CUDA "
                             "device(s) here")
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {device}: MPS is not available here; use --device cpu")
    elif parsed.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"--device {device}: attrmer runs on cpu, cuda or mps")
    return device


def ensemble_settings(directories: Sequence[Path]) -> list[ModelSettings]:
    """Each model directory's settings, checked and checked against each other: an ensemble's
    models must read the same classes and the same prepared clips. Needs no torch."""
    if not directories:
        raise ModelFileError("no model directory given")
    settings = [read_model_settings(d) for d in directories]
    for one, directory in zip(settings, directories, strict=True):
        try:
            one.flow.validate()
            one.model.validate()
        except ConfigError as exc:
            raise ModelFileError(f"{directory / CONFIG}: {exc}") from None

    def inputs(one: ModelSettings) -> tuple:
        return (one.classes, one.size, one.frames,
                [getattr(one.flow, k) for k in FLOW_FIELD_KEYS])

    first = inputs(settings[0])
    for one, directory in zip(settings[1:], directories[1:], strict=True):
        if inputs(one) != first:
            raise ModelFileError(
                f"{directory}: classes, alignment size, TIM frames or flow settings differ "
                f"from {directories[0]}'s; an ensemble needs models trained on the same inputs")
    return settings


class ClipPreparer:
    """The face aligner and a model's input settings: decoded clips in, the network's
    prepared clips out (`attrmer.preprocess.clip`: one alignment per clip, TIM, Farneback
    flow, as in training). Needs no torch, so that clips can be prepared while it loads."""

    def __init__(self, settings: ModelSettings) -> None:
        from attrmer.preprocess.align import FaceAligner

        self.settings = settings
        self.aligner = FaceAligner(settings.size)

    def warm_up(self) -> None:
        """Load dlib's models now (a detection on a blank image), so that their loading is
        not billed to the first clip."""
        self.aligner.detect(np.zeros((64, 64, 3), np.uint8))

    def prepare(self, frames: Sequence[np.ndarray], *, cycles: int | None = None
                ) -> PreparedClip:
        """Align, TIM and flow one decoded clip, and count its mouth's cycles, unless the
        caller counted them over more frames (`cycles`); raises ClipError (fewer than 2
        frames, no face found, face leaving the frame)."""
        from attrmer.preprocess.clip import align_clip, flow_from_aligned, rgb_from_aligned
        from attrmer.spot.presence import face_span

        frames = list(frames)
        for index, frame in enumerate(frames):
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise ClipError("not an RGB uint8 H×W×3 frame",
                                f"frame {index + 1} is {frame.dtype} {frame.shape}")
        timings: dict[str, float] = {}
        start = time.perf_counter()
        alignment = align_clip(frames, self.aligner)
        kept = face_span(frames, alignment.frames, self.aligner)
        timings["align"] = time.perf_counter() - start
        start = time.perf_counter()
        rgb = rgb_from_aligned(alignment.frames, self.settings.frames)
        timings["tim"] = time.perf_counter() - start
        start = time.perf_counter()
        flow = flow_from_aligned(alignment.frames, self.settings.frames, self.settings.flow)
        # The training stores hold flow as float16; rounding the same way keeps predict's
        # inputs identical to the ones the network was trained on.
        flow = flow.astype(np.float16).astype(np.float32)
        timings["flow"] = time.perf_counter() - start
        if cycles is None:
            cycles = mouth_cycles(alignment.frames)
        return PreparedClip(rgb=rgb, flow=flow, frames=len(frames), timings=timings,
                            mouth_cycles=cycles,
                            face_lost_at=kept + 1 if kept < len(frames) else None)

    def align(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """(n, S, S, 3) aligned frames of a decoded clip (for finding its window)."""
        from attrmer.preprocess.clip import align_clip

        return align_clip(list(frames), self.aligner).frames


class Predictor:
    """Loaded model directories (one, or a run's seeds) plus the clip preparer.

    The networks, dlib's detector and its landmark model are loaded once, here (dlib's only
    with `warm_aligner`, else at the first clip); every `predict_*` call after that pays only
    for its clips.
    """

    def __init__(self, model_dir: str | Path | Sequence[str | Path],
                 device: str = "cpu", *, warm_aligner: bool = True,
                 settings: Sequence[ModelSettings] | None = None) -> None:
        """`settings`: the directories' `ensemble_settings`, when the caller has read them."""
        if isinstance(model_dir, str | Path):
            directories = model_dirs(model_dir)
        else:
            directories = [Path(d) for d in model_dir]
        settings = list(settings) if settings is not None else ensemble_settings(directories)
        self.device = check_device(device)
        self.model_dirs = directories
        self.bundles: list[ModelBundle] = [
            load_model_dir(d, device=device, settings=one)
            for d, one in zip(directories, settings, strict=True)]
        self.bundle = self.bundles[0]
        self.classes: list[str] = list(self.bundle.classes)
        self.preparer = ClipPreparer(settings[0])
        if warm_aligner:
            self.preparer.warm_up()

    @property
    def aligner(self) -> Any:
        return self.preparer.aligner

    @property
    def model_dir(self) -> Path:
        """The one model directory, or the folder holding the ensemble's."""
        if len(self.model_dirs) == 1:
            return self.model_dirs[0]
        return self.model_dirs[0].parent

    def prepare(self, frames: Sequence[np.ndarray]) -> PreparedClip:
        return self.preparer.prepare(frames)

    def align(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        return self.preparer.align(frames)

    def _probabilities(self, bundle: ModelBundle, clips: Sequence[PreparedClip]) -> np.ndarray:
        """(clips, classes) calibrated probabilities of one model."""
        import torch

        from attrmer.model.inputs import flow_input, prepare_rgb

        size = bundle.model.input_size
        with torch.inference_mode():
            rgb = prepare_rgb(torch.from_numpy(np.stack([c.rgb for c in clips])), size)
            flow = flow_input(torch.from_numpy(np.stack([c.flow for c in clips])),
                              bundle.flow, size)
            logits, _ = bundle.network(rgb.to(self.device), flow.to(self.device))
            raw = torch.softmax(logits.float(), dim=1).cpu().numpy()
        return calibrated(raw, bundle.info.get("calibration"))

    def classify(self, clips: Sequence[PreparedClip], batch_size: int = 8) -> list[Prediction]:
        """Run every model on prepared clips, `batch_size` at a time."""
        if batch_size < 1:
            raise ValueError(f"batch_size: {batch_size} must be at least 1")
        predictions: list[Prediction] = []
        for first in range(0, len(clips), batch_size):
            batch = clips[first:first + batch_size]
            start = time.perf_counter()
            per_model = np.stack([self._probabilities(b, batch) for b in self.bundles])
            network_seconds = (time.perf_counter() - start) / len(batch)
            for index, clip in enumerate(batch):
                mean = per_model[:, index].mean(axis=0)
                label = self.classes[int(np.argmax(mean))]
                votes: dict[str, int] = {}
                for row in per_model[:, index]:
                    choice = self.classes[int(np.argmax(row))]
                    votes[choice] = votes.get(choice, 0) + 1
                probabilities = {n: float(p) for n, p in zip(self.classes, mean, strict=True)}
                votes = dict(sorted(votes.items(), key=lambda kv: -kv[1]))
                predictions.append(Prediction(
                    label=label, probabilities=probabilities, frames=clip.frames, votes=votes,
                    confidence=assess(clip, self.bundles, probabilities, votes, label),
                    timings={**clip.timings, "network": network_seconds},
                ))
        return predictions

    def predict_frames(self, frames: Sequence[np.ndarray]) -> Prediction:
        """One clip of RGB uint8 H×W×3 frames (onset to offset) -> its Prediction."""
        return self.classify([self.prepare(frames)])[0]

    def predict_path(
        self, path: str | Path, *, onset: int | None = None, offset: int | None = None
    ) -> Prediction:
        """One video file or frame folder, frames `onset`..`offset` (1-based, inclusive;
        default the whole clip), with the decoding timed too. Errors are InputError naming
        the path."""
        from attrmer.predict.clips import InputError, find_clips, read_clip

        sources = find_clips(path)
        if len(sources) != 1:
            raise InputError(f"{path}: a folder of {len(sources)} clips; predict_paths "
                             "predicts each")
        start = time.perf_counter()
        frames, _, _, _ = read_clip(sources[0], onset, offset)
        decode_seconds = time.perf_counter() - start
        try:
            clip = self.prepare(frames)
        except ClipError as exc:
            raise InputError(f"{path}: {exc}") from exc
        clip.timings = {"decode": decode_seconds, **clip.timings}
        return self.classify([clip])[0]

    def predict_many(
        self, clips: Sequence[Sequence[np.ndarray]], batch_size: int = 8
    ) -> list[Prediction]:
        """Several clips, one prediction each, in order; the network runs in batches.

        A clip that cannot be prepared raises ClipError naming its position; use `prepare`
        and `classify` to go on past bad clips.
        """
        prepared = []
        for index, frames in enumerate(clips):
            try:
                prepared.append(self.prepare(frames))
            except ClipError as exc:
                raise ClipError(exc.reason, f"clip {index}" + (f": {exc.detail}"
                                                                if exc.detail else "")) from exc
        return self.classify(prepared, batch_size)
