"""The prepare stage: a dataset as delivered -> data/interim/manifest.csv and summary.txt.

`build_manifest` judges every sheet row (annotation rules, class set, frames on disk) and assigns
the subject-independent split; `build_composite_manifest` does the same for several datasets
read as one (`attrmer.datasets.composite`: the MEGC 2019 composite, any other combination, and
the leave-one-dataset-out split). `prepare_dataset` runs them for the configured data (rendering
the synthetic corpus first when data.name is "synthetic"), writes the manifest and the summary,
and refuses to write a manifest without a usable clip. Reading a particular dataset's sheet is
the adapters' job (`attrmer.datasets.<name>`); decoding frames is the align stage's.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from attrmer.config import COMPOSITES, DATASETS, ConfigError, Params, SplitConfig, load_params
from attrmer.datasets.base import ClipRecord, DatasetAdapter, DatasetError, get_adapter, subdirs
from attrmer.datasets.classes import ClassSet, resolve_class_set
from attrmer.datasets.composite import Member, composite_classes, composite_members, prefixed
from attrmer.datasets.rules import (
    DEFAULT_MAX_CLIP_SECONDS,
    FrameChecker,
    Judgement,
    judge_annotation,
    unannotated_apex,
)
from attrmer.datasets.splits import (
    leave_one_dataset_out,
    loso_folds,
    natural_key,
    subject_independent_split,
)
from attrmer.errors import EXIT_CODES_HELP, EXIT_DATA, EXIT_OK, EXIT_OUTPUT
from attrmer.facs import aus_to_json, parse_action_units
from attrmer.io import FolderNotOwnedError, claim_folder, mark_owned, write_text
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
    excluded when its emotion is outside the class set (or the set wants an annotated apex the
    row lacks), ok otherwise; `reason` also records the adjustments made to ok rows. Does not
    require any row to be usable (see `prepare_dataset` for that).
    """
    records = adapter.rows()
    class_set = resolve_class_set(classes, adapter.class_sets_key, (r.emotion for r in records))
    manifest = judge_rows(adapter, records, class_set, max_clip_seconds=max_clip_seconds)
    assign_split(manifest, split)
    return manifest, class_set


def build_composite_manifest(
    members: Sequence[Member],
    classes: str | list[str],
    split: SplitConfig,
    *,
    max_clip_seconds: float = DEFAULT_MAX_CLIP_SECONDS,
) -> tuple[pd.DataFrame, ClassSet]:
    """`build_manifest` for several datasets read as one, in `members` order.

    Each dataset resolves `classes` in its own class sets (megc2019 is MEGC's selection for
    each); their class lists must agree. The `dataset` column holds each member's name, and
    subjects and keys are prefixed with it. Unlike `build_manifest` it requires a usable clip
    of every dataset (a dataset without one is an error naming its sheet and why), since the
    datasets are split among each other. Returns the first member's class set (they share
    their classes; which emotions make each class differs by dataset).
    """
    names = [m.name for m in members]
    _require_known_test_datasets(split, names)
    records = {m.name: m.adapter.rows() for m in members}
    class_sets = {m.name: resolve_class_set(classes, m.adapter.class_sets_key,
                                            (r.emotion for r in records[m.name]))
                  for m in members}
    _require_same_classes(class_sets, classes)
    tables = []
    for member in members:
        table = judge_rows(member.adapter, records[member.name], class_sets[member.name],
                           max_clip_seconds=max_clip_seconds, dataset=member.name)
        _require_usable(table, member.adapter, min_subjects=1)
        tables.append(table)
    manifest = pd.concat(tables, ignore_index=True)[COLUMNS]
    assign_split(manifest, split, datasets=names)
    return manifest, next(iter(class_sets.values()))


def judge_rows(
    adapter: DatasetAdapter,
    records: Sequence[ClipRecord],
    class_set: ClassSet,
    *,
    max_clip_seconds: float = DEFAULT_MAX_CLIP_SECONDS,
    dataset: str | None = None,
) -> pd.DataFrame:
    """One manifest row per record, judged, split still unassigned.

    `dataset`: the record's dataset in a composite, which fills the dataset column and
    prefixes subjects and keys (`casme2/sub01`); None for a dataset read alone (the dataset
    column then holds the adapter's name, subjects and keys are the sheet's).
    """
    checker = FrameChecker()
    rows = []
    keys: Counter[str] = Counter()
    for record in tqdm(records, desc=f"{dataset or adapter.name}: checking clips", unit="clip",
                       file=sys.stderr, disable=None):
        verdict = _judge_record(record, adapter, class_set, checker,
                                max_clip_seconds=max_clip_seconds)
        subject, key = record.subject, f"{record.subject}/{record.clip}"
        if dataset is not None:
            subject = prefixed(dataset, subject) if subject else ""
            key = prefixed(dataset, key)
        keys[key] += 1
        if keys[key] > 1:
            verdict.notes.append(f"{key} repeats an earlier row; kept as {key}#{keys[key]}")
            key = f"{key}#{keys[key]}"
        ok = verdict.status == "ok"
        rows.append({
            "key": key,
            "dataset": dataset or adapter.name,
            "subject": subject,
            "clip": record.clip,
            "frame_dir": verdict.frame_dir.as_posix(),
            "frame_pattern": record.frame_pattern,
            "onset": _frame(verdict.judgement.onset),
            "apex": _frame(verdict.judgement.apex),
            "offset": _frame(verdict.judgement.offset),
            "action_units": record.action_units,
            "aus": aus_to_json(parse_action_units(record.action_units)),
            "emotion": record.emotion,
            "label": verdict.label if ok else -1,
            "class_name": class_set.classes[verdict.label] if ok else "",
            "split": "",
            "status": verdict.status,
            "reason": "; ".join(verdict.notes),
        })
    return pd.DataFrame(rows, columns=COLUMNS)


@dataclasses.dataclass
class _Verdict:
    """What the rules, the class set and the frames on disk made of one record."""

    status: str  # ok, excluded or failed
    label: int | None
    frame_dir: Path
    judgement: Judgement
    notes: list[str]


def _judge_record(record: ClipRecord, adapter: DatasetAdapter, class_set: ClassSet,
                  checker: FrameChecker, *, max_clip_seconds: float) -> _Verdict:
    """Failed by an annotation rule, excluded by the class set, else ok or failed by the
    frames check (only rows that would be used are looked for on disk)."""
    judgement = judge_annotation(record, fps=adapter.fps, max_clip_seconds=max_clip_seconds,
                                 apex_annotated=adapter.apex_annotated)
    verdict = _Verdict("failed", class_set.label_of(record.emotion), record.frame_dir,
                       judgement, list(judgement.notes))
    if judgement.failed:
        return verdict
    verdict.status = "excluded"
    if verdict.label is None:
        shown = repr(record.emotion) if record.emotion else "(blank)"
        verdict.notes.insert(0, f"emotion {shown} not in class set {class_set.name}")
        return verdict
    if class_set.annotated_apex_only and adapter.apex_annotated:
        no_apex = unannotated_apex(record, judgement)
        if no_apex:
            verdict.notes.insert(0, f"{no_apex}: class set {class_set.name} keeps only clips "
                                    "whose coders marked an apex")
            return verdict
    found = checker.check(record.frame_dir, record.frame_pattern, judgement.onset,
                          judgement.offset)
    verdict.frame_dir = found.frame_dir
    verdict.notes += [n for n in (found.note, found.reason) if n]
    verdict.status = "failed" if found.reason else "ok"
    return verdict


def assign_split(manifest: pd.DataFrame, split: SplitConfig,
                 datasets: Sequence[str] | None = None) -> None:
    """Fill the split column of the usable rows, in place, by `split.protocol`.

    holdout: train / val / test by subject; loso: fold<k> per subject; lodo: fold<k> per
    dataset tested on (`datasets` gives their order), "train" for a dataset only trained on.
    Nothing is assigned while there are too few subjects (or datasets) to split.
    """
    ok = manifest["status"] == "ok"
    if split.protocol == "lodo":
        order = datasets or list(dict.fromkeys(manifest["dataset"]))
        present = [d for d in order if (manifest.loc[ok, "dataset"] == d).any()]
        if len(present) >= 2:
            assignment = leave_one_dataset_out(present, split.test_datasets)
            manifest.loc[ok, "split"] = manifest.loc[ok, "dataset"].map(assignment)
        return
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


def prepare_dataset(
    params: Params, interim_dir: Path, *, max_clip_seconds: float | None = None,
    force: bool = False,
) -> pd.DataFrame:
    """Index the configured data into interim_dir/manifest.csv and summary.txt.

    For data.name "synthetic" the built-in corpus is rendered into data.root first; a
    composite data.name reads each dataset of data.roots. Raises DatasetError, naming the sheet
    and the most common reasons, when no row (of a dataset) is usable or the usable rows cannot
    be split by subject. Raises FolderNotOwnedError, before anything is read or rendered, when
    interim_dir (unless `force`) or the rendering folder holds files attrmer did not write.
    """
    interim_dir = Path(interim_dir)
    data = params.data
    render_root = Path(data.root) if data.name == "synthetic" else None
    own = {MANIFEST_NAME, SUMMARY_NAME}
    if render_root is not None and render_root.parent.resolve() == interim_dir.resolve():
        own.add(render_root.name)  # the default data/interim/synthetic
    claim_folder(interim_dir, command="attrmer prepare", force=force, replaces=False,
                 own_names=frozenset(own))
    if render_root is not None:
        _require_render_root(render_root, interim_dir)
    if max_clip_seconds is None:
        max_clip_seconds = data.max_clip_seconds
    if data.name in COMPOSITES:
        members = composite_members(data)
        manifest, class_set = build_composite_manifest(
            members, composite_classes(data), params.split, max_clip_seconds=max_clip_seconds)
        _require_subjects(manifest, f"data.name {data.name}")
        _require_every_class(manifest, class_set, f"data.name {data.name}")
        summary = summarize_composite(manifest, name=data.name, members=members,
                                      class_set=class_set, split=params.split)
    else:
        if data.name == "synthetic":
            # Imported here: only the synthetic dataset needs the renderer and its dependencies.
            from attrmer.synth import render_corpus

            root = render_corpus(render_root, params.synth)
            adapter = get_adapter("synthetic", root, fps=float(params.synth.fps))
        else:
            adapter = get_adapter(data.name, data.root)
        manifest, class_set = build_manifest(
            adapter, data.classes, params.split, max_clip_seconds=max_clip_seconds
        )
        _require_usable(manifest, adapter)
        _require_every_class(manifest, class_set, adapter.located.sheet.as_posix())
        summary = summarize(manifest, adapter=adapter, class_set=class_set, split=params.split)
    interim_dir.mkdir(parents=True, exist_ok=True)
    mark_owned(interim_dir, "attrmer prepare")
    write_manifest(manifest, interim_dir / MANIFEST_NAME)
    write_text(interim_dir / SUMMARY_NAME, summary)
    print(summary, end="")
    return manifest


def _require_render_root(root: Path, interim_dir: Path) -> None:
    """The built-in corpus is rendered under the project (the working folder) or beside the
    manifest, or into a folder elsewhere that the user made for it: a typo in data.root must
    not fill another disk. An existing folder must be empty or an earlier render."""
    inside = any(root.resolve().is_relative_to(place.resolve())
                 for place in (Path.cwd(), interim_dir))
    if not root.exists() and not inside:
        raise DatasetError(
            f"data.root: {root} does not exist; the built-in corpus is rendered under the "
            "project (default data/interim/synthetic) or into an empty folder you create for it")
    from attrmer.synth.render import CORPUS_ENTRIES

    claim_folder(root, command="attrmer prepare", forcible=False, own_names=CORPUS_ENTRIES)


def summarize(
    manifest: pd.DataFrame, *, adapter: DatasetAdapter, class_set: ClassSet, split: SplitConfig
) -> str:
    """The human-readable account of a manifest: counts per class, split and subject, and every
    flagged row with its reason."""
    header = [f"dataset   {adapter.name}", *_source_lines(adapter)]
    return _summary(manifest, header, class_set=class_set, split=split)


def summarize_composite(
    manifest: pd.DataFrame, *, name: str, members: Sequence[Member], class_set: ClassSet,
    split: SplitConfig,
) -> str:
    """`summarize` for several datasets read as one, with the usable clips of each dataset per
    class (MEGC 2019: smic 164, casme2 145, samm 133)."""
    width = max(len(m.name) for m in members)
    header = [f"dataset   {name}: {', '.join(m.name for m in members)}"]
    for member in members:
        header += _source_lines(member.adapter, label=f"{member.name:<{width}}  ")
    return _summary(manifest, header, class_set=class_set, split=split,
                    datasets=[m.name for m in members])


def _source_lines(adapter: DatasetAdapter, label: str = "") -> list[str]:
    """Where a dataset's sheet (or, for SMIC, its clip folders) and frames were found."""
    frames_root = adapter.located.frames_root
    if adapter.has_sheet:
        source = f"sheet     {label}{adapter.located.sheet.as_posix()}"
    else:
        source = (f"clips     {label}{adapter.located.sheet.as_posix()} (no coding sheet: "
                  "one folder per clip)")
    return [source, f"frames    {label}{frames_root.as_posix() if frames_root else 'not found'}"]


def _split_text(ok: pd.DataFrame, split: SplitConfig) -> str:
    if split.protocol == "holdout":
        text = f"holdout (test_fraction {split.test_fraction:g}, seed {split.seed}"
        if split.validation_fraction > 0:
            text += f", validation_fraction {split.validation_fraction:g}"
        return text + ")"
    if split.protocol == "loso":
        return f"loso ({ok['subject'].nunique()} folds)"
    of_dataset = ok.groupby("dataset", sort=False)["split"].first()
    folds = sorted((s for s in of_dataset.unique() if s.startswith("fold")),
                   key=lambda s: int(s[4:]))
    tested = ", ".join(f"{fold} tests {of_dataset[of_dataset == fold].index[0]}"
                       for fold in folds)
    text = f"lodo ({len(folds)} fold{'s' if len(folds) != 1 else ''}: {tested}"
    trained_only = list(of_dataset[of_dataset == "train"].index)
    if trained_only:
        text += f"; trained on only: {', '.join(trained_only)}"
    return text + ")"


def _summary(
    manifest: pd.DataFrame, header: list[str], *, class_set: ClassSet, split: SplitConfig,
    datasets: Sequence[str] | None = None,
) -> str:
    statuses = manifest["status"].value_counts()
    ok = manifest[manifest["status"] == "ok"]
    lines = [
        *header,
        f"classes   {class_set.describe()}",
        f"split     {_split_text(ok, split)}",
        f"rows      {len(manifest)}: " + ", ".join(
            f"{s} {int(statuses.get(s, 0))}" for s in ("ok", "excluded", "failed")
        ),
        "",
    ]
    if datasets is not None:
        lines += _dataset_table(ok, datasets, class_set, lodo=split.protocol == "lodo")
    # Only a holdout has sides worth a column each; a fold per subject or dataset has not.
    sides = (
        sorted(ok["split"].unique(), key=lambda s: _SPLIT_ORDER.get(s, 9))
        if split.protocol == "holdout" else []
    )
    lines += _class_table(ok, class_set, sides)
    lines += _subject_lines(ok, sides)
    lines += _flagged_lines(manifest)
    return "\n".join(lines) + "\n"


def _class_table(ok: pd.DataFrame, class_set: ClassSet, sides: Sequence[str]) -> list[str]:
    """Usable clips of each class, per split side and in all."""
    width = max([len("class"), *map(len, class_set.classes)])
    lines = ["usable clips per class",
             f"  {'class':<{width}}  label" + "".join(f"  {s:>5}" for s in sides) + "  total"]
    for label, name in enumerate(class_set.classes):
        of_class = ok[ok["label"] == label]
        per_side = "".join(f"  {int((of_class['split'] == s).sum()):>5}" for s in sides)
        lines.append(f"  {name:<{width}}  {label:>5}{per_side}  {len(of_class):>5}")
    per_side = "".join(f"  {int((ok['split'] == s).sum()):>5}" for s in sides)
    lines.append(f"  {'total':<{width}}  {'':>5}{per_side}  {len(ok):>5}")
    return [*lines, ""]


def _subject_lines(ok: pd.DataFrame, sides: Sequence[str]) -> list[str]:
    """The subjects of each split side, then each subject's side and usable clips."""
    lines = []
    if sides:
        lines.append("subjects per split")
        for side in sides:
            people = sorted(ok.loc[ok["split"] == side, "subject"].unique(), key=natural_key)
            lines.append(f"  {side:<5}  {len(people):>3}  {', '.join(people)}")
        lines.append("")
    lines.append("usable clips per subject")
    subjects = sorted(ok["subject"].unique(), key=natural_key)
    subject_width = max([len("subject"), *map(len, subjects)])
    for subject in subjects:
        of_subject = ok[ok["subject"] == subject]
        lines.append(
            f"  {subject:<{subject_width}}  {of_subject['split'].iloc[0]:<6}  {len(of_subject):>4}"
        )
    return [*lines, ""]


def _flagged_lines(manifest: pd.DataFrame) -> list[str]:
    """The emotions outside the class set, counted, then every other row with a reason."""
    lines = []
    excluded = manifest[manifest["status"] == "excluded"]
    # Rows outside the class set by emotion are counted by emotion; rows the set leaves out
    # for another reason (no annotated apex) are listed with the flagged rows.
    by_emotion = excluded["reason"].str.startswith("emotion ")
    if by_emotion.any():
        counts = excluded.loc[by_emotion, "emotion"].replace("", "(blank)").value_counts()
        lines.append(
            "excluded emotions: " + ", ".join(f"{e} {n}" for e, n in counts.items())
        )
        lines.append("")
    flagged = manifest[(manifest["status"] == "failed") | (manifest["reason"] != "")]
    flagged = flagged[(flagged["status"] != "excluded")
                      | ~flagged["reason"].str.startswith("emotion ")]
    lines.append(f"flagged rows ({len(flagged)})")
    key_width = max([0, *map(len, flagged["key"])])
    for row in flagged.itertuples():
        lines.append(f"  {row.key:<{key_width}}  {row.status:<6}  {row.reason}")
    return lines


def _dataset_table(ok: pd.DataFrame, datasets: Sequence[str], class_set: ClassSet, *,
                   lodo: bool) -> list[str]:
    """Usable clips of each dataset per class, with its subjects (and its lodo fold)."""
    width = max([len("dataset"), len("total"), *map(len, datasets)])
    class_widths = [max(5, len(c)) for c in class_set.classes]
    split_head = "  split " if lodo else ""
    lines = ["usable clips per dataset",
             f"  {'dataset':<{width}}{split_head}  subjects"
             + "".join(f"  {c:>{w}}" for c, w in zip(class_set.classes, class_widths, strict=True))
             + "  total"]

    def line(name: str, rows: pd.DataFrame, side: str) -> str:
        counts = "".join(f"  {int((rows['label'] == k).sum()):>{w}}"
                         for k, w in enumerate(class_widths))
        side_text = f"  {side:<6}" if lodo else ""
        return (f"  {name:<{width}}{side_text}  {rows['subject'].nunique():>8}{counts}"
                f"  {len(rows):>5}")

    for name in datasets:
        rows = ok[ok["dataset"] == name]
        lines.append(line(name, rows, rows["split"].iloc[0] if len(rows) else ""))
    lines.append(line("total", ok, ""))
    return [*lines, ""]


def cli(argv: list[str] | None = None) -> int:
    """`attrmer prepare`: index a dataset into a manifest (optionally overriding data.*)."""
    parser = argparse.ArgumentParser(
        prog="attrmer prepare",
        description="Index a micro-expression dataset (as delivered) into manifest.csv and "
        "summary.txt.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--params", default="params.yaml",
                        help="params file (default: %(default)s)")
    parser.add_argument("--interim-dir", "--out", dest="interim_dir", default="data/interim",
                        help="where manifest.csv and summary.txt go (default: %(default)s)")
    parser.add_argument("--name", help=f"override data.name ({', '.join(DATASETS)}; or "
                        f"{', '.join(COMPOSITES)}, reading data.roots)")
    parser.add_argument("--root", help="override data.root: the dataset folder or its sheet")
    parser.add_argument("--classes",
                        help="override data.classes: a set name or comma-separated emotions")
    parser.add_argument("--max-clip-seconds", type=float, default=None,
                        help="override data.max_clip_seconds: clips longer than this fail")
    parser.add_argument("--force", action="store_true",
                        help="write into --interim-dir even when it holds files attrmer did "
                             "not write (manifest.csv and summary.txt are replaced)")
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
        prepare_dataset(params, Path(args.interim_dir), max_clip_seconds=args.max_clip_seconds,
                        force=args.force)
    except FolderNotOwnedError as exc:
        print(f"attrmer prepare: {exc}", file=sys.stderr)
        return EXIT_OUTPUT
    except (DatasetError, ConfigError) as exc:
        print(f"attrmer prepare: {exc}", file=sys.stderr)
        return EXIT_DATA
    return EXIT_OK


def _require_same_classes(class_sets: dict[str, ClassSet], spec: str | list[str]) -> None:
    """One network learns every dataset of a composite: their class lists must be one list."""
    (first, first_set), *others = class_sets.items()
    for name, class_set in others:
        if class_set.classes != first_set.classes:
            raise DatasetError(
                f"data.classes: {spec!r} gives {first} the classes "
                f"{', '.join(first_set.classes)} but {name} {', '.join(class_set.classes)}; the "
                "datasets of a composite need one class list (megc2019, or an explicit list of "
                "emotions every dataset's sheet writes)"
            )


def _require_known_test_datasets(split: SplitConfig, names: Sequence[str]) -> None:
    """split.test_datasets names datasets of the composite (checked before any is read)."""
    unknown = [d for d in split.test_datasets if d not in names]
    if unknown:
        raise DatasetError(f"split.test_datasets: {', '.join(map(repr, unknown))} is not a "
                           f"dataset of the composite (its datasets: {', '.join(names)})")


def _require_every_class(manifest: pd.DataFrame, class_set: ClassSet, where: str) -> None:
    """A class with no usable clip would shift every later label; refuse the class set."""
    present = set(manifest.loc[manifest["status"] == "ok", "label"])
    empty = [name for i, name in enumerate(class_set.classes) if i not in present]
    if empty:
        raise DatasetError(
            f"{where}: class set {class_set.name} has no usable clip of {', '.join(empty)}; "
            "choose data.classes without it"
        )


def _require_subjects(manifest: pd.DataFrame, where: str) -> None:
    ok = manifest[manifest["status"] == "ok"]
    if ok["subject"].nunique() < 2:
        raise DatasetError(
            f"{where}: usable clips come from {ok['subject'].nunique()} subject only; a "
            "subject-independent split needs at least 2"
        )


def _require_usable(manifest: pd.DataFrame, adapter: DatasetAdapter, *,
                    min_subjects: int = 2) -> None:
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
    if ok["subject"].nunique() < min_subjects:
        _require_subjects(manifest, sheet)


def _frame(value: int | None) -> int:
    return NO_FRAME if value is None else int(value)
