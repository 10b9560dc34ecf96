"""Balance: COP plan on the footprints, the pendulum's COM shift, the COP-in-foot measure."""

from __future__ import annotations

import numpy as np
import pytest

from gait2hip.virtual_lab.foot_placement import reach_share
from gait2hip.virtual_lab.balance import (COP_HEEL_STRIKE_FRACTION, COP_TOE_OFF_FRACTION, FOOT_HALF_WIDTH_M,
                                 centre_of_mass_shift, centre_of_pressure, centre_of_pressure_outside_foot_m,
                                 plan_centre_of_pressure)

TOLERANCE_M = 1e-6


def test_a_constant_cop_error_asks_for_the_same_constant_com_shift_away_from_the_ends():
    n = 1000   # 10 s at 100 Hz: the ends' influence decays as exp(-ω t), ω ≈ 3.3 /s
    error = np.tile([0.05, 0.0, -0.02], (n, 1))
    shift = centre_of_mass_shift(error, np.full(n, 9.81 / 0.9), 0.01)
    # Δ − Δ''/ω² = e with Δ'' = 0 in the interior: Δ = e; the ends are held at 0.
    np.testing.assert_allclose(shift[450:550], error[450:550], atol=TOLERANCE_M)
    assert abs(shift[0, 0]) < TOLERANCE_M and abs(shift[-1, 2]) < TOLERANCE_M


def test_com_shift_moves_the_pendulum_cop_by_the_error():
    n, dt, omega_squared = 600, 0.01, 9.81 / 0.9
    t = np.arange(n) * dt
    error = np.zeros((n, 3))
    error[:, 0] = 0.03 * np.sin(2 * np.pi * 1.0 * t) * np.sin(np.pi * t / t[-1]) ** 2
    shift = centre_of_mass_shift(error, np.full(n, omega_squared), dt)[:, 0]
    moved = shift[1:-1] - np.diff(shift, 2) / dt ** 2 / omega_squared
    np.testing.assert_allclose(moved, error[1:-1, 0], atol=TOLERANCE_M)


def test_cop_of_a_wrench_is_where_the_force_acts():
    point = np.array([[0.3, 0.0, -0.1]])
    force = np.array([[20.0, 700.0, 5.0]])
    np.testing.assert_allclose(centre_of_pressure(force, np.cross(point, force)), point, atol=TOLERANCE_M)


def test_planned_cop_rolls_from_heel_to_forefoot_on_a_single_footprint():
    n = 101
    heel, toe = np.array([1.0, 0.0, 0.1]), np.array([1.25, 0.0, 0.1])
    footprints = {"r": np.tile(np.stack([heel, toe]), (n, 1, 1)), "l": np.full((n, 2, 3), np.nan)}
    plan = plan_centre_of_pressure(footprints, np.ones(n))
    along = (plan[:, 0] - heel[0]) / (toe[0] - heel[0])
    assert along[0] == pytest.approx(COP_HEEL_STRIKE_FRACTION) and along[-1] == pytest.approx(COP_TOE_OFF_FRACTION)
    assert np.all(np.diff(along) > 0) and np.allclose(plan[:, 2], 0.1)


def test_cop_outside_foot_is_the_distance_to_the_outline_ignoring_the_stance_edges():
    n = 100
    heel = np.tile([0.0, 0.04, 0.0], (n, 1))
    toe = np.tile([0.25, 0.03, 0.0], (n, 1))
    cop = np.tile([0.1, 0.0, 0.0], (n, 1))
    cop[50, 2] = FOOT_HALF_WIDTH_M + 0.02      # 2 cm outside, mid-stance
    cop[1, 0] = -0.5                            # far behind the heel, in the first 5 % of stance
    load = np.full(n, 700.0)
    assert centre_of_pressure_outside_foot_m(cop, heel, toe, load) == pytest.approx(0.02)


def test_double_support_split_keeps_each_cop_in_its_foot_and_the_total_wrench():
    from gait2hip.virtual_lab.ground_reactions import share_between_feet
    from gait2hip.virtual_lab.kinematics import right_foot_share

    stride_time_s, stance = 1.0, {"r": 0.6, "l": 0.6}
    times = np.array([0.075, 0.08, 0.085])         # late in the double support after right heel strike
    share = right_foot_share(times, stride_time_s, stance)
    assert np.all((share > 0.8) & (share < 1.0))
    n = len(times)
    # Right foot leading and flat (heel marker at x = 0.5, 0.25 m long); left trailing with its heel
    # up, so its outline (heel marker to toe tip, on the floor) is only 0.15 m long. 0.2 m apart.
    feet = {"r": (np.tile([0.5, 0.0, 0.1], (n, 1)), np.tile([0.75, 0.0, 0.1], (n, 1))),
            "l": (np.tile([0.1, 0.0, -0.1], (n, 1)), np.tile([0.25, 0.0, -0.1], (n, 1)))}
    # A total COP the feet can carry (right COP near its heel, left near its toe); the split with
    # each COP the same offset from its foot centre would put the left COP behind its heel.
    total = np.column_stack([0.52 * share + 0.24 * (1 - share), np.zeros(n), 0.1 * share - 0.1 * (1 - share)])
    force = np.tile([0.0, 700.0, 0.0], (n, 1))
    grf = share_between_feet(times, force, np.cross(total, force), stride_time_s, stance, feet, keep_cop_in_foot=False)
    carried = sum(grf.force_n[side][:, 1:2] * grf.centre_of_pressure_m[side] for side in "rl") / force[:, 1:2]
    np.testing.assert_allclose(carried[:, [0, 2]], total[:, [0, 2]], atol=TOLERANCE_M)
    for side in "rl":
        assert centre_of_pressure_outside_foot_m(grf.centre_of_pressure_m[side], *feet[side],
                                                 np.full(n, 700.0)) < TOLERANCE_M


def test_reach_share_ramps_linearly_before_and_after_the_load():
    share = np.zeros(20)
    share[8:12] = 1.0
    reached = reach_share(share, lead_frames=3, lag_frames=4)
    np.testing.assert_allclose(reached[4:8], [0.0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(reached[8:12], 1.0)
    np.testing.assert_allclose(reached[12:17], [0.8, 0.6, 0.4, 0.2, 0.0])
    assert np.all(reached[:4] == 0.0) and np.all(reached[17:] == 0.0)


def test_arm_swing_share_takes_its_part_of_the_free_moment_and_leaves_forces_and_cops():
    from gait2hip.virtual_lab.ground_reactions import share_between_feet

    stride_time_s, stance = 1.0, {"r": 0.6, "l": 0.6}
    times = np.linspace(0.1, 0.4, 7)                # right single support
    n = len(times)
    feet = {"r": (np.tile([0.0, 0.0, 0.1], (n, 1)), np.tile([0.25, 0.0, 0.1], (n, 1))),
            "l": (np.tile([0.5, 0.0, -0.1], (n, 1)), np.tile([0.75, 0.0, -0.1], (n, 1)))}
    force = np.tile([30.0, 700.0, -20.0], (n, 1))
    cop = np.tile([0.1, 0.0, 0.1], (n, 1))
    vertical_free_nm = 12.0
    moment = np.cross(cop, force) + np.array([0.0, vertical_free_nm, 0.0])
    armless = share_between_feet(times, force, moment, stride_time_s, stance, feet)
    with_arms = share_between_feet(times, force, moment, stride_time_s, stance, feet, arm_swing_share=0.75)
    np.testing.assert_allclose(armless.free_moment_nm["r"][:, 1], vertical_free_nm, atol=1e-9)
    np.testing.assert_allclose(with_arms.free_moment_nm["r"][:, 1], 0.25 * vertical_free_nm, atol=1e-9)
    for side in "rl":
        np.testing.assert_array_equal(with_arms.force_n[side], armless.force_n[side])
        np.testing.assert_array_equal(with_arms.centre_of_pressure_m[side], armless.centre_of_pressure_m[side])
    with pytest.raises(ValueError, match="arm_swing_share"):
        share_between_feet(times, force, moment, stride_time_s, stance, feet, arm_swing_share=1.5)


def test_a_recording_whose_arm_swing_share_is_outside_zero_to_one_is_refused():
    from gait2hip.virtual_lab.trial import TrialSettings

    with pytest.raises(ValueError, match="arm_swing_vertical_moment_share"):
        TrialSettings(arm_swing_vertical_moment_share=-0.1)
