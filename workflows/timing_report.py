"""Tables and the log-scale figure of ``gait2hip timing`` (simulation against surrogate, same trials)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gait2hip.core.atomic import write_atomically

STAGES = ("scale_amortised_s", "ik_s", "id_s", "so_s")


def per_trial_comparison(simulation: pd.DataFrame, surrogate: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per trial and model: OpenSim median seconds (and spread), surrogate median, speed-ups.

    ``simulation`` is :func:`gait2hip.workflows.timing.time_simulation`'s output; ``surrogate`` maps a
    model name to :func:`gait2hip.workflows.timing.time_surrogate_on_trials`' output. ``speedup`` is the
    whole OpenSim path over the surrogate; ``speedup_with_ik`` keeps IK in the surrogate path
    (a lab needs IK, or another source of joint angles, to feed the surrogate).
    """
    simulation = simulation.assign(trial_key=simulation["subject"] + "/" + simulation["trial"])
    grouped = simulation.groupby("trial_key")
    opensim = grouped[["n_frames", *STAGES, "total_s"]].median().add_suffix("_median")
    opensim["total_s_min"] = grouped["total_s"].min()
    opensim["total_s_max"] = grouped["total_s"].max()
    rows = []
    for model, timings in surrogate.items():
        for _, row in timings.iterrows():
            sim = opensim.loc[row["trial_key"]]
            rows.append({"trial_key": row["trial_key"], "model": model, "n_frames": int(sim["n_frames_median"]),
                         "opensim_s": sim["total_s_median"], "opensim_min_s": sim["total_s_min"],
                         "opensim_max_s": sim["total_s_max"], "ik_s": sim["ik_s_median"],
                         **{f"opensim_{stage}": sim[f"{stage}_median"] for stage in STAGES},
                         "surrogate_s": row["median_s"], "surrogate_min_s": row["min_s"],
                         "surrogate_max_s": row["max_s"], "speedup": sim["total_s_median"] / row["median_s"],
                         "speedup_with_ik": sim["total_s_median"] / (sim["ik_s_median"] + row["median_s"])})
    return pd.DataFrame(rows)


def summary_table(comparison: pd.DataFrame, inference: pd.DataFrame) -> pd.DataFrame:
    """Per model: medians over trials of the per-trial figures, and the one-cycle latency / throughput.

    The speed-up spread pairs the extremes of the repetitions (fastest OpenSim run over slowest
    surrogate run, and the reverse), over all trials.
    """
    comparison = comparison.assign(worst=comparison["opensim_min_s"] / comparison["surrogate_max_s"],
                                   best=comparison["opensim_max_s"] / comparison["surrogate_min_s"])
    grouped = comparison.groupby("model")
    table = pd.DataFrame({
        "opensim_s_per_trial": grouped["opensim_s"].median(),
        "surrogate_ms_per_trial": 1000 * grouped["surrogate_s"].median(),
        "speedup": grouped["speedup"].median(),
        "speedup_min": grouped["worst"].min(),     # fastest OpenSim run over the slowest surrogate run
        "speedup_max": grouped["best"].max(),
        "speedup_with_ik": grouped["speedup_with_ik"].median(),
    })
    return table.join(inference.set_index("model")).reset_index()


def timing_markdown(summary: pd.DataFrame, comparison: pd.DataFrame) -> str:
    """The runtime table as Markdown."""
    n_trials = comparison["trial_key"].nunique()
    lines = [f"Medians over {n_trials} trial(s) ({int(comparison['n_frames'].median())} frames median); "
             "OpenSim = scaling (amortised over the subject's timed trials) + IK + ID + SO.", "",
             "| model | OpenSim s/trial | surrogate ms/trial | speed-up (min–max) | speed-up incl. IK | "
             "latency ms / cycle (batch 1) | cycles/s (batch 64) | device |",
             "|---|---|---|---|---|---|---|---|"]
    for _, row in summary.iterrows():
        lines.append(f"| {row['model']} | {row['opensim_s_per_trial']:.1f} | {row['surrogate_ms_per_trial']:.2f} | "
                     f"{row['speedup']:,.0f}× ({row['speedup_min']:,.0f}–{row['speedup_max']:,.0f}) | "
                     f"{row['speedup_with_ik']:,.0f}× | {row['latency_ms_median']:.2f} "
                     f"({row['latency_ms_min']:.2f}–{row['latency_ms_max']:.2f}) | "
                     f"{row['throughput_cycles_per_s_median']:,.0f} | {row['device']} |")
    return "\n".join(lines) + "\n"


def plot_timing(comparison: pd.DataFrame, path: Path) -> None:
    """Log-scale bars: seconds per trial for each OpenSim stage and for each surrogate (median, min–max)."""
    first = comparison.drop_duplicates("trial_key")
    labels = ["scale (amortised)", "IK", "ID", "SO", "OpenSim total"]
    values = [first[f"opensim_{stage}"].median() for stage in STAGES] + [first["opensim_s"].median()]
    errors = [(0.0, 0.0)] * 4 + [(first["opensim_s"].median() - first["opensim_min_s"].min(),
                                  first["opensim_max_s"].max() - first["opensim_s"].median())]
    for model, part in comparison.groupby("model", sort=True):
        labels.append(f"{model} surrogate")
        values.append(part["surrogate_s"].median())
        errors.append((part["surrogate_s"].median() - part["surrogate_min_s"].min(),
                       part["surrogate_max_s"].max() - part["surrogate_s"].median()))
    figure = Figure(figsize=(8, 4))
    FigureCanvasAgg(figure)   # PNG through Agg whatever backend the process uses; no pyplot state
    axis = figure.subplots()
    colours = ["#9ecae1"] * 4 + ["#08519c"] + ["#e6550d"] * (len(labels) - 5)
    axis.barh(labels, values, xerr=list(zip(*errors)), color=colours)
    axis.set_xscale("log")
    axis.invert_yaxis()
    axis.set(xlabel="wall time per trial (s, log scale; median, min–max)",
             title="OpenSim path vs surrogate inference on the same trials (CPU)")
    figure.tight_layout()
    write_atomically(path, lambda p: figure.savefig(p, dpi=90, format="png"))
