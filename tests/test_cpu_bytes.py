"""The data stages' arithmetic gives the same bits on an AVX2 CPU as on an AVX-512 one.

The second CPU is emulated (bench/cpu_bytes.py runs the whole stages that way): a subprocess
with the libraries' run-time dispatch capped to AVX2 (OpenCV and its IPP, NumPy, OpenBLAS)
renders a few clips, aligns them and computes their TIM frames and flow, and every array on the
way must equal the uncapped process's bit for bit. Skipped on a CPU without AVX-512, where
there is nothing to take away, and where a cap does not take. The same arrays must also hash
as recorded in tests/fixtures/data_bytes.json on another machine: on a CI machine of another
CPU model, that is the real second CPU.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from cpu_bytes import FORBIDDEN, PROBE, PROFILES, REQUIRED  # noqa: E402


def _run(profile: str, out: Path) -> dict:
    env = {**os.environ, **PROFILES[profile], "PYTHONHASHSEED": "0"}
    probe = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                           text=True, check=True).stdout
    text = json.dumps(json.loads(probe.strip().splitlines()[-1]))
    missing = [f for f in REQUIRED.get(profile, ()) if f not in text]
    if missing:
        pytest.skip(f"this CPU has no AVX-512 to take away ({missing} in {text})")
    untaken = [f for f in FORBIDDEN.get(profile, ()) if f in text]
    if untaken:
        pytest.skip(f"the {profile} caps did not take: {untaken} in {text}")
    subprocess.run([sys.executable, __file__, str(out)], env=env, check=True, timeout=300)
    with np.load(out) as arrays:
        return dict(arrays)


def test_render_align_tim_flow_give_the_same_bits_under_avx2_caps(tmp_path: Path) -> None:
    reference = _run("avx512", tmp_path / "avx512.npz")
    capped = _run("avx2", tmp_path / "avx2.npz")
    assert sorted(reference) == sorted(capped)
    differ = [name for name in reference if not np.array_equal(reference[name], capped[name])]
    assert not differ, f"differ under AVX2 caps: {differ}"


DIGESTS = REPO / "tests" / "fixtures" / "data_bytes.json"


def array_digest(array: np.ndarray) -> str:
    """An array's bytes, dtype and shape, hashed."""
    data = np.ascontiguousarray(array)
    return hashlib.sha256(data.tobytes() + str(data.dtype).encode()
                          + str(data.shape).encode()).hexdigest()[:16]


def test_the_data_stages_give_the_bytes_recorded_on_another_cpu(tmp_path: Path) -> None:
    """On whatever CPU this runs, the same bits as recorded (data_bytes.json says where): no
    emulation, the real second CPU when CI's machine is another model. A change to the
    renderer or the preprocessing that is meant to change them records them again
    (`python tests/test_cpu_bytes.py --record`)."""
    recorded = json.loads(DIGESTS.read_text())
    _stage_arrays(tmp_path / "arrays.npz")
    with np.load(tmp_path / "arrays.npz") as arrays:
        found = {name: array_digest(arrays[name]) for name in sorted(arrays)}
    differ = [name for name in recorded["digests"] if found.get(name) != recorded["digests"][name]]
    assert sorted(found) == sorted(recorded["digests"])
    assert not differ, f"differ from the bytes recorded on {recorded['recorded_on']}: {differ}"


def _stage_arrays(out: Path) -> None:
    """The subprocess: the arithmetic of prepare, align, interpolate and flow on a few clips."""
    import cv2

    from attrmer.config import FlowConfig, SynthConfig
    from attrmer.preprocess.align import FaceAligner, similarity_transform
    from attrmer.preprocess.clip import align_clip, flow_from_aligned, rgb_from_aligned
    from attrmer.synth.identities import load_faces
    from attrmer.synth.render import (
        MAX_APEX_ALIGNED_PX,
        encode_jpeg,
        expression_field,
        plan_corpus,
        render_clip,
    )

    cfg = SynthConfig(seed=3, clips=3, min_frames=10, max_frames=14)
    arrays = {}
    faces = load_faces(cfg.frame_height)  # 227 px stills: a bicubic upscale each
    arrays.update({f"face_{f.subject}": f.image for f in faces})
    aligner = FaceAligner(112)
    for spec in plan_corpus(cfg, faces):
        face, key = faces[spec.subject - 1], f"clip_{spec.subject}_{spec.filename}"
        apex = expression_field(face, list(spec.aus), MAX_APEX_ALIGNED_PX)
        arrays[f"{key}_field"] = apex.field
        frames = [cv2.imdecode(np.frombuffer(encode_jpeg(f, cfg.jpeg_quality), np.uint8),
                               cv2.IMREAD_COLOR_RGB)
                  for f in render_clip(spec, face, cfg, apex=apex).frames]
        arrays[f"{key}_jpeg_decoded"] = np.stack(frames)
        alignment = align_clip(frames, aligner)
        arrays[f"{key}_matrix"] = alignment.matrix
        arrays[f"{key}_aligned"] = alignment.frames
        arrays[f"{key}_rgb"] = rgb_from_aligned(alignment.frames, 16)
        arrays[f"{key}_flow"] = flow_from_aligned(alignment.frames, 16, FlowConfig())
    # Beyond a few clips' luck: TIM and flow of a long random clip, transforms of random points.
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (60, 112, 112, 3), dtype=np.uint8)
    arrays["noise_rgb"] = rgb_from_aligned(noise, 16)
    arrays["noise_flow"] = flow_from_aligned(noise, 16, FlowConfig())
    arrays["transforms"] = np.stack([similarity_transform(rng.random((5, 2)) * 300,
                                                          rng.random((5, 2)) * 112,
                                                          np.array([4.0, 4, 1, 1, 1]))
                                     for _ in range(50)])
    np.savez(out, **arrays)


def _record(machine: str) -> None:
    """Write data_bytes.json from this CPU's arrays."""
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        _stage_arrays(Path(work) / "arrays.npz")
        with np.load(Path(work) / "arrays.npz") as arrays:
            digests = {name: array_digest(arrays[name]) for name in sorted(arrays)}
    DIGESTS.write_text(json.dumps({
        "what": "SHA-256 (first 16 hex digits) of each array _stage_arrays computes: bytes, "
                "dtype and shape",
        "recorded_on": machine, "digests": digests}, indent=1) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "--record":
        _record(" ".join(sys.argv[2:]) or "this machine")
    else:
        _stage_arrays(Path(sys.argv[1]))
