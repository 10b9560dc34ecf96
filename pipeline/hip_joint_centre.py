"""Hip joint centres from the pelvis markers (Harrington et al. 2007), for scaling and marker placement.

Scaling a generic model keeps each hip joint where the generic pelvis has it relative to the
pelvis markers. A child's pelvis is not a shrunken adult's, and a hip joint centre a few
centimetres off puts every thigh marker on the wrong arc in walking (the IK error grows with
hip flexion) and shifts the hip moments by the ground reaction times that distance.
Harrington's regression, fitted on MRI of adults, typically developing children and children
with cerebral palsy, places the centre from the pelvic width (ASIS to ASIS) and depth (mid-ASIS
to mid-PSIS), with a leave-one-out error of about 5 mm per axis.

gait2hip uses it the way OpenSim users add joint centres to a static trial: each frame of the
static trial gets a virtual marker at each regression centre, the model gets a marker fixed at
each hip joint, the femur is scaled by the distance from that marker to the knee marker, and
the static pose is fitted with the hip markers weighted above the others, so that marker
placement puts the pelvis markers where they sit around the regression's centres. The model's
hip joints and muscles stay as they are.

Reference: Harrington ME, Zavatsky AB, Lawson SEM, Yuan Z, Theologis TN (2007). Prediction of
the hip joint centre in adults, children, and patients with cerebral palsy based on magnetic
resonance imaging. J Biomech 40:595-602. In the pelvis frame of the markers (origin mid-ASIS,
x anterior, y superior, z to the right ASIS), in mm:
x = -0.24 PD - 9.9, y = -0.30 PW - 10.9, z = +-(0.33 PW + 7.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SIDE_SIGNS = {"r": 1.0, "l": -1.0}


@dataclass(frozen=True)
class HipJointCentreMarkers:
    """A model's pelvis markers, hip joints and thigh scaling for the regression (its ``model.yaml``).

    Attributes
    ----------
    right_asis, left_asis
        Markers on the right and left anterior superior iliac spines.
    sacrum
        Marker(s) whose mean is the midpoint of the posterior superior iliac spines (one
        sacral marker, or the two PSIS markers).
    joints
        ``{"r": joint, "l": joint}``: the hip joints, whose parent frame is on the pelvis.
    hip_markers
        ``{"r": name, "l": name}``: the virtual markers at the hip joint centres (absent from
        the marker set; added to the static trial and the model).
    thigh_measurement, knee_markers
        The scale measurement of the thighs, and per side the knee marker it measures from the
        hip marker instead of its own pairs.
    """

    right_asis: str
    left_asis: str
    sacrum: tuple[str, ...]
    joints: dict[str, str]
    hip_markers: dict[str, str]
    thigh_measurement: str
    knee_markers: dict[str, str]

    @property
    def pelvis_markers(self) -> tuple[str, ...]:
        return (self.right_asis, self.left_asis) + self.sacrum


def anatomical_pelvis_frame(*, right_asis_m: np.ndarray, left_asis_m: np.ndarray,
                            sacrum_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Origin ``(3,)`` (m, mid-ASIS) and rotation ``(3, 3)`` (columns: x anterior, y superior, z right).

    Raises
    ------
    ValueError
        If the markers do not span a pelvis (coincident ASIS, or the sacrum on the ASIS line).
    """
    right, left, sacrum = (np.asarray(p, dtype=float).reshape(3) for p in (right_asis_m, left_asis_m, sacrum_m))
    origin = (right + left) / 2.0
    width_m = float(np.linalg.norm(right - left))
    if not width_m >= 1e-3:
        raise ValueError(f"the ASIS markers are {width_m * 1000:.1f} mm apart: they span no pelvis")
    z_axis = (right - left) / width_m
    forward = origin - sacrum
    forward = forward - forward.dot(z_axis) * z_axis
    if not np.linalg.norm(forward) >= 1e-3:
        raise ValueError("the sacral marker lies on the line through the ASIS markers: no anterior direction")
    x_axis = forward / np.linalg.norm(forward)
    return origin, np.column_stack([x_axis, np.cross(z_axis, x_axis), z_axis])


def harrington_hip_centres_m(*, right_asis_m: np.ndarray, left_asis_m: np.ndarray,
                             sacrum_m: np.ndarray) -> dict[str, np.ndarray]:
    """Both hip joint centres (m) by Harrington et al. (2007), in the frame the markers are given in.

    Parameters
    ----------
    right_asis_m, left_asis_m, sacrum_m
        ``(3,)`` positions (m) of the right and left ASIS markers and of the PSIS midpoint.

    Returns
    -------
    dict
        ``{"r": (3,), "l": (3,)}`` hip joint centres (m), same frame as the inputs.

    Raises
    ------
    ValueError
        If the markers do not span a pelvis (coincident ASIS, or the sacrum on the ASIS line).
    """
    origin, rotation = anatomical_pelvis_frame(right_asis_m=right_asis_m, left_asis_m=left_asis_m, sacrum_m=sacrum_m)
    width_mm = 1000.0 * float(np.linalg.norm(np.asarray(right_asis_m, dtype=float) - np.asarray(left_asis_m, dtype=float)))
    depth_mm = 1000.0 * float(np.linalg.norm(origin - np.asarray(sacrum_m, dtype=float).reshape(3)))
    centres = {}
    for side, sign in SIDE_SIGNS.items():
        offset_mm = np.array([-0.24 * depth_mm - 9.9, -0.30 * width_mm - 10.9, sign * (0.33 * width_mm + 7.3)])
        centres[side] = origin + rotation @ offset_mm / 1000.0
    return centres


def harrington_hip_centre_trajectories_m(positions_m: np.ndarray, marker_names: tuple[str, ...],
                                         spec: HipJointCentreMarkers) -> dict[str, np.ndarray]:
    """Side → ``(n_frames, 3)`` hip joint centres (m) of each frame of a trial's pelvis markers.

    ``positions_m`` is ``(n_frames, n_markers, 3)`` in m with columns named by ``marker_names``.
    A frame missing a pelvis marker (NaN) gets NaN centres, which IK leaves out.
    """
    index = {name: marker_names.index(name) for name in spec.pelvis_markers}
    centres = {side: np.full((positions_m.shape[0], 3), np.nan) for side in SIDE_SIGNS}
    for frame, markers in enumerate(positions_m):
        pelvis = {name: markers[column] for name, column in index.items()}
        if not all(np.isfinite(p).all() for p in pelvis.values()):
            continue
        both = harrington_hip_centres_m(right_asis_m=pelvis[spec.right_asis], left_asis_m=pelvis[spec.left_asis],
                                        sacrum_m=np.mean([pelvis[name] for name in spec.sacrum], axis=0))
        for side in SIDE_SIGNS:
            centres[side][frame] = both[side]
    return centres


def marker_locations_in_body(model_path: Path, markers: tuple[str, ...], body: str) -> dict[str, np.ndarray]:
    """Each marker's location (m, ``(3,)``) in the frame of ``body`` in the model at ``model_path``.

    Raises
    ------
    ValueError
        If a marker is absent from the model, or not on ``body``.
    """
    import opensim

    model = opensim.Model(str(model_path))  # kept: the marker set lives only as long as its model
    marker_set = model.getMarkerSet()
    locations = {}
    for name in markers:
        if marker_set.getIndex(name) < 0:
            raise ValueError(f"{model_path}: has no marker {name!r}")
        marker = marker_set.get(name)
        parent = marker.getParentFrameName().split("/")[-1]
        if parent != body:
            raise ValueError(f"{model_path}: marker {name!r} is on {parent!r}, not on {body!r}")
        locations[name] = np.array(marker.get_location().to_numpy(), dtype=float)
    return locations


def hip_joint_parent_body(model_path: Path, joints: dict[str, str]) -> str:
    """The one body the hip joints' parent frames are attached to (the pelvis).

    Raises
    ------
    ValueError
        If a joint is missing, or the joints hang from different bodies.
    """
    import opensim

    model = opensim.Model(str(model_path))
    parents = {_parent_frame(model, joint).getSocket("parent").getConnecteePath().split("/")[-1]
               for joint in joints.values()}
    if len(parents) != 1:
        raise ValueError(f"{model_path}: hip joints {sorted(joints.values())} hang from different bodies {sorted(parents)}")
    return parents.pop()


def hip_joint_offsets_m(model_path: Path, joints: dict[str, str]) -> dict[str, np.ndarray]:
    """Side → ``(3,)`` position (m) of each hip joint in its parent body's frame."""
    import opensim

    model = opensim.Model(str(model_path))
    return {side: np.array(_parent_frame(model, joint).get_translation().to_numpy(), dtype=float)
            for side, joint in joints.items()}


def write_marker_set_with_hip_markers(marker_set_path: Path, out_path: Path, body: str,
                                      hip_markers: dict[str, str], locations_m: dict[str, np.ndarray],
                                      pelvis_markers: tuple[str, ...] = ()) -> Path:
    """Copy the marker set with a marker fixed at each hip joint (``locations_m``, m, in ``body``'s frame).

    ``pelvis_markers`` are freed for marker placement (a marker set may fix its bony landmarks,
    as the Rajagopal model's does its ASIS markers): placement has to move them around the
    regression's centres.

    Raises
    ------
    ValueError
        If the marker set already has a marker of one of those names.
    """
    import opensim

    marker_set = opensim.MarkerSet(str(marker_set_path))
    for name in pelvis_markers:
        marker_set.get(name).set_fixed(False)
    for side, name in hip_markers.items():
        if marker_set.getIndex(name) >= 0:
            raise ValueError(f"{marker_set_path}: already has a marker {name!r}; hip_markers must name new markers")
        marker = opensim.Marker()
        marker.setName(name)
        marker.setParentFrameName(f"/bodyset/{body}")
        marker.set_location(opensim.Vec3(*(float(v) for v in locations_m[side])))
        marker.set_fixed(True)  # marker placement must not move it off the joint
        marker_set.cloneAndAppend(marker)
    temporary = out_path.with_name(out_path.name + ".part")
    marker_set.printToXML(str(temporary))
    temporary.replace(out_path)
    return out_path


def _parent_frame(model, joint_name: str):
    """The joint's parent offset frame (the one its ``parent_frame`` socket names)."""
    import opensim

    joints = model.getJointSet()
    if joints.getIndex(joint_name) < 0:
        raise ValueError(f"{model.getName()}: has no joint {joint_name!r}")
    joint = joints.get(joint_name)
    wanted = joint.getSocket("parent_frame").getConnecteePath().split("/")[-1]
    for index in range(joint.getPropertyByName("frames").size()):
        offset = opensim.PhysicalOffsetFrame.safeDownCast(joint.upd_frames(index))
        if offset is not None and offset.getName() == wanted:
            return offset
    raise ValueError(f"joint {joint_name!r}: its parent frame {wanted!r} is not one of its own offset frames")
