"""Writing the report: Table III and IV, the depth and α sections with their figures, and
the paired comparisons, into one folder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from attrmer.baselines import DEEP, FIDELITY, REFERENCES
from attrmer.evaluate.plots import plot_alpha_sweep, plot_depth_comparison
from attrmer.evaluate.summary import BEST_EPOCH_ON_TEST, BEST_ON_TEST_KEY, dataset_label
from attrmer.io import owned_folder, write_json, write_text
from attrmer.report.records import (
    BASELINE_METRICS_DIR,
    DEPTHS,
    PAPER_DEPTH,
    SUMMARY_METRICS,
    ExperimentRecord,
    baseline_title,
    classes_text,
    dataset_cell,
    load_paper_results,
    markdown_table,
    percent_cell,
    protocol_text,
    selection_text,
)
from attrmer.report.selection import (
    Condition,
    ablation_partner,
    alpha_sweep,
    depth_sweep,
    group_conditions,
    headline,
)
from attrmer.report.statistics import compare, unpaired_reason

# --------------------------------------------------------------------------------------------
# Writing the report


# What a report writes: a folder holding only these is an earlier report (see attrmer.io).
REPORT_ENTRIES = frozenset({"tables.md", "experiments.json", "figures", "plots"})

SYNTHETIC_NOTE = (
    "⚠ Rows and figures marked ⚠ are on attrmer's built-in synthetic data: they check that the "
    "pipeline runs end to end and are **not comparable to the paper's numbers**."
)


def _paper_rows(paper: Mapping[str, Any], table: str) -> list[list[str]]:
    protocol = paper["protocol"]
    source = paper["source"]["reference"]
    rows = []
    for key, dataset in paper["datasets"].items():
        selection = f"{protocol['model_selection']}; {protocol['epochs']} epochs"
        common = [protocol["split"], ", ".join(dataset["classes"]), protocol["runs"], selection]
        if table == "III":
            values = dataset["table3"]
            accuracy = f"{values['accuracy_mean']:.2f} ± {values['accuracy_std']:.2f}"
            rows.append([dataset["label"], "paper (published)", "—", source, accuracy, "—",
                         "—", "—", *common])
            rows += _copied_rows(paper, key, dataset["label"])
        else:
            rows.append([dataset["label"], "paper: 3D-ResNet only (L_θ)", "—",
                         f"{source}, Table IV",
                         f"{dataset['table4']['l_theta_only_accuracy']:.2f}", "—", "—", "—",
                         *common])
            full = dataset["table3"]
            rows.append([dataset["label"], "paper: full loss", "—", f"{source}, Table III",
                         f"{full['accuracy_mean']:.2f} ± {full['accuracy_std']:.2f}", "—", "—",
                         "—", *common])
    return rows


def _copied_rows(paper: Mapping[str, Any], dataset: str, label: str) -> list[list[str]]:
    """The paper's Table III rows for the methods it compares with, marked as copied: the
    paper took them from other work, so they carry no protocol of the paper's own."""
    rows = []
    for entry in paper.get("table3_compared", []):
        values = entry.get(dataset)
        if values is None:
            continue
        where = f"{paper['source']['reference']}, Table III"
        if entry.get("cited"):
            where += f"; from {entry['cited']}"
        rows.append([label, f"{entry['method']} (copied by the paper)", "—", where,
                     f"{values['accuracy_mean']:.2f} ± {values['accuracy_std']:.2f}", "—", "—",
                     "—", "not stated (copied from other work)", "—", "—", "—"])
    return rows


def _row(record: ExperimentRecord, method: str, metrics: Mapping[str, float],
         selection: str | None = None, implementation: str = "—") -> list[Any]:
    seeds = metrics.get("n_seeds")
    return [
        dataset_cell(record), method, implementation, f"`{record.name}`",
        percent_cell(metrics, "accuracy"), percent_cell(metrics, "uf1"),
        percent_cell(metrics, "uar"), best_on_test_cell(metrics),
        protocol_text(record), classes_text(record, metrics),
        int(seeds) if seeds is not None else "?", selection or selection_text(record),
    ]


def best_on_test_cell(metrics: Mapping[str, float]) -> str:
    """Accuracy / UF1 (%) at the epoch best on the test side, or — for a method without
    epochs (or a run from before the figure was kept)."""
    accuracy = metrics.get(f"{BEST_ON_TEST_KEY}.accuracy.mean")
    f1 = metrics.get(f"{BEST_ON_TEST_KEY}.uf1.mean")
    if accuracy is None or f1 is None:
        return "—"
    return f"{100 * accuracy:.2f} / {100 * f1:.2f}"


def implementation_cell(name: str) -> str:
    """"faithful: what differs" for a baseline (attrmer.baselines.FIDELITY)."""
    kind, differs = FIDELITY.get(name, ("not described", ""))
    return f"{kind}: {differs}" if differs else kind


HEADER = ["Dataset", "Method", "Implementation", "Experiment or source", "Accuracy (%)",
          "UF1 (%)", "UAR (%)", f"Acc. / UF1 (%), {BEST_EPOCH_ON_TEST}", "Protocol",
          "Classes", "Seeds", "Model selection"]


# How a baseline's row was selected: {is a deep baseline: text}.
BASELINE_SELECTION = {
    False: "SVM C by cross-validation on the training subjects",
    True: "the epoch of best UF1 on the validation subjects",
}


def other_split(baseline: Mapping[str, float], method: Mapping[str, float]) -> str:
    """How a baseline's test side differs from the method's ("" when it does not)."""
    differences = [f"{key} {baseline[key]:g}, not {method[key]:g}"
                   for key in ("n_test", "n_classes", "n_folds")
                   if key in baseline and key in method and baseline[key] != method[key]]
    return "; ".join(differences)


def _method_name(record: ExperimentRecord) -> str:
    name = f"attrmer, 3D-ResNet-{record.get('model.depth')}"
    if record.attribute_branch:
        return f"{name}, full loss (α = {record.get('train.alpha')})"
    return f"{name} only (L_θ)"


def published_references(paper: Mapping[str, Any]) -> list[tuple[Mapping, Mapping]]:
    """(entry, figure) for every published figure of today's reference points in the paper
    results (`references`): copied figures, never runs of attrmer."""
    return [(entry, figure) for entry in paper.get("references") or []
            for figure in entry["figures"]]


def figure_cell(figure: Mapping[str, Any], key: str) -> str:
    """A copied figure as it was published (its own precision), or — when not given."""
    return f"{figure[key]:g}" if key in figure else "—"


def _measured_rows(condition: Condition, best: ExperimentRecord, *,
                   references: bool) -> tuple[list[list[Any]], list[str]]:
    """The row of the headline run `best`, then those of the baselines measured beside it
    (Table III's, or with `references` today's reference points), and the lines saying what
    is not available."""
    rows = [_row(best, _method_name(best), best.metrics, implementation="this implementation")]
    missing = []
    for baseline, values in best.baselines.items():
        if (baseline in REFERENCES) != references:
            continue
        other = other_split(values, best.metrics)
        if other:
            # The deep baselines' pipeline (baselines/dvc.yaml) is not re-run by `dvc exp
            # run`: an experiment on other data carries the workspace's figures.
            missing.append(f"- {condition.title}: {baseline_title(baseline)} in "
                           f"`{best.name}` was measured on another split ({other}); run "
                           "`dvc repro baselines/dvc.yaml` on this one.")
            continue
        rows.append(_row(best, baseline_title(baseline), values,
                         selection=BASELINE_SELECTION[baseline in DEEP],
                         implementation=implementation_cell(baseline)))
    return rows, missing


def _table3(conditions: Sequence[Condition], paper: Mapping[str, Any]) -> list[str]:
    lines = ["## Table III — recognition accuracy", "",
             "Mean ± std over seeds (sample std, ddof = 1). UF1 and UAR are unweighted means "
             "over classes; under LOSO every metric is computed on all folds' predictions "
             "pooled.", "", BEST_ON_TEST_NOTE, ""]
    rows, missing, notes = [], [], []
    for condition in conditions:
        best = headline(condition.records)
        if best is None:
            missing.append(f"- {condition.title}: no run with the attribute branch "
                           "(`train.attribute_branch: true`).")
            continue
        measured, absent = _measured_rows(condition, best, references=False)
        rows += measured
        missing += absent
        branch = attribute_branch_note(condition, best)
        if branch:
            notes.append(branch)
        if not best.baselines:
            missing.append(f"- {condition.title}: no baseline metrics "
                           f"(`{BASELINE_METRICS_DIR}/<name>.json`) in `{best.name}`.")
    rows += _paper_rows(paper, "III")
    lines += markdown_table(HEADER, rows)
    if missing:
        lines += ["", "Not available:", *missing]
    if notes:
        lines += ["", "The attribute branch learns from clips with AU codes only:", *notes]
    lines += ["", _paper_note(paper, "Table III")]
    return lines


def attribute_branch_note(condition: Condition, best: ExperimentRecord) -> str | None:
    """A line when the headline run `best`'s attribute branch trained on fewer clips than the
    video network (clips without AU codes, e.g. SMIC's, leave its losses), else None."""
    coded = best.metrics.get("attribute_branch.clips_with_au_codes")
    clips = best.metrics.get("attribute_branch.training_clips")
    if coded is None or clips is None or coded >= clips:
        return None
    if coded == 0:
        return (f"- {condition.title}: no training clip has AU codes: the attribute branch "
                f"did not train, and `{best.name}` is the video network alone (its "
                "cross-entropy at 1 − α of its rate).")
    return (f"- {condition.title}: `{best.name}` trained the attribute branch on {coded:g} of "
            f"its {clips:g} training clips (mean over folds); the others have no AU codes.")


BEST_ON_TEST_NOTE = (
    f"The column “{BEST_EPOCH_ON_TEST}” is the test side scored at the epoch that does best on "
    "it, each fold apart (by the rule each method selects by on validation: accuracy, ties to "
    "the lower loss, for the method; UF1 for the deep baselines): the selection many published "
    "codes make, shown for comparison with published figures only. It is computed after "
    "training from per-epoch test predictions that nothing else reads; every other figure "
    "comes from the epoch chosen on validation subjects.")


def _references(conditions: Sequence[Condition], paper: Mapping[str, Any]) -> list[str]:
    """Today's reference points (attrmer.baselines.REFERENCES) on the same split, with the
    figures their authors and a later re-evaluation published, marked copied."""
    lines = ["## References — today's reference points on the same split", ""]
    rows, missing = [], []
    for condition in conditions:
        best = headline(condition.records)
        if best is None:
            continue
        measured, absent = _measured_rows(condition, best, references=True)
        rows += measured
        missing += absent
        if len(measured) == 1 and not absent:
            missing.append(f"- {condition.title}: none measured in `{best.name}` (`dvc repro "
                           "baselines/dvc.yaml`).")
    for entry, figure in published_references(paper):
        rows.append([entry["dataset"], f"{entry['method']} (copied)", "—", figure["source"],
                     "—", figure_cell(figure, "uf1"), figure_cell(figure, "uar"), "—",
                     entry["protocol"], entry["classes"], "—", figure["selection"]])
    lines += markdown_table(HEADER, rows)
    if missing:
        lines += ["", "Not available:", *missing]
    lines += ["", "Rows marked “(copied)” are published figures on the MEGC 2019 composite "
              "(leave-one-subject-out over SMIC, CASME II and SAMM, three classes), not runs "
              "of this project, and not comparable with the built-in data's rows."]
    return lines


def _paper_note(paper: Mapping[str, Any], table: str) -> str:
    source = paper["source"]
    note = (f"Paper rows: {table} of {source['authors']}, “{source['title']}”, "
            f"{source['reference']}. The paper does not state how the model was selected.")
    if paper.get("table3_compared") and table == "Table III":
        note += (" Rows marked “copied by the paper” are the figures the paper gives for the "
                 "methods it compares with, taken from other work: not obtained under the "
                 "paper's protocol, nor comparable with the rows of our own runs.")
    return note


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
    lines += markdown_table(HEADER, rows)
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
                cells.append(f"{percent_cell(record.metrics, 'accuracy')} "
                             f"(UF1 {percent_cell(record.metrics, 'uf1')}; `{record.name}`)")
                csv_cells += [f"{mean:.4f}", f"{std:.4f}"]
        rows.append(cells)
        csv_lines.append(",".join(csv_cells))
    write_text(out / "plots" / "depth" / f"{condition.slug}.csv", "\n".join(csv_lines) + "\n")
    lines += markdown_table(
        ["Depth", f"Accuracy (%) {labels[False]}", f"Accuracy (%) {labels[True]}"], rows)
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
        rows.append([f"{alpha:g}", percent_cell(record.metrics, "accuracy"),
                     percent_cell(record.metrics, "uf1"), percent_cell(record.metrics, "uar"),
                     f"`{record.name}`"])
    write_text(out / "plots" / "alpha" / f"{condition.slug}.csv", "\n".join(csv_lines) + "\n")
    lines += markdown_table(["α", "Accuracy (%)", "UF1 (%)", "UAR (%)", "Experiment"], rows)
    lines += ["", f"3D-ResNet-{sample.get('model.depth')}; seeds: "
              f"{int(sample.metrics.get('n_seeds', 0))}; model selection: "
              f"{selection_text(sample)}. Figure: `figures/{png.name}`; data for `dvc plots`: "
              f"`plots/alpha/{condition.slug}.csv`.", ""]
    return lines


def comparison_pairs(condition: Condition) -> list[tuple[str, ExperimentRecord,
                                                         ExperimentRecord]]:
    """(what is compared, first, second) for every setting the tables vary: the attribute
    branch, each α against the headline's α, each depth against the paper's depth."""
    pairs = []
    full = headline(condition.records)
    if full is None:
        return pairs
    partner = ablation_partner(condition.records, full)
    if partner is not None:
        pairs.append(("attribute branch: with − without", full, partner))
    alphas = alpha_sweep(condition.records, full)
    reference_alpha = full.get("train.alpha")
    base = alphas.get(float(reference_alpha)) if reference_alpha is not None else None
    if base is not None:
        for alpha in sorted(alphas):
            if alphas[alpha] is not base:
                pairs.append((f"α = {alpha:g} − α = {float(reference_alpha):g}",
                              alphas[alpha], base))
    depths = depth_sweep(condition.records, full)
    for branch, series in depths.items():
        base = series.get(PAPER_DEPTH)
        for depth in sorted(series):
            if base is not None and depth != PAPER_DEPTH:
                label = "with" if branch else "without"
                pairs.append((f"depth {depth} − depth {PAPER_DEPTH} ({label} attribute branch)",
                              series[depth], base))
    return pairs


def comparison_rows(label: str, a: ExperimentRecord, b: ExperimentRecord) -> list[str]:
    """One table row: the compared runs and their paired differences, or why there are none."""
    reason = unpaired_reason(a, b)
    if reason is not None:
        return [label, f"`{a.name}`", f"`{b.name}`", "—", "—", "—", f"not paired: {reason}"]
    differences = compare(a, b)
    accuracy = differences["accuracy"]
    return [label, f"`{a.name}`", f"`{b.name}`", str(accuracy.n),
            *(differences[m].figure() if m in differences else "—"
              for m in ("accuracy", "uf1")),
            accuracy.verdict]


def comparisons_section(conditions: Sequence[Condition]) -> list[str]:
    lines = ["## Paired comparisons — same split, same seeds", "",
             "Each row is the seed-by-seed difference first − second in percentage points, "
             "its mean and 95% Student-t interval over the seeds both runs have; the verdict "
             "is on accuracy, and an interval that covers 0 reads \"not distinguishable\". "
             "The interval measures retraining on this split only, not the choice of test "
             "subjects.", ""]
    rows = []
    for condition in conditions:
        for label, a, b in comparison_pairs(condition):
            rows.append([f"{condition.title}: {label}", *comparison_rows(label, a, b)[1:]])
    if not rows:
        return [*lines, "No two runs that differ in one compared setting (attribute branch, "
                "α, depth) on the same split. Run, e.g., `dvc exp run -S "
                "train.attribute_branch=false`.", ""]
    return [*lines, *markdown_table(
        ["Comparison", "First", "Second", "Seeds", "Δ accuracy (points, 95% CI)",
         "Δ UF1 (points, 95% CI)", "Verdict (accuracy)"], rows), ""]


def write_report(
    records: Sequence[ExperimentRecord],
    out_dir: str | Path,
    *,
    paper: Mapping[str, Any] | None = None,
    skipped: Sequence[str] = (),
    source: str = "dvc exp show",
    force: bool = False,
) -> Path:
    """Write tables.md, figures/, plots/ and experiments.json into `out_dir` (replaced whole).

    Returns the path of tables.md. A folder holding other files is refused
    (FolderNotOwnedError) unless `force`.
    """
    paper = paper if paper is not None else load_paper_results()
    out_dir = Path(out_dir)
    with owned_folder(out_dir, command="attrmer report", force=force,
                      own_names=REPORT_ENTRIES) as tmp:
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
        lines += [*_references(conditions, paper), ""]
        lines += ["## Fig. 2 and Fig. 3 — depth of the 3D-ResNet, without and with the "
                  "attribute branch", "", f"Paper: {paper['figures']['depth']}", ""]
        for condition in conditions:
            lines += _depth_section(condition, paper, tmp)
        lines += ["## Fig. 4 — weight α of the cross-modal contrastive loss", "",
                  f"Paper: {paper['figures']['alpha']}", ""]
        for condition in conditions:
            lines += _alpha_section(condition, paper, tmp)
        lines += comparisons_section(conditions)
        write_text(tmp / "tables.md", "\n".join(lines).rstrip() + "\n")
        write_json(tmp / "experiments.json", [asdict(r) for r in records])
    return out_dir / "tables.md"
