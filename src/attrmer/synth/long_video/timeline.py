"""What happens when in each long video: expressions, blinks, speech and head motion, drawn up
front from the seed so that rendering order is irrelevant.

A video is a neutral face with events laid out in time: micro-expressions (0.2-0.5 s, onset to
offset), macro-expressions (0.5-4 s, drawn log-uniformly, with a held apex) and utterances (real
speech motion, `speech.py`), each separated from the next by at least `MIN_REST_S` of rest, in a
random order. Blinks fall in the rest between events, clear of them, or (a share
`blink_in_expression` of them) start inside an expression, as blinks in real recordings do.
Frame numbers here are 0-based indices into the video; the sheet's JPG numbers are one more.

Not for rendering (`corpus.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from attrmer.config import ConfigError, SpotCorpusConfig
from attrmer.synth.identities import Face
from attrmer.synth.motion import AuMotion, eye_opening
from attrmer.synth.render import EMOTIONS, Blink, draw_aus, flicker_gain

MICRO_SECONDS = (0.2, 0.5)
MACRO_SECONDS = (0.5, 4.0)
# Neutral rest before the first event, after the last and between two events.
LEAD_S, TAIL_S, MIN_REST_S = 1.0, 0.5, 1.0
# A blink in the rest keeps this far from every event and from the other blinks.
BLINK_CLEARANCE_S = 0.2
# Blink timing (the lids fall fast and rise slower) and depth.
BLINK_CLOSE_S = (0.06, 0.12)
BLINK_OPEN_S = (0.10, 0.30)
BLINK_CLOSURE = (0.7, 1.0)
# Gain of a speech track on the face it is replayed on, and the fade at its ends.
SPEECH_GAIN = (0.7, 1.2)
SPEECH_FADE_S = 0.12
# Head motion: periods of the slow wander, seconds.
HEAD_PERIODS_S = (6.0, 40.0)
# Lid AUs move a lid by at most this share of the eye's opening: at a macro-expression's
# amplitudes AU5 would otherwise lift the upper lid by twice the opening.
LID_AU_LIMIT = {5: 0.5, 7: 0.4}
# Objective classes (Davison et al. 2018) as CAS(ME)^3's sheet writes them, per emotion:
# I happiness, II surprise, III anger, IV disgust, V sadness, VI fear, VII others; CASME II's
# repression has no class of its own and counts as others.
OBJECTIVE_CLASS = {
    "happiness": "I", "surprise": "II", "anger": "III", "disgust": "IV", "sadness": "V",
    "fear": "VI", "repression": "VII", "others": "VII",
}
KIND_NAMES = {"micro": "Micro-expression", "macro": "Macro-expression"}


@dataclass(frozen=True)
class Expression:
    kind: str  # micro | macro
    start: int  # 0-based frame of the onset (still neutral)
    n_frames: int  # onset to offset inclusive
    apex_index: int  # within the expression
    hold_frames: int  # macro: frames the apex is held (slowly relaxing); micro: 0
    hold_level: float  # share of the apex left at the end of the hold
    emotion: str
    aus: tuple[AuMotion, ...]

    @property
    def end(self) -> int:
        return self.start + self.n_frames - 1


@dataclass(frozen=True)
class Utterance:
    start: int
    n_frames: int
    track: int  # index into the speech tracks
    gain: float

    @property
    def end(self) -> int:
        return self.start + self.n_frames - 1


@dataclass(frozen=True)
class VideoSpec:
    subject: int  # the bundled face's number
    filename: str  # a, b, ...
    n_frames: int
    expressions: tuple[Expression, ...]
    utterances: tuple[Utterance, ...]
    blinks: tuple[Blink, ...]  # `start`: 0-based frame
    drift: np.ndarray = field(repr=False)  # (n, 2) head shift, aligned pixels
    roll: np.ndarray = field(repr=False)  # (n,) head roll, radians
    gain: np.ndarray = field(repr=False)  # (n,) illumination gain
    noise_seed: int = 0
    # (n,) head turn, radians; None: the head does not turn (spot.corpus.yaw_deg 0).
    yaw: np.ndarray | None = field(default=None, repr=False)

    @property
    def subject_name(self) -> str:
        return f"spNO.{self.subject}"


def held_profile(n_frames: int, apex_index: int, hold_frames: int, hold_level: float
                 ) -> np.ndarray:
    """0 at onset, raised-cosine rise to 1 at apex, an eased relaxation to `hold_level` over
    the hold, raised-cosine fall to 0 at offset. The apex is the profile's only maximum."""
    i = np.arange(n_frames, dtype=np.float64)
    rise = 0.5 * (1 - np.cos(np.pi * np.clip(i / max(apex_index, 1), 0, 1)))
    hold_end = apex_index + hold_frames
    eased = 0.5 * (1 - np.cos(np.pi * np.clip((i - apex_index) / max(hold_frames, 1), 0, 1)))
    held = 1.0 - (1.0 - hold_level) * eased
    fall_len = max(n_frames - 1 - hold_end, 1)
    fall = hold_level * 0.5 * (1 + np.cos(np.pi * np.clip((i - hold_end) / fall_len, 0, 1)))
    return np.where(i <= apex_index, rise, np.where(i <= hold_end, held, fall))


def slow_curve(rng: np.random.Generator, n_frames: int, fps: float) -> np.ndarray:
    """A slow wander over the video: three cosines of 6-40 s periods, 0 at the first frame,
    peak magnitude 1."""
    t = np.arange(n_frames) / fps
    periods = np.exp(rng.uniform(*np.log(HEAD_PERIODS_S), 3))
    curve = sum(rng.normal() * np.cos(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
                for period in periods)
    curve = curve - curve[0]
    peak = np.abs(curve).max()
    return curve / peak if peak > 0 else curve


def _frames(seconds: float, fps: float) -> int:
    """Onset-to-offset inclusive frame count of an interval lasting `seconds`."""
    return max(2, round(seconds * fps) + 1)


def _draw_expression(rng: np.random.Generator, kind: str, face: Face,
                     cfg: SpotCorpusConfig) -> Expression:
    shares = np.array([e.share for e in EMOTIONS])
    emotion = EMOTIONS[int(rng.choice(len(EMOTIONS), p=shares / shares.sum()))]
    if kind == "micro":
        n_frames = _frames(rng.uniform(*MICRO_SECONDS), cfg.fps)
        apex = round(rng.uniform(0.3, 0.5) * (n_frames - 1))
        hold, level, intensity = 0, 1.0, cfg.micro_intensity
    else:
        n_frames = _frames(math.exp(rng.uniform(*np.log(MACRO_SECONDS))), cfg.fps)
        # A macro-expression rises in 0.15-0.6 s, holds, and fades over a longer share.
        apex = min(round(rng.uniform(0.15, 0.6) * cfg.fps), round(0.35 * (n_frames - 1)))
        hold = round(rng.uniform(0.1, 0.5) * (n_frames - 1 - apex))
        level, intensity = float(rng.uniform(0.75, 0.95)), cfg.macro_intensity
    apex = int(np.clip(apex, 1, n_frames - 2))
    opening = eye_opening(face.frame) / face.pixels_per_aligned_pixel
    aus = tuple(
        replace(a, amplitude=round(min(a.amplitude, LID_AU_LIMIT[a.number] * opening), 4))
        if a.number in LID_AU_LIMIT else a
        for a in draw_aus(rng, emotion, face, intensity))
    return Expression(kind, 0, n_frames, apex, int(hold), round(level, 3), emotion.name, aus)


def _counts(rng: np.random.Generator, cfg: SpotCorpusConfig, minutes: float
            ) -> dict[str, int]:
    """How many of each a video of `minutes` holds: the rate's count, give or take one (a
    Poisson count would leave some videos with one macro-expression and others with seven)."""
    def count(rate: float, least: int) -> int:
        return max(least, round(rate * minutes) + int(rng.integers(-1, 2)))

    return {"micro": count(cfg.micro_per_minute, 1), "macro": count(cfg.macro_per_minute, 1),
            "speech": count(cfg.speech_per_minute, 1), "blinks": count(cfg.blinks_per_minute, 0)}


def _fit(rng: np.random.Generator, events: list, n_frames: int, fps: float) -> list:
    """Drop random events, never a kind's last one, until they and their rests fit the video."""
    rest = round(MIN_REST_S * fps)
    budget = n_frames - round(LEAD_S * fps) - round(TAIL_S * fps)

    def kind(event) -> str:
        return event.kind if isinstance(event, Expression) else "speech"

    while sum(e.n_frames for e in events) + rest * (len(events) - 1) > budget:
        counts: dict[str, int] = {}
        for event in events:
            counts[kind(event)] = counts.get(kind(event), 0) + 1
        droppable = [i for i, e in enumerate(events) if counts[kind(e)] > 1]
        if not droppable:
            raise ConfigError(f"spot.corpus.min_seconds: a {n_frames}-frame video cannot hold "
                              "one micro-expression, one macro-expression and one utterance")
        events.pop(droppable[int(rng.integers(len(droppable)))])
    return events


def _place(rng: np.random.Generator, events: list, n_frames: int, fps: float) -> list:
    """The events in a random order, each given its start frame, rests of random length."""
    order = [events[i] for i in rng.permutation(len(events))]
    rest, lead = round(MIN_REST_S * fps), round(LEAD_S * fps)
    slack = (n_frames - round(TAIL_S * fps) - lead - sum(e.n_frames for e in order)
             - rest * (len(order) - 1))
    # Spare time spread over the lead, the gaps and the tail.
    extra = np.floor(rng.dirichlet(np.ones(len(order) + 1)) * slack).astype(int)
    placed, start = [], lead + int(extra[0])
    for event, gap in zip(order, extra[1:], strict=True):
        placed.append(replace(event, start=int(start)))
        start += event.n_frames + rest + int(gap)
    return placed


def _draw_blink(rng: np.random.Generator, fps: float, start: int) -> Blink:
    return Blink(start=int(start),
                 close_frames=max(1, round(rng.uniform(*BLINK_CLOSE_S) * fps)),
                 open_frames=max(2, round(rng.uniform(*BLINK_OPEN_S) * fps)),
                 closure=round(float(rng.uniform(*BLINK_CLOSURE)), 3))


def blink_end(blink: Blink) -> int:
    """The frame the lids are fully open again (0-based)."""
    return blink.start + blink.close_frames + blink.open_frames


def _place_blinks(rng: np.random.Generator, count: int, n_frames: int,
                  expressions: list[Expression], utterances: list[Utterance],
                  cfg: SpotCorpusConfig) -> list[Blink]:
    """Blinks in the rest clear of every event, or starting inside an expression; a blink
    with no room left is dropped."""
    clearance = round(BLINK_CLEARANCE_S * cfg.fps)
    taken = np.zeros(n_frames, bool)  # frames a new blink (with its clearance) may not touch
    for event in [*expressions, *utterances]:
        taken[max(0, event.start - clearance):event.end + clearance + 1] = True
    taken[:clearance] = taken[n_frames - clearance:] = True
    blinks_taken = np.zeros(n_frames, bool)
    blinks = []
    for _ in range(count):
        inside = rng.random() < cfg.blink_in_expression
        host = expressions[int(rng.integers(len(expressions)))]
        # Drawn before it is placed: where it may start depends on how long it lasts.
        blink = _draw_blink(rng, cfg.fps, 0)
        length = blink_end(blink) + 1
        if inside:
            starts = np.arange(host.start + 1, max(host.start + 2, host.end - 1))
            blocked = blinks_taken
        else:
            starts = np.arange(0, n_frames - length)
            blocked = taken | blinks_taken
        ok = [s for s in starts
              if s + length + clearance < n_frames
              and not blocked[max(0, s - clearance):s + length + clearance].any()]
        if not ok:
            continue
        start = int(ok[int(rng.integers(len(ok)))])
        blinks.append(Blink(start, blink.close_frames, blink.open_frames, blink.closure))
        blinks_taken[start:start + length] = True
    return sorted(blinks, key=lambda b: b.start)


def plan_video(rng: np.random.Generator, face: Face, filename: str, n_tracks: int,
               track_frames: list[int], cfg: SpotCorpusConfig,
               turn_rng: np.random.Generator | None = None) -> VideoSpec:
    """One video's events and nuisances. `track_frames`: each speech track's length at
    `cfg.fps`. The head's turn is drawn from `turn_rng` (needed when cfg.yaw_deg > 0), so that
    a corpus without turns draws exactly what it drew before turns existed."""
    n_frames = round(rng.uniform(cfg.min_seconds, cfg.max_seconds) * cfg.fps)
    counts = _counts(rng, cfg, n_frames / cfg.fps / 60.0)
    events: list = [_draw_expression(rng, kind, face, cfg)
                    for kind in ("micro", "macro") for _ in range(counts[kind])]
    # Utterances: distinct tracks as long as there are enough of them.
    tracks = rng.permutation(np.resize(np.arange(n_tracks), max(counts["speech"], n_tracks)))
    events += [Utterance(0, track_frames[int(t)], int(t),
                         round(float(rng.uniform(*SPEECH_GAIN)), 3))
               for t in tracks[:counts["speech"]]]
    events = _place(rng, _fit(rng, events, n_frames, cfg.fps), n_frames, cfg.fps)
    expressions = [e for e in events if isinstance(e, Expression)]
    utterances = [e for e in events if isinstance(e, Utterance)]
    blinks = _place_blinks(rng, counts["blinks"], n_frames, expressions, utterances, cfg)

    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction)
    along, across = slow_curve(rng, n_frames, cfg.fps), slow_curve(rng, n_frames, cfg.fps)
    drift = cfg.drift_px * rng.uniform(0.5, 1.0) * (
        along[:, None] * direction + 0.5 * across[:, None] * np.array([-direction[1],
                                                                       direction[0]]))
    roll = np.deg2rad(cfg.rotation_deg) * rng.uniform(0.5, 1.0) * slow_curve(rng, n_frames,
                                                                            cfg.fps)
    yaw = None
    if cfg.yaw_deg > 0:
        if turn_rng is None:
            raise ValueError("plan_video: spot.corpus.yaw_deg > 0 needs a turn_rng")
        yaw = np.deg2rad(cfg.yaw_deg) * turn_rng.uniform(0.5, 1.0) * slow_curve(
            turn_rng, n_frames, cfg.fps)
    return VideoSpec(
        subject=face.subject, filename=filename, n_frames=n_frames,
        expressions=tuple(sorted(expressions, key=lambda e: e.start)),
        utterances=tuple(sorted(utterances, key=lambda u: u.start)),
        blinks=tuple(blinks), drift=drift, roll=roll,
        gain=flicker_gain(rng, n_frames, cfg.fps, cfg.flicker),
        noise_seed=int(rng.integers(0, 2**31 - 1)),
        yaw=yaw,
    )


def plan_long_corpus(cfg: SpotCorpusConfig, faces: list[Face], track_frames: list[int]
                     ) -> list[VideoSpec]:
    """Every video of the corpus, in sheet order (subject, then filename)."""
    rng = np.random.default_rng(cfg.seed)
    subjects = math.ceil(cfg.videos / cfg.videos_per_subject)
    if subjects > len(faces):
        raise ConfigError(f"spot.corpus.videos: {cfg.videos} videos at "
                          f"{cfg.videos_per_subject} per subject need {subjects} faces; there "
                          f"are {len(faces)}")
    chosen = sorted(rng.choice(len(faces), subjects, replace=False).tolist())
    specs = []
    for number in range(cfg.videos):
        face = faces[chosen[number // cfg.videos_per_subject]]
        filename = chr(ord("a") + number % cfg.videos_per_subject)
        # Each video from its own stream: one video's draws do not shift the next one's.
        video_rng = np.random.default_rng([cfg.seed, number])
        turn_rng = np.random.default_rng([cfg.seed, number, 1])
        specs.append(plan_video(video_rng, face, filename, len(track_frames), track_frames, cfg,
                                turn_rng))
    return specs
