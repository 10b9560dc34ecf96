"""``report.md`` / ``report.html`` of a workflow run, and the README section regenerated from it.

Every number here is read from the run's own outputs (evaluation CSVs, training and timing
summaries); nothing is typed by hand.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from gait2hip.core.atomic import write_atomically
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
    """The report as Markdown; figure paths are relative to ``out`` (prefixed by ``figure_prefix``)."""
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
        lines += ["## Runtime: OpenSim path vs surrogate on the same trials", "",
                  (out / "timing" / "timing.md").read_text(), "",
                  f"![runtime, log scale]({figure_prefix}timing/timing.png)", ""]
    lines += ["## Reproduce", "", "```", summary.get("command", "gait2hip run WORKFLOW.yaml"), "```", "",
              "Step times: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in summary["step_seconds"].items()),
              ""]
    return "\n".join(lines)


def update_readme(readme: Path, out: Path, command: str) -> None:
    """Replace the README text between this workflow's results markers with the run's tables.

    Figures are copied to ``docs/results/<run name>/`` next to the README so that they show
    on the repository page.
    """
    summary = json.loads((out / "summary.json").read_text())
    text = readme.read_text()
    start_marker, end_marker = readme_markers(summary["workflow"]["name"])
    if start_marker not in text or end_marker not in text:
        raise ValueError(f"{readme} has no {start_marker} … {end_marker} section")
    figures = readme.parent / "docs" / "results" / summary["workflow"]["name"]
    best = _best_model(compare_runs([out / "models" / n / "evaluation" for n in summary["checkpoints"]]))
    copies = {"timing/timing.png": "timing.png"}
    if best:
        copies.update({f"models/{best}/evaluation/cycles_test.png": "cycles_test.png",
                       f"models/{best}/evaluation/cycles_zero-shot.png": "cycles_zero-shot.png",
                       f"models/{best}/evaluation/cadence_test.png": "cadence_test.png"})
    figures.mkdir(parents=True, exist_ok=True)
    for source, target in copies.items():
        if (out / source).is_file():
            shutil.copyfile(out / source, figures / target)
    section = report_markdown(out, summary, figure_prefix="@@")
    for source, target in copies.items():
        section = section.replace(f"@@{source}", f"{figures.relative_to(readme.parent)}/{target}")
    section = section.replace("@@", "")
    section = "\n".join("##" + line if line.startswith("##") else line  # nest under the README's section
                        for line in section.splitlines()[1:])
    generated = (f"{start_marker}\n<!-- generated by `{command} --update-readme README.md`; do not edit by hand -->\n"
                 f"{section.strip()}\n{end_marker}")
    before, rest = text.split(start_marker, 1)
    after = rest.split(end_marker, 1)[1]
    write_atomically(readme, lambda p: p.write_text(before + generated + after))


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
    import yaml

    cohort = yaml.safe_load((cohort_dir / "cohort.yaml").read_text()) or {}
    table = pd.read_parquet(dataset, columns=["subject", "trial", "group", "cadence_condition"]).astype(str)
    groups = []
    for group, part in table.groupby("group"):
        trials = part.drop_duplicates(["subject", "trial"])
        groups.append({"group": group, "subjects": part["subject"].nunique(), "trials": len(trials),
                       "cadences": ", ".join(sorted(trials["cadence_condition"].unique()))})
    return {"synthetic": bool(cohort.get("synthetic", False)), "groups": groups,
            "description": " ".join(str(cohort.get("description", cohort.get("name", ""))).split())}
