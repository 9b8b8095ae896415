"""`attrmer export`: the video network as a TorchScript or ONNX file, for serving without attrmer.

The exported graph is `VideoNet.forward` alone: inputs `rgb` (B, 3, T, S, S) and `flow`
(B, 2, T, S, S), float32, already prepared as `attrmer.model.inputs.prepare_rgb` /
`prepare_flow` make them (T = the model's TIM frames, S = its input size); outputs `logits`
(B, classes) and `z_m` (B, 2·feature_dim). The batch axis is dynamic. The model's config.json
travels inside the file (TorchScript: an extra file `config.json`; ONNX: the metadata entry
`attrmer_config`), so the class names and the preprocessing settings are never lost.

Alignment, TIM and flow are not part of the export (they are OpenCV and dlib code); not for
training or for predicting (see `attrmer.predict`).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from attrmer.errors import (
    EXIT_CODES_HELP,
    EXIT_MODEL,
    EXIT_OK,
    EXIT_OUTPUT,
    AttrmerError,
)
from attrmer.modelfile import ModelFileError

FORMATS = {"torchscript": ".pt", "onnx": ".onnx"}
INPUT_NAMES = ["rgb", "flow"]
OUTPUT_NAMES = ["logits", "z_m"]
# The legacy (TorchScript-based) ONNX exporter: the torch.export-based default needs the
# onnxscript package, which attrmer does not depend on. Opset 17 keeps the file loadable by
# older runtimes; every operator of the network exists there.
ONNX_OPSET = 17
# The example batch the graph is traced with; the batch axis stays dynamic.
TRACE_BATCH = 2



class ExportError(AttrmerError, RuntimeError):
    """The exporter failed, or the exported graph disagrees with the eager network."""


def example_inputs(
    *, frames: int, input_size: int, batch: int = TRACE_BATCH, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Random prepared inputs of the network's shape: rgb (B, 3, T, S, S), flow in [-1, 1]."""
    generator = torch.Generator().manual_seed(seed)
    rgb = torch.randn(batch, 3, frames, input_size, input_size, generator=generator)
    flow = torch.rand(batch, 2, frames, input_size, input_size, generator=generator) * 2 - 1
    return rgb, flow


@contextmanager
def _quiet_tracing() -> Iterator[None]:
    """Tracing warns about the network's input-shape checks (Python branches on shapes); they
    only raise on malformed inputs, so leaving them out of the graph changes no result.
    TorchScript and the legacy ONNX exporter are deprecated in torch 2.x; their notices are
    known (see ONNX_OPSET) and would only clutter the command's output."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.(jit|onnx)")
        warnings.filterwarnings("ignore", message=r".*legacy TorchScript-based ONNX export.*")
        yield


def export_torchscript(
    network: nn.Module,
    path: str | Path,
    *,
    frames: int,
    input_size: int,
    config: dict[str, Any] | None = None,
) -> Path:
    """Trace `network` (eval mode) and save it with torch.jit.save, atomically."""
    from attrmer.io import atomic_path

    network = network.eval()
    inputs = example_inputs(frames=frames, input_size=input_size)
    with _quiet_tracing(), torch.no_grad():
        traced = torch.jit.trace(network, inputs, check_trace=False)
    extra = {"config.json": json.dumps(config or {}, indent=2)}
    path = Path(path)
    with atomic_path(path) as tmp, _quiet_tracing():
        torch.jit.save(traced, str(tmp), _extra_files=extra)
    return path


def export_onnx(
    network: nn.Module,
    path: str | Path,
    *,
    frames: int,
    input_size: int,
    config: dict[str, Any] | None = None,
    opset: int = ONNX_OPSET,
) -> Path:
    """Export `network` (eval mode) to ONNX with a dynamic batch axis, checked, atomically."""
    import onnx

    from attrmer.io import atomic_path

    network = network.eval()
    inputs = example_inputs(frames=frames, input_size=input_size)
    dynamic = {name: {0: "batch"} for name in (*INPUT_NAMES, *OUTPUT_NAMES)}
    path = Path(path)
    with atomic_path(path) as tmp:
        with _quiet_tracing(), torch.no_grad():
            torch.onnx.export(
                network, inputs, str(tmp), input_names=INPUT_NAMES, output_names=OUTPUT_NAMES,
                dynamic_axes=dynamic, opset_version=opset, dynamo=False,
            )
        model = onnx.load(str(tmp))
        entry = model.metadata_props.add()
        entry.key, entry.value = "attrmer_config", json.dumps(config or {})
        try:
            onnx.checker.check_model(model, full_check=True)
        except onnx.checker.ValidationError as exc:
            raise ExportError(f"{path}: the exported ONNX graph is not valid: {exc}") from None
        onnx.save(model, str(tmp))
    return path


def torchscript_difference(
    network: nn.Module, path: str | Path, *, frames: int, input_size: int, batch: int = 3
) -> float:
    """Largest absolute difference of the logits between a saved TorchScript file and the
    eager network, on random inputs of another batch size than the trace's."""
    with _quiet_tracing():
        loaded = torch.jit.load(str(path), map_location="cpu")
    inputs = example_inputs(frames=frames, input_size=input_size, batch=batch, seed=1)
    with torch.no_grad():
        expected = network.eval()(*inputs)[0]
        got = loaded(*inputs)[0]
    return float((expected - got).abs().max())


def default_out(model_dir: Path, fmt: str) -> Path:
    """exports/<model directory name>.pt|.onnx (never inside the model directory, which is a
    pipeline output)."""
    return Path("exports") / f"{model_dir.resolve().name}{FORMATS[fmt]}"


def export_model(
    model_dir: str | Path, fmt: str, out: str | Path | None = None, *, check: bool = True
) -> tuple[Path, float | None]:
    """Export a model directory's video network: (written path, TorchScript parity or None).

    With `check`, a TorchScript file is loaded back and compared with the eager network
    (ExportError above 1e-4); an ONNX file is always validated by onnx.checker.
    """
    from attrmer.modelfile import load_model_dir

    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    model_dir = Path(model_dir)
    bundle = load_model_dir(model_dir)
    out = Path(out) if out is not None else default_out(model_dir, fmt)
    config = {**bundle.info, "exported_inputs": {
        "rgb": f"float32 (B, 3, {bundle.frames}, {bundle.model.input_size}, "
               f"{bundle.model.input_size}) from attrmer.model.inputs.prepare_rgb",
        "flow": f"float32 (B, 2, {bundle.frames}, {bundle.model.input_size}, "
                f"{bundle.model.input_size}) from attrmer.model.inputs.prepare_flow",
    }}
    shape = {"frames": bundle.frames, "input_size": bundle.model.input_size}
    if fmt == "torchscript":
        export_torchscript(bundle.network, out, config=config, **shape)
        if not check:
            return out, None
        difference = torchscript_difference(bundle.network, out, **shape)
        if difference > 1e-4:
            out.unlink()
            raise ExportError(f"{out}: TorchScript logits differ from the eager network's by "
                              f"{difference:.2e}; file removed")
        return out, difference
    export_onnx(bundle.network, out, config=config, **shape)
    return out, None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attrmer export",
        description="Export the video network of a trained attrmer model to TorchScript or "
                    "ONNX. Inputs: rgb (B,3,T,S,S) and flow (B,2,T,S,S) float32, prepared as "
                    "attrmer.model.inputs makes them; outputs: logits and z_m; dynamic batch.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--format", required=True, choices=sorted(FORMATS), dest="fmt")
    parser.add_argument("--model", type=Path, default=None, metavar="DIR",
                        help="model directory (default: models/seeds/seed_<lowest seed of "
                             "params.yaml train.seeds> in the current folder)")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="output file (default: exports/<model dir name>.pt or .onnx)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip loading a TorchScript file back to compare with eager")
    return parser


def cli(argv: list[str]) -> int:
    from attrmer.predict import default_model_dirs

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        model_dir = args.model if args.model is not None else default_model_dirs()[0]
        out, difference = export_model(model_dir, args.fmt, args.out, check=not args.no_check)
    except ModelFileError as exc:
        print(f"attrmer export: {exc}", file=sys.stderr)
        return EXIT_MODEL
    except (ExportError, OSError, RuntimeError) as exc:
        print(f"attrmer export: {exc}", file=sys.stderr)
        return EXIT_OUTPUT
    note = "" if difference is None else f" (max |logit difference| vs eager {difference:.1e})"
    print(f"wrote {out}{note}")
    return EXIT_OK
