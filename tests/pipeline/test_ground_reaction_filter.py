"""Ground reactions filtered as the coordinates: the wrench is filtered, the point recovered from it."""

from __future__ import annotations

import numpy as np

from gait2hip.core.opensim_files import grf_identifiers, read_opensim_table, write_mot
from gait2hip.pipeline.config import GRFConfig
from gait2hip.pipeline.ground_reactions import write_filtered_grf

RATE_HZ = 1000.0
POINT_TOLERANCE_M = 1e-6


def _grf(tmp_path, right_force_n: np.ndarray, right_point_m: np.ndarray, right_torque_nm: np.ndarray):
    times = np.arange(len(right_force_n)) / RATE_HZ
    columns = {}
    for side in ("r", "l"):
        ids = grf_identifiers(side)
        for identifier, values in ((ids.force, right_force_n), (ids.point, right_point_m), (ids.torque, right_torque_nm)):
            for axis, name in enumerate("xyz"):
                columns[f"{identifier}{name}"] = values[:, axis] if side == "r" else np.zeros(len(times))
    return write_mot(tmp_path / "grf.mot", columns, times, in_degrees=False), times


def test_a_steady_load_comes_back_unchanged_on_the_same_samples(tmp_path):
    n = 2000
    force = np.tile([30.0, 700.0, -10.0], (n, 1))
    point = np.tile([0.4, 0.0, 0.2], (n, 1))
    torque = np.tile([0.0, 2.5, 0.0], (n, 1))
    path, times = _grf(tmp_path, force, point, torque)

    filtered = read_opensim_table(write_filtered_grf(path, GRFConfig(), 6.0, tmp_path / "filtered.mot"))

    ids = grf_identifiers("r")
    np.testing.assert_allclose(filtered["time"], times)
    np.testing.assert_allclose(filtered[[f"{ids.force}{a}" for a in "xyz"]], force, rtol=1e-6)
    np.testing.assert_allclose(filtered[[f"{ids.point}{a}" for a in "xyz"]], point, atol=POINT_TOLERANCE_M)
    np.testing.assert_allclose(filtered[f"{ids.torque}y"], torque[:, 1], atol=1e-6)


def test_filtering_keeps_the_moment_of_the_load_not_the_point(tmp_path):
    """A stance whose COP rolls heel to toe: the filtered wrench's moment is the filtered moment."""
    n = 2000
    times = np.arange(n) / RATE_HZ
    loaded = (times > 0.5) & (times < 1.2)
    force = np.zeros((n, 3))
    force[loaded, 1] = 700.0 * np.sin(np.pi * (times[loaded] - 0.5) / 0.7)
    point = np.zeros((n, 3))
    point[:, 0] = np.clip((times - 0.5) / 0.7, 0.0, 1.0) * 0.25
    path, _ = _grf(tmp_path, force, point, np.zeros((n, 3)))

    filtered = read_opensim_table(write_filtered_grf(path, GRFConfig(), 6.0, tmp_path / "filtered.mot"))

    ids = grf_identifiers("r")
    f = filtered[[f"{ids.force}{a}" for a in "xyz"]].to_numpy()
    p = filtered[[f"{ids.point}{a}" for a in "xyz"]].to_numpy()
    t = filtered[[f"{ids.torque}{a}" for a in "xyz"]].to_numpy()
    moment = np.cross(p, f) + t
    original_moment_impulse = np.cross(point, force).sum(axis=0)
    # Filtering preserves the impulse of the moment (the filter's gain at 0 Hz is 1).
    np.testing.assert_allclose(moment.sum(axis=0), original_moment_impulse, rtol=1e-3, atol=1e-3)
    # Where the filtered load is above the contact threshold, the recovered COP stays on the
    # foot's 0-0.25 m path, give or take the filter's spread at the stance's ends (1 cm).
    assert np.all(np.abs(p[f[:, 1] > 20.0, 0] - 0.125) <= 0.125 + 0.01)
