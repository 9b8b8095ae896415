"""`attrmer synth OUT_DIR`: render the built-in synthetic corpus by hand.

The `prepare` stage renders it too when `data.name` is `synthetic`; this command is for looking
at the data or rendering a variant (another seed or size) outside the pipeline.
`attrmer synth --long OUT_DIR` renders the long-video spotting corpus (`spot.corpus`) instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from attrmer.config import ConfigError, SpotCorpusConfig, SynthConfig, load_params
from attrmer.errors import EXIT_CODES_HELP, EXIT_DATA, EXIT_OK, EXIT_OUTPUT, EXIT_USAGE
from attrmer.io import FolderNotOwnedError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attrmer synth",
        description="Render the synthetic micro-expression corpus (CASME II layout) into OUT_DIR.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out_dir", type=Path,
                        help="folder to write: new, empty or an earlier render, which is "
                             "replaced whole (any other folder is refused)")
    parser.add_argument("--force", action="store_true",
                        help="replace OUT_DIR even when it holds files attrmer did not write")
    parser.add_argument("--params", type=Path, default=None,
                        help="params file whose `synth` section (with --long: `spot.corpus`) "
                             "to use (default: built-in defaults)")
    parser.add_argument("--long", action="store_true",
                        help="render the long-video spotting corpus (CAS(ME)^3 part A layout)")
    parser.add_argument("--seed", type=int, default=None,
                        help="override synth.seed (with --long: spot.corpus.seed)")
    parser.add_argument("--clips", type=int, default=None, help="override synth.clips")
    parser.add_argument("--videos", type=int, default=None,
                        help="with --long: override spot.corpus.videos")
    parser.add_argument("--workers", type=int, default=None,
                        help="rendering processes (default: up to 2)")
    return parser


def cli(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.long and args.clips is not None:
        return _usage("--clips: the long-video corpus counts videos (--videos)")
    if not args.long and args.videos is not None:
        return _usage("--videos: only with --long (the clip corpus counts --clips)")
    if args.long:
        return _long(args)
    from attrmer.synth.render import render_corpus

    overrides = {k: v for k, v in (("seed", args.seed), ("clips", args.clips))
                 if v is not None}
    try:
        cfg = load_params(args.params).synth if args.params else SynthConfig()
    except ConfigError as exc:
        print(f"attrmer synth: {exc}", file=sys.stderr)
        return EXIT_DATA
    try:
        cfg = dataclasses.replace(cfg, **overrides)
        cfg.validate()
    except ConfigError as exc:  # the file was valid: --seed or --clips is not
        print(f"attrmer synth: {exc}", file=sys.stderr)
        return EXIT_USAGE
    start = time.perf_counter()
    try:
        out = render_corpus(args.out_dir, cfg, workers=args.workers, force=args.force)
    except FolderNotOwnedError as exc:
        print(f"attrmer synth: {exc}", file=sys.stderr)
        return EXIT_OUTPUT
    print(f"attrmer synth: {cfg.clips} clips in {out} ({time.perf_counter() - start:.1f} s)",
          file=sys.stderr)
    return EXIT_OK


def _usage(message: str) -> int:
    print(f"attrmer synth: {message}", file=sys.stderr)
    return EXIT_USAGE


def _long(args: argparse.Namespace) -> int:
    from attrmer.synth.long_video import render_long_corpus

    overrides = {k: v for k, v in (("seed", args.seed), ("videos", args.videos))
                 if v is not None}
    try:
        cfg = load_params(args.params).spot.corpus if args.params else SpotCorpusConfig()
    except ConfigError as exc:
        print(f"attrmer synth: {exc}", file=sys.stderr)
        return EXIT_DATA
    try:
        cfg = dataclasses.replace(cfg, **overrides)
        start = time.perf_counter()
        # Planning comes first and may still refuse the settings (more videos than faces).
        out = render_long_corpus(args.out_dir, cfg, workers=args.workers, force=args.force)
    except ConfigError as exc:
        print(f"attrmer synth: {exc}", file=sys.stderr)
        return EXIT_USAGE if overrides else EXIT_DATA
    except FolderNotOwnedError as exc:
        print(f"attrmer synth: {exc}", file=sys.stderr)
        return EXIT_OUTPUT
    print(f"attrmer synth: {cfg.videos} long videos in {out} "
          f"({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return EXIT_OK
