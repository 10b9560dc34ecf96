"""The virtual gait lab: determinism, physiology of cadence and pathology, GRF consistency."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import opensim
import pytest
import yaml
from scipy.signal import butter, filtfilt

from gait2hip.core.opensim_files import read_opensim_table
from gait2hip.virtual_lab.cohort import synthesize_cohort
from gait2hip.virtual_lab.ground_reactions import total_external_wrench
from gait2hip.virtual_lab.presets import CohortPreset, GroupSpec
from gait2hip.virtual_lab.validation import validate_cohort

BODY_WEIGHT_TOLERANCE = 0.05  # mean vertical GRF over whole strides vs body weight


def _digest(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path):
    preset = CohortPreset.load("demo")
    tiny = dataclasses.replace(preset, seed=11, recording=dataclasses.replace(preset.recording, n_cycles=1.0),
                               groups=(GroupSpec("healthy", 1, (110.0,), 1),))
    synthesize_cohort(tiny, tmp_path / "first")
    synthesize_cohort(tiny, tmp_path / "second")
    first, second = _digest(tmp_path / "first"), _digest(tmp_path / "second")
    assert first == second and len(first) > 5
    synthesize_cohort(dataclasses.replace(tiny, seed=12), tmp_path / "other")
    assert _digest(tmp_path / "other")["S01/trials/cadence_110_01/markers.trc"] != first["S01/trials/cadence_110_01/markers.trc"]


def test_cadence_shortens_the_stride_and_lengthens_the_step(small_cohort):
    trials = {key: trial for key, trial in small_cohort.trials.items() if key.startswith("S01/")}
    stride = {trial.cadence_steps_per_min: trial.stride_time_s for trial in trials.values()}
    assert stride[90.0] > stride[110.0] > stride[130.0]
    step_lengths = {}
    for trial in trials.values():
        truth = read_opensim_table(trial.truth_coordinates_path)
        speed = (truth["pelvis_tx"].iloc[-1] - truth["pelvis_tx"].iloc[0]) / (truth["time"].iloc[-1] - truth["time"].iloc[0])
        step_lengths[trial.cadence_steps_per_min] = speed * trial.stride_time_s / 2
    assert step_lengths[90.0] < step_lengths[110.0] < step_lengths[130.0]


def test_vertical_grf_averages_body_weight_over_a_stride(small_cohort):
    subject = small_cohort.subjects[0]
    for key, trial in small_cohort.trials.items():
        if not key.startswith("S01/"):
            continue
        grf = read_opensim_table(trial.grf_path)
        strikes = trial.events["heel_strike_r"]
        inside = (grf["time"] >= strikes[0]) & (grf["time"] < strikes[0] + trial.stride_time_s)
        vertical = (grf["ground_force_vy"] + grf["1_ground_force_vy"])[inside].mean()
        assert vertical == pytest.approx(subject.mass_kg * 9.80665, rel=BODY_WEIGHT_TOLERANCE), key


def test_marker_files_are_in_millimetres_at_100_hz(small_cohort):
    trial = next(iter(small_cohort.trials.values()))
    header = trial.markers_path.read_text().splitlines()[:3]
    assert header[1].split("\t")[:5] == ["DataRate", "CameraRate", "NumFrames", "NumMarkers", "Units"]
    values = header[2].split("\t")
    assert float(values[0]) == 100.0 and values[4] == "mm"


def test_antalgic_subject_has_a_shorter_stance_and_less_hip_extension_on_the_affected_side(small_cohort):
    patient = next(s for s in small_cohort.subjects if s.group == "antalgic-hip")
    side, other = patient.affected_side, "l" if patient.affected_side == "r" else "r"
    assert patient.traits.stance_fraction[side] < patient.traits.stance_fraction[other]
    trial = next(t for k, t in small_cohort.trials.items() if k.startswith(patient.subject_id))
    truth = read_opensim_table(trial.truth_coordinates_path)
    assert truth[f"hip_flexion_{side}"].min() > truth[f"hip_flexion_{other}"].min()
    assert trial.cadence_steps_per_min < 110.0
    meta = yaml.safe_load((small_cohort.folder / patient.subject_id / "subject.yaml").read_text())
    assert meta["group"] == "antalgic-hip" and meta["affected_side"] == side


def test_pipeline_recovers_the_generating_scale_and_angles_and_grfs_agree(small_cohort, tmp_path):
    report = validate_cohort(small_cohort.folder, tmp_path, max_subjects=1)
    assert report.checks["scale_factors_within_2_percent"], report.to_dict()["worst"]
    assert report.checks["joint_angles_within_2_deg_rms"], report.to_dict()["worst"]
    assert report.checks["pelvis_residual_below_5_percent_bw"], report.to_dict()["worst"]
    assert report.checks["pelvis_residual_moment_below_qc_warn"], report.to_dict()["worst"]


# Written GRF total vs the external wrench of the written truth motion (% BW): the GRFs are what a
# plate measures, so the pipeline's ID filters them as it filters the coordinates. GRFs of the
# motion as ID's 6 Hz low-pass passes it miss them by 2 % BW or more, and the pipeline would
# low-pass those a second time.
GRF_TOLERANCE_PCT_BW = 0.5
ID_LOWPASS_HZ = 6.0
TRIAL_EDGE_S = 0.3   # left out at both ends: the truth is the trial alone, the GRFs come from the padded motion


def test_truth_rotations_are_written_in_degrees(small_cohort):
    trial = next(trial for key, trial in small_cohort.trials.items() if key.startswith("S01/"))
    truth = read_opensim_table(trial.truth_coordinates_path)
    # The template's pelvis is tilted 13° anterior (negative in gait2392); in radians it would read -0.23.
    assert truth["pelvis_tilt"].mean() == pytest.approx(-13.0, abs=3.0)
    assert truth["pelvis_tx"].max() - truth["pelvis_tx"].min() > 1.0   # metres walked: not converted


def test_grfs_are_those_of_the_motion_as_a_plate_measures_them(small_cohort):
    for key, trial in small_cohort.trials.items():
        if not key.startswith("S01/"):
            continue
        truth = read_opensim_table(trial.truth_coordinates_path)
        times = truth["time"].to_numpy()
        coordinates = {name: truth[name].to_numpy() if name in ("pelvis_tx", "pelvis_ty", "pelvis_tz")
                       else np.radians(truth[name].to_numpy()) for name in truth.columns if name != "time"}
        model = opensim.Model(str(trial.truth_coordinates_path.parent / "model.osim"))
        motion = total_external_wrench(model, times, coordinates)
        b, a = butter(3, ID_LOWPASS_HZ / (0.5 / (times[1] - times[0])))
        as_id_filters = total_external_wrench(model, times, {name: filtfilt(b, a, values)
                                                             for name, values in coordinates.items()})
        grf = read_opensim_table(trial.grf_path)
        written = np.column_stack([np.interp(times, grf["time"], grf[f"ground_force_v{axis}"] + grf[f"1_ground_force_v{axis}"])
                                   for axis in "xyz"])
        inside = (times > times[0] + TRIAL_EDGE_S) & (times < times[-1] - TRIAL_EDGE_S)

        def worst_pct_bw(wrench):
            return (100 * np.linalg.norm(written - wrench.force_n, axis=1) / (wrench.mass_kg * 9.80665))[inside].max()

        assert worst_pct_bw(motion) < GRF_TOLERANCE_PCT_BW, (key, worst_pct_bw(motion))
        # ... and not those of the motion already low-passed (which ID would filter twice).
        assert worst_pct_bw(as_id_filters) > 2 * GRF_TOLERANCE_PCT_BW, (key, worst_pct_bw(as_id_filters))


def test_stance_foot_slip_is_below_one_centimetre(small_cohort):
    assert max(trial.foot_slip_m for trial in small_cohort.trials.values()) < 0.01


def test_stance_foot_slip_is_below_one_centimetre_at_90_and_110_steps_per_min(small_cohort):
    slow = [trial.foot_slip_m for trial in small_cohort.trials.values() if trial.cadence_steps_per_min in (90.0, 110.0)]
    assert len(slow) == 2 and max(slow) < 0.01


def test_motion_band_limit_follows_the_cadence_above_the_reference():
    from gait2hip.virtual_lab.trial import MOTION_BANDWIDTH_HZ, motion_bandwidth_hz

    assert motion_bandwidth_hz(90.0) == motion_bandwidth_hz(110.0) == MOTION_BANDWIDTH_HZ
    assert motion_bandwidth_hz(130.0) == pytest.approx(MOTION_BANDWIDTH_HZ * 130.0 / 110.0)


def test_centre_of_pressure_stays_inside_the_stance_foot(small_cohort):
    assert max(trial.cop_outside_foot_m for trial in small_cohort.trials.values()) < 0.01


# The presets clamp each foot's COP into its outline; the clamp then changes the moment the GRFs
# apply (load × distance moved). The balance correction should leave it nothing to do at 90 and
# 110 steps/min and little at 130: well below the pipeline's residual-moment QC warn limit (75 Nm).
CLAMPED_MOMENT_SLOW_NM = 5.0
CLAMPED_MOMENT_FAST_NM = 50.0


def test_balance_correction_leaves_little_for_the_clamp(small_cohort):
    fast = [trial.clamped_moment_nm for trial in small_cohort.trials.values() if trial.cadence_steps_per_min >= 130.0]
    slow = [trial.clamped_moment_nm for trial in small_cohort.trials.values() if trial.cadence_steps_per_min < 130.0]
    assert len(fast) == 1 and len(slow) == 3
    assert max(slow) < CLAMPED_MOMENT_SLOW_NM, slow
    assert max(fast) < CLAMPED_MOMENT_FAST_NM, fast


AGREEMENT_TOLERANCE_DEG = 1.0   # Gauss–Newton vs OpenSim's IK solver, same cost, same frames (they differ by ~0.5°)
AGREEMENT_TOLERANCE_M = 0.002


def test_fast_whole_body_ik_agrees_with_opensims_solver(tmp_path, monkeypatch):
    import numpy as np

    from gait2hip.virtual_lab.foot_placement import MarkerTargets, marker_trajectories, target_marker_names
    from gait2hip.virtual_lab.subject_model import build_subject_model
    from gait2hip.virtual_lab.subjects import sample_healthy_subject
    from gait2hip.virtual_lab import whole_body_ik
    from gait2hip.virtual_lab.whole_body_ik import solve_whole_body, solve_whole_body_opensim
    import opensim

    # Both solved to convergence, so the comparison is of the optimum, not of the stopping rules.
    monkeypatch.setattr(whole_body_ik, "SOLVER_ACCURACY", 1e-7)
    monkeypatch.setattr(whole_body_ik, "GAUSS_NEWTON_STEP_TOLERANCE", 1e-8)
    monkeypatch.setattr(whole_body_ik, "GAUSS_NEWTON_MAX_ITERATIONS", 30)

    subject = sample_healthy_subject("T01", np.random.default_rng(3), 0.6)
    model_path = build_subject_model(subject, tmp_path / "model.osim")
    times = np.arange(41) / 100.0
    swing = np.sin(2 * np.pi * times / 0.8)
    template = {"hip_flexion_r": np.radians(20 * swing), "knee_angle_r": np.radians(-30 * (1 + swing) / 2),
                "hip_flexion_l": np.radians(-20 * swing), "ankle_angle_l": np.radians(10 * swing),
                "pelvis_ty": np.full(len(times), 0.95), "pelvis_tx": 1.2 * times}
    names = target_marker_names()
    positions = marker_trajectories(opensim.Model(str(model_path)), template, names)
    positions[:, :3, 0] += 0.02 * times[:, None] / times[-1]   # the right foot's targets drift 2 cm forward
    weights = np.tile(np.array([2000.0] * 3 + [20.0] * 3 + [1000.0] * 3), (len(times), 1))
    targets = MarkerTargets(names, positions, weights)
    fast = solve_whole_body(opensim.Model(str(model_path)), times, targets, template)
    reference = solve_whole_body_opensim(model_path, times, targets, template)
    frames = slice(0, None, 4)   # solved by both (the reference's 25 Hz grid)
    for name in fast:
        translation = name in ("pelvis_tx", "pelvis_ty", "pelvis_tz")
        tolerance = AGREEMENT_TOLERANCE_M if translation else np.radians(AGREEMENT_TOLERANCE_DEG)
        np.testing.assert_allclose(fast[name][frames], reference[name][frames], atol=tolerance, err_msg=name)
