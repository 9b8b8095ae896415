"""Do the data stages give the same bytes on another x86-64 CPU? Emulated on this one.

Runs the data stages of dvc.yaml (prepare, align, interpolate, flow: the stage scripts under
stages/, as `dvc repro` does) on a small rendered corpus twice or more: once as this machine
runs them, then once per CPU profile of `PROFILES` with the libraries' run-time dispatch capped
to that instruction set through their environment variables (OpenCV's own kernels and its IPP,
NumPy, OpenBLAS, MKL, oneDNN, ATen). Each run is probed first: what the libraries report in
the capped process is printed, and a profile whose cap did not take is an error. Then, per
stage output, it prints whether the files are byte-identical and, where they are not, where
they first differ: the rendered JPEG frames (and how far apart their pixels are), the manifest,
and every HDF5 dataset (the arrays) and attribute of aligned.h5, rgb.h5 and flow.h5.

What it cannot emulate: code whose instruction set was fixed when it was compiled (dlib's
wheel: AVX, no FMA, no AVX-512; HDF5's zlib: none) runs the same instructions on every CPU
that can run it at all, so it differs only between different builds, not different CPUs.

    python bench/cpu_bytes.py [--profiles avx2] [--clips 30] [--resolution builtin]
                              [--work /tmp/cpu_bytes] [--json bench/results/cpu_bytes.json]

Exit status 0 when every profile's outputs equal the plain run's arrays, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]

# Each profile: the environment that makes this machine's libraries dispatch as on a CPU with
# that instruction set, and what the probe must then report. "avx512": the reference run, this
# machine as it is, except that OpenCV's OpenBLAS (0.3.15, older than Zen 4) is told what a
# newer one finds on any AVX-512 CPU. "avx2": Haswell to Zen 3 (the machine the committed
# dvc.lock came from). "avx": Sandy/Ivy Bridge, the oldest CPU dlib's AVX wheel runs on at all.
_OPENCV_AVX512 = "AVX512F,AVX512-COMMON,AVX512-SKX,AVX512CD,AVX512BW,AVX512DQ,AVX512VL"
PROFILES: dict[str, dict[str, str]] = {
    "avx512": {"OPENBLAS_CORETYPE": "SkylakeX"},
    "avx2": {
        "OPENCV_CPU_DISABLE": _OPENCV_AVX512,
        "OPENCV_IPP": "avx2",
        "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL",
        "OPENBLAS_CORETYPE": "Haswell",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
    },
    "avx": {
        "OPENCV_CPU_DISABLE": "AVX2,FMA3,FP16," + _OPENCV_AVX512,
        "OPENCV_IPP": "sse42",
        "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL",
        "OPENBLAS_CORETYPE": "Sandybridge",
        "MKL_ENABLE_INSTRUCTIONS": "AVX",
        "ATEN_CPU_CAPABILITY": "default",
        "ONEDNN_MAX_CPU_ISA": "AVX",
        # libjpeg-turbo (inside OpenCV) has SSE2 and AVX2 kernels, chosen at run time.
        "JSIMD_FORCESSE2": "1",
    },
}
# What the reference run must report: else this CPU has no AVX-512 to take away.
REQUIRED = {"avx512": ("*AVX512-SKX ", "(k0)", "X86_V4", "libopenblas: SkylakeX")}
# What a capped process must not report (the probe's text), per profile.
FORBIDDEN = {
    "avx2": ("*AVX512-SKX ", "(k0)", '"X86_V4"', "SkylakeX", "Cooperlake", "Zen"),
    "avx": ("*AVX2 ", "*AVX512-SKX ", "(k0)", "(l9)", '"X86_V3"', "Haswell", "SkylakeX", "Zen"),
}

PROBE = r'''
import json, cv2, numpy
from threadpoolctl import threadpool_info
from numpy._core._multiarray_umath import __cpu_features__ as npy
line = cv2.getCPUFeaturesLine() + " "
print(json.dumps({
    "opencv": line,
    "ipp": cv2.ipp.getIppVersion() if cv2.ipp.useIPP() else "off",
    "numpy": sorted(k for k in ("X86_V3", "X86_V4", "AVX512_ICL") if npy.get(k)),
    "blas": [f"{i['prefix']}: {i.get('architecture')}" for i in threadpool_info()
             if i["user_api"] == "blas"],
}))
'''

STAGES = (
    ("prepare", ["stages/prepare.py", "--params", "{params}", "--out", "{work}/interim"]),
    ("align", ["stages/align.py", "--params", "{params}", "--manifest",
               "{work}/interim/manifest.csv", "--out", "{work}/aligned.h5", "--no-progress"]),
    ("interpolate", ["stages/interpolate.py", "--params", "{params}", "--aligned",
                     "{work}/aligned.h5", "--out", "{work}/rgb.h5", "--no-progress"]),
    ("flow", ["stages/flow.py", "--params", "{params}", "--aligned", "{work}/aligned.h5",
              "--out", "{work}/flow.h5", "--no-progress"]),
)
OUTPUTS = ("interim", "aligned.h5", "rgb.h5", "flow.h5")


def small_params(clips: int, resolution: str, min_frames: int, max_frames: int,
                 root: Path) -> dict:
    """params.yaml with a small corpus rendered into `root`."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"]["root"] = str(root)
    params["synth"].update(clips=clips, resolution=resolution, min_frames=min_frames,
                           max_frames=max_frames)
    params["preprocess"]["workers"] = 0
    return params


def probe(env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_stages(label: str, caps: dict[str, str], work: Path, params: dict, keep: Path) -> dict:
    """Run the four stages with `caps` in their environment in `work` (the same path for every
    run, so that paths written into the outputs agree), then move the outputs to `keep`."""
    env = {**os.environ, **caps, "PYTHONHASHSEED": "0"}
    seen = probe(env)
    text = json.dumps(seen)
    bad = [f for f in FORBIDDEN.get(label, ()) if f in text]
    bad += [f"no {f}" for f in REQUIRED.get(label, ()) if f not in text]
    if bad:
        raise SystemExit(f"{label}: the caps did not take ({bad} in {text})")
    print(f"[{label}] {text}", flush=True)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    params_path = work / "params.yaml"
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    seconds = {}
    for name, argv in STAGES:
        start = time.perf_counter()
        args = [a.format(params=params_path, work=work) for a in argv]
        done = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                              text=True)
        if done.returncode:
            raise SystemExit(f"{label} {name} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        seconds[name] = round(time.perf_counter() - start, 1)
    print(f"[{label}] stages (s): {seconds}", flush=True)
    if keep.exists():
        shutil.rmtree(keep)
    work.rename(keep)
    return {"probe": seen, "seconds": seconds}


def run_each_alone(caps: dict[str, str], plain: Path, work: Path, keep: Path) -> None:
    """Each of align, interpolate and flow with `caps`, on the plain run's inputs (so that a
    difference is that stage's own); the outputs go to `keep`, the plain run's corpus too."""
    env = {**os.environ, **caps, "PYTHONHASHSEED": "0"}
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(plain, work)
    for name, argv in STAGES[1:]:
        args = [a.format(params=work / "params.yaml", work=work) for a in argv]
        args[-2 if args[-1] == "--no-progress" else -1] = str(work / f"alone_{name}.h5")
        done = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                              text=True)
        if done.returncode:
            raise SystemExit(f"{name} alone failed:\n{done.stderr[-2000:]}")
    for name, output in zip([s for s, _ in STAGES[1:]], OUTPUTS[1:], strict=True):
        (work / f"alone_{name}.h5").replace(work / output)
    if keep.exists():
        shutil.rmtree(keep)
    work.rename(keep)


def compare_trees(a: Path, b: Path) -> dict:
    """Files under two folders: how many differ in bytes, the first, and JPEG pixel gaps."""
    names = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    other = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    if names != other:
        return {"identical": False, "first": "the file lists differ"}
    differ = [n for n in names if (a / n).read_bytes() != (b / n).read_bytes()]
    result = {"files": len(names), "identical": not differ, "differ": len(differ)}
    if differ:
        result["first"] = str(differ[0])
        jpegs = [n for n in differ if n.suffix == ".jpg"]
        if jpegs:
            import cv2

            gaps = [np.abs(cv2.imread(str(a / n)).astype(int) - cv2.imread(str(b / n))).max()
                    for n in jpegs]
            result["jpeg_frames_differ"] = len(jpegs)
            result["jpeg_max_pixel_gap"] = int(max(gaps))
            result["clips_differ"] = len({n.parent for n in jpegs})
        result["other_files_differ"] = [str(n) for n in differ if n.suffix != ".jpg"][:10]
    return result


def compare_stores(a: Path, b: Path) -> dict:
    """Two HDF5 files: bytes, then every dataset's array and every attribute."""
    import h5py

    result = {"bytes_identical": a.read_bytes() == b.read_bytes()}
    arrays, attrs = [], []
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names = []
        fa.visit(names.append)
        for key in set(fa.attrs) | set(fb.attrs):
            if str(fa.attrs.get(key)) != str(fb.attrs.get(key)):
                attrs.append(key)
        for name in names:
            if not isinstance(fa[name], h5py.Dataset):
                continue
            if name not in fb:
                arrays.append({"dataset": name, "missing": True})
                continue
            x, y = fa[name][()], fb[name][()]
            if x.shape != y.shape or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
                entry = {"dataset": name, "shape": list(x.shape)}
                if x.shape == y.shape and x.dtype.kind in "fiu":
                    gap = np.abs(x.astype(np.float64) - y.astype(np.float64))
                    where = np.argwhere(gap > 0)
                    entry.update(elements=len(where), of=int(x.size),
                                 max_gap=float(gap.max()), first=where[0].tolist())
                arrays.append(entry)
    result.update(arrays_identical=not arrays, datasets_differ=len(arrays),
                  first=arrays[:3], attrs_differ=attrs)
    return result


def compare(a: Path, b: Path) -> dict:
    out = {"interim": compare_trees(a / "interim", b / "interim")}
    for name in OUTPUTS[1:]:
        out[name] = compare_stores(a / name, b / name)
    return out


def _report(report: dict, work: Path, name: str, note: str = "") -> bool:
    result = compare(work / "plain", work / name)
    report["compare"][name] = result
    print(f"\n== plain vs {name}" + (f" ({note})" if note else ""))
    ok = True
    for output, verdict in result.items():
        same = bool(verdict.get("identical", verdict.get("arrays_identical")))
        ok &= same
        print(f"  {output:11s} {'identical' if same else 'DIFFERENT'}: "
              f"{json.dumps({k: v for k, v in verdict.items() if k != 'identical'})}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", nargs="+", default=["avx2"],
                        help=f"CPU profiles to emulate, of {sorted(PROFILES)}, each compared "
                             "with the reference run (avx512); 'plain' repeats that run (how "
                             "reproducible a run is on one machine)")
    parser.add_argument("--clips", type=int, default=30)
    parser.add_argument("--min-frames", type=int, default=12)
    parser.add_argument("--max-frames", type=int, default=24)
    parser.add_argument("--resolution", default="builtin", help="synth.resolution")
    parser.add_argument("--work", type=Path, default=Path("/tmp/cpu_bytes"))
    parser.add_argument("--each-alone", action="store_true",
                        help="also run align, interpolate and flow under each profile on the "
                             "plain run's inputs, to tell a stage's own differences from "
                             "those it inherits")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    unknown = set(args.profiles) - set(PROFILES) - {"plain"}
    if unknown:
        parser.error(f"unknown profiles {sorted(unknown)}")

    run_dir = args.work / "run"
    params = small_params(args.clips, args.resolution, args.min_frames, args.max_frames,
                          run_dir / "interim" / "synthetic")
    report = {"settings": {k: str(v) for k, v in vars(args).items()}, "runs": {}, "compare": {}}
    report["runs"]["plain"] = run_stages("avx512", PROFILES["avx512"], run_dir, params,
                                         args.work / "plain")
    ok = True
    for i, label in enumerate(args.profiles):
        name = f"{label}_{i}" if label in ("plain", "avx512") else label
        caps = PROFILES["avx512" if label == "plain" else label]
        report["runs"][name] = run_stages(label, caps, run_dir, params, args.work / name)
        ok &= _report(report, args.work, name)
        if args.each_alone and label not in ("plain", "avx512"):
            run_each_alone(caps, args.work / "plain", run_dir,
                           args.work / f"{name}_alone")
            _report(report, args.work, f"{name}_alone",
                    "each stage alone on the plain run's inputs")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
