"""Contact sheets of a rendered corpus: one PNG per emotion, for a person to look at.

Each row is one clip: its onset, apex and offset frames as written to disk, and the Farneback
optical-flow magnitude from onset to apex laid over the apex frame, on one fixed colour scale
for every sheet (so a faint heat map means a faint movement, not a rescaled one).

Not for measuring anything the tests rely on; it only draws.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from attrmer.io import atomic_path

# Flow magnitude (frame pixels) shown at full colour.
FLOW_DISPLAY_MAX_PX = 2.5
# The project's Farneback setting (params.yaml `flow`).
FARNEBACK = {"pyr_scale": 0.5, "levels": 3, "winsize": 15, "iterations": 3, "poly_n": 5,
             "poly_sigma": 1.2, "flags": 0}
_LABEL_HEIGHT = 22
_GAP = 4


def read_frame(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"{path}: frame missing or unreadable")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def farneback(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Dense flow (H, W, 2) from RGB frame `first` to `second`, pixels."""
    grey_a = cv2.cvtColor(first, cv2.COLOR_RGB2GRAY)
    grey_b = cv2.cvtColor(second, cv2.COLOR_RGB2GRAY)
    return cv2.calcOpticalFlowFarneback(grey_a, grey_b, None, **FARNEBACK)


def flow_overlay(frame: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Flow magnitude as a heat map blended over the dimmed grey frame (RGB)."""
    magnitude = np.linalg.norm(flow, axis=2)
    level = np.clip(magnitude / FLOW_DISPLAY_MAX_PX, 0, 1)
    heat = cv2.applyColorMap((level * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB).astype(np.float32)
    grey = cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    alpha = (0.25 + 0.75 * level)[..., None]
    blended = alpha * heat + (1 - alpha) * 0.6 * grey.astype(np.float32)
    return np.clip(blended, 0, 255).astype(np.uint8)


def _label(width: int, text: str) -> np.ndarray:
    band = np.full((_LABEL_HEIGHT, width, 3), 255, np.uint8)
    cv2.putText(band, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                cv2.LINE_AA)
    return band


def _row(panels: list[np.ndarray]) -> np.ndarray:
    height = panels[0].shape[0]
    gap = np.full((height, _GAP, 3), 255, np.uint8)
    parts = []
    for panel in panels:
        parts += [panel, gap]
    return np.hstack(parts[:-1])


def _choose(specs: list, emotion: str, count: int) -> list:
    """Clips of `emotion` to show: without blinks and from different subjects first."""
    mine = [s for s in specs if s.emotion == emotion]
    ranked = sorted(mine, key=lambda s: s.blink is not None)
    chosen, seen = [], set()
    for spec in ranked:
        if spec.subject not in seen:
            chosen.append(spec)
            seen.add(spec.subject)
    chosen += [s for s in ranked if s not in chosen]
    return chosen[:count]


def contact_sheet(root: Path, specs: Iterable, emotion: str, clips_per_emotion: int = 3,
                  apex_aligned_px: dict[tuple[int, str], float] | None = None
                  ) -> np.ndarray | None:
    """The sheet image (RGB) for one emotion, or None when the corpus has no such clip.

    apex_aligned_px: each clip's true apex displacement on the aligned face, by
    (subject, filename), shown in its label when given.
    """
    from attrmer.synth.render import clip_dir

    chosen = _choose(list(specs), emotion, clips_per_emotion)
    if not chosen:
        return None
    rows = []
    for spec in chosen:
        folder = clip_dir(root, spec)
        onset = read_frame(folder / f"img{spec.onset_frame}.jpg")
        apex = read_frame(folder / f"img{spec.apex_frame}.jpg")
        offset = read_frame(folder / f"img{spec.offset_frame}.jpg")
        flow = farneback(onset, apex)
        panels = [onset, apex, offset, flow_overlay(apex, flow)]
        row = _row(panels)
        aus = "+".join(a.code for a in sorted(spec.aus, key=lambda a: a.number))
        text = (f"sub{spec.subject:02d} {spec.filename}  AU {aus}  onset {spec.onset_frame} "
                f"apex {spec.apex_frame} offset {spec.offset_frame}  "
                f"peak flow {np.linalg.norm(flow, axis=2).max():.1f}px")
        truth = (apex_aligned_px or {}).get((spec.subject, spec.filename))
        if truth is not None:
            text += f"  true apex {truth:.2f}px@112"
        if spec.blink is not None:
            text += "  +blink"
        rows += [_label(row.shape[1], text), row]
    width = rows[0].shape[1]
    title = _label(width, f"{emotion}: onset | apex | offset | flow magnitude onset->apex "
                          f"(0..{FLOW_DISPLAY_MAX_PX:g} px)")
    return np.vstack([title, *rows])


def write_contact_sheets(root: Path, specs: list, clips_per_emotion: int = 3,
                         apex_aligned_px: dict[tuple[int, str], float] | None = None
                         ) -> list[Path]:
    """`contact/<emotion>.png` for every emotion in the corpus."""
    written = []
    for emotion in sorted({s.emotion for s in specs}):
        sheet = contact_sheet(root, specs, emotion, clips_per_emotion, apex_aligned_px)
        if sheet is None:
            continue
        path = root / "contact" / f"{emotion}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
        if not ok:
            raise RuntimeError(f"{path}: PNG encoding failed")
        with atomic_path(path) as tmp:
            tmp.write_bytes(encoded.tobytes())
        written.append(path)
    return written
