"""Model poses as arrays: the fast paths give OpenSim's own numbers, to the bit."""

from __future__ import annotations

import numpy as np
import opensim
import pytest

from gait2hip.virtual_lab.model_poses import MarkerJacobian, default_state, marker_locations_m, pose_matrix
from gait2hip.virtual_lab.ground_reactions import system_momentum
from gait2hip.virtual_lab.subject_model import build_subject_model, load_kinematic_model
from gait2hip.virtual_lab.subjects import sample_healthy_subject


@pytest.fixture(scope="module")
def subject_model_path(tmp_path_factory):
    subject = sample_healthy_subject("P01", np.random.default_rng(5), 0.6)
    return build_subject_model(subject, tmp_path_factory.mktemp("poses") / "model.osim")


@pytest.fixture(scope="module")
def subject_model(subject_model_path) -> opensim.Model:
    return opensim.Model(str(subject_model_path))


def _random_pose(model: opensim.Model, state: opensim.State, seed: int) -> np.ndarray:
    return state.getQ().to_numpy() + 0.3 * np.random.default_rng(seed).standard_normal(state.getNQ())


def test_default_state_resets_the_pose_that_init_system_gives(subject_model):
    initial = opensim.State(subject_model.initSystem())
    state = default_state(subject_model)
    state.setQ(opensim.Vector(_random_pose(subject_model, state, 0)))
    state.setU(opensim.Vector(state.getNU(), 0.7))
    reset = default_state(subject_model)
    np.testing.assert_array_equal(reset.getQ().to_numpy(), initial.getQ().to_numpy())
    np.testing.assert_array_equal(reset.getU().to_numpy(), initial.getU().to_numpy())


def test_multi_station_jacobian_equals_one_call_per_marker(subject_model):
    state = default_state(subject_model)
    markers = [subject_model.getMarkerSet().get(i) for i in range(subject_model.getMarkerSet().getSize())]
    state.setQ(opensim.Vector(_random_pose(subject_model, state, 1)))
    subject_model.realizePosition(state)
    positions, jacobian = MarkerJacobian(subject_model, markers).evaluate(state)
    single = opensim.Matrix()
    for k, marker in enumerate(markers):
        body = opensim.PhysicalFrame.safeDownCast(marker.getParentFrame()).getMobilizedBodyIndex()
        subject_model.getMatterSubsystem().calcStationJacobian(state, body, marker.get_location(), single)
        np.testing.assert_array_equal(jacobian[3 * k:3 * k + 3], single.to_numpy(), err_msg=marker.getName())
        np.testing.assert_array_equal(positions[3 * k:3 * k + 3], marker.getLocationInGround(state).to_numpy())


def test_pose_matrix_sets_what_set_value_sets(subject_model):
    """Markers over poses set with ``setQ`` equal those set coordinate by coordinate with ``setValue``."""
    state = default_state(subject_model)
    n_frames = 3
    knee = np.radians([-10.0, -40.0, -70.0])
    hip = np.radians([20.0, 0.0, -15.0])
    coordinates = {"knee_angle_r": knee, "hip_flexion_r": hip, "pelvis_ty": np.full(n_frames, 0.9)}
    markers = [subject_model.getMarkerSet().get(name) for name in ("R.Heel", "R.Toe.Tip", "R.Thigh.Upper")]
    fast = marker_locations_m(subject_model, state, pose_matrix(subject_model, state, coordinates), markers)
    coordinate_set = subject_model.getCoordinateSet()
    for frame in range(n_frames):
        state = default_state(subject_model)
        for name, values in coordinates.items():
            coordinate_set.get(name).setValue(state, float(values[frame]), False)
        subject_model.realizePosition(state)
        for index, marker in enumerate(markers):
            np.testing.assert_array_equal(fast[frame, index], marker.getLocationInGround(state).to_numpy())


def test_kinematic_model_has_the_markers_and_momentum_of_the_full_model_to_the_bit(subject_model_path):
    full, kinematic = opensim.Model(str(subject_model_path)), load_kinematic_model(subject_model_path)
    assert kinematic.getForceSet().getSize() == 0 < full.getForceSet().getSize()
    for model in (full, kinematic):
        model.initSystem()
    seen = []
    for model in (full, kinematic):
        state = default_state(model)
        markers = [model.getMarkerSet().get(i) for i in range(model.getMarkerSet().getSize())]
        q = pose_matrix(model, state, {"hip_flexion_r": np.radians([30.0, -10.0]), "knee_angle_l": np.radians([-60.0, -5.0]),
                                       "pelvis_tilt": np.radians([-12.0, -8.0]), "pelvis_tx": np.array([0.3, 0.9])})
        state.setU(opensim.Vector(state.getNU(), 0.4))
        momentum = []
        for pose in q:
            state.setQ(opensim.Vector.createFromMat(pose))
            model.realizeVelocity(state)
            momentum.append(np.concatenate(system_momentum(model, state)))
        seen.append((marker_locations_m(model, state, q, markers), np.array(momentum), model.getTotalMass(state)))
    np.testing.assert_array_equal(seen[0][0], seen[1][0])
    np.testing.assert_array_equal(seen[0][1], seen[1][1])
    assert seen[0][2] == seen[1][2]


def test_markers_splined_between_every_kth_frame_stay_within_a_twentieth_of_a_millimetre(subject_model):
    """Gait-like angles at 130 steps/min (1.08 Hz strides, harmonics up to 4.3 Hz falling off as
    1/k², as in gait), sampled at 100 Hz: forward kinematics on every 2nd frame with a cubic spline between
    gives all 39 markers within 0.05 mm (what the synthesis writes), every 4th within 0.5 mm
    (what it uses for its first pelvis path and the IK targets)."""
    state = default_state(subject_model)
    times = np.arange(300) / 100.0
    rng = np.random.default_rng(3)
    coordinates = {name: np.radians(sum(amplitude / k ** 2 * np.sin(2 * np.pi * k * 1.083 * times + rng.uniform(0, 6))
                                        for k in (1, 2, 3, 4)))
                   for name, amplitude in (("hip_flexion_r", 20.0), ("knee_angle_r", -30.0), ("ankle_angle_r", 10.0),
                                           ("hip_flexion_l", 20.0), ("knee_angle_l", -30.0), ("pelvis_tilt", 3.0))}
    coordinates["pelvis_tx"] = 1.4 * times
    markers = [subject_model.getMarkerSet().get(i) for i in range(subject_model.getMarkerSet().getSize())]
    q = pose_matrix(subject_model, state, coordinates)
    every_frame = marker_locations_m(subject_model, state, q, markers)
    error = {every: np.linalg.norm(marker_locations_m(subject_model, state, q, markers, every=every) - every_frame,
                                   axis=2).max() for every in (2, 4)}
    assert error[2] < 5e-5 and error[4] < 5e-4, error
    assert error[4] > 1e-6   # the splined frames are not simply the computed ones
