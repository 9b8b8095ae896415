"""The built-in long-video corpus: micro- and macro-expressions to spot, on the bundled faces.

`render_long_corpus(out_dir, cfg)` writes `cfg.videos` videos of 20-40 s at 30 fps in the
layout of CAS(ME)^3 part A, so that the reader of the real dataset
(`attrmer.datasets.casme3_lv`) reads it too:

- `<Subject>/<Filename>/color/<N>.jpg`: the frames, N from 1; Subject `spNO.<face number>`,
  Filename a, b, ...;
- `CAS(ME)3_part_A_v2.xlsx`: worksheet `AU+Emotion` (Subject, Filename, Onset, Apex, Offset,
  AU, Expression type, Objective class), one row per micro- or macro-expression, and worksheet
  `eye blink` (Subject, Filename, Onset, Offset);
- `corpus.json`: the parameters and each video's truth (AUs, amplitudes, blinks, speech, head
  motion).

Each video is a face at rest with micro-expressions, macro-expressions and utterances laid out
in time with neutral rest between them (`timeline.py`), blinks in the rest and sometimes inside
an expression, slow head drift and roll, flicker, sensor noise and JPEG. The utterances replay
real speech motion measured on the GRID corpus (`speech.py`, `speech_tracks.json`); they are
what a spotter must not fire on, and the sheet does not list them. `attrmer synth --long OUT`
renders the corpus from the command line.
"""

from __future__ import annotations

from typing import Any

__all__ = ["render_long_corpus"]


def __getattr__(name: str) -> Any:
    # Imported on first use: `python -m attrmer.synth.long_video.speech` would otherwise find
    # its own module already imported (through the renderer) before it runs.
    if name == "render_long_corpus":
        from attrmer.synth.long_video.corpus import render_long_corpus

        return render_long_corpus
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
