"""The in-band IK refinement: its fast normal equations and its linearisation's momentum."""

from __future__ import annotations

import numpy as np
import opensim
import pytest
from scipy.signal import butter, filtfilt

from gait2hip.virtual_lab.balance import centre_of_pressure
from gait2hip.virtual_lab.band_limited_ik import (Linearisation, filtered_basis, linearise, normal_equations,
                                         normal_equations_reference)
from gait2hip.virtual_lab.foot_placement import MarkerTargets
from gait2hip.virtual_lab.ground_reactions import total_external_wrench
from gait2hip.virtual_lab.subject_model import build_subject_model, load_kinematic_model
from gait2hip.virtual_lab.subjects import sample_healthy_subject

RATE_HZ = 100.0


def _band_limit(values: np.ndarray) -> np.ndarray:
    b, a = butter(4, 4.0 / (RATE_HZ / 2))
    return filtfilt(b, a, values)


def test_normal_equations_equal_the_plain_frame_by_frame_sums():
    rng = np.random.default_rng(0)
    times = np.arange(400) / RATE_HZ
    basis = filtered_basis(times, _band_limit)
    n_frames, n_markers, n_free = len(times), 5, 4
    frames = np.unique(np.append(np.arange(0, n_frames, 4), n_frames - 1))
    index = {f"c{k}": k for k in range(n_free + 1)}        # c4 is held: not free
    linearised = Linearisation(frames, rng.standard_normal((n_frames, n_free + 1)), index, [f"c{k}" for k in range(n_free)],
                               rng.standard_normal((len(frames), 3 * n_markers)),
                               rng.standard_normal((len(frames), 3 * n_markers, n_free)), None)
    targets = MarkerTargets([f"m{k}" for k in range(n_markers)], rng.standard_normal((n_frames, n_markers, 3)),
                            rng.uniform(1.0, 100.0, (n_frames, n_markers)))
    template, task_weight = rng.standard_normal((n_frames, n_free)), np.array([0.0, 1e-3, 1e-2, 1e-3])
    band, gradient = normal_equations(linearised, targets, basis, template, task_weight)
    expected_band, expected_gradient = normal_equations_reference(linearised, targets, basis, template, task_weight)
    assert band.shape == expected_band.shape and np.abs(expected_band).max() > 0
    np.testing.assert_allclose(band, expected_band, rtol=0, atol=1e-12 * np.abs(expected_band).max())
    np.testing.assert_allclose(gradient, expected_gradient, rtol=0, atol=1e-12 * np.abs(expected_gradient).max())


@pytest.fixture(scope="module")
def kinematic_model(tmp_path_factory) -> opensim.Model:
    subject = sample_healthy_subject("P02", np.random.default_rng(2), 0.6)
    return load_kinematic_model(build_subject_model(subject, tmp_path_factory.mktemp("refine") / "model.osim"))


def test_linearisation_momentum_gives_the_external_wrench_within_one_percent_of_body_weight(kinematic_model):
    """The balance correction reads the wrench from the momentum on the 25 Hz grid of the
    linearisation; on a gait-like motion at 130 steps/min its force stays within 1 % BW, and the
    centre of pressure it implies (what the correction uses) within 1 cm, of those from the
    momentum on every frame."""
    times = np.arange(400) / RATE_HZ
    rng = np.random.default_rng(4)
    coordinates = {name: _band_limit(np.radians(sum(amplitude / k ** 2 * np.sin(2 * np.pi * k * 1.083 * times + rng.uniform(0, 6))
                                                    for k in (1, 2, 3, 4))))
                   for name, amplitude in (("hip_flexion_r", 20.0), ("knee_angle_r", -30.0), ("ankle_angle_r", 10.0),
                                           ("hip_flexion_l", 20.0), ("knee_angle_l", -30.0), ("pelvis_tilt", 3.0))}
    coordinates.update(pelvis_tx=1.4 * times, pelvis_ty=0.95 + 0.02 * np.sin(2 * np.pi * 2.17 * times))
    kinematic_model.initSystem()
    coordinate_set = kinematic_model.getCoordinateSet()
    for k in range(coordinate_set.getSize()):
        coordinates.setdefault(coordinate_set.get(k).getName(), np.zeros(len(times)))
    marker_names = ["R.Heel", "L.Toe.Tip", "R.ASIS"]
    linearised = linearise(kinematic_model, times, coordinates, marker_names, with_wrench=True)
    assert linearised.positions_m.shape == (len(linearised.frames), 9)
    reference = total_external_wrench(kinematic_model, times, coordinates)
    inside = slice(20, -20)
    weight_n = reference.mass_kg * 9.80665
    force_error = np.linalg.norm(linearised.wrench.force_n - reference.force_n, axis=1)[inside].max()
    assert 0 < force_error < 0.01 * weight_n, force_error / weight_n
    cop_error = np.linalg.norm(centre_of_pressure(linearised.wrench.force_n, linearised.wrench.moment_nm)
                               - centre_of_pressure(reference.force_n, reference.moment_nm), axis=1)[inside].max()
    assert cop_error < 0.01, cop_error
    np.testing.assert_allclose(linearised.wrench.centre_of_mass_m[inside], reference.centre_of_mass_m[inside], atol=1e-4)
