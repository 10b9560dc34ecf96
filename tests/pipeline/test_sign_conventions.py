"""Label sign conventions: each model's declared signs, their validation, and the column flip."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import opensim
import pytest

from gait2hip import opensim_models
from gait2hip.core.errors import ConfigError
from gait2hip.pipeline.model_config import ModelConfig
from gait2hip.pipeline.sign_conventions import apply_label_signs

N_FRAMES = 5
# A coordinate turns "the same way" as gait2392's when the distal point moves with a positive
# dot product; 10 degrees moves it by centimetres, so this margin (m²) is far from round-off.
SAME_WAY_MIN_DOT_M2 = 1e-4
# (coordinate, distal body, proximal body, point on the distal body in its frame (m)): a rotation
# about the coordinate moves the point. The hip rotation point is anterior on the tibia, so
# internal rotation moves it medially; the others use the distal body's origin.
PROBES = (
    ("hip_flexion_r", "tibia_r", "pelvis", (0.0, 0.0, 0.0)),
    ("hip_adduction_r", "tibia_r", "pelvis", (0.0, 0.0, 0.0)),
    ("hip_rotation_r", "tibia_r", "pelvis", (0.1, 0.0, 0.0)),
    ("knee_angle_r", "talus_r", "femur_r", (0.0, 0.0, 0.0)),
    ("ankle_angle_r", "toes_r", "tibia_r", (0.0, 0.0, 0.0)),
    ("hip_flexion_l", "tibia_l", "pelvis", (0.0, 0.0, 0.0)),
    ("hip_adduction_l", "tibia_l", "pelvis", (0.0, 0.0, 0.0)),
    ("hip_rotation_l", "tibia_l", "pelvis", (0.1, 0.0, 0.0)),
    ("knee_angle_l", "talus_l", "femur_l", (0.0, 0.0, 0.0)),
    ("ankle_angle_l", "toes_l", "tibia_l", (0.0, 0.0, 0.0)),
)


def _label_columns(config: ModelConfig) -> dict[str, np.ndarray]:
    """Distinct values per column, as build_label_table would assemble them."""
    columns = {"time": np.arange(N_FRAMES) / 100.0}
    for offset, name in enumerate(config.input_coordinates):
        columns[name] = np.linspace(1.0, 2.0, N_FRAMES) + offset
    for offset, name in enumerate(config.hip_coordinates):
        columns[f"{name}_moment"] = np.linspace(0.1, 0.5, N_FRAMES) + offset
    columns["glut_med1_r_force"] = np.full(N_FRAMES, 3.0)
    return columns


def _distal_motions_m(model_name: str) -> dict[str, np.ndarray]:
    """Displacement (m) of each probe point, in the proximal body's frame, when its coordinate goes 0 → +10°."""
    model = opensim.Model(str(opensim_models.model_path(model_name)))
    state = model.initSystem()
    motions = {}
    for coordinate_name, distal, proximal, point in PROBES:
        coordinate = model.getCoordinateSet().get(coordinate_name)
        positions = []
        for value_deg in (0.0, 10.0):
            coordinate.setValue(state, math.radians(value_deg), False)
            model.realizePosition(state)
            location = model.getBodySet().get(distal).findStationLocationInAnotherFrame(
                state, opensim.Vec3(*point), model.getBodySet().get(proximal))
            positions.append(np.array([location.get(axis) for axis in range(3)]))
        coordinate.setValue(state, 0.0, False)
        motions[coordinate_name] = positions[1] - positions[0]
    return motions


def test_gait2392_declares_no_flips_and_its_labels_are_unchanged():
    config = ModelConfig.load("gait2392")
    columns = _label_columns(config)
    signed = apply_label_signs(columns, config)
    assert config.label_signs == {}
    assert list(signed) == list(columns)
    for name, values in columns.items():
        np.testing.assert_array_equal(signed[name], values)


def test_a_flipped_hip_coordinate_negates_its_angle_and_its_moment_column_only():
    config = dataclasses.replace(ModelConfig.load("gait2392"), label_signs={"hip_flexion_r": -1})
    columns = _label_columns(config)
    signed = apply_label_signs(columns, config)
    np.testing.assert_array_equal(signed["hip_flexion_r"], -columns["hip_flexion_r"])
    np.testing.assert_array_equal(signed["hip_flexion_r_moment"], -columns["hip_flexion_r_moment"])
    for name in set(columns) - {"hip_flexion_r", "hip_flexion_r_moment"}:
        np.testing.assert_array_equal(signed[name], columns[name])


def test_flipping_leaves_the_given_columns_untouched():
    config = dataclasses.replace(ModelConfig.load("gait2392"), label_signs={"hip_flexion_r": -1})
    columns = _label_columns(config)
    before = columns["hip_flexion_r"].copy()
    apply_label_signs(columns, config)
    np.testing.assert_array_equal(columns["hip_flexion_r"], before)


def test_rajagopal_knee_angles_are_negated_into_the_label_convention():
    config = ModelConfig.load("rajagopal_lai_uhlrich")
    columns = _label_columns(config)
    signed = apply_label_signs(columns, config)
    for name in ("knee_angle_r", "knee_angle_l"):
        np.testing.assert_array_equal(signed[name], -columns[name])
    for name in ("hip_flexion_r", "hip_adduction_l", "ankle_angle_r", "hip_rotation_l_moment"):
        np.testing.assert_array_equal(signed[name], columns[name])


def test_a_missing_column_of_a_flipped_coordinate_is_named():
    config = ModelConfig.load("rajagopal_lai_uhlrich")
    columns = _label_columns(config)
    del columns["knee_angle_l"]
    with pytest.raises(KeyError, match="knee_angle_l"):
        apply_label_signs(columns, config)


@pytest.mark.parametrize("model_name", ["gait2354", "rajagopal_lai_uhlrich"])
def test_declared_signs_make_every_input_coordinate_turn_as_gait2392s(model_name):
    reference = _distal_motions_m("gait2392")
    motions = _distal_motions_m(model_name)
    config = ModelConfig.load(model_name)
    assert {probe[0] for probe in PROBES} == set(config.input_coordinates)
    for coordinate, motion in motions.items():
        agreement = config.label_sign(coordinate) * float(np.dot(motion, reference[coordinate]))
        assert agreement > SAME_WAY_MIN_DOT_M2, coordinate


def _yaml_with_label_signs(tmp_path, label_signs_yaml: str):
    text = opensim_models.model_config_path("gait2392").read_text()
    path = tmp_path / "model.yaml"
    path.write_text(text.replace("label_signs: {}", label_signs_yaml))
    return str(path)


def test_a_label_sign_other_than_plus_or_minus_one_is_refused(tmp_path):
    path = _yaml_with_label_signs(tmp_path, "label_signs: {knee_angle_r: 2}")
    with pytest.raises(ConfigError, match=r"label_signs\.knee_angle_r must be 1 or -1"):
        ModelConfig.load(path)


def test_a_label_sign_for_a_coordinate_that_is_not_an_input_or_hip_coordinate_is_refused(tmp_path):
    path = _yaml_with_label_signs(tmp_path, "label_signs: {lumbar_extension: -1}")
    with pytest.raises(ConfigError, match="lumbar_extension"):
        ModelConfig.load(path)
