"""``gait2hip timing`` times OpenSim and the surrogate on the same trial and reports the speed-up."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd

from gait2hip.surrogate.config import TrainingConfig
from gait2hip.surrogate.train import train_from_config
from gait2hip.workflows.cli import main
from gait2hip.workflows.timing_study import choose_trials


def test_timing_reports_both_paths_on_the_same_trial(labelled_dataset, tmp_path):
    config = dataclasses.replace(TrainingConfig.from_yaml("surrogate/configs/lstm.yaml"), max_epochs=1,
                                 split_fractions=(0.34, 0.33, 0.33))
    run = train_from_config(config, labelled_dataset, tmp_path / "run")
    cohort = labelled_dataset.parent.parent / "cohort"
    trial = pd.read_parquet(labelled_dataset, columns=["subject", "trial"]).astype(str).iloc[0]
    key = f"{trial['subject']}/{trial['trial']}"

    assert main(["timing", str(cohort), "--data", str(labelled_dataset), "--checkpoint", str(run.best_checkpoint),
                 "--trials", key, "--repetitions", "2", "--out", str(tmp_path / "timing")]) == 0

    summary = json.loads((tmp_path / "timing" / "summary.json").read_text())
    assert summary["trials"] == [key] and summary["repetitions"] == 2
    assert summary["solvers"] == ["opensim", "batched"]
    assert {(row["model"], row["solver"]) for row in summary["models"]} == {("lstm", "opensim"), ("lstm", "batched")}
    simulation = pd.read_csv(tmp_path / "timing" / "simulation_runs.csv")
    assert len(simulation) == 4 and (simulation[["ik_s", "id_s", "so_s"]] > 0).all().all()
    assert sorted(simulation["solver"]) == ["batched", "batched", "opensim", "opensim"]
    per_trial = pd.read_csv(tmp_path / "timing" / "per_trial.csv").set_index("solver")
    for solver in ("opensim", "batched"):
        row = per_trial.loc[solver]
        assert row["trial_key"] == key and row["speedup"] == row["simulation_s"] / row["surrogate_s"] > 1
    table = (tmp_path / "timing" / "timing.md").read_text()
    assert "| lstm | OpenSim SO tool |" in table and "| lstm | batched SO |" in table
    assert (tmp_path / "timing" / "timing.png").stat().st_size > 0


def test_default_trials_cover_each_cadence_of_the_test_subjects():
    table = pd.DataFrame({"subject": ["S1"] * 3 + ["S2"] * 3, "trial": ["a", "b", "c"] * 2,
                          "cadence_condition": ["c90", "c110", "c130"] * 2})
    two = choose_trials(table, ["S2"], 2)
    assert len(two) == 2 and all(key.startswith("S2/") for key in two)
    assert choose_trials(table, ["S1", "S2"], 3) == ["S1/a", "S1/b", "S1/c"]
