"""Marker targets for whole-body IK: planted stance feet that roll heel → flat → toe.

The template's joint angles, put on a first pelvis path, give every marker a position (forward
kinematics); those positions do not keep a stance foot still. Here each stance gets a
footprint, fixed on the floor: heading from the template foot's mean yaw over the stance,
position where the template foot is on average over the stance. While the foot is loaded its
markers are held on that footprint, the foot rolling with the template's foot pitch about the
heel marker (toe up) or the toe-tip marker (heel up), so the pivot stays on the floor at its
standing height. Around the stance edges the targets blend smoothly back into the template's
swing path: horizontally (and in weight) from a little before the foot takes load to a little
after it has none left (:data:`REACH_LEAD_S`, :data:`REACH_LAG_S`), vertically with the load share.
A swing leaves its footprint from the footprint, the offset to the template's path fading over
the swing (:func:`_leave_footprints`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import opensim

from gait2hip.virtual_lab.model_poses import default_state, marker_locations_m, pose_matrix

# The three calcaneus markers that pin a foot: pivots (heel, toe tip) and one off the long
# axis (lateral midfoot) for heading and roll.
FOOT_MARKERS = ("Heel", "Toe.Tip", "Midfoot.Lat")
# Pelvis markers: targets from the template on its first pelvis path. Weighted half as much as
# a loaded foot's markers: weaker (tried 2–200), the pelvis lurches 4–9 cm forward within each
# double support, where both footprints pin it, and the GRFs follow (peak fore-aft force up to
# 1 BW); at this weight the legs take up the misfit and the pelvis stays within ~1 cm of its path.
PELVIS_MARKERS = ("R.ASIS", "L.ASIS", "V.Sacral")
# Marker weights: relative weights within IK's marker cost (the weighted mean squared error, m²).
STANCE_FOOT_WEIGHT = 2000.0
SWING_FOOT_WEIGHT = 20.0
PELVIS_WEIGHT = 1000.0
# A foot's targets are fully planted once it bears this share of the load (and stay planted
# until its share falls back below it); in between they blend into the template's path.
PLANTED_LOAD_SHARE = 1.0
# A foot's horizontal targets (and its weight) reach its footprint this long (s) before it takes
# load and let go of it this long after it has none left, tapering linearly (blended like the
# load share). The motion is band-limited to 4 Hz and a foot cannot stop or start within a
# double support: planted on the load share alone, the band-limited heel arrives still sliding
# back and leaves sliding forward and rising before heel-off, by more than a centimetre at fast
# cadences. These lead and lag keep both the stance-foot slip and the COP outside the foot
# smallest across cadences: a longer lag trades slip for COP outside the foot, a shorter lead
# or lag (or the weight ramped with the load alone) brings the slip back; run
# benchmarks/synthesis_quality.py on a cohort synthesized with other values to compare. Each
# footprint's place is the template's: placing it where the band-limited foot arrives, or
# re-placing it between IK passes, changes slip and COP by less than a millimetre. A stance
# reaches at most halfway to the next.
REACH_LEAD_S = 0.12
REACH_LAG_S = 0.20


@dataclass(frozen=True)
class MarkerTargets:
    """IK marker targets on a time grid.

    Attributes
    ----------
    names
        Marker names, ``(n_markers,)``.
    positions_m
        ``(n_frames, n_markers, 3)`` ground positions (m).
    weights
        ``(n_frames, n_markers)`` IK weights (> 0).
    footprints_m
        Side (``"r"``/``"l"``) → ``(n_frames, 2, 3)`` floor points (y = 0) under the heel and
        toe-tip markers of that stance's footprint, flat; NaN while the foot bears no load.
        Empty when the targets have no footprints.
    """

    names: list[str]
    positions_m: np.ndarray
    weights: np.ndarray
    footprints_m: dict[str, np.ndarray] = field(default_factory=dict)


def target_marker_names() -> list[str]:
    """Names of the IK target markers: both feet's :data:`FOOT_MARKERS`, then the pelvis's."""
    return [f"{side.upper()}.{point}" for side in "rl" for point in FOOT_MARKERS] + list(PELVIS_MARKERS)


def marker_trajectories(model: opensim.Model, coordinates: dict[str, np.ndarray], names: list[str],
                        every: int = 1) -> np.ndarray:
    """Forward kinematics of ``names`` over the frames of ``coordinates`` (rad, m): ``(n_frames, n, 3)`` m.

    Coordinates not in ``coordinates`` are held at 0. ``every`` > 1: on every ``every``-th frame,
    splined between (:func:`gait2hip.virtual_lab.model_poses.marker_locations_m`).
    """
    state = default_state(model)
    q = pose_matrix(model, state, coordinates, default_q=np.zeros(state.getNQ()))
    return marker_locations_m(model, state, q, [model.getMarkerSet().get(name) for name in names], every)


def plant_feet(template_positions_m: np.ndarray, neutral_positions_m: np.ndarray, right_share: np.ndarray,
               floor_heel_height_m: float, frame_interval_s: float, step_width_m: float | None = None) -> MarkerTargets:
    """IK targets with each loaded foot on a fixed footprint.

    Horizontally a foot's targets are held on its footprint from :data:`REACH_LEAD_S` before
    it takes load to :data:`REACH_LAG_S` after it has none left (:func:`reach_share`); its height
    follows the load share alone, so the template's foot still lifts off and comes down.

    Parameters
    ----------
    template_positions_m
        ``(n_frames, n_markers, 3)`` m, markers in :func:`target_marker_names` order, from the
        template on its first pelvis path.
    neutral_positions_m
        ``(n_markers, 3)`` m, the same markers in the neutral (standing) pose.
    right_share
        ``(n_frames,)`` load share (0–1) of the right foot; the left carries the rest.
    floor_heel_height_m
        Height (m) of the heel marker standing on the floor.
    frame_interval_s
        Time (s) between frames.
    step_width_m
        Lateral distance (m) between the right and left heel footprints; None: where the
        template's feet are (about 0 on gait2392: its stance hips adduct the feet onto one line).

    Returns
    -------
    MarkerTargets
    """
    n_frames, n_markers, _ = template_positions_m.shape
    positions = template_positions_m.copy()
    weights = np.full((n_frames, n_markers), PELVIS_WEIGHT)
    flat_footprints = {}
    lead = int(round(REACH_LEAD_S / frame_interval_s))
    lag = int(round(REACH_LAG_S / frame_interval_s))
    outward_m = 0.0
    if step_width_m is not None:
        # Ground z points to the right: each footprint moves out by half the missing width.
        template_width_m = (np.mean(template_positions_m[right_share > 0.0, 0, 2])
                            - np.mean(template_positions_m[right_share < 1.0, len(FOOT_MARKERS), 2]))
        outward_m = 0.5 * (step_width_m - template_width_m)
    for side_index, share in enumerate((right_share, 1.0 - right_share)):
        columns = slice(3 * side_index, 3 * side_index + 3)
        template = template_positions_m[:, columns]
        neutral = neutral_positions_m[columns]
        planted = _smoothstep(np.clip(share / PLANTED_LOAD_SHARE, 0.0, 1.0))
        reached = np.zeros(n_frames)
        yaw, pitch = _foot_yaw_pitch(template, neutral)
        footprints = np.zeros((n_frames, 3, 3))
        flat = np.full((n_frames, 2, 3), np.nan)
        stances = _runs(share > 0.0)
        for number, run in enumerate(stances):
            # The frames this footprint reaches, at most halfway to the neighbouring stances.
            start = run[0] - lead if number == 0 else max(run[0] - lead, (stances[number - 1][-1] + run[0] + 1) // 2)
            stop = run[-1] + 1 + lag if number == len(stances) - 1 else \
                min(run[-1] + 1 + lag, (run[-1] + stances[number + 1][0] + 1) // 2)
            reach = np.arange(max(0, start), min(n_frames, stop))
            own = np.zeros(n_frames)
            own[run] = share[run]
            reached[reach] = _smoothstep(np.clip(reach_share(own, lead, lag)[reach] / PLANTED_LOAD_SHARE, 0.0, 1.0))
            weight = planted[run] + 1e-9
            heading = float(np.sum(weight * yaw[run]) / np.sum(weight))
            rolled = _rolled_foot(neutral, heading, pitch[run], floor_heel_height_m)  # heel footprint at x = z = 0
            offset = np.sum(weight[:, None, None] * (template[run] - rolled), axis=0).sum(axis=0) / (3 * np.sum(weight))
            offset[1] = 0.0
            offset[2] += outward_m if side_index == 0 else -outward_m
            footprints[reach] = _rolled_foot(neutral, heading, pitch[reach], floor_heel_height_m) + offset
            flat[run] = (_rolled_foot(neutral, heading, np.zeros(1), floor_heel_height_m)[0, :2] + offset) * [1.0, 0.0, 1.0]
        flat_footprints["rl"[side_index]] = flat
        # In swing the foot follows the template's path moved out by as much as its footprints,
        # leaving each footprint from where it is.
        swing = template.copy()
        swing[..., 2] += outward_m if side_index == 0 else -outward_m
        swing = _leave_footprints(swing, footprints, stances)
        positions[:, columns] = reached[:, None, None] * footprints + (1.0 - reached[:, None, None]) * swing
        positions[:, columns, 1] = planted[:, None] * footprints[..., 1] + (1.0 - planted[:, None]) * template[..., 1]
        weights[:, columns] = (SWING_FOOT_WEIGHT + reached * (STANCE_FOOT_WEIGHT - SWING_FOOT_WEIGHT))[:, None]
    return MarkerTargets(target_marker_names(), positions, weights, flat_footprints)


def _leave_footprints(swing_m: np.ndarray, footprints_m: np.ndarray, stances: list[np.ndarray]) -> np.ndarray:
    """Swing path ``(n_frames, n_foot_markers, 3)`` m that leaves each footprint from the footprint.

    The template's foot slides backwards through its stance: at toe-off it lies 5–18 cm behind
    the footprint the stance was planted on (gait2hip48 at 130 steps/min). Blended straight back
    onto the template's path, the swing targets first moved backwards, 4–7 cm in the first
    50 ms of swing, and the thigh was pulled back before the hip flexors whipped it forward: a
    hip flexion moment of ~2 Nm/kg in early swing and the hip-reserve QC failures at fast
    cadences. Here the horizontal offset from the template's path to the footprint at the
    stance's last loaded frame is carried into the swing that follows, fading (smoothstep) to
    nothing at the next stance of the same foot, so the swing foot starts forwards from where
    it stood. ``footprints_m`` holds the footprint's marker positions on every frame of
    ``stances`` (index runs of the foot's loaded frames); heights are left to the template.
    """
    moved = swing_m.copy()
    for number, run in enumerate(stances):
        end = run[-1]
        stop = stances[number + 1][0] if number + 1 < len(stances) else len(swing_m)
        gap = np.arange(end + 1, stop)
        if gap.size == 0:
            continue
        offset = footprints_m[end] - swing_m[end]   # (n_foot_markers, 3)
        offset[:, 1] = 0.0
        fade = 1.0 - _smoothstep((gap - end) / float(stop - end))
        moved[gap] += fade[:, None, None] * offset
    return moved


def reach_share(share: np.ndarray, lead_frames: int, lag_frames: int) -> np.ndarray:
    """``(n_frames,)`` load share (0–1) reaching ``lead_frames`` earlier and ``lag_frames`` later.

    At each frame the largest of ``share`` ``lead_frames`` ahead and ``lag_frames`` behind, each
    frame's value scaled down linearly with its distance (to 0 one frame beyond the reach).
    """
    reached = share.copy()
    for k in range(1, lead_frames + 1):
        reached[:-k] = np.maximum(reached[:-k], share[k:] * (1.0 - k / (lead_frames + 1)))
    for k in range(1, lag_frames + 1):
        reached[k:] = np.maximum(reached[k:], share[:-k] * (1.0 - k / (lag_frames + 1)))
    return reached


def body_following_share(targets: MarkerTargets) -> np.ndarray:
    """``(n_frames, n_markers)`` share (0–1) of a whole-body displacement each target follows.

    The pelvis markers follow it fully, a foot's markers as far as the foot is unplanted (all of
    it in swing, none while fully planted), read from their weights.
    """
    share = np.ones_like(targets.weights)
    feet = slice(0, 2 * len(FOOT_MARKERS))
    share[:, feet] = (STANCE_FOOT_WEIGHT - targets.weights[:, feet]) / (STANCE_FOOT_WEIGHT - SWING_FOOT_WEIGHT)
    return np.clip(share, 0.0, 1.0)


def _foot_yaw_pitch(points: np.ndarray, neutral: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Yaw (about +y) and pitch (about +z, toe up positive) of a foot relative to standing, rad.

    ``points`` ``(n, 3, 3)`` and ``neutral`` ``(3, 3)``: heel, toe tip, lateral marker.
    """
    rotation = np.einsum("nij,kj->nik", _frame(points), _frame(neutral[None])[0])  # (n, 3, 3)
    pitch = np.arcsin(np.clip(rotation[:, 1, 0], -1.0, 1.0))
    yaw = np.arctan2(-rotation[:, 2, 0], rotation[:, 0, 0])
    return yaw, pitch


def _frame(points: np.ndarray) -> np.ndarray:
    """Orthonormal foot frames ``(n, 3, 3)`` (columns: heel→toe, up, lateral) from heel, toe, lateral."""
    along = points[:, 1] - points[:, 0]
    along /= np.linalg.norm(along, axis=1, keepdims=True)
    side = points[:, 2] - points[:, 0]
    side -= np.sum(side * along, axis=1, keepdims=True) * along
    side /= np.linalg.norm(side, axis=1, keepdims=True)
    up = np.cross(side, along)
    return np.stack([along, up, side], axis=2)


def _rolled_foot(neutral: np.ndarray, heading: float, pitch: np.ndarray, heel_height_m: float) -> np.ndarray:
    """Foot markers ``(n, 3, 3)`` with heading ``heading`` (rad) and the given pitch (rad, ``(n,)``).

    Pitched toe up the foot turns about the heel marker, heel up about the toe-tip marker; the
    heel footprint is at x = z = 0 and the pivot stays at its standing height.
    """
    offsets = neutral - neutral[0]                                   # heel-relative, standing
    yaw_matrix = _rotation_y(heading)
    pitch_matrices = np.array([_rotation_z(angle) for angle in pitch])  # (n, 3, 3)
    heel = np.array([0.0, heel_height_m, 0.0])
    toe_pivot = heel + yaw_matrix @ offsets[1]
    heel_up = pitch < 0.0
    pivot_offset = np.where(heel_up[:, None], offsets[1], 0.0)       # (n, 3)
    pivot = np.where(heel_up[:, None], toe_pivot, heel)
    relative = offsets[None] - pivot_offset[:, None]                  # (n, 3, 3)
    turned = np.einsum("ij,njk,nmk->nmi", yaw_matrix, pitch_matrices, relative)
    return pivot[:, None] + turned


def _rotation_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rotation_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3.0 - 2.0 * x)


def _runs(mask: np.ndarray) -> list[np.ndarray]:
    """Index runs where ``mask`` holds."""
    indices = np.flatnonzero(mask)
    if indices.size == 0:
        return []
    return np.split(indices, np.flatnonzero(np.diff(indices) > 1) + 1)


def stance_foot_slip_m(heel_m: dict[str, np.ndarray], toe_m: dict[str, np.ndarray], right_share: np.ndarray,
                       floor_heel_height_m: float, toe_above_heel_m: dict[str, float]) -> float:
    """Largest horizontal drift (m) of a loaded foot's pivot over single support.

    Parameters
    ----------
    heel_m, toe_m
        Side (``"r"``/``"l"``) → ``(n_frames, 3)`` heel and toe-tip marker positions (m) of the
        motion as written (after band-limiting).
    right_share
        ``(n_frames,)`` right foot's load share; single support is where it is exactly 1 (right)
        or 0 (left).
    floor_heel_height_m
        Standing heel-marker height (m).
    toe_above_heel_m
        Side → toe-tip marker height above the heel marker in standing (m).

    Returns
    -------
    float
        Over every stretch of single support where the pivot (whichever of heel and toe tip is
        nearer its standing height) stays the same point, the largest horizontal (x, z) distance
        between two of its positions; the largest over stretches and feet.
    """
    worst = 0.0
    for side, single in (("r", right_share >= 1.0), ("l", right_share <= 0.0)):
        heel, toe = heel_m[side], toe_m[side]
        on_heel = (heel[:, 1] - floor_heel_height_m) <= (toe[:, 1] - floor_heel_height_m - toe_above_heel_m[side])
        pivot = np.where(on_heel[:, None], heel, toe)[:, [0, 2]]
        for kind in (True, False):
            for run in _runs(single & (on_heel == kind)):
                points = pivot[run]
                worst = max(worst, float(np.max(np.linalg.norm(points[:, None] - points[None], axis=2))))
    return worst
