"""The `attributes` stage: each clip's parsed action units become one sentence of FACS names.

    [AU1, R12, 12]  →  "inner brow raiser, lip corner puller, right lip corner puller"

Rules (deterministic, so the same AUs always give the same sentence and text id):
- a usable AU contributes its FACS name (attrmer.facs.FACS_NAMES), preceded by "left" / "right"
  when the sheet gives that side, and, with `intensity_words`, by the FACS intensity word
  ("slight left lip corner puller");
- phrases are ordered by AU number, then side, then intensity (not as written in the sheet),
  so "4+7" and "7+4" give one sentence; a phrase that repeats is written once;
- a token the parser flagged but whose AU number has a FACS name (SAMM's `ref(L10)` and `A12B`,
  a coder's `12?`) keeps its phrase: the flag says how sure the coder was, not which muscle
  moved, and dropping it would give unrelated clips the same sentence. It is listed in the
  row's `flag` all the same;
- tokens without a FACS name (unparsed, or an AU number FACS does not name) are left out of the
  sentence and listed in the row's `flag`;
- a clip with no usable AU gets NO_AU_SENTENCE and a non-empty flag, never an empty string.

The text ids number the distinct sentences in sorted order. This module parses no sheets (see
attrmer.facs and attrmer.datasets) and encodes no text (see attrmer.model.text).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from attrmer.config import AttributesConfig
from attrmer.facs import FACS_NAMES, INTENSITY_WORDS, SIDE_WORDS, ActionUnit, aus_from_json
from attrmer.io import atomic_path
from attrmer.manifest import ManifestError, read_manifest, usable

NO_AU_SENTENCE = "no action unit coded"
NO_AU_FLAG = "no-usable-au"
ATTRIBUTE_COLUMNS = ["key", "sentence", "text_id", "flag"]


def has_au_codes(sentence: str) -> bool:
    """Whether a clip's sentence describes coded AUs: the attribute branch learns only from
    those (attrmer.model.losses)."""
    return bool(sentence) and sentence != NO_AU_SENTENCE


def _phrase(au: ActionUnit, intensity_words: bool) -> str:
    words = []
    if intensity_words and au.intensity in INTENSITY_WORDS:
        words.append(INTENSITY_WORDS[au.intensity])
    if au.side in SIDE_WORDS:
        words.append(SIDE_WORDS[au.side])
    words.append(FACS_NAMES[au.number])  # type: ignore[index]
    return " ".join(words)


def _flag_reason(au: ActionUnit) -> str:
    if au.flag:
        return au.flag
    if au.number is None:
        return "unparsed"
    return "unknown-au"


def sentence_for(aus: list[ActionUnit], *, intensity_words: bool = False) -> tuple[str, str]:
    """(sentence, flag) for one clip's parsed AUs; flag is "" when every token read cleanly.

    The flag lists each flagged or skipped token as `reason:raw`, separated by "; ": flagged
    tokens with a FACS name are in the sentence, the others are not.
    """
    kept = sorted(
        (au for au in aus if au.usable),
        key=lambda au: (au.number, au.side or "", au.intensity or ""),
    )
    phrases = list(dict.fromkeys(_phrase(au, intensity_words) for au in kept))
    problems = [f"{_flag_reason(au)}:{au.raw}" for au in aus if au.flag or not au.usable]
    if not phrases:
        problems.append(NO_AU_FLAG)
        return NO_AU_SENTENCE, "; ".join(problems)
    return ", ".join(phrases), "; ".join(problems)


def build_attributes(manifest: pd.DataFrame, cfg: AttributesConfig) -> pd.DataFrame:
    """One row per status-ok clip: key, sentence, text_id, flag.

    text_id numbers the distinct sentences in sorted order, so equal sentences share an id
    (the contrastive loss's `mask_same_text` uses it) and the ids do not depend on row order.
    """
    rows = usable(manifest)
    if rows.empty:
        raise ManifestError("the manifest has no clip with status ok: nothing to describe")
    sentences, flags = [], []
    for key, text in zip(rows["key"], rows["aus"], strict=True):
        try:
            aus = aus_from_json(text)
        except (json.JSONDecodeError, TypeError, ValueError) as exc:
            raise ManifestError(f"manifest row {key!r}: column 'aus' is not parsed-AU JSON: "
                                f"{exc}") from None
        sentence, flag = sentence_for(aus, intensity_words=cfg.intensity_words)
        sentences.append(sentence)
        flags.append(flag)
    ids = {sentence: index for index, sentence in enumerate(sorted(set(sentences)))}
    return pd.DataFrame({
        "key": rows["key"].astype(str),
        "sentence": sentences,
        "text_id": [ids[s] for s in sentences],
        "flag": flags,
    })[ATTRIBUTE_COLUMNS]


def read_attributes(path: str | Path) -> pd.DataFrame:
    """Read attributes.csv back (flag stays "" rather than NaN)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no attributes file; run the attributes stage first")
    frame = pd.read_csv(path, dtype={"key": str, "sentence": str, "text_id": int, "flag": str},
                        keep_default_na=False)
    missing = [c for c in ATTRIBUTE_COLUMNS if c not in frame.columns]
    if missing:
        raise ManifestError(f"{path}: missing columns {', '.join(missing)}")
    return frame


def run_attributes(manifest_path: str | Path, out_path: str | Path,
                   cfg: AttributesConfig) -> pd.DataFrame:
    """Read the manifest, build the sentences, write `out_path` (CSV) atomically."""
    table = build_attributes(read_manifest(manifest_path), cfg)
    with atomic_path(out_path) as tmp:
        table.to_csv(tmp, index=False)
    flagged = int((table["flag"] != "").sum())
    no_au = int((table["sentence"] == NO_AU_SENTENCE).sum())
    print(f"attributes: {len(table)} clips, {table['text_id'].nunique()} distinct sentences, "
          f"{flagged} flagged ({no_au} without a usable AU) -> {out_path}", file=sys.stderr)
    return table
