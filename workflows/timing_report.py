"""Tables and the log-scale figure of ``gait2hip timing`` (simulation against surrogate, same trials)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gait2hip.core.atomic import write_atomically
from gait2hip.pipeline.config import SO_SOLVER_NAMES

STAGES = ("scale_amortised_s", "ik_s", "id_s", "so_s")


def per_trial_comparison(simulation: pd.DataFrame, surrogate: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per trial, SO solver and model: simulation median seconds (and spread), surrogate median, speed-ups.

    ``simulation`` is :func:`gait2hip.workflows.timing.time_simulation`'s output (a ``solver``
    column: each simulation path); ``surrogate`` maps a model name to
    :func:`gait2hip.workflows.timing.time_surrogate_on_trials`' output. ``speedup`` is the whole
    simulation path (scale, IK, ID, SO with that solver) over the surrogate; ``speedup_with_ik``
    keeps IK in the surrogate path (a lab needs IK, or another source of joint angles, to feed
    the surrogate).
    """
    simulation = simulation.assign(trial_key=simulation["subject"] + "/" + simulation["trial"])
    grouped = simulation.groupby(["solver", "trial_key"])
    paths = grouped[["n_frames", *STAGES, "total_s"]].median().add_suffix("_median")
    paths["total_s_min"] = grouped["total_s"].min()
    paths["total_s_max"] = grouped["total_s"].max()
    rows = []
    for (solver, trial_key), sim in paths.iterrows():
        for model, timings in surrogate.items():
            for _, row in timings[timings["trial_key"] == trial_key].iterrows():
                rows.append({"trial_key": trial_key, "solver": solver, "model": model,
                             "n_frames": int(sim["n_frames_median"]), "simulation_s": sim["total_s_median"],
                             "simulation_min_s": sim["total_s_min"], "simulation_max_s": sim["total_s_max"],
                             **{f"simulation_{stage}": sim[f"{stage}_median"] for stage in STAGES},
                             "surrogate_s": row["median_s"], "surrogate_min_s": row["min_s"],
                             "surrogate_max_s": row["max_s"], "speedup": sim["total_s_median"] / row["median_s"],
                             "speedup_with_ik": sim["total_s_median"] / (sim["ik_s_median"] + row["median_s"])})
    return pd.DataFrame(rows)


def summary_table(comparison: pd.DataFrame, inference: pd.DataFrame) -> pd.DataFrame:
    """Per model and SO solver: medians over trials of the per-trial figures, and the one-cycle latency / throughput.

    The speed-up spread pairs the extremes of the repetitions (fastest simulation run over
    slowest surrogate run, and the reverse), over all trials.
    """
    comparison = comparison.assign(worst=comparison["simulation_min_s"] / comparison["surrogate_max_s"],
                                   best=comparison["simulation_max_s"] / comparison["surrogate_min_s"])
    grouped = comparison.groupby(["model", "solver"])
    table = pd.DataFrame({
        "simulation_s_per_trial": grouped["simulation_s"].median(),
        "surrogate_ms_per_trial": 1000 * grouped["surrogate_s"].median(),
        "speedup": grouped["speedup"].median(),
        "speedup_min": grouped["worst"].min(),     # fastest simulation run over the slowest surrogate run
        "speedup_max": grouped["best"].max(),
        "speedup_with_ik": grouped["speedup_with_ik"].median(),
    }).reset_index()
    return table.merge(inference, on="model", how="left")


def timing_markdown(summary: pd.DataFrame, comparison: pd.DataFrame) -> str:
    """The runtime table as Markdown: one row per surrogate and simulation path."""
    n_trials = comparison["trial_key"].nunique()
    lines = [f"Medians over {n_trials} trial(s) ({int(comparison['n_frames'].median())} frames median). "
             "Simulation path = scaling (amortised over the subject's timed trials) + IK + ID + SO, with OpenSim's "
             "StaticOptimization tool or with gait2hip's batched SO (its cross-check against OpenSim's tool "
             "included), timed side by side on the same trials.", "",
             "| model | simulation path | simulation s/trial | surrogate ms/trial | speed-up (min–max) | "
             "speed-up incl. IK | latency ms / cycle (batch 1) | cycles/s (batch 64) | device |",
             "|---|---|---|---|---|---|---|---|---|"]
    for _, row in summary.iterrows():
        lines.append(f"| {row['model']} | {SO_SOLVER_NAMES.get(row['solver'], row['solver'])} | "
                     f"{row['simulation_s_per_trial']:.1f} | {row['surrogate_ms_per_trial']:.2f} | "
                     f"{row['speedup']:,.0f}× ({row['speedup_min']:,.0f}–{row['speedup_max']:,.0f}) | "
                     f"{row['speedup_with_ik']:,.0f}× | {row['latency_ms_median']:.2f} "
                     f"({row['latency_ms_min']:.2f}–{row['latency_ms_max']:.2f}) | "
                     f"{row['throughput_cycles_per_s_median']:,.0f} | {row['device']} |")
    return "\n".join(lines) + "\n"


def plot_timing(comparison: pd.DataFrame, path: Path) -> None:
    """Log-scale bars: seconds per trial for each stage of each simulation path and for each surrogate (median, min–max)."""
    labels, values, errors, colours = [], [], [], []
    for solver, part in comparison.groupby("solver", sort=False):
        first = part.drop_duplicates("trial_key")
        name = SO_SOLVER_NAMES.get(solver, solver)
        stage_labels = ["scale (amortised)", "IK", "ID", "SO"]
        labels += [f"{stage} [{name}]" for stage in stage_labels] + [f"total [{name}]"]
        values += [first[f"simulation_{stage}"].median() for stage in STAGES] + [first["simulation_s"].median()]
        errors += [(0.0, 0.0)] * 4 + [(first["simulation_s"].median() - first["simulation_min_s"].min(),
                                       first["simulation_max_s"].max() - first["simulation_s"].median())]
        colours += ["#9ecae1"] * 4 + ["#08519c"]
    for model, part in comparison.drop_duplicates(["model", "trial_key"]).groupby("model", sort=True):
        labels.append(f"{model} surrogate")
        values.append(part["surrogate_s"].median())
        errors.append((part["surrogate_s"].median() - part["surrogate_min_s"].min(),
                       part["surrogate_max_s"].max() - part["surrogate_s"].median()))
        colours.append("#e6550d")
    figure = Figure(figsize=(8, 1.2 + 0.3 * len(labels)))
    FigureCanvasAgg(figure)   # PNG through Agg whatever backend the process uses; no pyplot state
    axis = figure.subplots()
    axis.barh(labels, values, xerr=list(zip(*errors)), color=colours)
    axis.set_xscale("log")
    axis.invert_yaxis()
    axis.set(xlabel="wall time per trial (s, log scale; median, min–max)",
             title="Simulation paths vs surrogate inference on the same trials (CPU)")
    figure.tight_layout()
    write_atomically(path, lambda p: figure.savefig(p, dpi=90, format="png"))
