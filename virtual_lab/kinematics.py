"""Joint-angle trajectories of a trial, and a first pelvis translation from the stance foot's pivot.

Each leg follows the template at its own phase (the left half a cycle after the right), time-
warped so its stance lasts the subject's stance fraction, with the subject's offsets and gains,
cadence-dependent sagittal ranges, and stride-to-stride variability. The pelvis translation is
then solved frame by frame: the foot that struck the ground last pivots about its heel, then
about its toe, and the pelvis moves so that the pivot stays where it touched down. That path
is only a first guess: the template legs do not fit planted feet, and the motion that is
finally written comes from whole-body IK on planted footprints (:mod:`gait2hip.virtual_lab.whole_body_ik`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import opensim
from scipy.interpolate import CubicSpline
from scipy.signal import butter, filtfilt

from gait2hip.virtual_lab.gait_template import GaitTemplate
from gait2hip.virtual_lab.model_poses import default_state, marker_locations_m, pose_matrix
from gait2hip.virtual_lab.subjects import JOINTS, VirtualSubject

# Sagittal ranges grow with cadence (Winter 2009; Kirtley et al. 1985): excursion gain per
# step/min away from 110 steps/min, and stance fraction shrinks as cadence rises.
SAGITTAL_GAIN_PER_STEP_PER_MIN = 0.006
STANCE_FRACTION_PER_STEP_PER_MIN = -0.0007
REFERENCE_CADENCE_STEPS_PER_MIN = 110.0
# Stride-to-stride variability: SD of each stride's gain and offset.
STRIDE_GAIN_SD = 0.02
STRIDE_OFFSET_SD_DEG = 0.5
# Heel marker height above the floor in quiet standing (m, for a generic-size foot).
HEEL_MARKER_HEIGHT_M = 0.04
# Low-pass of the first pelvis translation (Hz). The template's angles do not put both feet
# exactly on the floor in double support, so the per-foot solutions disagree there by a few
# cm; filtering keeps this first path (which sets the footprints) smooth.
PELVIS_TRANSLATION_CUTOFF_HZ = 4.0
# Forward progression is smoothed harder: its jerks would move the centre of pressure.
PELVIS_PROGRESSION_CUTOFF_HZ = 1.5
SAGITTAL = ("hip_flexion", "knee_angle", "ankle_angle")
# The first pelvis path reads the feet's markers by forward kinematics on every 4th frame (25 Hz
# at 100 Hz), splined between: within 0.5 mm of every frame for gait at 130 steps/min (tested in
# tests/virtual_lab/test_model_poses.py), far below the slide the path leaves anyway.
FIRST_PATH_MARKERS_EVERY = 4


@dataclass(frozen=True)
class TrialKinematics:
    """Coordinates of one trial on its frame times.

    Attributes
    ----------
    times_s
        ``(n_frames,)``.
    coordinates
        Coordinate name → ``(n_frames,)`` values in model units (rad, m).
    stance
        ``{"r": (n_frames,) bool, "l": ...}``: foot in contact.
    heel_strikes_s, toe_offs_s
        Side → event times in s.
    foot_slip_m
        Largest horizontal drift of a pivot point while it bears weight (m).
    """

    times_s: np.ndarray
    coordinates: dict[str, np.ndarray]
    stance: dict[str, np.ndarray]
    heel_strikes_s: dict[str, list[float]]
    toe_offs_s: dict[str, list[float]]
    foot_slip_m: float
    stride_time_s: float


def leg_phase(times_s: np.ndarray, stride_time_s: float, side: str) -> np.ndarray:
    """Gait phase (cycles) of a leg: 0 at its heel strikes; the left leg lags half a cycle."""
    phase = times_s / stride_time_s
    return phase if side == "r" else phase - 0.5


def warp_phase(phase: np.ndarray, stance_fraction: float, template_stance_fraction: float) -> np.ndarray:
    """Smooth periodic time warp mapping the subject's toe-off to the template's."""
    amplitude = (template_stance_fraction - stance_fraction) / np.sin(2 * np.pi * stance_fraction)
    return phase + amplitude * np.sin(2 * np.pi * phase)


def joint_angles_deg(subject: VirtualSubject, template: GaitTemplate, times_s: np.ndarray, stride_time_s: float,
                     cadence_steps_per_min: float, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Return (coordinate name → degrees, side → stance fraction) for every rotational coordinate."""
    cadence_gain = 1.0 + SAGITTAL_GAIN_PER_STEP_PER_MIN * (cadence_steps_per_min - REFERENCE_CADENCE_STEPS_PER_MIN)
    stance_shift = STANCE_FRACTION_PER_STEP_PER_MIN * (cadence_steps_per_min - REFERENCE_CADENCE_STEPS_PER_MIN)
    n_strides = int(np.ceil(times_s[-1] / stride_time_s)) + 3
    angles: dict[str, np.ndarray] = {}
    stance_fraction = {}
    for side in "rl":
        stance_fraction[side] = subject.traits.stance_fraction[side] + stance_shift
        phase = leg_phase(times_s, stride_time_s, side)
        warped = warp_phase(phase, stance_fraction[side], template.stance_fraction)
        for joint in JOINTS:
            curve = template.joints[joint]
            gain = subject.traits.gains[joint][side] * (cadence_gain if joint in SAGITTAL else 1.0)
            stride_gain = _per_stride(rng, n_strides, STRIDE_GAIN_SD, 1.0)(phase)
            stride_offset = _per_stride(rng, n_strides, STRIDE_OFFSET_SD_DEG, 0.0)(phase)
            angles[f"{joint}_{side}"] = (curve.mean + gain * stride_gain * (curve(warped) - curve.mean)
                                         + subject.traits.offsets_deg[joint][side] + stride_offset)
    right_phase = leg_phase(times_s, stride_time_s, "r")
    for name, curve in template.pelvis.items():
        angles[name] = curve(right_phase)
    angles["pelvis_list"] = angles["pelvis_list"] + subject.traits.pelvis_list_offset_deg
    angles["lumbar_bending"] = angles["lumbar_bending"] + subject.traits.lumbar_bending_offset_deg
    # Pelvic posture: negative tilt is anterior and flexes both hips by as much (and extends the
    # lumbar joint), so legs and trunk keep their orientation in the room.
    tilt = subject.traits.pelvis_tilt_offset_deg
    angles["pelvis_tilt"] = angles["pelvis_tilt"] + tilt
    angles["lumbar_extension"] = angles["lumbar_extension"] - tilt
    for side in "rl":
        angles[f"hip_flexion_{side}"] = angles[f"hip_flexion_{side}"] - tilt
    return angles, stance_fraction


def _per_stride(rng: np.random.Generator, n_strides: int, sd: float, mean: float) -> CubicSpline:
    """A smooth function of phase (cycles) taking one random value per stride."""
    values = mean + sd * rng.standard_normal(n_strides)
    return CubicSpline(np.arange(-1, n_strides - 1) + 0.5, values)


def solve_pelvis_translation(model: opensim.Model, times_s: np.ndarray, coordinates: dict[str, np.ndarray],
                             stride_time_s: float, stance_fraction: dict[str, float],
                             foot_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(pelvis_tx, pelvis_ty)`` (m) that keep the weight-bearing pivot about planted.

    ``coordinates`` (rad) must hold every rotational coordinate; translations are solved here.
    """
    state = default_state(model)
    markers = model.getMarkerSet()
    points = {side: (markers.get(f"{side.upper()}.Heel"), markers.get(f"{side.upper()}.Toe.Tip")) for side in "rl"}
    n_frames = len(times_s)
    coordinate_set = model.getCoordinateSet()
    at_origin = {name: np.zeros(n_frames) for name in ("pelvis_tx", "pelvis_ty", "pelvis_tz")}
    q = pose_matrix(model, state, {**at_origin, **coordinates})
    located = marker_locations_m(model, state, q, [*points["r"], *points["l"]],
                                 every=FIRST_PATH_MARKERS_EVERY)   # (n_frames, 4, 3)
    relative = located[:, :, :2].reshape(n_frames, 2, 2, 2)  # frame, side, heel/toe, x/y (pelvis at origin)
    # Standing heights of the heel and toe markers: heel at HEEL_MARKER_HEIGHT_M in a neutral pose.
    for index in range(coordinate_set.getSize()):
        coordinate_set.get(index).setValue(state, 0.0, False)
    model.realizePosition(state)
    neutral = {side: [points[side][i].getLocationInGround(state).get(1) for i in (0, 1)] for side in "rl"}
    floor_height = HEEL_MARKER_HEIGHT_M * foot_scale
    standing = {side_index: (floor_height, floor_height + neutral[side][1] - neutral[side][0])
                for side_index, side in enumerate("rl")}
    # Each foot proposes the pelvis translation that keeps its pivot (heel, then toe) where it
    # was when it became the pivot; the proposals are blended by the load share, which is 0/1
    # in single support and a smooth transfer in double support.
    share = {0: right_foot_share(times_s, stride_time_s, stance_fraction)}
    share[1] = 1.0 - share[0]
    pelvis_tx, pelvis_ty = np.zeros(n_frames), np.zeros(n_frames)
    anchors: dict[int, tuple[int, float]] = {}
    for frame in range(n_frames):
        proposals = []
        for side_index in (0, 1):
            if share[side_index][frame] <= 0.0:
                anchors.pop(side_index, None)
                continue
            lift = [relative[frame, side_index, i, 1] - standing[side_index][i] for i in (0, 1)]
            pivot_index = 0 if lift[0] <= lift[1] else 1
            pivot = relative[frame, side_index, pivot_index]
            if anchors.get(side_index, (None,))[0] != pivot_index:
                previous_tx = pelvis_tx[frame - 1] if frame else 0.0
                anchors[side_index] = (pivot_index, previous_tx + pivot[0])
            proposals.append((share[side_index][frame], anchors[side_index][1] - pivot[0],
                              standing[side_index][pivot_index] - pivot[1]))
        total = sum(weight for weight, _, _ in proposals)
        pelvis_tx[frame] = sum(weight * tx for weight, tx, _ in proposals) / total
        pelvis_ty[frame] = sum(weight * ty for weight, _, ty in proposals) / total
    rate_hz = 1.0 / (times_s[1] - times_s[0])
    b, a = butter(2, PELVIS_TRANSLATION_CUTOFF_HZ / (rate_hz / 2))
    pelvis_ty = filtfilt(b, a, pelvis_ty)
    b, a = butter(2, PELVIS_PROGRESSION_CUTOFF_HZ / (rate_hz / 2))
    pelvis_tx = filtfilt(b, a, pelvis_tx)
    return pelvis_tx, pelvis_ty


def right_foot_share(times_s: np.ndarray, stride_time_s: float, stance_fraction: dict[str, float]) -> np.ndarray:
    """Share (0–1) of the load on the right foot: 1 in right single support, cosine transfers."""
    phase = leg_phase(times_s, stride_time_s, "r") % 1.0
    left_toe_off = stance_fraction["l"] - 0.5   # phase (right cycle) when the left foot leaves
    right_toe_off = stance_fraction["r"]
    share = np.ones_like(phase)
    first = phase < left_toe_off                  # double support after right heel strike
    share[first] = 0.5 - 0.5 * np.cos(np.pi * phase[first] / left_toe_off)
    second = (phase >= 0.5) & (phase < right_toe_off)  # double support after left heel strike
    share[second] = 0.5 + 0.5 * np.cos(np.pi * (phase[second] - 0.5) / (right_toe_off - 0.5))
    share[phase >= right_toe_off] = 0.0
    return share
