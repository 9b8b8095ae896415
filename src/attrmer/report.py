"""`attrmer report`: the paper's tables and figures from finished DVC experiments.

Reads every finished experiment (``dvc exp show --json``, or the same JSON from a file), turns
each into a flat record — params such as ``train.alpha`` and ``model.depth``, the metrics of
``metrics/summary.json`` and, where present, of the LBP-TOP and MDMO baselines — and writes:

- ``tables.md``: Table III (the method's accuracy, UF1 and UAR, mean ± std over seeds, with the
  baselines and the paper's published rows), Table IV (L_θ only versus the full loss), and the
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
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from attrmer.evaluate.plots import plot_alpha_sweep, plot_depth_comparison
from attrmer.evaluate.summary import dataset_label
from attrmer.io import atomic_path, write_json, write_text

SUMMARY_METRICS = "metrics/summary.json"
BASELINE_METRICS = {
    "lbptop": "metrics/baselines/lbptop.json",
    "mdmo": "metrics/baselines/mdmo.json",
}
BASELINE_NAMES = {"lbptop": "LBP-TOP (baseline)", "mdmo": "MDMO (baseline)"}
PARAMS_FILE = "params.yaml"
DEPTHS = (10, 18, 34)
PAPER_DEPTH = 10
DEFAULT_ALPHA = 0.5

# Keys that say where or how fast a run happened, not what it computed.
NOT_RESULT_KEYS = frozenset({
    "data.root", "preprocess.workers", "preprocess.gzip_level", "preprocess.aligned_gzip_level",
    "train.num_workers", "train.checkpoint", "train.channels_last",
})
# Keys that only matter to the attribute (text) branch: without it they change nothing.
TEXT_BRANCH_KEYS = frozenset({
    "train.alpha", "train.tau", "train.mask_same_text", "train.text_lr_scale",
    "model.text_model", "model.text_pooler", "attributes.intensity_words",
})
# The keys that make two results comparable at all: one table block per combination.
CONDITION_KEYS = (
    "data.name", "data.classes", "split.protocol", "split.test_fraction",
    "split.validation_fraction",
)
KIND_RANK = {"commit": 0, "workspace": 1, "experiment": 2}


@dataclass(frozen=True)
class ExperimentRecord:
    """One finished experiment: flat params, flat summary metrics, baselines' flat metrics."""

    name: str
    kind: str  # "commit", "workspace" or "experiment"
    rev: str
    timestamp: str | None
    params: dict[str, Any]
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    @property
    def attribute_branch(self) -> bool:
        return bool(self.params.get("train.attribute_branch", True))


# --------------------------------------------------------------------------------------------
# Collecting experiments


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"train": {"alpha": 0.5}} -> {"train.alpha": 0.5}; lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _file_data(files: Mapping[str, Any] | None, path: str) -> dict[str, Any] | None:
    entry = (files or {}).get(path)
    if not isinstance(entry, Mapping) or entry.get("error") or "data" not in entry:
        return None
    return entry["data"]


def _rev_entries(exp_show: Sequence[Mapping[str, Any]]) -> Iterable[tuple[str, Mapping]]:
    """(kind, entry) for the workspace, each commit and each experiment under a commit."""
    for top in exp_show:
        kind = "workspace" if top.get("rev") == "workspace" else "commit"
        yield kind, top
        for experiment in top.get("experiments") or []:
            # DVC 3 keeps one rev per experiment; older checkpoint runs list several, newest
            # first, and the newest is the result.
            revs = experiment.get("revs") or []
            if revs:
                yield "experiment", revs[0]


def parse_exp_show(
    exp_show: Sequence[Mapping[str, Any]],
    *,
    summary_path: str = SUMMARY_METRICS,
    params_file: str = PARAMS_FILE,
) -> tuple[list[ExperimentRecord], list[str]]:
    """Records of the finished experiments in `dvc exp show --json` output, and the names of
    those skipped because they have no summary metrics (queued, running or failed)."""
    if not isinstance(exp_show, list):
        raise ValueError("dvc exp show --json: expected a list of revisions at the top level")
    records, skipped = [], []
    for kind, entry in _rev_entries(exp_show):
        data = entry.get("data") or {}
        rev = str(entry.get("rev") or data.get("rev") or "")
        name = entry.get("name") or (rev[:7] if kind != "workspace" else "workspace")
        summary = _file_data(data.get("metrics"), summary_path)
        params = _file_data(data.get("params"), params_file)
        if summary is None or params is None or entry.get("error"):
            skipped.append(name)
            continue
        baselines = {}
        for baseline, path in BASELINE_METRICS.items():
            values = _file_data(data.get("metrics"), path)
            if values is not None:
                baselines[baseline] = flatten(values)
        records.append(ExperimentRecord(
            name=name, kind=kind, rev=rev, timestamp=data.get("timestamp"),
            params=flatten(params), metrics=flatten(summary), baselines=baselines,
        ))
    return _deduplicate(records), skipped


def _deduplicate(records: Sequence[ExperimentRecord]) -> list[ExperimentRecord]:
    """Drop repeats of one result (the workspace after `dvc exp apply`, for example), keeping
    the commit, else the experiment, over the workspace."""
    best: dict[str, ExperimentRecord] = {}
    # Unlike KIND_RANK, a named experiment beats the workspace here: after `dvc exp run` the
    # workspace holds a copy of the experiment's result, and its name is the informative one.
    order = {"commit": 0, "experiment": 1, "workspace": 2}
    for record in records:
        key = json.dumps([record.params, record.metrics, record.baselines], sort_keys=True)
        if key not in best or order[record.kind] < order[best[key].kind]:
            best[key] = record
    kept = set(map(id, best.values()))
    return [r for r in records if id(r) in kept]


def run_exp_show(repo: str | Path = ".", *, all_commits: bool = False) -> list[dict[str, Any]]:
    """`dvc exp show --json` in `repo`, parsed."""
    command = ["dvc", "exp", "show", "--json"] + (["--all-commits"] if all_commits else [])
    try:
        result = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise RuntimeError("dvc is not installed: pass --exp-json FILE instead") from None
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(command)}` failed in {repo}:\n{result.stderr.strip()}")
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"`{' '.join(command)}` printed no JSON: {exc}") from None


def load_paper_results() -> dict[str, Any]:
    """The paper's published numbers and their source (`attrmer/paper_results.yaml`)."""
    text = resources.files("attrmer").joinpath("paper_results.yaml").read_text()
    return yaml.safe_load(text)


# --------------------------------------------------------------------------------------------
# Describing a record's protocol


def _signature(record: ExperimentRecord, drop: Iterable[str] = ()) -> str:
    dropped = NOT_RESULT_KEYS | set(drop)
    kept = {k: v for k, v in record.params.items()
            if k not in dropped and not k.startswith("baselines.")}
    return json.dumps(kept, sort_keys=True)


def _condition(record: ExperimentRecord) -> str:
    return json.dumps([record.get(k) for k in CONDITION_KEYS])


def protocol_text(record: ExperimentRecord) -> str:
    if record.get("split.protocol") == "loso":
        folds = record.metrics.get("n_folds")
        return f"LOSO ({int(folds)} folds pooled)" if folds else "LOSO"
    test = float(record.get("split.test_fraction", 0.4))
    ratio = Fraction((1 - test) / test).limit_denominator(20)
    return f"holdout {ratio.numerator}:{ratio.denominator} by subject"


def classes_text(record: ExperimentRecord, metrics: Mapping[str, float] | None = None) -> str:
    metrics = record.metrics if metrics is None else metrics
    classes = record.get("data.classes", "paper")
    if not isinstance(classes, str):
        return f"custom: {', '.join(map(str, classes))}"
    label = classes
    names = [k[len("recall."):-len(".mean")] for k in metrics
             if k.startswith("recall.") and k.endswith(".mean")]
    count = metrics.get("n_classes")
    if count and len(names) == int(count):
        return f"{label}: {', '.join(names)}"
    return f"{label} ({int(count)} classes)" if count else label


def selection_text(record: ExperimentRecord) -> str:
    epochs = record.get("train.epochs")
    of_epochs = f" of {epochs}" if epochs is not None else ""
    validation = float(record.get("split.validation_fraction", 0.0) or 0.0)
    if validation > 0:
        return (f"best validation epoch{of_epochs} ({validation:.0%} of training subjects "
                "held out for validation)")
    return f"last epoch{of_epochs}"


def _dataset_cell(record: ExperimentRecord) -> str:
    name = record.get("data.name", "?")
    return f"{dataset_label(name)} ⚠" if name == "synthetic" else dataset_label(name)


def _percent(metrics: Mapping[str, float], metric: str) -> str:
    mean, std = metrics.get(f"{metric}.mean"), metrics.get(f"{metric}.std")
    if mean is None:
        return "—"
    return f"{100 * mean:.2f} ± {100 * std:.2f}" if std is not None else f"{100 * mean:.2f}"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


# --------------------------------------------------------------------------------------------
# Choosing records


def _preference(record: ExperimentRecord) -> tuple:
    """Sort key: the committed run first, then the workspace, then the newest experiment."""
    try:
        age = -datetime.fromisoformat(record.timestamp).timestamp() if record.timestamp else 0.0
    except ValueError:
        age = 0.0
    return (KIND_RANK[record.kind], age, record.name)


def headline(records: Sequence[ExperimentRecord]) -> ExperimentRecord | None:
    """The method's row of a condition: attribute branch on, the paper's depth, and among those
    the committed run, else the one at the default α, else the newest experiment."""
    full = [r for r in records if r.attribute_branch]
    if not full:
        return None
    def rank(record: ExperimentRecord) -> tuple:
        is_experiment = record.kind == "experiment"
        off_default = is_experiment and record.get("train.alpha") != DEFAULT_ALPHA
        return (record.get("model.depth") != PAPER_DEPTH, off_default, _preference(record))

    return min(full, key=rank)


def ablation_partner(records: Sequence[ExperimentRecord],
                     full: ExperimentRecord) -> ExperimentRecord | None:
    """The run without the attribute branch that equals `full` in everything else."""
    drop = TEXT_BRANCH_KEYS | {"train.attribute_branch"}
    target = _signature(full, drop)
    matches = [r for r in records if not r.attribute_branch and _signature(r, drop) == target]
    return min(matches, key=_preference) if matches else None


@dataclass
class Sweep:
    """One series of a figure: swept value -> the preferred run at that value."""

    points: dict[Any, ExperimentRecord] = field(default_factory=dict)

    def offer(self, key: Any, record: ExperimentRecord) -> None:
        if key not in self.points or _preference(record) < _preference(self.points[key]):
            self.points[key] = record


def depth_sweep(records: Sequence[ExperimentRecord],
                prefer: ExperimentRecord | None) -> dict[bool, dict[int, ExperimentRecord]]:
    """{attribute_branch: {depth: record}} of the largest set of runs that differ only in depth
    and attribute branch (runs without the branch ignore the text-branch keys)."""
    swept = {"model.depth", "train.attribute_branch"}
    # Each group: runs with the branch that agree on every other key, plus every run without
    # the branch that agrees with them on the keys a run without the branch has any use for.
    groups: dict[str, tuple[str, dict[bool, Sweep]]] = {}
    for record in sorted(records, key=lambda r: not r.attribute_branch):
        if record.get("model.depth") is None:
            continue
        reduced = _signature(record, swept | TEXT_BRANCH_KEYS)
        if record.attribute_branch:
            key = _signature(record, swept)
            groups.setdefault(key, (reduced, {True: Sweep(), False: Sweep()}))
            groups[key][1][True].offer(record.get("model.depth"), record)
            continue
        homes = [sweeps for r, sweeps in groups.values() if r == reduced]
        if not homes:
            homes = [groups.setdefault(f"without branch {reduced}",
                                       (reduced, {True: Sweep(), False: Sweep()}))[1]]
        for sweeps in homes:
            sweeps[False].offer(record.get("model.depth"), record)
    candidates = [{b: s.points for b, s in sweeps.items()} for _, sweeps in groups.values()]
    return _largest(
        candidates,
        spread=lambda g: len(set(g[True]) | set(g[False])),
        size=lambda g: len(g[True]) + len(g[False]),
        members=lambda g: [*g[True].values(), *g[False].values()],
        prefer=prefer,
    )


def alpha_sweep(records: Sequence[ExperimentRecord],
                prefer: ExperimentRecord | None) -> dict[float, ExperimentRecord]:
    """{alpha: record} of the largest set of runs with the branch that differ only in α."""
    groups: dict[str, Sweep] = {}
    for record in records:
        if record.attribute_branch and record.get("train.alpha") is not None:
            key = _signature(record, {"train.alpha"})
            groups.setdefault(key, Sweep()).offer(float(record.get("train.alpha")), record)
    return _largest([g.points for g in groups.values()], spread=len, size=len,
                    members=lambda g: list(g.values()), prefer=prefer)


def _largest(groups: list, *, spread, size, members,
             prefer: ExperimentRecord | None) -> Any:
    """The group with the most distinct sweep values, then the most runs, then the one holding
    `prefer` (the headline run); empty when no group spans two values."""
    candidates = [g for g in groups if spread(g) >= 2]
    if not candidates:
        return {}
    return max(candidates, key=lambda g: (spread(g), size(g),
                                          any(r is prefer for r in members(g))))


# --------------------------------------------------------------------------------------------
# Writing the report


@dataclass
class Condition:
    """Runs whose numbers may share a table: same dataset, classes, protocol and selection."""

    slug: str
    records: list[ExperimentRecord]

    @property
    def sample(self) -> ExperimentRecord:
        return self.records[0]

    @property
    def dataset(self) -> str:
        return self.sample.get("data.name", "?")

    @property
    def synthetic(self) -> bool:
        return self.dataset == "synthetic"

    @property
    def title(self) -> str:
        text = f"{dataset_label(self.dataset)}, {protocol_text(self.sample)}"
        classes = self.sample.get("data.classes", "paper")
        text += f", classes: {classes if isinstance(classes, str) else ', '.join(classes)}"
        return text


def group_conditions(records: Sequence[ExperimentRecord]) -> list[Condition]:
    grouped: dict[str, list[ExperimentRecord]] = {}
    for record in records:
        grouped.setdefault(_condition(record), []).append(record)
    conditions, used = [], set()
    for members in sorted(grouped.values(), key=lambda m: _condition(m[0])):
        first = members[0]
        classes = first.get("data.classes", "paper")
        parts = [first.get("data.name", "unknown"), first.get("split.protocol", "holdout"),
                 classes if isinstance(classes, str) else "custom"]
        if float(first.get("split.validation_fraction", 0) or 0) > 0:
            parts.append("val")
        slug = "_".join(str(p) for p in parts)
        base, n = slug, 2
        while slug in used:
            slug, n = f"{base}_{n}", n + 1
        used.add(slug)
        conditions.append(Condition(slug, list(members)))
    return conditions


SYNTHETIC_NOTE = (
    "⚠ Rows and figures marked ⚠ are on attrmer's built-in synthetic data: they check that the "
    "pipeline runs end to end and are **not comparable to the paper's numbers**."
)


def _paper_rows(paper: Mapping[str, Any], table: str) -> list[list[str]]:
    protocol = paper["protocol"]
    source = paper["source"]["reference"]
    rows = []
    for dataset in paper["datasets"].values():
        selection = f"{protocol['model_selection']}; {protocol['epochs']} epochs"
        common = [protocol["split"], ", ".join(dataset["classes"]), protocol["runs"], selection]
        if table == "III":
            values = dataset["table3"]
            accuracy = f"{values['accuracy_mean']:.2f} ± {values['accuracy_std']:.2f}"
            rows.append([dataset["label"], "paper (published)", source, accuracy, "—", "—",
                         *common])
        else:
            rows.append([dataset["label"], "paper: 3D-ResNet only (L_θ)", f"{source}, Table IV",
                         f"{dataset['table4']['l_theta_only_accuracy']:.2f}", "—", "—", *common])
            full = dataset["table3"]
            rows.append([dataset["label"], "paper: full loss", f"{source}, Table III",
                         f"{full['accuracy_mean']:.2f} ± {full['accuracy_std']:.2f}", "—", "—",
                         *common])
    return rows


def _row(record: ExperimentRecord, method: str, metrics: Mapping[str, float],
         selection: str | None = None) -> list[Any]:
    seeds = metrics.get("n_seeds")
    return [
        _dataset_cell(record), method, f"`{record.name}`",
        _percent(metrics, "accuracy"), _percent(metrics, "uf1"), _percent(metrics, "uar"),
        protocol_text(record), classes_text(record, metrics),
        int(seeds) if seeds is not None else "?", selection or selection_text(record),
    ]


HEADER = ["Dataset", "Method", "Experiment or source", "Accuracy (%)", "UF1 (%)", "UAR (%)",
          "Protocol", "Classes", "Seeds", "Model selection"]


def _method_name(record: ExperimentRecord) -> str:
    name = f"attrmer, 3D-ResNet-{record.get('model.depth')}"
    if record.attribute_branch:
        return f"{name}, full loss (α = {record.get('train.alpha')})"
    return f"{name} only (L_θ)"


def _table3(conditions: Sequence[Condition], paper: Mapping[str, Any]) -> list[str]:
    lines = ["## Table III — recognition accuracy", "",
             "Mean ± std over seeds (sample std, ddof = 1). UF1 and UAR are unweighted means "
             "over classes; under LOSO every metric is computed on all folds' predictions "
             "pooled.", ""]
    rows, missing = [], []
    for condition in conditions:
        best = headline(condition.records)
        if best is None:
            missing.append(f"- {condition.title}: no run with the attribute branch "
                           "(`train.attribute_branch: true`).")
            continue
        rows.append(_row(best, _method_name(best), best.metrics))
        for baseline, values in best.baselines.items():
            rows.append(_row(best, BASELINE_NAMES.get(baseline, baseline), values,
                             selection="SVM C by cross-validation on the training subjects"))
        if not best.baselines:
            missing.append(f"- {condition.title}: no LBP-TOP/MDMO baseline metrics "
                           f"({', '.join(BASELINE_METRICS.values())}) in `{best.name}`.")
    rows += _paper_rows(paper, "III")
    lines += _table(HEADER, rows)
    if missing:
        lines += ["", "Not available:", *missing]
    lines += ["", _paper_note(paper, "Table III")]
    return lines


def _paper_note(paper: Mapping[str, Any], table: str) -> str:
    source = paper["source"]
    return (f"Paper rows: {table} of {source['authors']}, “{source['title']}”, "
            f"{source['reference']}. The paper does not state how the model was selected; "
            "its other comparison rows are not reproduced here.")


def _table4(conditions: Sequence[Condition], paper: Mapping[str, Any]) -> list[str]:
    lines = ["## Table IV — ablation: 3D-ResNet only (L_θ) versus the full loss", ""]
    rows, missing = [], []
    for condition in conditions:
        full = headline(condition.records)
        partner = ablation_partner(condition.records, full) if full else None
        if full is None or partner is None:
            missing.append(
                f"- {condition.title}: needs two runs that differ only in "
                "`train.attribute_branch` (e.g. `dvc exp run -S train.attribute_branch=false`)."
            )
            continue
        rows.append(_row(partner, _method_name(partner), partner.metrics))
        rows.append(_row(full, _method_name(full), full.metrics))
    rows += _paper_rows(paper, "IV")
    lines += _table(HEADER, rows)
    if missing:
        lines += ["", "Not available:", *missing]
    return lines


def _figure_title(condition: Condition, figure: str) -> str:
    title = f"{figure} — {condition.title}"
    if condition.synthetic:
        title += "\nbuilt-in synthetic data: not comparable to the paper"
    return title


def _paper_reference(paper: Mapping[str, Any], dataset: str,
                     ablation: bool) -> dict[str, float]:
    published = paper["datasets"].get(dataset)
    if published is None:
        return {}
    reference = {f"paper, 3D-ResNet-10 full loss (Table III): "
                 f"{published['table3']['accuracy_mean']}":
                 published["table3"]["accuracy_mean"]}
    if ablation:
        value = published["table4"]["l_theta_only_accuracy"]
        reference[f"paper, 3D-ResNet-10 L_θ only (Table IV): {value}"] = value
    return reference


def _mean_std(record: ExperimentRecord, metric: str = "accuracy") -> tuple[float, float]:
    return (100 * record.metrics.get(f"{metric}.mean", float("nan")),
            100 * record.metrics.get(f"{metric}.std", 0.0))


DEPTH_MISSING = (
    "Not available: no runs that differ only in `model.depth` (and `train.attribute_branch`). "
    "To produce it:", "",
    "```",
    "for depth in 10 18 34; do for branch in true false; do",
    "  dvc exp run --queue -S model.depth=$depth -S train.attribute_branch=$branch",
    "done; done",
    "dvc queue start",
    "```", "",
)
ALPHA_MISSING = (
    "Not available: no runs with the attribute branch that differ only in `train.alpha`. "
    "To produce it:", "",
    "```",
    "for alpha in 0.0 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 1.0; do",
    "  dvc exp run --queue -S train.alpha=$alpha",
    "done",
    "dvc queue start",
    "```", "",
)


def _depth_section(condition: Condition, paper: Mapping[str, Any], out: Path) -> list[str]:
    lines = [f"### {condition.title}{' ⚠' if condition.synthetic else ''}", ""]
    sweep = depth_sweep(condition.records, headline(condition.records))
    if not sweep:
        return [*lines, *DEPTH_MISSING]
    labels = {False: "without attribute branch (L_θ)", True: "with attribute branch (full loss)"}
    series = {labels[b]: {d: _mean_std(r) for d, r in sweep[b].items()} for b in (False, True)}
    png = out / "figures" / f"depth_{condition.slug}.png"
    plot_depth_comparison(
        series, png, title=_figure_title(condition, "Fig. 2/3: 3D-ResNet depth"),
        depths=DEPTHS,
        reference=None if condition.synthetic else _paper_reference(paper, condition.dataset,
                                                                    True),
    )
    csv_lines = ["depth,without_attribute_branch,without_attribute_branch_std,"
                 "with_attribute_branch,with_attribute_branch_std"]
    rows = []
    for depth in DEPTHS:
        cells, csv_cells = [depth], [str(depth)]
        for branch in (False, True):
            record = sweep[branch].get(depth)
            if record is None:
                cells.append("not run")
                csv_cells += ["", ""]
            else:
                mean, std = _mean_std(record)
                cells.append(f"{_percent(record.metrics, 'accuracy')} "
                             f"(UF1 {_percent(record.metrics, 'uf1')}; `{record.name}`)")
                csv_cells += [f"{mean:.4f}", f"{std:.4f}"]
        rows.append(cells)
        csv_lines.append(",".join(csv_cells))
    write_text(out / "plots" / "depth" / f"{condition.slug}.csv", "\n".join(csv_lines) + "\n")
    lines += _table(["Depth", f"Accuracy (%) {labels[False]}", f"Accuracy (%) {labels[True]}"],
                    rows)
    sample = next(iter(sweep[True].values()), None) or next(iter(sweep[False].values()))
    lines += ["", f"Seeds: {int(sample.metrics.get('n_seeds', 0))}; model selection: "
              f"{selection_text(sample)}. Figure: `figures/{png.name}`; data for `dvc plots`: "
              f"`plots/depth/{condition.slug}.csv`.", ""]
    return lines


def _alpha_section(condition: Condition, paper: Mapping[str, Any], out: Path) -> list[str]:
    lines = [f"### {condition.title}{' ⚠' if condition.synthetic else ''}", ""]
    full = headline(condition.records)
    sweep = alpha_sweep(condition.records, full)
    if not sweep:
        return [*lines, *ALPHA_MISSING]
    reference = {} if condition.synthetic else _paper_reference(paper, condition.dataset, False)
    sample = next(iter(sweep.values()))
    partner = ablation_partner(condition.records, sample)
    if partner is not None:
        accuracy = _mean_std(partner)[0]
        reference[f"attrmer, L_θ only ({partner.name}): {accuracy:.1f}"] = accuracy
    png = out / "figures" / f"alpha_{condition.slug}.png"
    plot_alpha_sweep({a: _mean_std(r) for a, r in sweep.items()}, png,
                     title=_figure_title(condition, "Fig. 4: weight α of the contrastive loss"),
                     reference=reference)
    csv_lines = ["alpha,accuracy,accuracy_std,uf1,uar"]
    rows = []
    for alpha in sorted(sweep):
        record = sweep[alpha]
        mean, std = _mean_std(record)
        csv_lines.append(f"{alpha:g},{mean:.4f},{std:.4f},{_mean_std(record, 'uf1')[0]:.4f},"
                         f"{_mean_std(record, 'uar')[0]:.4f}")
        rows.append([f"{alpha:g}", _percent(record.metrics, "accuracy"),
                     _percent(record.metrics, "uf1"), _percent(record.metrics, "uar"),
                     f"`{record.name}`"])
    write_text(out / "plots" / "alpha" / f"{condition.slug}.csv", "\n".join(csv_lines) + "\n")
    lines += _table(["α", "Accuracy (%)", "UF1 (%)", "UAR (%)", "Experiment"], rows)
    lines += ["", f"3D-ResNet-{sample.get('model.depth')}; seeds: "
              f"{int(sample.metrics.get('n_seeds', 0))}; model selection: "
              f"{selection_text(sample)}. Figure: `figures/{png.name}`; data for `dvc plots`: "
              f"`plots/alpha/{condition.slug}.csv`.", ""]
    return lines


def write_report(
    records: Sequence[ExperimentRecord],
    out_dir: str | Path,
    *,
    paper: Mapping[str, Any] | None = None,
    skipped: Sequence[str] = (),
    source: str = "dvc exp show",
) -> Path:
    """Write tables.md, figures/, plots/ and experiments.json into `out_dir` (replaced whole).

    Returns the path of tables.md.
    """
    paper = paper if paper is not None else load_paper_results()
    out_dir = Path(out_dir)
    with atomic_path(out_dir, directory=True) as tmp:
        conditions = group_conditions(records)
        lines = ["# attrmer: the paper's tables and figures", "",
                 f"Made from {len(records)} finished experiment(s) read from {source}."]
        if skipped:
            lines.append(f"Skipped {len(skipped)} without `{SUMMARY_METRICS}` (not run yet, "
                         f"queued, running or failed): {', '.join(f'`{s}`' for s in skipped)}.")
        datasets = sorted({dataset_label(c.dataset) for c in conditions})
        lines += ["", f"Datasets: {', '.join(datasets) if datasets else 'none'}.", ""]
        if any(c.synthetic for c in conditions):
            lines += [SYNTHETIC_NOTE, ""]
        if not conditions:
            lines += ["No finished experiments with a summary: run `dvc repro` (or "
                      "`dvc exp run`) first.", ""]
        lines += [*_table3(conditions, paper), ""]
        lines += [*_table4(conditions, paper), ""]
        lines += ["## Fig. 2 and Fig. 3 — depth of the 3D-ResNet, without and with the "
                  "attribute branch", "", f"Paper: {paper['figures']['depth']}", ""]
        for condition in conditions:
            lines += _depth_section(condition, paper, tmp)
        lines += ["## Fig. 4 — weight α of the cross-modal contrastive loss", "",
                  f"Paper: {paper['figures']['alpha']}", ""]
        for condition in conditions:
            lines += _alpha_section(condition, paper, tmp)
        write_text(tmp / "tables.md", "\n".join(lines).rstrip() + "\n")
        write_json(tmp / "experiments.json", [asdict(r) for r in records])
    return out_dir / "tables.md"


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="attrmer report",
        description="Write the paper's tables (Markdown) and figures (PNG and dvc plots data) "
                    "from finished DVC experiments.",
    )
    parser.add_argument("--exp-json", type=Path,
                        help="read this `dvc exp show --json` output instead of running dvc")
    parser.add_argument("--out", type=Path, default=Path("reports"),
                        help="output folder, replaced whole (default: reports)")
    parser.add_argument("--repo", type=Path, default=Path("."),
                        help="the DVC repository to ask (default: the current folder)")
    parser.add_argument("--all-commits", action="store_true",
                        help="include experiments of every commit, not only of HEAD")
    parser.add_argument("--summary", default=SUMMARY_METRICS,
                        help=f"the metrics file of the method (default: {SUMMARY_METRICS})")
    args = parser.parse_args(argv)
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
    except (RuntimeError, ValueError) as exc:
        print(f"attrmer report: {exc}", file=sys.stderr)
        return 1
    tables = write_report(records, args.out, skipped=skipped, source=source)
    print(f"attrmer report: {len(records)} experiment(s) -> {tables}")
    return 0
