"""Hip-muscle detection: path topology and moment arms, robust to coupler constraints."""

from __future__ import annotations

import math

import opensim
import pytest

from gait2hip import opensim_models
from gait2hip.pipeline.hip_muscles import MIN_MOMENT_ARM_M, find_hip_muscles, muscles_spanning
from gait2hip.pipeline.model_config import ModelConfig

# The hip muscles of gait2392 and gait2354 as found from moment arms alone, before the path
# topology test was added; the topology test must not change them. Model order: right, then left.
GAIT2392_HIP_MUSCLES = ("glut_med1", "glut_med2", "glut_med3", "glut_min1", "glut_min2", "glut_min3", "semimem",
                        "semiten", "bifemlh", "sar", "add_long", "add_brev", "add_mag1", "add_mag2", "add_mag3", "tfl",
                        "pect", "grac", "glut_max1", "glut_max2", "glut_max3", "iliacus", "psoas", "quad_fem", "gem",
                        "peri", "rect_fem")
GAIT2354_HIP_MUSCLES = ("glut_med1", "glut_med2", "glut_med3", "bifemlh", "sar", "add_mag2", "tfl", "pect", "grac",
                        "glut_max1", "glut_max2", "glut_max3", "iliacus", "psoas", "quad_fem", "gem", "peri",
                        "rect_fem")
RAJAGOPAL = "rajagopal_lai_uhlrich"


def _both_sides(muscles: tuple[str, ...]) -> list[str]:
    return [f"{muscle}_{side}" for side in ("r", "l") for muscle in muscles]


def _hip_muscles(model_name: str) -> list[str]:
    model = opensim.Model(str(opensim_models.model_path(model_name)))
    return find_hip_muscles(model, ModelConfig.load(model_name).hip_coordinates)


@pytest.fixture(scope="module")
def rajagopal_hip_muscles() -> list[str]:
    return _hip_muscles(RAJAGOPAL)


def test_gait2392_hip_muscles_are_unchanged():
    assert _hip_muscles("gait2392") == _both_sides(GAIT2392_HIP_MUSCLES)


def test_gait2354_hip_muscles_are_unchanged():
    assert _hip_muscles("gait2354") == _both_sides(GAIT2354_HIP_MUSCLES)


def test_coupler_constraint_gives_the_gastrocnemius_a_spurious_hip_moment_arm():
    # The case the topology test exists for: through the patellofemoral coupler constraint
    # OpenSim reports a hip moment arm above the threshold for a muscle that never reaches the pelvis.
    model = opensim.Model(str(opensim_models.model_path(RAJAGOPAL)))
    state = model.initSystem()
    model.getCoordinateSet().get("hip_flexion_r").setValue(state, math.radians(30.0))
    model.realizePosition(state)
    gastrocnemius = model.getMuscles().get("gaslat_r")
    hip_flexion = model.getCoordinateSet().get("hip_flexion_r")
    assert abs(gastrocnemius.computeMomentArm(state, hip_flexion)) > MIN_MOMENT_ARM_M


def _muscle_names(model_name: str) -> set[str]:
    model = opensim.Model(str(opensim_models.model_path(model_name)))
    model.initSystem()
    muscles = model.getMuscles()
    return {muscles.get(index).getName() for index in range(muscles.getSize())}


def test_rajagopal_gastrocnemii_are_not_hip_muscles(rajagopal_hip_muscles):
    gastrocnemii = {"gaslat_r", "gasmed_r", "gaslat_l", "gasmed_l"}
    assert gastrocnemii <= _muscle_names(RAJAGOPAL)
    assert not gastrocnemii & set(rajagopal_hip_muscles)


def test_rajagopal_glutei_iliopsoas_and_hamstrings_are_hip_muscles(rajagopal_hip_muscles):
    for muscle in ("glmax1_r", "glmax3_l", "glmed1_r", "glmed3_l", "glmin2_r", "iliacus_r", "psoas_l", "recfem_r",
                   "bflh_l", "semimem_r", "sart_l", "tfl_r", "addmagProx_l", "piri_r"):
        assert muscle in rajagopal_hip_muscles
    one_joint_knee_and_ankle = {"vasmed_r", "bfsh_l", "soleus_r", "tibant_l"}
    assert one_joint_knee_and_ankle <= _muscle_names(RAJAGOPAL)
    assert not one_joint_knee_and_ankle & set(rajagopal_hip_muscles)
    # 25 per side: 6 adductors, 9 glutei, iliacus, psoas, piriformis, 3 hamstrings, rectus
    # femoris, sartorius, gracilis, TFL.
    assert len(rajagopal_hip_muscles) == 50


def _chain_model() -> opensim.Model:
    """pelvis –hip_flexion_r– femur –knee_angle_r– tibia; one muscle pelvis→tibia, one femur→tibia."""
    model = opensim.Model()
    bodies = {}
    for name in ("pelvis", "femur", "tibia"):
        bodies[name] = opensim.Body(name, 5.0, opensim.Vec3(0.0), opensim.Inertia(0.1))
        model.addBody(bodies[name])
    joints = (("ground_pelvis", model.getGround(), bodies["pelvis"], "pelvis_tilt"),
              ("hip", bodies["pelvis"], bodies["femur"], "hip_flexion_r"),
              ("knee", bodies["femur"], bodies["tibia"], "knee_angle_r"))
    for name, parent, child, coordinate in joints:
        joint = opensim.PinJoint(name, parent, opensim.Vec3(0.0, -0.4, 0.0), opensim.Vec3(0.0),
                                 child, opensim.Vec3(0.0), opensim.Vec3(0.0))
        joint.updCoordinate().setName(coordinate)
        model.addJoint(joint)
    for name, origin in (("biarticular", "pelvis"), ("monoarticular", "femur")):
        muscle = opensim.Thelen2003Muscle(name, 1000.0, 0.1, 0.2, 0.0)
        muscle.addNewPathPoint(f"{name}_origin", bodies[origin], opensim.Vec3(0.05, -0.1, 0.0))
        muscle.addNewPathPoint(f"{name}_insertion", bodies["tibia"], opensim.Vec3(0.05, -0.1, 0.0))
        model.addForce(muscle)
    model.finalizeConnections()
    return model


def test_only_muscles_whose_path_spans_the_hip_joint_are_spanning():
    model = _chain_model()
    model.initSystem()
    assert muscles_spanning(model, ("hip_flexion_r",)) == ["biarticular"]
    assert muscles_spanning(model, ("knee_angle_r",)) == ["biarticular", "monoarticular"]
