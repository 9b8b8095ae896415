"""FACS action units: their names, their parsed form, and the parser for annotation sheets.

The AU cell of a micro-expression sheet is free text (`12`, `4+7`, `R12`, `12L`, `L2C+12`,
`ref(L10)+A12B`, `/`, ...). `parse_action_units` turns it into `ActionUnit` records; a token it
cannot read is kept with a flag, never dropped. The names feed the attribute sentences.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass

# The action-unit names of Ekman & Friesen's Facial Action Coding System (FACS 2002).
# The paper's table spells 6 and 13 "Check".
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

    A token is usable (it names a FACS action unit) whenever its number has a FACS name, flag
    or not: `ref(L10)`, `A12B` and `12?` say which muscle moved as clearly as `L10`, `12B` and
    `12`; the flag says only how sure the coder was, and travels with the token.
    """

    number: int | None
    side: str | None = None
    intensity: str | None = None
    raw: str = ""
    flag: str = ""

    @property
    def usable(self) -> bool:
        return self.number is not None and self.number in FACS_NAMES


def aus_to_json(aus: list[ActionUnit]) -> str:
    return json.dumps([asdict(a) for a in aus], separators=(",", ":"))


def aus_from_json(text: str) -> list[ActionUnit]:
    if not text:
        return []
    return [ActionUnit(**item) for item in json.loads(text)]


# How a sheet writes one AU token, once upper-cased and stripped:
#   optional "AU", an optional letter before the number, the number, up to two letters after it,
#   and an optional "?" for a coder's doubt. `ref(...)` wraps a token the coder marked as a
#   reference movement (SAMM); it is unwrapped first.
_TOKEN = re.compile(r"^(?:AU)?([A-Z]?)(\d+)([A-Z]{0,2})(\?)?$")
_REFERENCE = re.compile(r"^REF\((.*)\)$")
# Cells separate tokens with "+" (CASME II, SAMM, MMEW, CAS(ME)^3 part A) or "," (CAS(ME)^3
# part C, which once writes the full-width comma of a Chinese keyboard: "4，11"); spaces and
# semicolons turn up in hand edits.
_SEPARATORS = re.compile(r"[+,;\s\uff0c]+")
# Letters that stand before the number as a side: L/R (left/right), B/U (bilateral/unilateral)
# and T (top lip: CAS(ME)^3 writes T18, T24, T28).
_SIDE_PREFIXES = frozenset("LRBUT")
_SIDE_SUFFIXES = frozenset("LR")
_INTENSITIES = frozenset(INTENSITY_WORDS)
# Cells that mean "no AU coded".
_EMPTY_CELLS = frozenset({"", "/", "-", "NAN", "NONE", "N/A", "NA"})


def parse_action_units(cell: object) -> list[ActionUnit]:
    """Parse one AU cell of an annotation sheet into `ActionUnit` tokens, in the order written.

    Reading conventions (FACS, and the way the CASME II, SAMM, MMEW and CAS(ME)^3 coders write):
    - a letter *before* the number is a side: `R12`, `L14`, `B23`, `U4`, `T28` (top lip);
    - a letter *after* the number is an intensity A-E (`7C`, `5B`: B after a number is
      intensity "slight", never "bilateral"), except L/R, which MMEW writes as a side suffix
      (`12L`, `4R`); both may follow in either order (`12LC`, `12CL`);
    - any other letter before the number (SAMM's `A12B`) keeps the number and the intensity
      and is flagged "unknown-prefix";
    - `ref(L10)` is read like `L10` and flagged "reference";
    - a trailing `?` (or a cell or token of `?` alone) is flagged "uncertain";
    - an AU number without a FACS name (3, 40, head and eye codes 51+) is flagged "unknown-au";
    - anything else is kept whole with number None and flag "unparsed".
    Blank cells, None, NaN and `/` give an empty list. Numeric cells (pandas reads `12` as 12 or
    12.0) are read as that AU.
    """
    text = _cell_text(cell)
    if text is None:
        return []
    return [_parse_token(token) for token in _SEPARATORS.split(text) if token and token != "/"]


def _cell_text(cell: object) -> str | None:
    if cell is None:
        return None
    if isinstance(cell, bool):
        return str(cell)
    if isinstance(cell, int):
        return str(cell)
    if isinstance(cell, float):
        if math.isnan(cell):
            return None
        return str(int(cell)) if cell.is_integer() else repr(cell)
    text = str(cell).strip()
    return None if text.upper() in _EMPTY_CELLS else text


def _parse_token(raw: str) -> ActionUnit:
    token = raw.upper()
    flag = ""
    reference = _REFERENCE.match(token)
    if reference:
        token = reference.group(1).strip()
        flag = "reference"
    if token == "?":
        return ActionUnit(number=None, raw=raw, flag="uncertain")
    match = _TOKEN.match(token)
    if not match:
        return ActionUnit(number=None, raw=raw, flag="unparsed")
    prefix, digits, suffix, doubt = match.groups()
    side: str | None = None
    intensity: str | None = None
    if prefix in _SIDE_PREFIXES:
        side = prefix
    elif prefix:
        flag = flag or "unknown-prefix"
    for letter in suffix:
        if letter in _SIDE_SUFFIXES and side is None:
            side = letter
        elif letter in _INTENSITIES and intensity is None:
            intensity = letter
        else:
            # A second side, a second intensity or a letter that is neither: not a form we know.
            return ActionUnit(number=None, raw=raw, flag="unparsed")
    number = int(digits)
    if doubt:
        flag = flag or "uncertain"
    if number not in FACS_NAMES:
        flag = flag or "unknown-au"
    return ActionUnit(number=number, side=side, intensity=intensity, raw=raw, flag=flag)
