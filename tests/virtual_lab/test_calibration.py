"""What the virtual lab was calibrated for against measured gait: posture, pelvic list, step width."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gait2hip.virtual_lab.foot_placement import PELVIS_MARKERS, plant_feet
from gait2hip.virtual_lab.gait_template import GaitTemplate
from gait2hip.virtual_lab.kinematics import joint_angles_deg
from gait2hip.virtual_lab.subjects import STEP_WIDTH_RANGE_M, sample_healthy_subject

STRIDE_S = 1.1


def _subject(seed: int = 3):
    return sample_healthy_subject("S01", np.random.default_rng(seed), 0.6)


def test_pelvic_posture_turns_the_pelvis_and_turns_hips_and_lumbar_back_by_as_much():
    subject = _subject()
    upright = dataclasses.replace(subject, traits=dataclasses.replace(subject.traits, pelvis_tilt_offset_deg=0.0))
    tilted = dataclasses.replace(subject, traits=dataclasses.replace(subject.traits, pelvis_tilt_offset_deg=5.0))
    times_s = np.arange(0.0, 2.0, 0.01)
    template = GaitTemplate.load()
    base, _ = joint_angles_deg(upright, template, times_s, STRIDE_S, 110.0, np.random.default_rng(0))
    moved, _ = joint_angles_deg(tilted, template, times_s, STRIDE_S, 110.0, np.random.default_rng(0))
    np.testing.assert_allclose(moved["pelvis_tilt"] - base["pelvis_tilt"], 5.0, atol=1e-12)
    for name in ("hip_flexion_r", "hip_flexion_l", "lumbar_extension"):
        np.testing.assert_allclose(moved[name] - base[name], -5.0, atol=1e-12)
    for name in ("knee_angle_r", "ankle_angle_l", "hip_adduction_r", "pelvis_list"):
        np.testing.assert_array_equal(moved[name], base[name])


def test_the_template_pelvis_drops_on_the_swing_side():
    # gait2392: positive pelvis_list drops the right side. In right single support (about 10–50 %
    # of the right cycle) the left leg swings and the left side drops (negative list); half a
    # cycle later the right side drops.
    template = GaitTemplate.load()
    right_single = template.pelvis["pelvis_list"](np.linspace(0.12, 0.45, 30))
    left_single = template.pelvis["pelvis_list"](np.linspace(0.62, 0.95, 30))
    assert np.mean(right_single) < -1.0
    assert np.mean(left_single) > 1.0


def test_every_drawn_step_width_is_within_the_adult_range():
    widths = [sample_healthy_subject(f"S{i}", np.random.default_rng(i), 0.6).traits.step_width_m for i in range(200)]
    assert min(widths) >= STEP_WIDTH_RANGE_M[0] and max(widths) <= STEP_WIDTH_RANGE_M[1]
    assert 0.06 < float(np.mean(widths)) < 0.10


def _walking_feet_on_one_line(n_frames: int = 300):
    """Template marker paths of two feet walking on one line (z = ±5 mm), and their load share."""
    time_s = np.arange(n_frames) * 0.01
    phase = (time_s / STRIDE_S) % 1.0
    right_share = np.clip(np.cos(2 * np.pi * phase) * 3.0 + 0.5, 0.0, 1.0)
    foot = np.array([[0.0, 0.04, 0.0], [0.25, 0.02, 0.0], [0.10, 0.03, 0.04]])   # heel, toe tip, lateral
    left_foot = foot * [1.0, 1.0, -1.0]
    progression = np.stack([time_s * 1.2, np.zeros(n_frames), np.zeros(n_frames)], axis=1)[:, None]
    right = foot[None] + progression + [0.0, 0.0, 0.005]
    left = left_foot[None] + progression - [0.0, 0.0, 0.005]
    pelvis = np.zeros((n_frames, len(PELVIS_MARKERS), 3)) + progression + [0.0, 0.9, 0.0]
    template = np.concatenate([right, left, pelvis], axis=1)
    neutral = np.concatenate([foot, left_foot, np.zeros((len(PELVIS_MARKERS), 3))])
    return template, neutral, right_share


@pytest.mark.parametrize("step_width_m", [0.05, 0.11])
def test_footprints_are_the_step_width_apart(step_width_m):
    template, neutral, right_share = _walking_feet_on_one_line()
    targets = plant_feet(template, neutral, right_share, 0.04, 0.01, step_width_m=step_width_m)
    right_heel_z = np.nanmean(targets.footprints_m["r"][:, 0, 2])
    left_heel_z = np.nanmean(targets.footprints_m["l"][:, 0, 2])
    assert right_heel_z - left_heel_z == pytest.approx(step_width_m, abs=1e-3)
    # The swinging foot is moved out with its footprints: no inward detour in mid-swing.
    swing = right_share <= 0.0
    right_heel = targets.positions_m[:, 0, 2]
    assert np.min(right_heel[swing]) == pytest.approx(0.005 + 0.5 * (step_width_m - 0.01), abs=1e-3)


def test_without_a_step_width_the_footprints_stay_where_the_template_puts_them():
    template, neutral, right_share = _walking_feet_on_one_line()
    targets = plant_feet(template, neutral, right_share, 0.04, 0.01)
    width = np.nanmean(targets.footprints_m["r"][:, 0, 2]) - np.nanmean(targets.footprints_m["l"][:, 0, 2])
    assert width == pytest.approx(0.01, abs=1e-3)


def _feet_sliding_back_in_stance(n_frames: int = 400, slide_m_per_s: float = 0.3):
    """Template marker paths of feet that slide backwards through each stance, as gait2392's do.

    Each stance of a foot is centred on a footprint 1.2 m × stride apart from the last and
    slides back at ``slide_m_per_s``; each swing goes from where the stance ended to where the
    next begins (smoothstep in time). Returns the template, neutral markers and the right load share.
    """
    time_s = np.arange(n_frames) * 0.01
    right_share = np.clip(np.cos(2 * np.pi * time_s / STRIDE_S) * 3.0 + 0.5, 0.0, 1.0)
    half_stance_s = 0.2766 * STRIDE_S      # cos(2π φ) · 3 + 0.5 > 0 for |φ| < 0.2766
    foot = np.array([[0.0, 0.04, 0.0], [0.25, 0.02, 0.0], [0.10, 0.03, 0.04]])   # heel, toe tip, lateral

    def foot_x(lag_s: float) -> np.ndarray:
        nearest = np.round((time_s - lag_s) / STRIDE_S)          # the stance this frame belongs to or follows
        from_middle = time_s - lag_s - nearest * STRIDE_S
        in_stance = np.abs(from_middle) <= half_stance_s
        stance_x = 1.2 * STRIDE_S * nearest - slide_m_per_s * from_middle
        after = from_middle > 0
        start = np.where(after, nearest, nearest - 1)
        swing_time = STRIDE_S - 2 * half_stance_s
        progress = np.clip((time_s - lag_s - start * STRIDE_S - half_stance_s) / swing_time, 0.0, 1.0)
        off_x = 1.2 * STRIDE_S * start - slide_m_per_s * half_stance_s
        on_x = 1.2 * STRIDE_S * (start + 1) + slide_m_per_s * half_stance_s
        swing_x = off_x + (on_x - off_x) * progress * progress * (3.0 - 2.0 * progress)
        return np.where(in_stance, stance_x, swing_x)

    right = foot[None] + np.stack([foot_x(0.0), np.zeros(n_frames), np.full(n_frames, 0.05)], axis=1)[:, None]
    left_foot = foot * [1.0, 1.0, -1.0]
    left = left_foot[None] + np.stack([foot_x(0.5 * STRIDE_S), np.zeros(n_frames), np.full(n_frames, -0.05)],
                                      axis=1)[:, None]
    progression = np.stack([time_s * 1.2, np.full(n_frames, 0.9), np.zeros(n_frames)], axis=1)[:, None]
    pelvis = np.zeros((n_frames, len(PELVIS_MARKERS), 3)) + progression
    template = np.concatenate([right, left, pelvis], axis=1)
    neutral = np.concatenate([foot, left_foot, np.zeros((len(PELVIS_MARKERS), 3))])
    return template, neutral, right_share


def test_a_swing_foot_leaves_its_footprint_forwards_when_the_template_foot_trails_behind_it():
    template, neutral, right_share = _feet_sliding_back_in_stance()
    targets = plant_feet(template, neutral, right_share, 0.04, 0.01)
    heel_x = targets.positions_m[:, 0, 0]
    toe_offs = np.flatnonzero((right_share[:-1] > 0.0) & (right_share[1:] == 0.0))
    assert len(toe_offs) >= 3
    for toe_off in toe_offs[1:]:   # the first stance starts before the first frame
        # The template heel is 9 cm behind the footprint at toe-off and still sliding back.
        assert template[toe_off, 0, 0] < targets.footprints_m["r"][toe_off, 0, 0] - 0.05
        early_swing = heel_x[toe_off:toe_off + 15]
        assert np.min(np.diff(early_swing)) > -1e-4, "the swing heel target moves backwards after toe-off"


def _torso_rotation_in_ground(model, state, pose: dict[str, float]) -> np.ndarray:
    """``(3, 3)`` rotation of gait2392's torso in the ground at ``pose`` (name → rad)."""
    coordinates = model.getCoordinateSet()
    for index in range(coordinates.getSize()):
        coordinates.get(index).setValue(state, 0.0, False)
    for name, value in pose.items():
        coordinates.get(name).setValue(state, value, False)
    model.realizePosition(state)
    rotation = model.getBodySet().get("torso").getTransformInGround(state).R()
    return np.array([[rotation.get(i, j) for j in range(3)] for i in range(3)])


def _angle_between_deg(first: np.ndarray, second: np.ndarray) -> float:
    cosine = (np.trace(first.T @ second) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))


def test_the_torso_keeps_its_template_orientation_when_the_ik_turns_the_pelvis():
    import opensim

    from gait2hip.opensim_models import model_path
    from gait2hip.virtual_lab.whole_body_ik import keep_torso_in_room

    model = opensim.Model(str(model_path("gait2392")))
    state = model.initSystem()
    template = {"pelvis_tilt": np.radians([8.0, -4.0]), "pelvis_list": np.radians([3.0, -5.0]),
                "pelvis_rotation": np.radians([-6.0, 4.0]), "lumbar_extension": np.radians([-10.0, -2.0]),
                "lumbar_bending": np.radians([-2.0, 4.0]), "lumbar_rotation": np.radians([5.0, -3.0])}
    # The IK turned the pelvis by up to 3° about each axis (lumbar still at the template).
    solved = dict(template, pelvis_tilt=template["pelvis_tilt"] + np.radians([3.0, -2.0]),
                  pelvis_list=template["pelvis_list"] + np.radians([-3.0, 2.5]),
                  pelvis_rotation=template["pelvis_rotation"] + np.radians([2.0, 3.0]))
    held = keep_torso_in_room(solved, template)
    np.testing.assert_array_equal(held["pelvis_list"], solved["pelvis_list"])
    for frame in range(2):
        wanted = _torso_rotation_in_ground(model, state, {name: values[frame] for name, values in template.items()})
        turned = _torso_rotation_in_ground(model, state, {name: values[frame] for name, values in solved.items()})
        kept = _torso_rotation_in_ground(model, state, {name: values[frame] for name, values in held.items()})
        assert _angle_between_deg(turned, wanted) > 3.0
        assert _angle_between_deg(kept, wanted) < 1e-4
