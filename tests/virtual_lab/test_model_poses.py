"""Model poses as arrays: the fast paths give OpenSim's own numbers, to the bit."""

from __future__ import annotations

import numpy as np
import opensim
import pytest

from virtual_lab.model_poses import MarkerJacobian, default_state, marker_locations_m, pose_matrix
from virtual_lab.subject_model import build_subject_model
from virtual_lab.subjects import sample_healthy_subject


@pytest.fixture(scope="module")
def subject_model(tmp_path_factory) -> opensim.Model:
    subject = sample_healthy_subject("P01", np.random.default_rng(5), 0.6)
    return opensim.Model(str(build_subject_model(subject, tmp_path_factory.mktemp("poses") / "model.osim")))


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
