"""The shipped model, its path API, and the hip muscles found from its geometry."""

from __future__ import annotations

import opensim
import pytest

from gait2hip import opensim_models
from gait2hip.pipeline.hip_muscles import find_hip_muscles
from gait2hip.pipeline.model_config import ModelConfig, model_yaml_path


def test_model_path_points_at_the_shipped_gait2392():
    assert opensim_models.model_path("gait2392").is_file()
    assert opensim_models.marker_set_path("gait2392").is_file()
    assert "gait2392" in opensim_models.available_models()


def test_unknown_model_name_lists_the_available_ones():
    with pytest.raises(KeyError, match="available"):
        opensim_models.model_path("gait9999")


def test_gait2392_has_23_coordinates_92_muscles_and_39_markers():
    model = opensim.Model(str(opensim_models.model_path("gait2392")))
    model.initSystem()
    assert model.getCoordinateSet().getSize() == 23
    assert model.getMuscles().getSize() == 92
    assert opensim.MarkerSet(str(opensim_models.marker_set_path("gait2392"))).getSize() == 39


def test_hip_muscles_are_found_from_moment_arms():
    model = opensim.Model(str(opensim_models.model_path("gait2392")))
    hip_muscles = find_hip_muscles(model, ModelConfig.load("gait2392").hip_coordinates)
    # Muscles that cross the hip in gait2392 (Delp 1990), and some that do not.
    for muscle in ("glut_max1_r", "glut_med1_l", "iliacus_r", "psoas_l", "add_mag3_r", "rect_fem_r",
                   "semimem_l", "bifemlh_r", "sar_l", "tfl_r", "grac_l", "peri_r"):
        assert muscle in hip_muscles
    for muscle in ("vas_int_r", "bifemsh_l", "soleus_r", "med_gas_l", "ercspn_r", "tib_ant_r"):
        assert muscle not in hip_muscles
    assert len(hip_muscles) == 54


@pytest.mark.parametrize("model_name", ["gait2392", "gait2354", "rajagopal_lai_uhlrich"])
def test_every_name_a_shipped_model_yaml_gives_is_in_its_model_and_marker_set(model_name):
    ModelConfig.load(model_name).check_names(model_yaml_path(model_name))


def test_rajagopal_has_33_coordinates_80_muscles_65_markers_and_two_patella_couplers():
    model = opensim.Model(str(opensim_models.model_path("rajagopal_lai_uhlrich")))
    model.initSystem()
    assert model.getCoordinateSet().getSize() == 33
    assert model.getMuscles().getSize() == 80
    assert opensim.MarkerSet(str(opensim_models.marker_set_path("rajagopal_lai_uhlrich"))).getSize() == 65
    constraints = model.getConstraintSet()
    couplers = [constraints.get(i).getName() for i in range(constraints.getSize())
                if constraints.get(i).getConcreteClassName() == "CoordinateCouplerConstraint"]
    assert couplers == ["patellofemoral_knee_angle_r_con", "patellofemoral_knee_angle_l_con"]


def test_rajagopal_ships_no_actuators_of_its_own():
    # The pipeline adds its own residual and reserve actuators; the Moco example's lumbar and arm
    # torque actuators were removed so SO does not get a second, differently weighted set.
    model = opensim.Model(str(opensim_models.model_path("rajagopal_lai_uhlrich")))
    model.initSystem()
    assert model.getForceSet().getSize() == model.getMuscles().getSize()


def test_shipped_rajagopal_carries_its_licence_and_notice():
    folder = opensim_models.model_dir("rajagopal_lai_uhlrich")
    assert "Apache License" in (folder / "LICENSE.txt").read_text()
    notice = (folder / "NOTICE.txt").read_text()
    assert "opensim-core" in notice and "Rajagopal" in notice
