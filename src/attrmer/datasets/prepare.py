"""The prepare stage: a dataset as delivered -> data/interim/manifest.csv and summary.txt.

`build_manifest` judges every sheet row (annotation rules, class set, frames on disk) and assigns
the subject-independent split; `prepare_dataset` runs it for the configured dataset (rendering
the synthetic corpus first when data.name is "synthetic"), writes the manifest and the summary,
and refuses to write a manifest without a usable clip. Reading a particular dataset's sheet is
the adapters' job (`attrmer.datasets.<name>`); decoding frames is the align stage's.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from attrmer.config import ConfigError, Params, SplitConfig, load_params
from attrmer.datasets.base import DatasetAdapter, DatasetError, get_adapter, subdirs
from attrmer.datasets.classes import ClassSet, resolve_class_set
from attrmer.datasets.rules import DEFAULT_MAX_CLIP_SECONDS, FrameChecker, judge_annotation
from attrmer.datasets.splits import loso_folds, natural_key, subject_independent_split
from attrmer.facs import aus_to_json, parse_action_units
from attrmer.io import write_text
from attrmer.manifest import COLUMNS, write_manifest

MANIFEST_NAME = "manifest.csv"
SUMMARY_NAME = "summary.txt"
# Column value for a frame number the sheet does not give (the reason says what it gave).
NO_FRAME = -1
_SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}


def build_manifest(
    adapter: DatasetAdapter,
    classes: str | list[str],
    split: SplitConfig,
    *,
    max_clip_seconds: float = DEFAULT_MAX_CLIP_SECONDS,
) -> tuple[pd.DataFrame, ClassSet]:
    """Judge every sheet row and assign splits; one manifest row per sheet row, in sheet order.

    Status: failed when an annotation rule or the frames check makes the row unusable,
    excluded when its emotion is outside the class set, ok otherwise; `reason` also records
    the adjustments made to ok rows. Does not require any row to be usable (see
    `prepare_dataset` for that).
    """
    records = adapter.rows()
    class_set = resolve_class_set(classes, adapter.class_sets_key, (r.emotion for r in records))
    checker = FrameChecker()
    rows = []
    keys: Counter[str] = Counter()
    for record in tqdm(records, desc=f"{adapter.name}: checking clips", unit="clip",
                       file=sys.stderr, disable=None):
        judgement = judge_annotation(record, fps=adapter.fps, max_clip_seconds=max_clip_seconds)
        notes = list(judgement.notes)
        label = class_set.label_of(record.emotion)
        frame_dir = record.frame_dir
        if judgement.failed:
            status = "failed"
        elif label is None:
            status = "excluded"
            shown = repr(record.emotion) if record.emotion else "(blank)"
            notes.insert(0, f"emotion {shown} not in class set {class_set.name}")
        else:
            found = checker.check(
                record.frame_dir, record.frame_pattern, judgement.onset, judgement.offset
            )
            frame_dir = found.frame_dir
            notes += [n for n in (found.note, found.reason) if n]
            status = "failed" if found.reason else "ok"
        key = f"{record.subject}/{record.clip}"
        keys[key] += 1
        if keys[key] > 1:
            notes.append(f"{key} repeats an earlier row; kept as {key}#{keys[key]}")
            key = f"{key}#{keys[key]}"
        rows.append({
            "key": key,
            "dataset": adapter.name,
            "subject": record.subject,
            "clip": record.clip,
            "frame_dir": frame_dir.as_posix(),
            "frame_pattern": record.frame_pattern,
            "onset": _frame(judgement.onset),
            "apex": _frame(judgement.apex),
            "offset": _frame(judgement.offset),
            "action_units": record.action_units,
            "aus": aus_to_json(parse_action_units(record.action_units)),
            "emotion": record.emotion,
            "label": label if status == "ok" else -1,
            "class_name": class_set.classes[label] if status == "ok" else "",
            "split": "",
            "status": status,
            "reason": "; ".join(notes),
        })
    manifest = pd.DataFrame(rows, columns=COLUMNS)
    ok = manifest["status"] == "ok"
    if ok.sum() >= 2 and manifest.loc[ok, "subject"].nunique() >= 2:
        subjects, labels = manifest.loc[ok, "subject"].tolist(), manifest.loc[ok, "label"].tolist()
        if split.protocol == "loso":
            assignment = loso_folds(subjects)
        else:
            assignment = subject_independent_split(
                subjects, labels, test_fraction=split.test_fraction, seed=split.seed,
                validation_fraction=split.validation_fraction,
            )
        manifest.loc[ok, "split"] = manifest.loc[ok, "subject"].map(assignment)
    return manifest, class_set


def prepare_dataset(
    params: Params, interim_dir: Path, *, max_clip_seconds: float | None = None
) -> pd.DataFrame:
    """Index the configured dataset into interim_dir/manifest.csv and summary.txt.

    For data.name "synthetic" the built-in corpus is rendered into data.root first. Raises
    DatasetError, naming the sheet and the most common reasons, when no row is usable or the
    usable rows cannot be split by subject.
    """
    interim_dir = Path(interim_dir)
    data = params.data
    if max_clip_seconds is None:
        max_clip_seconds = data.max_clip_seconds
    if data.name == "synthetic":
        # Imported here: only the synthetic dataset needs the renderer and its dependencies.
        from attrmer.synth import render_corpus

        root = render_corpus(Path(data.root), params.synth)
        adapter = get_adapter("synthetic", root, fps=float(params.synth.fps))
    else:
        adapter = get_adapter(data.name, data.root)
    manifest, class_set = build_manifest(
        adapter, data.classes, params.split, max_clip_seconds=max_clip_seconds
    )
    _require_usable(manifest, adapter)
    _require_every_class(manifest, class_set, adapter)
    summary = summarize(manifest, adapter=adapter, class_set=class_set, split=params.split)
    write_manifest(manifest, interim_dir / MANIFEST_NAME)
    write_text(interim_dir / SUMMARY_NAME, summary)
    print(summary, end="")
    return manifest


def summarize(
    manifest: pd.DataFrame, *, adapter: DatasetAdapter, class_set: ClassSet, split: SplitConfig
) -> str:
    """The human-readable account of a manifest: counts per class, split and subject, and every
    flagged row with its reason."""
    statuses = manifest["status"].value_counts()
    ok = manifest[manifest["status"] == "ok"]
    frames_root = adapter.located.frames_root
    if split.protocol == "holdout":
        split_text = f"holdout (test_fraction {split.test_fraction:g}, seed {split.seed}"
        if split.validation_fraction > 0:
            split_text += f", validation_fraction {split.validation_fraction:g}"
        split_text += ")"
    else:
        split_text = f"loso ({ok['subject'].nunique()} folds)"
    lines = [
        f"dataset   {adapter.name}",
        f"sheet     {adapter.located.sheet.as_posix()}",
        f"frames    {frames_root.as_posix() if frames_root else 'not found'}",
        f"classes   {class_set.describe()}",
        f"split     {split_text}",
        f"rows      {len(manifest)}: " + ", ".join(
            f"{s} {int(statuses.get(s, 0))}" for s in ("ok", "excluded", "failed")
        ),
        "",
    ]
    sides = (
        sorted(ok["split"].unique(), key=lambda s: _SPLIT_ORDER.get(s, 9))
        if split.protocol == "holdout" else []
    )
    width = max([len("class"), *map(len, class_set.classes)])
    lines.append("usable clips per class")
    lines.append(f"  {'class':<{width}}  label" + "".join(f"  {s:>5}" for s in sides) + "  total")
    for label, name in enumerate(class_set.classes):
        of_class = ok[ok["label"] == label]
        per_side = "".join(f"  {int((of_class['split'] == s).sum()):>5}" for s in sides)
        lines.append(f"  {name:<{width}}  {label:>5}{per_side}  {len(of_class):>5}")
    per_side = "".join(f"  {int((ok['split'] == s).sum()):>5}" for s in sides)
    lines.append(f"  {'total':<{width}}  {'':>5}{per_side}  {len(ok):>5}")
    lines.append("")

    subjects = sorted(ok["subject"].unique(), key=natural_key)
    if sides:
        lines.append("subjects per split")
        for side in sides:
            people = sorted(ok.loc[ok["split"] == side, "subject"].unique(), key=natural_key)
            lines.append(f"  {side:<5}  {len(people):>3}  {', '.join(people)}")
        lines.append("")
    lines.append("usable clips per subject")
    subject_width = max([len("subject"), *map(len, subjects)])
    for subject in subjects:
        of_subject = ok[ok["subject"] == subject]
        lines.append(
            f"  {subject:<{subject_width}}  {of_subject['split'].iloc[0]:<6}  {len(of_subject):>4}"
        )
    lines.append("")

    excluded = manifest[manifest["status"] == "excluded"]
    if len(excluded):
        counts = excluded["emotion"].replace("", "(blank)").value_counts()
        lines.append(
            "excluded emotions: " + ", ".join(f"{e} {n}" for e, n in counts.items())
        )
        lines.append("")
    flagged = manifest[(manifest["status"] == "failed") | (manifest["reason"] != "")]
    flagged = flagged[flagged["status"] != "excluded"]
    lines.append(f"flagged rows ({len(flagged)})")
    key_width = max([0, *map(len, flagged["key"])])
    for row in flagged.itertuples():
        lines.append(f"  {row.key:<{key_width}}  {row.status:<6}  {row.reason}")
    return "\n".join(lines) + "\n"


def cli(argv: list[str] | None = None) -> int:
    """`attrmer prepare`: index a dataset into a manifest (optionally overriding data.*)."""
    parser = argparse.ArgumentParser(
        prog="attrmer prepare",
        description="Index a micro-expression dataset (as delivered) into manifest.csv and "
        "summary.txt.",
    )
    parser.add_argument("--params", default="params.yaml",
                        help="params file (default: %(default)s)")
    parser.add_argument("--interim-dir", "--out", dest="interim_dir", default="data/interim",
                        help="where manifest.csv and summary.txt go (default: %(default)s)")
    parser.add_argument("--name", help="override data.name (synthetic, casme2, mmew, samm, casme3)")
    parser.add_argument("--root", help="override data.root: the dataset folder or its sheet")
    parser.add_argument("--classes",
                        help="override data.classes: a set name or comma-separated emotions")
    parser.add_argument("--max-clip-seconds", type=float, default=None,
                        help="override data.max_clip_seconds: clips longer than this fail")
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        overrides = {}
        if args.name:
            overrides["name"] = args.name
        if args.root:
            overrides["root"] = args.root
        if args.classes:
            names = [c.strip() for c in args.classes.split(",") if c.strip()]
            overrides["classes"] = names if len(names) > 1 else names[0]
        if overrides:
            params = dataclasses.replace(params, data=dataclasses.replace(params.data, **overrides))
            params.validate()
        prepare_dataset(params, Path(args.interim_dir), max_clip_seconds=args.max_clip_seconds)
    except (DatasetError, ConfigError) as exc:
        print(f"attrmer prepare: {exc}", file=sys.stderr)
        return 1
    return 0


def _require_every_class(manifest: pd.DataFrame, class_set: ClassSet,
                         adapter: DatasetAdapter) -> None:
    """A class with no usable clip would shift every later label; refuse the class set."""
    present = set(manifest.loc[manifest["status"] == "ok", "label"])
    empty = [name for i, name in enumerate(class_set.classes) if i not in present]
    if empty:
        raise DatasetError(
            f"{adapter.located.sheet.as_posix()}: class set {class_set.name} has no usable clip "
            f"of {', '.join(empty)}; choose data.classes without it"
        )


def _require_usable(manifest: pd.DataFrame, adapter: DatasetAdapter) -> None:
    ok = manifest[manifest["status"] == "ok"]
    sheet = adapter.located.sheet.as_posix()
    if ok.empty:
        # Count what made rows unusable, not the adjustments ("->") made on the way.
        reasons = Counter(
            note.split(":")[0]
            for reason in manifest.loc[manifest["status"] != "ok", "reason"]
            for note in reason.split("; ")
            if note and "->" not in note
        )
        common = "; ".join(
            f"{r} ({n} row{'s' if n > 1 else ''})" for r, n in reasons.most_common(3)
        )
        message = f"{sheet}: no usable clip among {len(manifest)} rows (most common: {common})"
        if adapter.located.frames_root is None:
            searched = adapter.root.parent if adapter.root.is_file() else adapter.root
            found = ", ".join(subdirs(searched)) or "no folders"
            message += (
                f"; no frame folder found under {searched.as_posix()} (expected "
                f"{' or '.join(adapter.located.frames_expected)}; found {found})"
            )
        raise DatasetError(message)
    if ok["subject"].nunique() < 2:
        raise DatasetError(
            f"{sheet}: usable clips come from {ok['subject'].nunique()} subject only; a "
            "subject-independent split needs at least 2"
        )


def _frame(value: int | None) -> int:
    return NO_FRAME if value is None else int(value)
