"""Harrington et al.'s (2007) hip joint centres from the pelvis markers, and the hip markers they become."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from gait2hip.pipeline.hip_joint_centre import (HipJointCentreMarkers, harrington_hip_centre_trajectories_m,
                                                harrington_hip_centres_m, write_marker_set_with_hip_markers)

POSITION_TOLERANCE_M = 1e-9
SPEC = HipJointCentreMarkers("RASI", "LASI", ("RPSI", "LPSI"), {"r": "hip_r", "l": "hip_l"},
                             {"r": "RHJC", "l": "LHJC"}, "thigh", {"r": "RKNE", "l": "LKNE"})


def _pelvis(width_m: float, depth_m: float) -> dict[str, np.ndarray]:
    """Markers in the anatomical frame (x anterior, y superior, z right), origin mid-ASIS."""
    return {"RASI": np.array([0.0, 0.0, width_m / 2]), "LASI": np.array([0.0, 0.0, -width_m / 2]),
            "RPSI": np.array([-depth_m, 0.0, 0.04]), "LPSI": np.array([-depth_m, 0.0, -0.04])}


def _centres(markers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return harrington_hip_centres_m(right_asis_m=markers["RASI"], left_asis_m=markers["LASI"],
                                    sacrum_m=(markers["RPSI"] + markers["LPSI"]) / 2)


def test_the_centres_follow_harringtons_equations_in_the_pelvis_frame():
    centres = _centres(_pelvis(width_m=0.200, depth_m=0.150))

    # x = -0.24 PD - 9.9, y = -0.30 PW - 10.9, z = +-(0.33 PW + 7.3), mm
    np.testing.assert_allclose(centres["r"], [-0.0459, -0.0709, 0.0733], atol=POSITION_TOLERANCE_M)
    np.testing.assert_allclose(centres["l"], [-0.0459, -0.0709, -0.0733], atol=POSITION_TOLERANCE_M)


def test_the_centres_move_rigidly_with_the_markers():
    markers = _pelvis(width_m=0.230, depth_m=0.170)
    rotation = Rotation.from_euler("ZXY", [25.0, -8.0, 110.0], degrees=True)
    shift = np.array([1.2, 0.9, -0.3])
    moved = {name: rotation.apply(p) + shift for name, p in markers.items()}

    still, carried = _centres(markers), _centres(moved)

    for side in ("r", "l"):
        np.testing.assert_allclose(carried[side], rotation.apply(still[side]) + shift, atol=POSITION_TOLERANCE_M)


def test_markers_that_span_no_pelvis_are_refused():
    markers = _pelvis(width_m=0.2, depth_m=0.15)
    with pytest.raises(ValueError, match="sacral marker lies on the line through the ASIS markers"):
        harrington_hip_centres_m(right_asis_m=markers["RASI"], left_asis_m=markers["LASI"],
                                 sacrum_m=np.array([0.0, 0.0, 0.03]))
    with pytest.raises(ValueError, match="ASIS markers are 0.0 mm apart"):
        harrington_hip_centres_m(right_asis_m=markers["RASI"], left_asis_m=markers["RASI"],
                                 sacrum_m=markers["RPSI"])


def test_each_static_frame_gets_its_centres_and_a_frame_missing_a_pelvis_marker_gets_none():
    markers = _pelvis(width_m=0.2, depth_m=0.15)
    names = ("RASI", "LASI", "RPSI", "LPSI", "KNEE")
    frame = np.array([markers[name] for name in names[:4]] + [[0.0, -0.4, 0.1]])
    positions = np.stack([frame, frame + [0.01, 0.0, 0.0], frame])
    positions[2, 2] = np.nan

    centres = harrington_hip_centre_trajectories_m(positions, names, SPEC)

    expected = _centres(markers)
    for side in ("r", "l"):
        np.testing.assert_allclose(centres[side][0], expected[side], atol=POSITION_TOLERANCE_M)
        np.testing.assert_allclose(centres[side][1], expected[side] + [0.01, 0.0, 0.0], atol=POSITION_TOLERANCE_M)
        assert np.isnan(centres[side][2]).all()


def test_hip_markers_are_added_fixed_and_may_not_reuse_a_marker_name(tmp_path):
    import opensim

    from gait2hip import opensim_models

    source = opensim_models.marker_set_path("gait2392")
    hips = {"r": np.array([-0.07, -0.066, 0.083]), "l": np.array([-0.07, -0.066, -0.083])}

    out = write_marker_set_with_hip_markers(source, tmp_path / "markers.xml", "pelvis", {"r": "R.HJC", "l": "L.HJC"}, hips)

    written = opensim.MarkerSet(str(out))
    marker = written.get("R.HJC")
    assert marker.get_fixed()
    assert marker.getSocket("parent_frame").getConnecteePath() == "/bodyset/pelvis"
    np.testing.assert_allclose(marker.get_location().to_numpy(), hips["r"])
    assert written.getSize() == opensim.MarkerSet(str(source)).getSize() + 2
    with pytest.raises(ValueError, match="already has a marker 'V.Sacral'"):
        write_marker_set_with_hip_markers(source, tmp_path / "again.xml", "pelvis", {"r": "V.Sacral", "l": "L.HJC"}, hips)
