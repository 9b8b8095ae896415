"""A long video in `attrmer predict`: spot its expressions first, then classify each
micro-expression (`--window spot`, and what `--window auto` does on a clip longer than
`LONG_CLIP_SECONDS`).

The spotter (`attrmer.spot`) reads the whole video once, frame by frame, and names each
micro- and macro-expression's onset, apex and offset; every micro-expression interval then
becomes one clip of frames onset..offset that predict classifies like any other. A video with
no micro-expression still gets an answer: each macro-expression is classified instead, and
with neither, the window of strongest motion (`--window auto`); either answer says so and is
marked uncertain, the models being micro-expression models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attrmer.predict.clips import ClipSource, InputError, WindowChoice, widen
from attrmer.predict.confidence import MIN_FRAMES

# Longer than this, a clip is a recording to spot in rather than one expression: the
# longest micro-expression datasets' clips last ~3 s (CASME II at 200 fps), the longest
# macro-expression ~4 s.
LONG_CLIP_SECONDS = 10.0
# The rate assumed for a folder of frames given without --fps (CAS(ME)^3's).
FOLDER_FPS = 30.0
PARAMS_FILE = Path("params.yaml")


def clip_frame_count(source: ClipSource) -> int:
    """How many frames a clip holds, without decoding them (a video's declared count)."""
    if source.kind == "frames":
        from attrmer.preprocess.frames import frame_files

        return len(frame_files(source.path))
    import cv2

    capture = cv2.VideoCapture(str(source.path))
    try:
        return max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
    finally:
        capture.release()


def is_long(source: ClipSource, fps: float | None) -> bool:
    return clip_frame_count(source) > LONG_CLIP_SECONDS * (fps or FOLDER_FPS)


@dataclass(frozen=True)
class SpottedWindow:
    """One interval to classify, 1-based and inclusive, and what the spotter said of it (its
    kind: micro, macro, or "strongest motion" when nothing was spotted; apex None then)."""

    choice: WindowChoice
    apex: int | None
    found: dict[str, Any]


# Why an answer on a window that is not a spotted micro-expression is uncertain.
FALLBACK_REASONS = {
    "macro": "no micro-expression was spotted; this is a macro-expression (longer than "
             "micro_max_seconds), and the models read micro-expressions",
    "strongest motion": "no micro- or macro-expression was spotted; this is the window of "
                        "strongest motion",
}


def windows_to_classify(windows: list[SpottedWindow]) -> list[SpottedWindow]:
    """The micro-expressions spotted; with none, the macro-expressions; with neither, the
    window of strongest motion of the whole video (found while it is read, `--window auto`)."""
    for kind in ("micro", "macro"):
        chosen = [w for w in windows if w.found["kind"] == kind]
        if chosen:
            return chosen
    return [SpottedWindow(WindowChoice("auto", None, None), None,
                          {"kind": "strongest motion"})]


def spot_settings() -> tuple[Any, Any]:
    """The `spot` and `flow` settings of ./params.yaml when there is one (so that predict
    spots as `attrmer spot` and the `spot` stage do, `dvc exp run -S spot.…` included), else
    the built-in defaults. A bad params.yaml is an InputError naming the key."""
    from attrmer.config import ConfigError, load_params_if_present

    try:
        params = load_params_if_present(PARAMS_FILE)
    except ConfigError as exc:  # its message names the file and the key
        raise InputError(str(exc)) from None
    return params.spot, params.flow


def spotted_windows(source: ClipSource, fps: float | None, aligner: Any = None,
                    settings: tuple[Any, Any] | None = None
                    ) -> tuple[list[SpottedWindow], dict[str, Any]]:
    """Spot `source`; its micro- and macro-expression windows (each at least MIN_FRAMES long,
    widened around its apex where the video allows) and a summary of everything spotted
    (frames, fps, micro and macro intervals). Errors are InputError naming the path."""
    from attrmer.preprocess.frames import ClipError
    from attrmer.spot import spot_path

    rate = fps or FOLDER_FPS
    cfg, flow_cfg = settings or spot_settings()
    try:
        result = spot_path(source.path, kind=source.kind, fps=rate, cfg=cfg, flow_cfg=flow_cfg,
                           aligner=aligner)
    except ClipError as exc:
        raise InputError(f"{source.path}: {exc}") from None
    # The spotter numbers a folder's frames by their file names and a video's from 1;
    # predict's windows count positions from 1, as --window ONSET:OFFSET does.
    position = {int(number): i + 1 for i, number in enumerate(result.frame_numbers)}
    windows = []
    for interval, region in zip(result.intervals, result.regions, strict=True):
        onset, offset = widen(position[interval.onset] - 1, position[interval.offset] - 1,
                              position[interval.apex] - 1, MIN_FRAMES,
                              len(result.frame_numbers))
        windows.append(SpottedWindow(
            WindowChoice("given", onset + 1, offset + 1),
            apex=position[interval.apex],
            found={"kind": interval.kind, "score": interval.score, "region": region}))
    summary = {
        "frames": len(result.frame_numbers),
        "fps": rate,
        "micro": sum(i.kind == "micro" for i in result.intervals),
        "macro": [[position[i.onset], position[i.apex], position[i.offset]]
                  for i in result.intervals if i.kind == "macro"],
        "blinks": len(result.blinks),
    }
    return windows, summary
