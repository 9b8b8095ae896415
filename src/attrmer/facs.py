"""FACS action units: their names, their parsed form, and the parser for annotation sheets.

The AU cell of a micro-expression sheet is free text (`12`, `4+7`, `R12`, `12L`, `L2C+12`,
`ref(L10)+A12B`, `/`, ...). `parse_action_units` turns it into `ActionUnit` records; a token it
cannot read is kept with a flag, never dropped. The names feed the attribute sentences.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

# Ekman & Friesen's FACS names (DESIGN.md §4). The paper's table spells 6 and 13 "Check".
FACS_NAMES: dict[int, str] = {
    1: "inner brow raiser", 2: "outer brow raiser", 4: "brow lowerer", 5: "upper lid raiser",
    6: "cheek raiser", 7: "lid tightener", 8: "lips toward each other", 9: "nose wrinkler",
    10: "upper lip raiser", 11: "nasolabial deepener", 12: "lip corner puller",
    13: "cheek puffer", 14: "dimpler", 15: "lip corner depressor", 16: "lower lip depressor",
    17: "chin raiser", 18: "lip pucker", 19: "tongue show", 20: "lip stretcher",
    21: "neck tightener", 22: "lip funneler", 23: "lip tightener", 24: "lip pressor",
    25: "lips part", 26: "jaw drop", 27: "mouth stretch", 28: "lip suck", 29: "jaw thrust",
    30: "jaw sideways", 31: "jaw clencher", 32: "lip bite", 33: "cheek blow", 34: "cheek puff",
    35: "cheek suck", 36: "tongue bulge", 37: "lip wipe", 38: "nostril dilator",
    39: "nostril compressor", 41: "lid droop", 42: "slit", 43: "eyes closed", 44: "squint",
    45: "blink", 46: "wink",
}

# FACS intensity letters, trace to maximum.
INTENSITY_WORDS: dict[str, str] = {
    "A": "trace", "B": "slight", "C": "marked", "D": "severe", "E": "maximum",
}

SIDE_WORDS: dict[str, str] = {"L": "left", "R": "right"}


@dataclass(frozen=True)
class ActionUnit:
    """One token of an AU cell.

    number: the AU number, or None when the token could not be read.
    side: "L", "R", "B" (bilateral), "U" (unilateral, side unknown) or None.
    intensity: FACS letter "A".."E", or None.
    raw: the token exactly as written.
    flag: "" when read cleanly; otherwise why it is doubtful ("unparsed", "reference",
        "unknown-au", ...). Flagged tokens are kept, not dropped.
    """

    number: int | None
    side: str | None = None
    intensity: str | None = None
    raw: str = ""
    flag: str = ""

    @property
    def usable(self) -> bool:
        return self.number is not None and self.number in FACS_NAMES and not self.flag


def aus_to_json(aus: list[ActionUnit]) -> str:
    return json.dumps([asdict(a) for a in aus], separators=(",", ":"))


def aus_from_json(text: str) -> list[ActionUnit]:
    if not text:
        return []
    return [ActionUnit(**item) for item in json.loads(text)]
