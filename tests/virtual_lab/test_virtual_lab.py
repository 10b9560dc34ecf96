"""The virtual gait lab: determinism, physiology of cadence and pathology, GRF consistency."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
import yaml

from pipeline.storage import read_opensim_table
from virtual_lab.cohort import synthesize_cohort
from virtual_lab.presets import CohortPreset, GroupSpec
from virtual_lab.validation import validate_cohort

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


@pytest.mark.xfail(strict=True, reason="known limitation (issue 3 open): the template kinematics are not "
                                       "balance-consistent, the solved stance foot slips several cm")
def test_stance_foot_slip_is_below_one_centimetre(small_cohort):
    assert max(trial.foot_slip_m for trial in small_cohort.trials.values()) < 0.01
