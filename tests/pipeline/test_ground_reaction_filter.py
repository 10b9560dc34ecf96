"""Ground reactions filtered as the coordinates: the wrench is filtered, the point recovered from it."""

from __future__ import annotations

import numpy as np
import pytest

from gait2hip.core.errors import InputDataError
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
    force, point, torque = _stance(start_s=0.5)
    path, _ = _grf(tmp_path, force, point, torque)

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


def _stance(start_s: float, fore_aft_n: float = 0.0, first_point_m: float = 0.0, free_moment_nm: float = 0.0):
    """A right-foot stance of 0.7 s at 1 kHz from ``start_s`` (2 s in all): ``(n, 3)`` force (N), point (m), torque (Nm).

    Vertical load a half sine to 700 N, fore-aft a full sine of ``fore_aft_n``, the centre of
    pressure rolling 0.25 m forwards from ``first_point_m``, a half-sine free moment.
    """
    times = np.arange(2000) / RATE_HZ
    loaded = (times > start_s) & (times < start_s + 0.7)
    phase = (times[loaded] - start_s) / 0.7
    force, point, torque = np.zeros((len(times), 3)), np.zeros((len(times), 3)), np.zeros((len(times), 3))
    force[loaded, 1] = 700.0 * np.sin(np.pi * phase)
    force[loaded, 0] = fore_aft_n * np.sin(2 * np.pi * phase)
    point[:, 0] = first_point_m + np.clip((times - start_s) / 0.7, 0.0, 1.0) * 0.25
    torque[loaded, 1] = free_moment_nm * np.sin(np.pi * phase)
    return force, point, torque


def _stance_grf(tmp_path):
    return _grf(tmp_path, *_stance(start_s=0.4, fore_aft_n=90.0, first_point_m=0.3, free_moment_nm=3.0))[0]


def _loads_at(grf_path, times_s: np.ndarray) -> np.ndarray:
    """``(n, 9)`` force, point and torque of the right foot as OpenSim's ``ExternalForce`` evaluates them."""
    import opensim

    ids = grf_identifiers("r")
    model = opensim.Model()
    body = opensim.Body("calcn_r", 1.0, opensim.Vec3(0), opensim.Inertia(1))
    model.addBody(body)
    model.addJoint(opensim.FreeJoint("free", model.getGround(), body))
    force = opensim.ExternalForce()
    force.setName("grf_r")
    force.set_applied_to_body("calcn_r")
    force.set_force_expressed_in_body("ground")
    force.set_point_expressed_in_body("ground")
    force.set_force_identifier(ids.force)
    force.set_point_identifier(ids.point)
    force.set_torque_identifier(ids.torque)
    data = opensim.Storage(str(grf_path))
    force.setDataSource(data)
    model.addForce(force)
    model.initSystem()
    return np.array([[*np.asarray(force.getForceAtTime(t).to_numpy()), *np.asarray(force.getPointAtTime(t).to_numpy()),
                      *np.asarray(force.getTorqueAtTime(t).to_numpy())] for t in times_s])


def test_loads_kept_at_the_frames_are_the_loads_the_tools_evaluate_there(tmp_path):
    """The frame-time file gives OpenSim's ExternalForce the full-rate file's loads at the frames.

    At 100 Hz the frames are samples of the 1 kHz file (its rows are kept); at 120 Hz most are
    not, and their values come from the cubic spline ExternalForce fits through the full file.
    """
    path = _stance_grf(tmp_path)
    full = write_filtered_grf(path, GRFConfig(), 6.0, tmp_path / "full.mot")
    for rate_hz in (100.0, 120.0):
        frames_s = 0.05 + np.arange(int(1.8 * rate_hz)) / rate_hz
        at_frames = write_filtered_grf(path, GRFConfig(), 6.0, tmp_path / f"frames_{rate_hz:g}.mot", at_times_s=frames_s)

        kept = read_opensim_table(at_frames)
        np.testing.assert_allclose(kept["time"], frames_s, atol=1e-9)
        expected, got = _loads_at(full, frames_s), _loads_at(at_frames, frames_s)
        scale = np.abs(expected).max(axis=0) + 1e-12
        assert np.max(np.abs(got - expected) / scale) < 1e-9, f"{rate_hz:g} Hz frames"


def test_frames_outside_the_ground_reactions_are_named(tmp_path):
    path = _stance_grf(tmp_path)
    with pytest.raises(InputDataError, match=r"grf\.mot.*does not cover the frames"):
        write_filtered_grf(path, GRFConfig(), 6.0, tmp_path / "late.mot", at_times_s=np.array([1.5, 2.5]))
