"""Spot-then-recognise's second step: classify intervals already spotted in a long video.

The `recognise_spotted` stage (every video of the built-in long videos or of a CAS(ME)^3 part A
delivery) and `attrmer spot --format megc` (one video) hand the intervals the spotter found to
`recognise_intervals`, which reads each one's frames, onset..offset widened to `MIN_FRAMES`
around the apex as `attrmer predict --window spot` does, and classifies it with the ensemble.
The answer's MEGC class (`attrmer.spot.strs`) is what the spot-then-recognise score compares.
`megc_rows` writes the result in the layout of the challenge's scoring tool.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from attrmer.predict.clips import ClipSource, InputError, read_clip, widen
from attrmer.predict.confidence import MIN_FRAMES
from attrmer.preprocess.frames import ClipError
from attrmer.spot.intervals import Interval
from attrmer.spot.strs import megc_class_of_emotion

RECOGNISED_COLUMNS = ["video_key", "onset", "apex", "offset", "kind", "score", "label",
                      "megc_class", "probability", "agreement", "uncertain", "error"]
# The columns the challenge's spot-then-recognise scoring tool reads from a submission (its
# ground truth has the same): one row per spotted interval, the frames 1-based and inclusive,
# `emotion` one of negative, positive, surprise.
MEGC_COLUMNS = ["subject", "video", "onset", "offset", "emotion"]


def recognise_intervals(predictor: Any, source: ClipSource, intervals: Sequence[Interval], *,
                        first_frame: int = 1, total_frames: int | None = None,
                        batch_size: int = 8) -> list[dict[str, Any]]:
    """One record per interval, in order: its frames, kind and score, the ensemble's label,
    its MEGC class and probability, agreement and uncertain; or, when its frames could not be
    read or show no face, empty answers and the error. `first_frame`: the number of the
    source's first frame (the intervals count in the video's own numbers)."""
    if total_frames is None:
        from attrmer.predict.long_video import clip_frame_count

        total_frames = clip_frame_count(source)
    records, clips = [], []
    for interval in intervals:
        record = {"onset": interval.onset, "apex": interval.apex, "offset": interval.offset,
                  "kind": interval.kind, "score": interval.score, "label": "",
                  "megc_class": "", "probability": None, "agreement": None, "uncertain": None,
                  "error": ""}
        # Positions within the source, 0-based, then widened as predict widens a spotted window.
        first, last = widen(interval.onset - first_frame, interval.offset - first_frame,
                            interval.apex - first_frame, MIN_FRAMES, total_frames)
        try:
            frames, *_ = read_clip(source, first + 1, last + 1)
            clips.append((len(records), predictor.preparer.prepare(frames)))
        except InputError as exc:
            record["error"] = str(exc)
        except ClipError as exc:  # no face found in the window
            record["error"] = f"{source.path}, frames {first + first_frame}.."\
                              f"{last + first_frame}: {exc}"
        records.append(record)
    predictions = predictor.classify([clip for _, clip in clips], batch_size)
    for (index, _), prediction in zip(clips, predictions, strict=True):
        records[index].update(
            label=prediction.label, megc_class=megc_class_of_emotion(prediction.label) or "",
            probability=round(prediction.probabilities[prediction.label], 4),
            agreement=round(prediction.agreement, 4), uncertain=prediction.uncertain)
    return records


def subject_and_video(video_key: str) -> tuple[str, str]:
    """A long video's subject and video name from its key, "<Subject>/<Filename>" as a
    CAS(ME)^3 sheet names it (and `attrmer spot`'s `video_key` makes of a path)."""
    subject, _, video = video_key.rpartition("/")
    return subject, video


def megc_rows(recognised: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The recognised intervals (records with video_key) as rows of MEGC_COLUMNS."""
    rows = []
    for record in recognised:
        subject, video = subject_and_video(str(record["video_key"]))
        rows.append({"subject": subject, "video": video, "onset": int(record["onset"]),
                     "offset": int(record["offset"]), "emotion": record["megc_class"] or ""})
    return rows
