"""Extract the committed real-face stills (`faces/real/`) from the CC BY photograph sets.

Run once by a maintainer, not by the pipeline:

    python -m attrmer.synth.real_stills ../shared/data/faces-stills

The sets (Face Research Lab London Set and Young Adult White Faces, DeBruine & Jones 2017, CC BY
4.0) give frontal photographs of real people: the London set a neutral and a smiling photograph
of each person under the same camera and light, the Canadian set a neutral one. For every
person kept for training this writes the neutral photograph cropped around the face and scaled
down (`faces/real/<set>-<id>.jpg`), dlib's 68 landmarks on it, and, for the London people, the
landmarks of the smiling photograph in the same crop: a real smile's motion, measured where a
smile moves the face (`attrmer.synth.identities.real_smile_displacement`). `faces/real.json`
indexes them; `faces/NOTICE.md` gains their attribution.

A third of the London people are never written: `development_people` names them, and the
real-face development benchmark (`bench/real_faces.py`) reads their photographs from the
shared folder. No training corpus can see their faces or their smiles.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from attrmer.io import atomic_path, write_text
from attrmer.synth.make_stills import (
    FACES_DIR,
    STILL_JPEG_QUALITY,
    _Landmarker,
    _square_crop,
)

REAL_DIR = "real"
REAL_INDEX = "real.json"
LONDON_LICENCE = "CC BY 4.0"
LONDON_CITATION = ("DeBruine, L. & Jones, B. (2017). Face Research Lab London Set (Version 5). "
                   "figshare. doi:10.6084/m9.figshare.5047666.v5")
CANADA_CITATION = ("DeBruine, L. & Jones, B. (2017). Young Adult White Faces with Manipulated "
                   "Versions. figshare. doi:10.6084/m9.figshare.4220517.v1")


@dataclass(frozen=True)
class Person:
    """One person of a photograph set: the neutral photo and, where there is one, the smile."""

    set: str  # "london" | "canada"
    id: str  # the set's own number, e.g. "001" or "003f"
    neutral: Path
    smiling: Path | None

    @property
    def still(self) -> str:
        return f"{REAL_DIR}/{self.set}-{self.id}.jpg"


def people(stills_root: Path) -> list[Person]:
    """Every person of the shared sets, London first, each set in the order of its numbers."""
    found = []
    for neutral in sorted((stills_root / "london" / "neutral").glob("*_03.jpg")):
        person = neutral.stem.split("_")[0]
        smiling = stills_root / "london" / "smiling" / f"{person}_08.jpg"
        found.append(Person("london", person, neutral, smiling if smiling.is_file() else None))
    for neutral in sorted((stills_root / "canada" / "neutral").glob("*.jpg")):
        found.append(Person("canada", neutral.stem, neutral, None))
    if not found:
        raise FileNotFoundError(f"{stills_root}: no london/neutral or canada/neutral photos")
    return found


def development_people(everyone: list[Person]) -> list[Person]:
    """The London people with a smile kept out of every training corpus: every third of them
    in the order of their numbers (the 3rd, 6th, ...), 20 of the 62."""
    smiling = [p for p in everyone if p.smiling is not None]
    return smiling[2::3]


def training_people(everyone: list[Person]) -> list[Person]:
    held_out = set(development_people(everyone))
    return [p for p in everyone if p not in held_out]


def _rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"{path}: missing or unreadable")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _crop_box(landmarker: _Landmarker, rgb: np.ndarray, path: Path):
    box, _ = landmarker(rgb)
    if box is None:
        raise RuntimeError(f"{path}: dlib finds no face")
    return box


def make_real_stills(stills_root: Path, faces_dir: Path = FACES_DIR) -> list[dict]:
    """Write the training people's stills and landmarks, `real.json` and the NOTICE section."""
    landmarker = _Landmarker()
    records = []
    (faces_dir / REAL_DIR).mkdir(parents=True, exist_ok=True)
    for person in training_people(people(stills_root)):
        neutral = _rgb(person.neutral)
        box = _crop_box(landmarker, neutral, person.neutral)
        still = _square_crop(neutral, box)
        ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(still, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, STILL_JPEG_QUALITY])
        if not ok:
            raise RuntimeError(f"{person.still}: JPEG encoding failed")
        with atomic_path(faces_dir / person.still) as tmp:
            tmp.write_bytes(encoded.tobytes())
        decoded = _rgb(faces_dir / person.still)
        _, points = landmarker(decoded)
        if points is None:
            raise RuntimeError(f"{person.still}: dlib finds no face on the written still")
        record = {"still": person.still, "set": person.set, "person": person.id,
                  "size": [int(decoded.shape[1]), int(decoded.shape[0])],
                  "landmarks": _rounded(points)}
        if person.smiling is not None:
            # The smiling photo cut with the neutral photo's crop, so that both share one frame
            # (same camera; the head moves a little, which the displacement removes).
            smiling = _square_crop(_rgb(person.smiling), box)
            _, smile_points = landmarker(smiling)
            if smile_points is None:
                raise RuntimeError(f"{person.smiling}: dlib finds no face in the crop")
            scale = decoded.shape[0] / smiling.shape[0]
            record["smiling_landmarks"] = _rounded((smile_points + 0.5) * scale - 0.5)
        records.append(record)
        print(f"{person.still}: {decoded.shape[1]}x{decoded.shape[0]}, "
              f"{len(encoded.tobytes()) // 1024} KB{', smile' if person.smiling else ''}",
              file=sys.stderr)
    body = ",\n".join(json.dumps(r, separators=(",", ":")) for r in records)
    write_text(faces_dir / REAL_INDEX, '{"faces": [\n' + body + "\n]}\n")
    notice = faces_dir / "NOTICE.md"
    text = notice.read_text() if notice.is_file() else ""
    kept = text.split(NOTICE_HEADING)[0].rstrip("\n")
    write_text(notice, kept + "\n\n" + notice_section(records))
    return records


NOTICE_HEADING = "## Real faces (`real/`, `real.json`)"


def notice_section(records: list[dict]) -> str:
    """The NOTICE.md section of the real faces: their sources, licence and subject numbers."""
    london = [r for r in records if r["set"] == "london"]
    canada = [r for r in records if r["set"] == "canada"]
    smiles = sum("smiling_landmarks" in r for r in london)
    first = 12  # after the bundled faces
    return "\n".join([
        NOTICE_HEADING,
        "",
        f"Subjects {first}-{first + len(records) - 1} of the renderer (`synth.identities: real` or "
        "`all`), in the order of `real.json`: each JPEG is a photograph cropped around the face "
        "and scaled down to 256 px; `real.json` holds dlib's 68 landmarks on it and, for the "
        "London people, the landmarks of their smiling photograph in the same crop (the real "
        "smiles of `synth.real_smiles`). Regenerate with `python -m attrmer.synth.real_stills "
        "<faces-stills folder>`.",
        "",
        f"- `real/london-NNN.jpg` ({len(london)} people, {smiles} with a smile): "
        f"{LONDON_CITATION}. Licensed {LONDON_LICENCE} "
        "(https://creativecommons.org/licenses/by/4.0/). Changes: the neutral photograph "
        "(`NNN_03.jpg`) cropped and scaled; landmarks located on it and on the smiling one "
        "(`NNN_08.jpg`). A third of the set's smiling people (every third by number) are not "
        "here: they are the real-face development benchmark's, and no training corpus sees them.",
        f"- `real/canada-NNN[f|m].jpg` ({len(canada)} people): {CANADA_CITATION}. Licensed "
        f"{LONDON_LICENCE}. Changes: cropped and scaled; landmarks located on it.",
        "",
    ])


def _rounded(points: np.ndarray) -> list[list[float]]:
    return [[round(float(x), 1), round(float(y), 1)] for x, y in points]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stills_root", type=Path,
                        help="the faces-stills folder (london/, canada/)")
    parser.add_argument("--out", type=Path, default=FACES_DIR, help="the faces folder")
    args = parser.parse_args(argv)
    make_real_stills(args.stills_root, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
