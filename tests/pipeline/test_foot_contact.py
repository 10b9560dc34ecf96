"""Foot contact from plates and foot markers, and per-leg label validity (no OpenSim needed)."""

from __future__ import annotations

import numpy as np
import pytest

from gait2hip.pipeline.foot_contact import (FootContactConfig, detect_contact, edge_reach_s, invalid_margins_s, leg_contact,
                                            marker_contact, runs_of)

RATE_HZ = 100.0
TIMES_S = np.arange(200) / RATE_HZ
CONFIG = FootContactConfig()


def _flags(*runs: tuple[int, int], n: int = len(TIMES_S)) -> np.ndarray:
    flags = np.zeros(n, dtype=bool)
    for start, stop in runs:
        flags[start:stop] = True
    return flags


def _walking_foot(stances: list[tuple[int, int]], floor_height_m: float = 0.04) -> np.ndarray:
    """``(n, 1, 3)`` one foot marker: still at its floor height in stance, moving 4 m/s and lifted in swing."""
    position = np.zeros((len(TIMES_S), 1, 3))
    x, height = 0.0, floor_height_m
    for frame in range(len(TIMES_S)):
        in_stance = any(a <= frame < b for a, b in stances)
        x += 0.0 if in_stance else 4.0 / RATE_HZ
        height = floor_height_m if in_stance else floor_height_m + 0.12
        position[frame, 0] = (x, height, 0.1)
    return position


def test_marker_contact_finds_the_still_low_frames_of_a_foot():
    stances = [(20, 80), (130, 190)]
    contact = marker_contact(TIMES_S, _walking_foot(stances), CONFIG)
    found = runs_of(contact)
    assert len(found) == 2
    for (start, stop), (true_start, true_stop) in zip(found, stances):
        # The central-difference speed blurs each edge by a frame.
        assert abs(start - true_start) <= 1 and abs(stop - true_stop) <= 1


def test_a_missing_marker_says_nothing_in_its_frames():
    foot = np.concatenate([_walking_foot([(20, 80)]), np.full((len(TIMES_S), 1, 3), np.nan)], axis=1)
    assert runs_of(marker_contact(TIMES_S, foot, CONFIG)) == runs_of(marker_contact(TIMES_S, foot[:, :1], CONFIG))


def test_a_stance_on_a_plate_keeps_the_leg_valid_and_takes_the_plate_timing():
    plate = _flags((22, 80))
    markers = _flags((20, 78))  # marker contact starts and ends a little off the plate's
    leg = leg_contact("r", TIMES_S, plate, markers, CONFIG, filter_cutoff_hz=6.0)
    assert leg.valid.all() and not leg.dropped_windows
    np.testing.assert_array_equal(leg.stance, plate)


def test_a_stance_on_the_floor_is_stance_and_invalid_widened_further_before_it_than_after():
    plate = _flags((20, 80))
    markers = _flags((20, 80), (130, 170))
    leg = leg_contact("l", TIMES_S, plate, markers, CONFIG, filter_cutoff_hz=6.0)
    before, after = (int(round(m * RATE_HZ)) for m in invalid_margins_s(CONFIG, 6.0))
    assert (before, after) == (15, 10)  # 30 ms marker lag + 0.7 / 6 Hz before, + 0.4 / 6 Hz after
    np.testing.assert_array_equal(leg.valid, ~_flags((130 - before, 170 + after)))
    assert leg.stance[130:170].all() and not leg.stance[170:].any()
    assert [(w.start_s, w.end_s) for w in leg.dropped_windows] == [(TIMES_S[115], TIMES_S[179])]
    assert "left foot on the floor" in leg.dropped_windows[0].reason


def test_without_filtering_only_the_marker_lag_widens_a_floor_stance():
    leg = leg_contact("r", TIMES_S, _flags(), _flags((100, 150)), CONFIG, filter_cutoff_hz=0.0)
    np.testing.assert_array_equal(leg.valid, ~_flags((97, 153)))


def test_residual_frames_need_every_loaded_foot_on_a_plate():
    right = _walking_foot([(0, 40), (100, 160)])
    left = _walking_foot([(50, 110), (150, 200)])
    plate_loaded = {"r": _flags((100, 160)), "l": _flags((50, 110))}
    report = detect_contact(TIMES_S, plate_loaded, {"r": right, "l": left}, {"r": ("R.Heel",), "l": ("L.Heel",)},
                            CONFIG, filter_cutoff_hz=6.0)
    residual = report.residual_frames
    # Right on the floor until 40, left on the floor from 150: residuals only in between, less
    # the margins after a floor stance (10 frames) and before one (15).
    [(start, stop)] = runs_of(residual)
    assert abs(start - (40 + 10)) <= 1 and abs(stop - (150 - 15)) <= 1
    summary = report.to_json()
    assert summary["n_residual_frames"] == int(residual.sum())
    assert summary["legs"]["l"]["dropped_windows"][0]["reason"] == "left foot on the floor off the plates"


def test_bad_thresholds_are_errors_naming_the_key():
    with pytest.raises(ValueError, match="foot_contact.max_speed_m_per_s"):
        FootContactConfig(max_speed_m_per_s=0.0)
    with pytest.raises(ValueError, match="foot_contact.filter_reach_cycles"):
        FootContactConfig(filter_reach_cycles=-1.0)
    with pytest.raises(ValueError, match="foot_contact.heel_strike_reach_cycles"):
        FootContactConfig(heel_strike_reach_cycles=-0.1)


def test_the_toe_lingering_after_a_plate_toe_off_is_not_a_floor_stance():
    plate = _flags((20, 80))
    markers = _flags((20, 78), (84, 92))  # low and slow again 40 ms after the plate unloads
    leg = leg_contact("l", TIMES_S, plate, markers, CONFIG, filter_cutoff_hz=6.0)
    assert leg.valid.all() and not leg.dropped_windows


def test_a_brief_brush_of_the_floor_is_not_a_stance():
    leg = leg_contact("r", TIMES_S, _flags(), _flags((120, 125)), CONFIG, filter_cutoff_hz=6.0)
    assert leg.valid.all() and not leg.stance.any()


def test_both_legs_are_invalid_near_the_first_and_last_labelled_frame():
    plate_loaded = {"r": _flags((0, 200)), "l": _flags((0, 200))}
    positions = {"r": _walking_foot([(0, 200)]), "l": _walking_foot([(0, 200)])}
    report = detect_contact(TIMES_S, plate_loaded, positions, {"r": ("R.Heel",), "l": ("L.Heel",)}, CONFIG,
                            filter_cutoff_hz=6.0)
    reach_s = edge_reach_s(CONFIG, 6.0)
    assert reach_s == pytest.approx(0.7 / 6.0)

    trimmed = report.without_ends(reach_s)

    reach_frames = int(np.ceil(reach_s * RATE_HZ - 1e-9))  # frames closer to an end than the reach
    for leg in trimmed.legs.values():
        assert not leg.valid[:reach_frames].any() and not leg.valid[-reach_frames:].any()
        assert leg.valid[reach_frames:-reach_frames].all()
        assert [w.reason.split("reach of the ")[1] for w in leg.dropped_windows] == [
            "first labelled frame", "last labelled frame"]
    assert trimmed.to_json()["n_residual_frames"] == len(TIMES_S) - 2 * reach_frames
    assert report.without_ends(0.0) is report
    assert edge_reach_s(CONFIG, 0.0) == 0.0  # unfiltered: the ends are as good as the middle
