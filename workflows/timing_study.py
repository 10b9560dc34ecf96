"""The whole ``gait2hip timing`` measurement: pick trials, time OpenSim and each surrogate, write results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch

from gait2hip.core.atomic import write_atomically, write_json_atomically
from gait2hip.pipeline.cohort import discover_cohort
from gait2hip.pipeline.config import PipelineConfig
from gait2hip.surrogate.dataset import load_dataset
from gait2hip.surrogate.checkpoint import load_checkpoint
from gait2hip.workflows.timing import time_inference, time_simulation, time_surrogate_on_trials
from gait2hip.workflows.timing_report import per_trial_comparison, plot_timing, summary_table, timing_markdown


def choose_trials(table: pd.DataFrame, subjects: list[str], n_trials: int) -> list[str]:
    """Up to ``n_trials`` trial keys of ``subjects``, one per cadence condition in turn."""
    candidates = (table[table["subject"].isin(subjects)][["subject", "trial", "cadence_condition"]]
                  .drop_duplicates().sort_values(["subject", "trial"]))
    candidates = candidates.assign(rank=candidates.groupby("cadence_condition").cumcount())
    chosen = candidates.sort_values(["rank", "cadence_condition", "subject"]).head(n_trials)
    return sorted(f"{s}/{t}" for s, t in zip(chosen["subject"], chosen["trial"]))


def run_timing_study(cohort_dir: Path, dataset_dir: Path, checkpoints: dict[str, Path], out_dir: Path, *,
                     trial_keys: list[str] | None = None, n_trials: int = 3, repetitions: int = 3,
                     config: PipelineConfig | None = None, progress: Callable[[str], None] = print,
                     solvers: tuple[str, ...] = ("opensim", "batched")) -> dict:
    """Time the simulation path with each SO solver and every surrogate on the same trials; write CSVs, Markdown, plot, summary.

    Without ``trial_keys``, trials of the first checkpoint's held-out test subjects are used.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = load_dataset(dataset_dir)
    loaded = {name: load_checkpoint(checkpoint) for name, checkpoint in checkpoints.items()}
    if trial_keys is None:
        _, first = next(iter(loaded.values()))
        trial_keys = choose_trials(table, list(first.split.test), n_trials)
    progress(f"timing the simulation path ({', '.join(solvers)} SO) on {len(trial_keys)} trial(s) × {repetitions} "
             f"repetition(s): {', '.join(trial_keys)}")
    simulation = time_simulation(discover_cohort(cohort_dir), trial_keys, config or PipelineConfig(), repetitions,
                                 progress=lambda message: progress(f"    {message}"), solvers=solvers)
    surrogate, inference = {}, []
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for name, (model, checkpoint) in loaded.items():
        progress(f"timing the {name} surrogate on the same trials ({', '.join(devices)})")
        surrogate[name] = time_surrogate_on_trials(model, checkpoint, table, trial_keys)
        for device in devices:
            timing = time_inference(model, len(checkpoint.input_names), device=device)
            inference.append({"model": name, "device": device,
                              "latency_ms_median": 1000 * timing["latency_s"].median,
                              "latency_ms_min": 1000 * timing["latency_s"].minimum,
                              "latency_ms_max": 1000 * timing["latency_s"].maximum,
                              "throughput_cycles_per_s_median": timing["throughput_sequences_per_s"].median})
        model.to("cpu")
    comparison = per_trial_comparison(simulation, surrogate)
    inference_table = pd.DataFrame(inference)
    summary = summary_table(comparison, inference_table[inference_table["device"] == "cpu"])
    write_atomically(out_dir / "simulation_runs.csv", lambda p: simulation.to_csv(p, index=False))
    write_atomically(out_dir / "per_trial.csv", lambda p: comparison.to_csv(p, index=False))
    write_atomically(out_dir / "inference.csv", lambda p: inference_table.to_csv(p, index=False))
    write_atomically(out_dir / "timing.csv", lambda p: summary.to_csv(p, index=False))
    markdown = timing_markdown(summary, comparison)
    write_atomically(out_dir / "timing.md", lambda p: p.write_text(markdown))
    plot_timing(comparison, out_dir / "timing.png")
    result = {"kind": "gait2hip.timing", "trials": trial_keys, "repetitions": repetitions, "solvers": list(solvers),
              "threads": torch.get_num_threads(), "devices": devices,
              "models": summary.to_dict("records"), "inference": inference_table.to_dict("records"),
              "files": {"table": "timing.md", "plot": "timing.png", "per_trial": "per_trial.csv"}}
    write_json_atomically(out_dir / "summary.json", result)
    return result
