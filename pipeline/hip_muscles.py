"""Which muscles cross the hip, found from the model's geometry (moment arms), not a list."""

from __future__ import annotations

import math

import opensim

# A muscle crosses a joint when its moment arm about one of the joint's coordinates exceeds
# this (m) in at least one probe pose; 0.1 mm is far below any real moment arm at the hip.
MIN_MOMENT_ARM_M = 1e-4

# Probe poses (hip flexion, adduction, rotation in degrees): neutral, and the gait range.
_PROBE_POSES_DEG = ((0.0, 0.0, 0.0), (30.0, 0.0, 0.0), (-15.0, 0.0, 0.0), (10.0, 10.0, 10.0), (10.0, -10.0, -10.0))


def find_hip_muscles(model: opensim.Model, hip_coordinates: tuple[str, ...]) -> list[str]:
    """Return the names of the muscles with a non-zero moment arm about any hip coordinate.

    Parameters
    ----------
    model
        Any OpenSim model (generic or scaled); it is initialised here.
    hip_coordinates
        Names of the hip coordinates, e.g. ``hip_flexion_r``, ``hip_adduction_r``, ...

    Returns
    -------
    list of str
        Muscle names in the model's order.
    """
    state = model.initSystem()
    coordinates = [model.getCoordinateSet().get(name) for name in hip_coordinates]
    crossing = []
    muscles = model.getMuscles()
    for pose in _PROBE_POSES_DEG:
        for coordinate in coordinates:
            axis = _axis_of(coordinate.getName())
            coordinate.setValue(state, math.radians(pose[axis]), False)
        model.assemble(state)
        model.realizePosition(state)
        for index in range(muscles.getSize()):
            muscle = muscles.get(index)
            if muscle.getName() in crossing:
                continue
            if any(abs(muscle.computeMomentArm(state, c)) > MIN_MOMENT_ARM_M for c in coordinates):
                crossing.append(muscle.getName())
    order = [muscles.get(i).getName() for i in range(muscles.getSize())]
    return [name for name in order if name in crossing]


def _axis_of(coordinate_name: str) -> int:
    for axis, word in enumerate(("flexion", "adduction", "rotation")):
        if word in coordinate_name:
            return axis
    return 0
