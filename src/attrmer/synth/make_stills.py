"""Extract the committed identity stills (`faces/`) from the source face videos.

Run once by a maintainer, not by the pipeline:

    python -m attrmer.synth.make_stills ../shared/data/faces-video

For each source video it picks a neutral frame, crops a square around the face, writes a small
JPEG, locates the 68 dlib landmarks on the written still (so rendering needs no detection) and
records them in `faces/landmarks.json`; it also writes `faces/NOTICE.md` with each still's source,
licence and attribution. Only the sources listed in `SOURCES` may be copied into the repository.
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
from attrmer.resources import landmark_model_path

FACES_DIR = Path(__file__).resolve().parent / "faces"
LANDMARKS_FILE = "landmarks.json"

# Longest side of a committed still: enough for the default 240 px frames, small on disk.
STILL_MAX_SIDE = 256
STILL_JPEG_QUALITY = 92
# Crop side as a multiple of the dlib face box: keeps forehead, chin and some background.
CROP_FACTOR = 1.8

GRID_LICENCE = "CC BY 4.0"
# Short form for the table; the full citation follows it in NOTICE.md.
GRID_ATTRIBUTION = (
    "GRID corpus, Cooke, Barker, Cunningham, Shao (2006), doi:10.5281/zenodo.3625687; "
    "sample from the LipNet repository (MIT)"
)
PEXELS_LICENCE = "Pexels licence (free to use and modify)"
PEXELS_ATTRIBUTION = "Video by Wolfgang Langer on Pexels."


@dataclass(frozen=True)
class StillSource:
    video: str  # file name inside the faces-video folder
    still: str  # file name of the committed still
    licence: str
    attribution: str
    # Frames allowed as the neutral frame (None: all). The Pexels woman goes from crying to
    # laughing; only her first frames, before the crying starts, are calm.
    frames: tuple[int, int] | None = None


_GRID_VIDEOS = ("bbaf2n", "brbk7n", "lbax4n", "lbbc2a", "lrwp9a", "lwbsza", "pwij3p", "sbia1a",
                "sbwe5n", "swiz3n")
SOURCES: tuple[StillSource, ...] = (
    *(StillSource(f"{stem}.mpg", f"grid-{stem}.jpg", GRID_LICENCE, GRID_ATTRIBUTION)
      for stem in _GRID_VIDEOS),
    StillSource("WolfgangLanger_Pexels.mp4", "pexels-wolfgang-langer.jpg", PEXELS_LICENCE,
                PEXELS_ATTRIBUTION, frames=(0, 3)),
)


def _read_frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    if not frames:
        raise RuntimeError(f"{path}: no frames could be read")
    return frames


class _Landmarker:
    def __init__(self) -> None:
        import dlib

        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(landmark_model_path()))

    def __call__(self, rgb: np.ndarray):
        faces = self.detector(rgb, 0)
        if len(faces) == 0:
            return None, None
        box = max(faces, key=lambda r: r.width() * r.height())
        shape = self.predictor(rgb, box)
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        return box, points


def _mouth_opening(points: np.ndarray) -> float:
    """Mean gap between the inner lips, in inter-ocular distances."""
    iod = np.linalg.norm(points[36:42].mean(0) - points[42:48].mean(0))
    return float(np.mean(points[[67, 66, 65], 1] - points[[61, 62, 63], 1]) / iod)


def _neutral_frame(frames: list[np.ndarray], source: StillSource, landmarker: _Landmarker) -> int:
    """The frame with the most closed mouth and the least motion from its neighbour: the
    speaker between words (GRID), or the calm start (Pexels)."""
    first, last = source.frames or (0, len(frames) - 1)
    best, best_score, previous = None, np.inf, None
    for index in range(first, last + 1):
        _, points = landmarker(frames[index])
        if points is None:
            previous = None
            continue
        motion = 0.0 if previous is None else float(np.abs(points - previous).mean())
        score = abs(_mouth_opening(points)) + 0.05 * motion
        if score < best_score:
            best, best_score = index, score
        previous = points
    if best is None:
        raise RuntimeError(f"{source.video}: no face found in frames {first}..{last}")
    return best


def _square_crop(frame: np.ndarray, box) -> np.ndarray:
    height, width = frame.shape[:2]
    side = min(round(CROP_FACTOR * max(box.width(), box.height())), height, width)
    centre_x = (box.left() + box.right()) / 2
    # dlib's box starts at the brows; shift up a little so the forehead fits in.
    centre_y = (box.top() + box.bottom()) / 2 - 0.08 * box.height()
    left = int(np.clip(round(centre_x - side / 2), 0, width - side))
    top = int(np.clip(round(centre_y - side / 2), 0, height - side))
    crop = frame[top:top + side, left:left + side]
    if side > STILL_MAX_SIDE:
        crop = cv2.resize(crop, (STILL_MAX_SIDE, STILL_MAX_SIDE), interpolation=cv2.INTER_AREA)
    return crop


def make_stills(video_dir: Path, faces_dir: Path = FACES_DIR) -> list[dict]:
    """Write one still per source, `landmarks.json` and `NOTICE.md` into `faces_dir`."""
    landmarker = _Landmarker()
    faces_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for source in SOURCES:
        path = video_dir / source.video
        if not path.is_file():
            raise FileNotFoundError(f"{path}: source video missing")
        frames = _read_frames(path)
        index = _neutral_frame(frames, source, landmarker)
        box, _ = landmarker(frames[index])
        still = _square_crop(frames[index], box)
        ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(still, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, STILL_JPEG_QUALITY])
        if not ok:
            raise RuntimeError(f"{source.still}: JPEG encoding failed")
        with atomic_path(faces_dir / source.still) as tmp:
            tmp.write_bytes(encoded.tobytes())
        # Landmarks of the still exactly as stored (decoded JPEG), not of the video frame.
        decoded = cv2.cvtColor(cv2.imread(str(faces_dir / source.still)), cv2.COLOR_BGR2RGB)
        _, points = landmarker(decoded)
        if points is None:
            raise RuntimeError(f"{source.still}: dlib finds no face on the written still")
        records.append({
            "still": source.still,
            "video": source.video,
            "frame": index,
            "size": [int(decoded.shape[1]), int(decoded.shape[0])],
            "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in points],
        })
        print(f"{source.still}: frame {index} of {source.video}, {decoded.shape[1]}x"
              f"{decoded.shape[0]}, {len(encoded.tobytes()) // 1024} KB", file=sys.stderr)
    # One face per line: small on disk and still readable in a diff.
    body = ",\n".join(json.dumps(r, separators=(",", ":")) for r in records)
    write_text(faces_dir / LANDMARKS_FILE, '{"faces": [\n' + body + "\n]}\n")
    write_text(faces_dir / "NOTICE.md", _notice(records))
    return records


def _notice(records: list[dict]) -> str:
    by_still = {s.still: s for s in SOURCES}
    lines = [
        "# Face stills: sources, licences, attribution",
        "",
        "Each JPEG here is one frame of a public face video, cropped around the face and scaled",
        "down; it is the identity of one synthetic subject (subject k is the k-th still below).",
        "The stills are redistributed under their sources' licences, listed per file.",
        "`landmarks.json` holds dlib's 68 landmarks located on each still.",
        "Regenerate with `python -m attrmer.synth.make_stills <faces-video folder>`.",
        "",
        "| subject | still | source file | frame | licence | attribution |",
        "|---|---|---|---|---|---|",
    ]
    for subject, record in enumerate(records, start=1):
        source = by_still[record["still"]]
        lines.append(f"| {subject} | `{record['still']}` | `{record['video']}` | {record['frame']} "
                     f"| {source.licence} | {source.attribution} |")
    lines += [
        "",
        "GRID corpus: Cooke, M., Barker, J., Cunningham, S., Shao, X. (2006). An audio-visual",
        "corpus for speech perception and automatic speech recognition. The Journal of the",
        "Acoustical Society of America 120(5), 2421-2424. Data: Zenodo,",
        "https://doi.org/10.5281/zenodo.3625687, licensed CC BY 4.0",
        "(https://creativecommons.org/licenses/by/4.0/). The sample videos were obtained from",
        "the samples of the LipNet repository (MIT licence). Changes: one frame extracted,",
        "cropped and scaled.",
        "",
        "Pexels: video by Wolfgang Langer on Pexels (https://www.pexels.com), used under the",
        "Pexels licence (https://www.pexels.com/license/). Changes: one frame extracted, cropped",
        "and scaled.",
        "",
    ]
    real_index = FACES_DIR / "real.json"
    if real_index.is_file():  # the real faces' section (attrmer.synth.real_stills)
        from attrmer.synth.real_stills import notice_section

        lines.append(notice_section(json.loads(real_index.read_text())["faces"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video_dir", type=Path, help="folder holding the source face videos")
    parser.add_argument("--out", type=Path, default=FACES_DIR, help="where the stills go")
    args = parser.parse_args(argv)
    make_stills(args.video_dir, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
