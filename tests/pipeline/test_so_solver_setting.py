"""``static_optimization.solver`` picks the SO solver of a trial, and summary.json says which ran."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import opensim
import pandas as pd
import pytest

from gait2hip.core.errors import ConfigError
from gait2hip.pipeline.config import PipelineConfig
from gait2hip.pipeline.trial import label_trial

# Worst |batched − OpenSim| of every muscle's force, % of its peak, against OpenSim's tool run to a
# tight tolerance: at its default (1e-4) the tool stops early, up to ~20 % of peak away on the
# smallest forces of this trial, and the batched solver is the converged answer.
FORCE_AGREEMENT_PCT_OF_PEAK = 0.1
TIGHT_CONVERGENCE = 1e-8


def _label_with(still_trial, tmp_path, **so_settings):
    base = PipelineConfig()
    config = dataclasses.replace(base, static_optimization=dataclasses.replace(base.static_optimization, **so_settings))
    return label_trial(still_trial.subject, still_trial.scaled.scaled_model_path, still_trial.markers_trc_path,
                       still_trial.grf_path, tmp_path / "trial", config, "S01/still")


def test_batched_solver_labels_the_trial_like_opensims_tool(still_trial, tmp_path):
    result = _label_with(still_trial, tmp_path / "batched", solver="batched")
    opensim_tight = _label_with(still_trial, tmp_path / "opensim", solver="opensim", convergence_criterion=TIGHT_CONVERGENCE)
    assert json.loads(result.summary_path.read_text())["so_solver"] == "batched"
    assert json.loads(opensim_tight.summary_path.read_text())["so_solver"] == "opensim"
    batched = pd.read_parquet(result.labels_path)
    reference = pd.read_parquet(opensim_tight.labels_path)
    assert list(batched.columns) == list(reference.columns)
    forces = [c for c in reference.columns if c.endswith("_force")]
    peak = np.abs(reference[forces].to_numpy()).max(axis=0)
    worst_pct = 100 * (np.abs(batched[forces].to_numpy() - reference[forces].to_numpy()).max(axis=0)
                       / np.maximum(peak, 1e-9))
    assert worst_pct.max() < FORCE_AGREEMENT_PCT_OF_PEAK
    moments = [c for c in reference.columns if c.endswith("_moment")]
    np.testing.assert_array_equal(batched[moments].to_numpy(), reference[moments].to_numpy())
    assert result.status == opensim_tight.status


def test_batched_solver_is_cross_checked_against_opensim_on_frames_of_the_trial(still_trial, tmp_path):
    result = _label_with(still_trial, tmp_path, solver="batched", cross_check_frames=2)
    check = json.loads(result.summary_path.read_text())["so_cross_check"]
    assert len(check["frame_times_s"]) == 2
    model = opensim.Model(str(still_trial.scaled.scaled_model_path))
    muscles = {model.getMuscles().get(i).getName() for i in range(model.getMuscles().getSize())}
    assert set(check["muscle_pct_of_peak"]) == muscles
    assert check["worst_pct_of_peak"] == max(check["muscle_pct_of_peak"].values())
    assert check["worst_pct_of_peak"] < FORCE_AGREEMENT_PCT_OF_PEAK
    assert result.qc["so_cross_check_worst_pct_peak"] == check["worst_pct_of_peak"]


def test_the_cross_check_on_a_walk_reads_only_its_window_and_agrees(measured_walk, tmp_path):
    from gait2hip.core.opensim_files import read_opensim_table
    from gait2hip.pipeline.so_cross_check import WINDOW_MARGIN_S

    base = PipelineConfig()
    config = dataclasses.replace(base, static_optimization=dataclasses.replace(
        base.static_optimization, solver="batched", cross_check_frames=3))
    result = label_trial(measured_walk.subject, measured_walk.scaled_model_path, measured_walk.markers_path,
                         measured_walk.grf_path, tmp_path / "walk", config, "HC040A/HC040A14")
    check = json.loads(result.summary_path.read_text())["so_cross_check"]
    window = read_opensim_table(tmp_path / "walk" / "so" / "cross_check" / "coordinates_window.mot")["time"]
    trial = read_opensim_table(tmp_path / "walk" / "ik" / "ik_coordinates.mot")["time"]
    # OpenSim's tool filters and splines all it is given: the check hands it the window, not the trial.
    assert window.iloc[0] == pytest.approx(check["frame_times_s"][0] - WINDOW_MARGIN_S, abs=0.011)
    assert window.iloc[-1] == pytest.approx(check["frame_times_s"][-1] + WINDOW_MARGIN_S, abs=0.011)
    assert len(window) < len(trial) / 1.5
    assert check["worst_pct_of_peak"] < FORCE_AGREEMENT_PCT_OF_PEAK


def test_the_cross_check_tries_later_windows_within_the_trial():
    from gait2hip.pipeline.so_cross_check import WINDOW_ATTEMPTS, _window_starts

    assert _window_starts(100, 3) == [48, 51, 54][:WINDOW_ATTEMPTS]
    assert _window_starts(7, 3) == [2]  # no later window fits
    assert _window_starts(2, 2) == [0]


def test_a_cross_check_that_cannot_run_leaves_a_note_and_the_labels(still_trial, tmp_path, monkeypatch):
    import gait2hip.pipeline.so_cross_check as so_cross_check
    from gait2hip.core.errors import OpenSimToolError

    windows = []

    def equilibrium_fails(**inputs):  # as OpenSim's tool fails when a muscle cannot be equilibrated
        windows.append(inputs["time_range_s"])
        raise OpenSimToolError("S01/still", "so", "Unable to compute equilibrium for this muscle.")

    monkeypatch.setattr(so_cross_check, "run_static_optimization", equilibrium_fails)
    result = _label_with(still_trial, tmp_path, solver="batched", cross_check_frames=2)
    summary = json.loads(result.summary_path.read_text())
    assert result.labels_path is not None and result.status == "ok"
    assert summary["so_cross_check"] is None and "so_cross_check_worst_pct_peak" not in result.qc
    assert any(note.startswith("SO cross-check not run") and "equilibrium" in note for note in summary["notes"])
    assert len(windows) > 1 and len(set(windows)) == len(windows)  # later windows were tried


def test_a_cross_check_beyond_its_limit_makes_the_trial_a_warning(still_trial, tmp_path):
    base = PipelineConfig()
    config = dataclasses.replace(
        base, static_optimization=dataclasses.replace(base.static_optimization, solver="batched", cross_check_frames=2),
        qc=dataclasses.replace(base.qc, so_cross_check_warn_pct_peak=0.0))
    result = label_trial(still_trial.subject, still_trial.scaled.scaled_model_path, still_trial.markers_trc_path,
                         still_trial.grf_path, tmp_path / "trial", config, "S01/still")
    assert result.status == "warn"
    assert any(reason.startswith("so_cross_check_worst_pct_peak") for reason in result.reasons)


def test_batched_solver_falls_back_to_opensim_for_what_it_does_not_reproduce(still_trial, tmp_path):
    result = _label_with(still_trial, tmp_path, solver="batched", activation_exponent=3.0)
    summary = json.loads(result.summary_path.read_text())
    assert summary["so_solver"] == "opensim"
    assert any("instead of the batched solver" in note and "activation_exponent" in note for note in summary["notes"])


def test_unknown_solver_is_a_config_error():
    with pytest.raises(ConfigError, match="solver"):
        PipelineConfig.from_dict({"static_optimization": {"solver": "ipopt"}})
