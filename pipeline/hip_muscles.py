"""Which muscles cross the hip, found from the model's geometry (path topology and moment arms), not a list.

A muscle crosses the hip when both hold:

1. **Its path spans a hip joint.** The bodies its path points and wrap surfaces sit on lie on both
   sides of a joint that owns a hip coordinate (pelvis side and femur side), or one of its moving
   or conditional path points is driven by a hip coordinate. Only then can the muscle's length
   depend on a hip angle at all.
2. **It has a moment arm about a hip coordinate** above :data:`MIN_MOMENT_ARM_M` in at least one
   probe pose.

The moment arm alone is not enough in models with coupler constraints. In Rajagopal-family
models the patella follows the knee angle through a ``CoordinateCouplerConstraint``, and
``Muscle.computeMomentArm`` (which solves for the generalized force a unit tension produces
under the model's constraints) returns 0.4–0.9 mm about the hip coordinates for the
gastrocnemii, muscles that run from the femur to the calcaneus and never reach the pelvis. No
threshold tells such leakage from a small real moment arm in every model, so the span test
decides; the threshold only drops muscles whose path spans a hip but is inert about it.
"""

from __future__ import annotations

import math

import numpy as np
import opensim

from gait2hip.pipeline.muscle_geometry import find_speed_groups

# A muscle whose path spans a hip joint crosses it when one of its moment arms about the joint's
# coordinates exceeds this (m) in at least one probe pose: 0.1 mm is far below any real moment
# arm at the hip (real ones are centimetres), yet above round-off.
MIN_MOMENT_ARM_M = 1e-4

# Probe poses (hip flexion, adduction, rotation in degrees): neutral, and the gait range.
_PROBE_POSES_DEG = ((0.0, 0.0, 0.0), (30.0, 0.0, 0.0), (-15.0, 0.0, 0.0), (10.0, 10.0, 10.0), (10.0, -10.0, -10.0))


def find_hip_muscles(model: opensim.Model, hip_coordinates: tuple[str, ...]) -> list[str]:
    """Return the names of the muscles that cross the hip (see the module docstring).

    Parameters
    ----------
    model
        Any OpenSim model (generic or scaled) whose muscles have a ``GeometryPath``; it is
        initialised here.
    hip_coordinates
        Names of the hip coordinates, e.g. ``hip_flexion_r``, ``hip_adduction_r``, ...

    Returns
    -------
    list of str
        Muscle names in the model's order.
    """
    state = model.initSystem()
    spanning = muscles_spanning(model, hip_coordinates)
    coordinates = [model.getCoordinateSet().get(name) for name in hip_coordinates]
    muscles = model.getMuscles()
    crossing = set()
    for pose in _PROBE_POSES_DEG:
        for coordinate in coordinates:
            coordinate.setValue(state, math.radians(pose[_axis_of(coordinate.getName())]), False)
        model.assemble(state)
        model.realizePosition(state)
        for name in spanning:
            if name in crossing:
                continue
            muscle = muscles.get(name)
            if any(abs(muscle.computeMomentArm(state, c)) > MIN_MOMENT_ARM_M for c in coordinates):
                crossing.add(name)
    return [name for name in spanning if name in crossing]


def muscles_spanning(model: opensim.Model, coordinate_names: tuple[str, ...]) -> list[str]:
    """Muscles whose path topology lets their length depend on any of ``coordinate_names``.

    A muscle spans a coordinate when the coordinate's joint lies on the tree path between the
    bodies of its path points and wrap objects (conditional and moving path points included),
    or when a moving or conditional path point is driven by it
    (:func:`gait2hip.pipeline.muscle_geometry.find_speed_groups`). Kinematic constraints are
    not followed: a coupler constraint moves no muscle's attachment across a joint.

    Parameters
    ----------
    model
        A model whose ``initSystem`` has run (its frames are connected).
    coordinate_names
        Coordinates to test, e.g. the hip coordinates.

    Returns
    -------
    list of str
        Muscle names in the model's order.
    """
    # Columns are coordinate-set positions, not mobility indices: only "which coordinates" is
    # needed here, and locked coordinates (which have no free mobility to probe) still count.
    coordinates = model.getCoordinateSet()
    column_of = {coordinates.get(index).getName(): index for index in range(coordinates.getSize())}
    muscles = model.getMuscles()
    order = [muscles.get(index).getName() for index in range(muscles.getSize())]
    spans = find_speed_groups(model, order, column_of, len(column_of)).spans  # (n_muscles, n_coordinates)
    columns = np.array([column_of[name] for name in coordinate_names], dtype=int)
    return [name for row, name in enumerate(order) if spans[row, columns].any()]


def _axis_of(coordinate_name: str) -> int:
    for axis, word in enumerate(("flexion", "adduction", "rotation")):
        if word in coordinate_name:
            return axis
    return 0
