"""From the lab's axes to OpenSim's: X forward (walking direction), Y up, Z to the right.

The rotation maps lab axes onto OpenSim's without moving the origin. Each axis is either
given (``+z``, ``-y``, ...) or detected:

* vertical: the lab axis carrying most of the force plates' load, signed so that the
  pelvis is above the feet (markers); without plate load, the pelvis-above-feet direction.
* forward: the lab axis closest to the pelvis's travel over the trial, signed in the
  walking direction; when the pelvis barely moves (a static trial), the mean heel → toe
  direction. Each walking trial is thus turned so that the subject walks along +X, which
  gives OpenSim's inverse kinematics a start close to its default pose.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from gait2hip.ingest.config import AXIS_NAMES

logger = logging.getLogger(__name__)

# Below this pelvis travel (m) a trial is taken as standing still: use the feet instead.
_MIN_TRAVEL_M = 0.3


@dataclass(frozen=True)
class LabAxes:
    """The lab → OpenSim rotation and how its axes were found.

    Attributes
    ----------
    vertical_axis, forward_axis
        Lab axes (``"+z"`` …) that become OpenSim's +Y and +X.
    rotation
        ``(3, 3)`` matrix with ``p_opensim = rotation @ p_lab``; proper (determinant +1).
    vertical_from, forward_from
        ``"given"``, ``"plate load"``, ``"markers"``, ``"pelvis travel"`` or ``"feet"``.
    """

    vertical_axis: str
    forward_axis: str
    rotation: np.ndarray
    vertical_from: str
    forward_from: str

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """Rotate ``(..., 3)`` lab vectors or points into OpenSim axes."""
        return vectors @ self.rotation.T


def axis_vector(name: str) -> np.ndarray:
    """``(3,)`` unit vector of a signed axis name (``"-y"`` → ``[0, -1, 0]``)."""
    vector = np.zeros(3)
    vector["xyz".index(name[1])] = 1.0 if name[0] == "+" else -1.0
    return vector


def nearest_axis(vector: np.ndarray, excluding: str | None = None) -> str:
    """The signed lab axis closest in direction to ``vector`` (optionally not along ``excluding``)."""
    candidates = [name for name in AXIS_NAMES if excluding is None or name[1] != excluding[1]]
    return max(candidates, key=lambda name: float(axis_vector(name) @ vector))


def rotation_to_opensim(vertical_axis: str, forward_axis: str) -> np.ndarray:
    """``(3, 3)`` rotation whose rows are OpenSim's X (forward), Y (up), Z (X × Y) in lab axes."""
    forward = axis_vector(forward_axis)
    up = axis_vector(vertical_axis)
    if abs(forward @ up) > 0:
        raise ValueError(f"forward axis {forward_axis} and vertical axis {vertical_axis} must be perpendicular")
    return np.vstack([forward, up, np.cross(forward, up)])


def find_lab_axes(*, vertical_axis: str | None, forward_axis: str | None, plate_forces_n: list[np.ndarray],
                  load_threshold_n: float, pelvis_m: np.ndarray, heels_m: np.ndarray, toes_m: np.ndarray) -> LabAxes:
    """Return the lab → OpenSim rotation, detecting the axes not given.

    Parameters
    ----------
    vertical_axis, forward_axis
        Given lab axes, or None to detect them.
    plate_forces_n
        Each plate's ``(n_samples, 3)`` force (N, lab axes).
    load_threshold_n
        Samples whose force magnitude is below this do not count towards the vertical axis.
    pelvis_m
        ``(n_frames, 3)`` pelvis centre (m, lab axes), NaN where missing.
    heels_m, toes_m
        ``(n_frames, 2, 3)`` both heels and both toes (m, lab axes), NaN where missing.
    """
    feet_m = np.concatenate([heels_m, toes_m], axis=1)
    up_from_markers = np.nanmean(pelvis_m, axis=0) - np.nanmean(feet_m.reshape(-1, 3), axis=0)
    if vertical_axis is not None:
        vertical_from = "given"
    else:
        load = sum((np.abs(f[np.linalg.norm(f, axis=1) > load_threshold_n]).sum(axis=0) for f in plate_forces_n),
                   np.zeros(3))
        if load.any():
            index = int(np.argmax(load))
            sign = "+" if up_from_markers[index] >= 0 else "-"
            vertical_axis, vertical_from = f"{sign}{'xyz'[index]}", "plate load"
        else:
            vertical_axis, vertical_from = nearest_axis(up_from_markers), "markers"
    if forward_axis is not None:
        forward_from = "given"
    else:
        valid = np.flatnonzero(~np.isnan(pelvis_m).any(axis=1))
        travel = pelvis_m[valid[-1]] - pelvis_m[valid[0]] if len(valid) else np.zeros(3)
        travel_horizontal = travel - (travel @ axis_vector(vertical_axis)) * axis_vector(vertical_axis)
        if np.linalg.norm(travel_horizontal) >= _MIN_TRAVEL_M:
            forward_axis, forward_from = nearest_axis(travel_horizontal, excluding=vertical_axis), "pelvis travel"
        else:
            heel_to_toe = np.nanmean((toes_m - heels_m).reshape(-1, 3), axis=0)
            forward_axis, forward_from = nearest_axis(heel_to_toe, excluding=vertical_axis), "feet"
    rotation = rotation_to_opensim(vertical_axis, forward_axis)
    logger.info("lab axes: up %s (%s), forward %s (%s)", vertical_axis, vertical_from, forward_axis, forward_from)
    return LabAxes(vertical_axis, forward_axis, rotation, vertical_from, forward_from)
