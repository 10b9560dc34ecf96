"""``report.md`` / ``report.html`` of a workflow run, and the results regenerated from it for the repository.

``update_readme`` writes a compact table into the README and the full report into
``docs/results/<workflow>.md``, so the README stays short and both come from one command.

Every number here is read from the run's own outputs (evaluation CSVs, training and timing
summaries); nothing is typed by hand.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from gait2hip.core.atomic import write_atomically
from gait2hip.core.errors import InputDataError
from gait2hip.pipeline.config import SO_SOLVER_NAMES
from gait2hip.surrogate.evaluate import compare_runs, results_markdown

HTML_STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}"
              "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:3px 8px}img{max-width:100%}")


def readme_markers(workflow_name: str) -> tuple[str, str]:
    """The README comments between which a workflow's results section is regenerated."""
    return (f"<!-- gait2hip:results:{workflow_name}:start -->", f"<!-- gait2hip:results:{workflow_name}:end -->")


def write_report(out: Path, summary: dict) -> None:
    """Write ``out/report.md`` and ``out/report.html`` from the run's outputs."""
    markdown = report_markdown(out, summary)
    write_atomically(out / "report.md", lambda p: p.write_text(markdown))
    import markdown as markdown_to_html

    body = markdown_to_html.markdown(markdown, extensions=["tables"])
    html = f"<!doctype html><meta charset='utf-8'><title>gait2hip report</title><style>{HTML_STYLE}</style>\n{body}\n"
    write_atomically(out / "report.html", lambda p: p.write_text(html))


def report_markdown(out: Path, summary: dict, figure_prefix: str = "") -> str:
    """The report as Markdown; figure paths are relative to ``out`` (prefixed by ``figure_prefix``).

    A run without training (measured data, ingest → label → report) gets the QC report of
    :mod:`gait2hip.workflows.measured_report`; a measured run that trains gets its QC section too.
    """
    if not summary.get("checkpoints"):
        from gait2hip.workflows.measured_report import measured_report_markdown

        return measured_report_markdown(summary)
    results = compare_runs([out / "models" / name / "evaluation" for name in summary["checkpoints"]])
    cohort = _cohort_facts(Path(summary["cohort"]), Path(summary["dataset"]))
    labelling = summary["labelling"]
    best = _best_model(results)
    lines = [f"# gait2hip run: {summary['workflow']['name']}", ""]
    if cohort["synthetic"]:
        lines += ["> **SYNTHETIC data.** The cohort comes from gait2hip's virtual gait lab (`virtual_lab/`), not "
                  "from measured people; see `virtual_lab/README.md` for what it can and cannot stand in for. "
                  "These numbers show the protocol working, not clinical accuracy.", ""]
    lines += ["## Cohort and labels", "",
              f"{cohort['description']}", "",
              "| group | subjects | trials | cadence conditions |", "|---|---|---|---|"]
    lines += [f"| {g['group']} | {g['subjects']} | {g['trials']} | {g['cadences']} |" for g in cohort["groups"]]
    lines += ["", f"OpenSim labelling (scale → IK → ID → SO): {labelling['trials']} trials, {labelling['ok']} ok, "
              f"{labelling['warn']} warn, {labelling['failed']} failed; {labelling.get('reused', 0)} reused from an "
              f"earlier run; {labelling['wall_time_s']:.0f} s with {summary['workflow']['label']['jobs']} jobs.", ""]
    failures = labelling.get("failures") or []
    if failures:
        lines += ["Left out of the dataset (listed in `labels/manifest.csv`):", ""]
        lines += [f"- {f['subject']}/{f['trial']}: {f['failed_stage']}: {_one_line(f['error'])}" for f in failures]
        lines.append("")
    if summary.get("qc"):
        from gait2hip.workflows.measured_report import qc_section_markdown

        lines += [qc_section_markdown(summary), ""]
    lines += ["## Surrogates: held-out healthy subjects and zero-shot", "",
              "Same subject-level split, same standardisation (fitted on training subjects), gait cycles of 101 "
              "points, same budget for every model; metrics per test subject, then mean ± SD over subjects. "
              "R² and RMSE/MAE per channel are averaged over the channels of a group "
              "(forces: every hip-crossing muscle, N/kg; moments: the 6 hip moments, Nm/kg).", "",
              results_markdown(results), _gap_markdown(summary), _training_markdown(out, summary),
              _cadence_markdown(out, summary), ""]
    if best:
        lines += [f"Best on the held-out healthy subjects (mean of forces and moments R²): **{best}**.", "",
                  f"![{best}: predicted vs OpenSim over the gait cycle]"
                  f"({figure_prefix}models/{best}/evaluation/cycles_test.png)", "",
                  f"![{best}: zero-shot]({figure_prefix}models/{best}/evaluation/cycles_zero-shot.png)", "",
                  f"![{best}: R² by cadence]({figure_prefix}models/{best}/evaluation/cadence_test.png)", ""]
    if summary.get("timing"):
        lines += ["## Runtime: simulation paths vs surrogate on the same trials", "",
                  (out / "timing" / "timing.md").read_text(), "",
                  f"![runtime, log scale]({figure_prefix}timing/timing.png)", ""]
    lines += ["## Reproduce", "", "```", summary.get("command", "gait2hip run WORKFLOW.yaml"), "```", "",
              "Step times: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in summary["step_seconds"].items()),
              ""]
    return "\n".join(lines)


def update_readme(readme: Path, out: Path, command: str) -> Path:
    """Regenerate a workflow's results: the compact table in README, the full report in ``docs/results/``.

    Next to ``readme`` this writes ``docs/results/<name>/`` (the run's figures) and the block of
    ``docs/results/<name>.md`` between the workflow's markers (the whole report; a new page is
    created with only a title and the block, and text outside the markers of an existing page
    is kept). The README's block between the same markers gets the compact table (R² per model,
    held-out test and zero-shot, and the speed-up over OpenSim) with links to that page. The same
    run outputs give the same bytes.

    Returns
    -------
    The path of the full report page.

    Raises
    ------
    InputDataError
        If ``readme``, or an existing report page, has no start and end marker for this workflow.
    """
    summary = json.loads((out / "summary.json").read_text())
    name = summary["workflow"]["name"]
    readme_text = readme.read_text()
    _check_markers(readme, readme_text, name)   # before anything is written: a README without markers changes nothing
    results_dir = readme.parent / "docs" / "results"
    if not summary.get("checkpoints"):
        return _update_measured(readme, readme_text, results_dir / f"{name}.md", summary, command)
    figures = results_dir / name
    results = compare_runs([out / "models" / n / "evaluation" for n in summary["checkpoints"]])
    best = _best_model(results)
    copies = {"timing/timing.png": "timing.png"}
    if best:
        copies.update({f"models/{best}/evaluation/cycles_test.png": "cycles_test.png",
                       f"models/{best}/evaluation/cycles_zero-shot.png": "cycles_zero-shot.png",
                       f"models/{best}/evaluation/cadence_test.png": "cadence_test.png"})
    page = results_dir / f"{name}.md"
    existing = page.read_text() if page.is_file() else f"# Results of `{command}`\n\n{_block(name, '')}\n"
    _check_markers(page, existing, name)
    figures.mkdir(parents=True, exist_ok=True)
    copied = {}
    for source, target in copies.items():
        if (out / source).is_file():
            shutil.copyfile(out / source, figures / target)
            copied[target] = f"{figures.relative_to(readme.parent).as_posix()}/{target}"
    generated_by = f"<!-- generated by `{command} --update-readme README.md`; do not edit by hand -->"

    full = report_markdown(out, summary, figure_prefix="@@")
    for source, target in copies.items():
        full = full.replace(f"@@{source}", f"{name}/{target}")   # relative to the page
    full = "\n".join(full.replace("@@", "").splitlines()[1:])   # the page has its own title
    page_text = _replace_block(page, existing, name, f"{generated_by}\n{full.strip()}")

    page_link = page.relative_to(readme.parent).as_posix()
    compact = compact_markdown(summary, results, best, page_link, copied)
    readme_text = _replace_block(readme, readme_text, name, f"{generated_by}\n{compact.strip()}")
    write_atomically(page, lambda p: p.write_text(page_text))
    write_atomically(readme, lambda p: p.write_text(readme_text))
    return page


def _update_measured(readme: Path, readme_text: str, page: Path, summary: dict, command: str) -> Path:
    """``update_readme`` for a run without training: the QC report on the page, its compact table in README."""
    from gait2hip.workflows.measured_report import measured_compact_markdown, measured_report_markdown

    name = summary["workflow"]["name"]
    existing = page.read_text() if page.is_file() else f"# Results of `{command}`\n\n{_block(name, '')}\n"
    _check_markers(page, existing, name)
    generated_by = f"<!-- generated by `{command} --update-readme README.md`; do not edit by hand -->"
    full = "\n".join(measured_report_markdown(summary).splitlines()[1:])   # the page has its own title
    page_text = _replace_block(page, existing, name, f"{generated_by}\n{full.strip()}")
    compact = measured_compact_markdown(summary, page.relative_to(readme.parent).as_posix())
    readme_text = _replace_block(readme, readme_text, name, f"{generated_by}\n{compact.strip()}")
    page.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(page, lambda p: p.write_text(page_text))
    write_atomically(readme, lambda p: p.write_text(readme_text))
    return page


def compact_markdown(summary: dict, results: pd.DataFrame, best: str | None, page_link: str,
                     figure_links: dict[str, str]) -> str:
    """The README's results block: R² (subject mean ± SD) per model on test and zero-shot, and the speed-up."""
    r2 = results[results["metric"] == "r2"]
    evaluations = [e for e in ("test", "zero-shot") if e in set(r2["evaluation"])]
    # One speed-up column per simulation path timed; summaries from before the batched solver name none.
    speedups = {(row["model"], row.get("solver", "opensim")): row["speedup"]
                for row in (summary.get("timing") or {}).get("models", [])}
    solvers = [solver for solver in SO_SOLVER_NAMES if any(key[1] == solver for key in speedups)]
    header, rule = "| model |", "|---|"
    for evaluation in evaluations:
        header += f" {evaluation} forces R² | {evaluation} moments R² |"
        rule += "---|---|"
    for solver in solvers:
        header += f" speed-up over the path with {SO_SOLVER_NAMES[solver]} |"
        rule += "---|"
    lines = []
    if _cohort_yaml(Path(summary["cohort"])).get("synthetic", False):
        lines += ["> **SYNTHETIC data** (gait2hip's virtual gait lab, not measured people): these numbers show "
                  "the protocol working, not clinical accuracy.", ""]
    counts = r2.groupby("evaluation")["n_subjects"].max()
    external = ", ".join(summary["workflow"].get("evaluate", {}).get("external_groups", [])) or "external"
    on = {"test": f"*test* on {int(counts.get('test', 0))} held-out healthy subjects",
          "zero-shot": f"*zero-shot* on {int(counts.get('zero-shot', 0))} {external} subjects never trained on"}
    lines += ["R² against the OpenSim labels, subject-level mean ± SD: " + ", ".join(on[e] for e in evaluations) + "."
              + (" Speed-up: the whole simulation path (scale, IK, ID, SO) over one surrogate call on the same "
                 "trials, median." if speedups else ""), "", header, rule]
    for model, part in r2.groupby("model"):
        cells = []
        for evaluation in evaluations:
            for target in ("forces", "moments"):
                row = part[(part["evaluation"] == evaluation) & (part["target"] == target)]
                cells.append(f"{row['mean'].iloc[0]:.3f} ± {row['sd'].iloc[0]:.3f}" if len(row) else "")
        for solver in solvers:
            cells.append(f"{speedups[model, solver]:,.0f}×" if (model, solver) in speedups else "")
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    lines.append("")
    figures = {"cycles_test.png": "gait cycles", "cycles_zero-shot.png": "zero-shot", "cadence_test.png": "by cadence",
               "timing.png": "runtime"}
    links = ", ".join(f"[{label}]({figure_links[file]})" for file, label in figures.items() if file in figure_links)
    lines.append((f"Best on the held-out subjects: **{best}**. " if best else "")
                 + f"Full report (every metric, cadence, training, QC, runtime): [{page_link}]({page_link})"
                 + (f"; figures: {links}." if links else "."))
    return "\n".join(lines) + "\n"


def _block(name: str, content: str) -> str:
    start_marker, end_marker = readme_markers(name)
    return f"{start_marker}\n{content}\n{end_marker}"


def _check_markers(path: Path, text: str, name: str) -> None:
    start_marker, end_marker = readme_markers(name)
    if start_marker not in text or end_marker not in text.split(start_marker, 1)[1]:
        raise InputDataError(path, f"no {start_marker} … {end_marker} section to regenerate; add the two "
                                   "markers where the results should go")


def _replace_block(path: Path, text: str, name: str, content: str) -> str:
    """``text`` with the part between this workflow's markers (markers included) replaced by ``content``."""
    _check_markers(path, text, name)
    start_marker, end_marker = readme_markers(name)
    before, rest = text.split(start_marker, 1)
    after = rest.split(end_marker, 1)[1]
    return before + _block(name, content) + after


def _cohort_yaml(cohort_dir: Path) -> dict:
    import yaml

    return yaml.safe_load((cohort_dir / "cohort.yaml").read_text()) or {}


def _one_line(error: str) -> str:
    """First line of an error, plus the OpenSim log path when the message names one."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else "unknown error"
    log = str(error).rsplit("(OpenSim log:", 1)
    return first + (f" (OpenSim log:{log[1]}" if len(log) == 2 and log[1] not in first else "")


def _best_model(results: pd.DataFrame) -> str | None:
    test = results[(results["evaluation"] == "test") & (results["metric"] == "r2")]
    if test.empty:
        return None
    return str(test.groupby("model")["mean"].mean().idxmax())


def _gap_markdown(summary: dict) -> str:
    rows = [(name, evaluation["generalisation_gap"]) for name, evaluation in summary["evaluations"].items()
            if "generalisation_gap" in evaluation]
    if not rows:
        return ""
    lines = ["### Generalisation gap (zero-shot − held-out test)", "",
             "| model | forces R² | moments R² | forces RMSE (N/kg) | moments RMSE (Nm/kg) |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {gap['forces_r2']:+.3f} | {gap['moments_r2']:+.3f} | {gap['forces_rmse']:+.3f} | "
              f"{gap['moments_rmse']:+.3f} |" for name, gap in rows]
    return "\n".join(lines) + "\n"


def _training_markdown(out: Path, summary: dict) -> str:
    lines = ["### Training", "", "| model | parameters | epochs run | best epoch | s/epoch | train / validation cycles |",
             "|---|---|---|---|---|---|"]
    for name in summary["checkpoints"]:
        training = json.loads((out / "models" / name / "summary.json").read_text())
        lines.append(f"| {name} | {training.get('n_parameters', '')} | {training['epochs_run']} | "
                     f"{training['best_epoch']} | {training['seconds_per_epoch_median']:.2f} | "
                     f"{training['n_train_segments']} / {training['n_validation_segments']} |")
    split = json.loads((out / "models" / next(iter(summary["checkpoints"])) / "summary.json").read_text())["split"]
    lines += ["", f"Split (subjects): train {len(split['train'])}, validation {len(split['validation'])}, "
              f"test {len(split['test'])} ({', '.join(split['test'])})."]
    return "\n".join(lines) + "\n"


def _cadence_markdown(out: Path, summary: dict) -> str:
    frames = []
    for name in summary["checkpoints"]:
        path = out / "models" / name / "evaluation" / "metrics_test.csv"
        long = pd.read_csv(path)
        long = long[long["metric"] == "r2"]
        long["target"] = long["channel"].map(lambda c: "moments" if c.endswith("_moment") else "forces")
        per_subject = long.groupby(["cadence", "target", "subject"])["value"].mean()
        frames.append(per_subject.groupby(["cadence", "target"]).mean().rename(name))
    table = pd.concat(frames, axis=1).reset_index()
    lines = ["### R² by cadence (held-out test subjects, subject mean)", "",
             "| cadence | target | " + " | ".join(summary["checkpoints"]) + " |",
             "|---|---|" + "---|" * len(summary["checkpoints"])]
    for _, row in table.iterrows():
        lines.append(f"| {row['cadence']} | {row['target']} | " +
                     " | ".join(f"{row[name]:.3f}" for name in summary["checkpoints"]) + " |")
    return "\n".join(lines) + "\n"


def _cohort_facts(cohort_dir: Path, dataset: Path) -> dict:
    cohort = _cohort_yaml(cohort_dir)
    table = pd.read_parquet(dataset, columns=["subject", "trial", "group", "cadence_condition"]).astype(str)
    groups = []
    for group, part in table.groupby("group"):
        trials = part.drop_duplicates(["subject", "trial"])
        groups.append({"group": group, "subjects": part["subject"].nunique(), "trials": len(trials),
                       "cadences": ", ".join(sorted(trials["cadence_condition"].unique()))})
    return {"synthetic": bool(cohort.get("synthetic", False)), "groups": groups,
            "description": " ".join(str(cohort.get("description", cohort.get("name", ""))).split())}
