"""`attrmer report`: the paper's tables and figures from finished DVC experiments.

Reads every finished experiment (``dvc exp show --json``, or the same JSON from a file), turns
each into a flat record — params such as ``train.alpha`` and ``model.depth``, the metrics of
``metrics/summary.json`` and, where present, of every baseline in ``metrics/baselines/`` (named
as the list ``attrmer.baselines.TITLES`` names them) — and writes:

- ``tables.md``: Table III (the method's accuracy, UF1 and UAR, mean ± std over seeds, with the
  baselines, the paper's published rows and the figures it copied for the methods it compares
  with, marked as copied), Table IV (L_θ only versus the full loss), and the
  numbers behind Fig. 2/3 (3D-ResNet depth 10/18/34 without and with the attribute branch) and
  Fig. 4 (α from 0 to 1). Every row states its dataset and protocol: holdout 3:2 or LOSO, class
  set, number of seeds and how the model was selected, since MER numbers obtained under
  different protocols are not comparable.
- ``figures/*.png``: Fig. 2/3 and Fig. 4 per dataset and protocol;
- ``plots/depth/*.csv`` and ``plots/alpha/*.csv``: the same data for ``dvc plots``;
- ``experiments.json``: the normalised records the report was made from.

Experiments are grouped by *condition* (dataset, class set, protocol, model selection). Inside
a condition, a sweep is the largest set of experiments whose params agree on everything except
the swept keys; a sweep that was not run is reported as missing, with the commands to run it,
never filled in. Not for running experiments or computing metrics (`attrmer.evaluate`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from attrmer.errors import EXIT_CODES_HELP, EXIT_DATA, EXIT_OK, EXIT_OUTPUT
from attrmer.io import FolderNotOwnedError
from attrmer.report.records import (
    SUMMARY_METRICS,
    ExperimentRecord,
    flatten,
    load_paper_results,
    parse_exp_show,
    protocol_text,
    run_exp_show,
    selection_text,
    with_workspace_baselines,
)
from attrmer.report.selection import alpha_sweep, depth_sweep, headline
from attrmer.report.statistics import compare
from attrmer.report.tables import write_report

__all__ = [
    "ExperimentRecord",
    "alpha_sweep",
    "cli",
    "comparison_text",
    "depth_sweep",
    "flatten",
    "headline",
    "load_paper_results",
    "parse_exp_show",
    "protocol_text",
    "run_exp_show",
    "selection_text",
    "write_report",
]


def find_record(records: list[ExperimentRecord], name: str) -> ExperimentRecord:
    """The record called `name` (an experiment's name, `workspace`, a branch such as `main`,
    or `HEAD`; also a name the same result was shown under), or whose revision starts with
    it; ValueError otherwise."""
    matches = [r for r in records if r.name == name or name in r.aliases] or \
        [r for r in records if len(name) >= 4 and r.rev.startswith(name)]
    if len(matches) != 1:
        known = ", ".join(sorted(r.name for r in records)) or "none"
        problem = "no finished experiment" if not matches else "several experiments"
        hint = ""
        # A branch, HEAD or a commit id: a commit rather than a misspelt experiment.
        if name in ("main", "master", "HEAD") or re.fullmatch(r"[0-9a-f]{7,40}", name):
            hint = ("; a commit whose outputs this machine has not produced has no metrics "
                    "here: commit dvc.lock after `make repro` so that the commit has them")
        raise ValueError(f"{problem} named {name!r} (finished: {known}){hint}")
    return matches[0]


def comparison_text(records: list[ExperimentRecord], first: str, second: str) -> str:
    """The two runs' settings that differ, then per metric both means over the paired seeds
    and `first - second` with its interval, e.g. "accuracy: 88.7 % vs 90.7 %, -2.0 points
    [-6.0, +2.0] (95% CI, 5 seeds): not distinguishable"."""
    a, b = find_record(records, first), find_record(records, second)
    if a is b:
        raise ValueError(f"{first!r} and {second!r} are one result (`dvc exp run` leaves its "
                         "results in the workspace): compare the experiment with a commit, "
                         "e.g. `main`")
    lines = [f"{a.name} vs {b.name}, paired by seed on one split"]
    changed = differing_settings(a, b)
    lines.append("  settings that differ: " + ("; ".join(
        f"{key} {a.setting(key)!r} vs {b.setting(key)!r}" for key in changed) or "none"))
    for metric, difference in compare(a, b).items():
        seeds = difference.seeds
        mean_a = 100 * sum(a.by_seed[metric][s] for s in seeds) / len(seeds)
        mean_b = 100 * sum(b.by_seed[metric][s] for s in seeds) / len(seeds)
        lines.append(f"  {metric}: {mean_a:.1f} % vs {mean_b:.1f} %, difference "
                     f"{difference.text()}")
    return "\n".join(lines)


def differing_settings(a: ExperimentRecord, b: ExperimentRecord) -> list[str]:
    """The params keys whose values differ between two runs (a key one run lacks counts at
    its default)."""
    return sorted(key for key in set(a.params) | set(b.params) if a.setting(key) != b.setting(key))


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="attrmer report",
        description="Write the paper's tables (Markdown) and figures (PNG and dvc plots data) "
                    "from finished DVC experiments.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--exp-json", type=Path,
                        help="read this `dvc exp show --json` output instead of running dvc")
    parser.add_argument("--out", type=Path, default=Path("reports"),
                        help="output folder: new, empty or an earlier report, which is replaced "
                             "whole; any other folder is refused (default: reports)")
    parser.add_argument("--force", action="store_true",
                        help="replace --out even when it holds files attrmer did not write")
    parser.add_argument("--repo", type=Path, default=Path("."),
                        help="the DVC repository to ask (default: the current folder)")
    parser.add_argument("--all-commits", action="store_true",
                        help="include experiments of every commit, not only of HEAD")
    parser.add_argument("--summary", default=SUMMARY_METRICS,
                        help=f"the metrics file of the method (default: {SUMMARY_METRICS})")
    parser.add_argument("--compare", nargs=2, metavar=("FIRST", "SECOND"),
                        help="print the paired difference FIRST - SECOND of two experiments "
                             "(names or revisions) over their common seeds, and write nothing")
    parser.add_argument("--pages", type=Path, metavar="DIR",
                        help="write the documentation's results pages (docs/results) from the "
                             "metrics files, bench/results and dvc.lock under --repo, and "
                             "nothing else; no experiments are read")
    args = parser.parse_args(argv)
    if args.pages is not None:
        return _write_pages(args.repo, args.pages, force=args.force)
    try:
        if args.exp_json is not None:
            try:
                exp_show = json.loads(args.exp_json.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise RuntimeError(f"{args.exp_json}: cannot read experiments: {exc}") from None
            source = str(args.exp_json)
        else:
            exp_show = run_exp_show(args.repo, all_commits=args.all_commits)
            source = "`dvc exp show --json`"
        records, skipped = parse_exp_show(exp_show, summary_path=args.summary)
        if args.exp_json is None:  # the workspace is the one `dvc exp show` described
            from attrmer.baselines import DEEP

            records = with_workspace_baselines(records, args.repo, DEEP)
        if args.compare:
            print(comparison_text(records, *args.compare))
            return EXIT_OK
    except (RuntimeError, ValueError) as exc:
        print(f"attrmer report: {exc}", file=sys.stderr)
        return EXIT_DATA
    try:
        tables = write_report(records, args.out, skipped=skipped, source=source, force=args.force)
    except FolderNotOwnedError as exc:
        print(f"attrmer report: {exc}", file=sys.stderr)
        return EXIT_OUTPUT
    print(f"attrmer report: {len(records)} experiment(s) -> {tables}")
    return EXIT_OK


def _write_pages(root: Path, out: Path, *, force: bool) -> int:
    from attrmer.report.pages import write_pages

    try:
        pages = write_pages(root, out, force=force)
    except FolderNotOwnedError as exc:
        print(f"attrmer report: {exc}", file=sys.stderr)
        return EXIT_OUTPUT
    except (OSError, ValueError) as exc:  # an unreadable or malformed metrics file
        print(f"attrmer report: {exc}", file=sys.stderr)
        return EXIT_DATA
    print(f"attrmer report: {len(pages)} results pages -> {out}")
    return EXIT_OK

