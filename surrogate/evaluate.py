"""Evaluate a trained surrogate: in-distribution test subjects and zero-shot external cohorts.

Writes ``metrics.csv`` (long: subject × cadence × channel × metric), ``results.csv`` and
``results.md`` (subject-level mean ± SD per target group, like the study's tables), plots of
predicted vs OpenSim over the gait cycle, and ``summary.json``.

Only known target points count: frames whose labels are unknown (``valid_r``/``valid_l``
False; see :mod:`gait2hip.surrogate.segmentation`) are left out of every metric and plot, and
``summary.json`` says how many there were (``label_validity``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gait2hip.core.atomic import write_atomically, write_json_atomically
from gait2hip.surrogate.body_size import trial_heights_m
from gait2hip.surrogate.checkpoint import Checkpoint, load_checkpoint
from gait2hip.surrogate.dataset import TARGET_UNITS, load_dataset
from gait2hip.surrogate.inference import predict_segments
from gait2hip.surrogate.metrics import per_subject_channel_metrics, summarise
from gait2hip.surrogate.segmentation import Segments, segment_table

PLOTTED_MUSCLES = ("glut_med1", "glut_max1", "iliacus", "psoas", "add_long", "rect_fem")


@dataclass(frozen=True)
class Evaluation:
    """Predictions on one set of subjects and their metrics."""

    name: str
    segments: Segments
    predicted: np.ndarray
    long_metrics: pd.DataFrame
    summary: pd.DataFrame


def evaluate_on(model: torch.nn.Module, checkpoint: Checkpoint, table: pd.DataFrame, name: str) -> Evaluation:
    """Segment ``table`` like the training data, predict, and compute the metrics."""
    names = checkpoint.target_names
    segments = segment_table(table, list(checkpoint.input_names), names, checkpoint.segmentation)
    if checkpoint.training_config.moment_scaling != "mass":
        trial_heights_m(table, name)             # every trial has one plausible height, or a clear error
    predicted = predict_segments(model, checkpoint, segments.inputs, segments.height_m)
    known = segments.target_known
    long = per_subject_channel_metrics(segments.targets, predicted, segments.subject, names, segments.cadence, known)
    by_subject = per_subject_channel_metrics(segments.targets, predicted, segments.subject, names, known=known)
    return Evaluation(name, segments, predicted, long, summarise(by_subject, checkpoint.target_groups))


def split_r2(checkpoint: Path, table: pd.DataFrame, part: str) -> dict[str, float]:
    """Subject-level mean R² per target group (``forces``, ``moments``) on one part of the checkpoint's split.

    ``part`` is ``"train"``, ``"validation"`` or ``"test"``; ``table`` holds the label rows
    (the checkpoint's dataset, or any rows that include that part's subjects).
    """
    if part not in ("train", "validation", "test"):
        raise ValueError(f"part must be 'train', 'validation' or 'test', got {part!r}")
    model, loaded = load_checkpoint(checkpoint)
    subjects = getattr(loaded.split, part)
    evaluation = evaluate_on(model, loaded, table[table["subject"].isin(subjects)], part)
    summary = evaluation.summary[evaluation.summary["metric"] == "r2"]
    return {row.target: float(row.mean) for row in summary.itertuples()}


def evaluate_checkpoint(checkpoint: Path, dataset_dir: Path, out_dir: Path,
                        external_dir: Path | None = None, external_groups: tuple[str, ...] | None = None) -> dict:
    """Evaluate on the checkpoint's test subjects and, zero-shot, on an external dataset."""
    out_dir = Path(out_dir)
    model, loaded = load_checkpoint(checkpoint)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = load_dataset(dataset_dir)
    evaluations = [evaluate_on(model, loaded, table[table["subject"].isin(loaded.split.test)], "test")]
    if external_dir is not None or external_groups:
        external = load_dataset(external_dir) if external_dir is not None else table
        if external_groups:
            external = external[external["group"].isin(external_groups)]
        evaluations.append(evaluate_on(model, loaded, external, "zero-shot"))
    rows = []
    for evaluation in evaluations:
        rows.append(evaluation.summary.assign(model=loaded.model, evaluation=evaluation.name))
        evaluation.long_metrics.assign(evaluation=evaluation.name).to_csv(out_dir / f"metrics_{evaluation.name}.csv",
                                                                          index=False)
        _plot_cycles(evaluation, loaded, out_dir / f"cycles_{evaluation.name}.png")
        _plot_cadence(evaluation, loaded, out_dir / f"cadence_{evaluation.name}.png")
    results = pd.concat(rows, ignore_index=True)
    write_atomically(out_dir / "results.csv", lambda p: results.to_csv(p, index=False))
    write_atomically(out_dir / "results.md", lambda p: p.write_text(results_markdown(results)))
    summary = {"kind": "gait2hip.evaluate", "checkpoint": str(checkpoint), "model": loaded.model,
               "results": results.to_dict("records")}
    if len(evaluations) == 2:
        summary["generalisation_gap"] = _gap(results)
    summary["label_validity"] = {evaluation.name: evaluation.segments.validity().to_json()
                                 for evaluation in evaluations}
    write_json_atomically(out_dir / "summary.json", summary)
    return summary


def compare_runs(evaluation_dirs: list[Path]) -> pd.DataFrame:
    """Concatenate the ``results.csv`` of several evaluations (one model each)."""
    return pd.concat([pd.read_csv(Path(d) / "results.csv") for d in evaluation_dirs], ignore_index=True)


def results_markdown(results: pd.DataFrame) -> str:
    """Models × (target, metric) as 'mean ± SD', one table per evaluation."""
    lines = []
    for evaluation, part in results.groupby("evaluation", sort=False):
        part = part.assign(cell=[f"{m:.3f} ± {s:.3f}" for m, s in zip(part["mean"], part["sd"])],
                           column=[f"{t} {m.upper()}" + (f" ({TARGET_UNITS[t]})" if m != "r2" else "")
                                   for t, m in zip(part["target"], part["metric"])])
        wide = part.pivot(index="model", columns="column", values="cell")
        lines += [f"### {evaluation} (subject-level mean ± SD, n = {int(part['n_subjects'].max())} subjects)", "",
                  "| model | " + " | ".join(wide.columns) + " |", "|---" * (len(wide.columns) + 1) + "|"]
        lines += [f"| {model} | " + " | ".join(row) + " |" for model, row in wide.iterrows()]
        lines.append("")
    return "\n".join(lines)


def _gap(results: pd.DataFrame) -> dict:
    pivot = results.pivot_table(index=["target", "metric"], columns="evaluation", values="mean")
    return {f"{t}_{m}": float(pivot.loc[(t, m), "zero-shot"] - pivot.loc[(t, m), "test"]) for t, m in pivot.index}


def _new_figure(figsize: tuple[float, float]) -> Figure:
    """A figure drawn by the Agg (PNG) canvas, whatever backend the process uses, outside pyplot's registry."""
    figure = Figure(figsize=figsize)
    FigureCanvasAgg(figure)
    return figure


def _plot_cycles(evaluation: Evaluation, checkpoint: Checkpoint, path: Path) -> None:
    names = checkpoint.target_names
    chosen = [n for n in names if n.endswith("_moment")] + [f"{m}_r_force" for m in PLOTTED_MUSCLES if f"{m}_r_force" in names]
    n_rows = int(np.ceil(len(chosen) / 4))
    figure = _new_figure((16, 3 * n_rows))
    axes = figure.subplots(n_rows, 4, squeeze=False)
    phase = np.linspace(0, 100, evaluation.segments.targets.shape[1])
    units = dict(zip(names, checkpoint.target_units))
    for axis, name in zip(axes.flat, chosen):
        index = names.index(name)
        known = evaluation.segments.target_known[..., index]
        for values, label, colour in ((evaluation.segments.targets[..., index], "OpenSim", "k"),
                                      (evaluation.predicted[..., index], "surrogate", "tab:red")):
            mean, sd = _cycle_mean_sd(values, known)
            axis.plot(phase, mean, color=colour, label=label)
            axis.fill_between(phase, mean - sd, mean + sd, color=colour, alpha=0.2)
        axis.set(title=name, xlabel="gait cycle (%)", ylabel=units[name])
    for axis in list(axes.flat)[len(chosen):]:
        axis.set_visible(False)
    axes.flat[0].legend()
    figure.suptitle(f"{checkpoint.model}: {evaluation.name} (mean ± SD over cycles)")
    figure.tight_layout()
    write_atomically(path, lambda p: figure.savefig(p, dpi=80, format="png"))


def _cycle_mean_sd(values: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD over cycles, ``(n, time)`` → ``(time,)``, of the known points only; NaN where none is.

    Both curves (OpenSim and surrogate) use the same points, so they compare like with like.
    """
    if known.all():
        return values.mean(axis=0), values.std(axis=0)
    values = np.where(known, values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)    # a point unknown in every cycle: NaN, a gap in the curve
        return np.nanmean(values, axis=0), np.nanstd(values, axis=0)


def _plot_cadence(evaluation: Evaluation, checkpoint: Checkpoint, path: Path) -> None:
    table = evaluation.long_metrics[evaluation.long_metrics["metric"] == "r2"]
    groups = checkpoint.target_groups
    figure = _new_figure((6, 3.5))
    axis = figure.subplots()
    cadences = sorted(table["cadence"].unique())
    width = 0.8 / len(groups)
    for offset, (group, channels) in enumerate(groups.items()):
        per = table[table["channel"].isin(channels)].groupby(["cadence", "subject"])["value"].mean().groupby("cadence")
        axis.bar(np.arange(len(cadences)) + offset * width, [per.mean().get(c, np.nan) for c in cadences], width,
                 yerr=[per.std().get(c, 0.0) for c in cadences], label=group)
    axis.set_xticks(np.arange(len(cadences)) + width * (len(groups) - 1) / 2, cadences)
    axis.set(ylabel="R² (subject mean ± SD)", title=f"{checkpoint.model}: {evaluation.name} by cadence")
    axis.legend()
    figure.tight_layout()
    write_atomically(path, lambda p: figure.savefig(p, dpi=80, format="png"))
