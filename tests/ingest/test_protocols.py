"""Marker protocols: shipped mappings are valid, virtual markers and name variants resolve."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest

from gait2hip import opensim_models
from gait2hip.ingest.protocols import available_protocols, load_protocol, map_markers
from gait2hip.core.errors import ConfigError, InputDataError

GAIT2392_MARKERS = {e.get("name") for e in ElementTree.parse(opensim_models.marker_set_path("gait2392")).iter("Marker")}


def test_shipped_protocols_map_only_model_markers():
    assert available_protocols() == ["auc", "fmc", "helen_hayes", "mh", "opensim_treadmill", "plug_in_gait", "qcmas",
                                     "qualisys_sports"]
    for name in available_protocols():
        protocol = load_protocol(name)
        assert set(protocol.markers) <= GAIT2392_MARKERS, name
        assert set(protocol.approximate) <= set(protocol.markers), name
        assert {"R.ASIS", "L.ASIS", "V.Sacral", "R.Heel", "L.Heel"} <= set(protocol.required_markers), name


def test_midpoint_defines_a_virtual_marker():
    protocol = load_protocol("plug_in_gait")
    names = ("RPSI", "LPSI")
    positions = np.array([[[0.0, 1.0, 2.0], [2.0, 3.0, 6.0]]])  # (1 frame, 2 markers, 3)
    sacrum = protocol.markers["V.Sacral"]
    assert sacrum == (("SACR",), ("RPSI", "LPSI"))
    mapped = _map_only(protocol, "V.Sacral", names, positions)
    np.testing.assert_allclose(mapped.position("V.Sacral"), [[1.0, 2.0, 4.0]])
    assert mapped.sources["V.Sacral"] == ("RPSI", "LPSI")


def test_first_available_source_wins():
    protocol = load_protocol("plug_in_gait")
    names = ("RPSI", "LPSI", "SACR")
    positions = np.array([[[0.0, 1.0, 2.0], [2.0, 3.0, 6.0], [9.0, 9.0, 9.0]]])
    mapped = _map_only(protocol, "V.Sacral", names, positions)
    np.testing.assert_allclose(mapped.position("V.Sacral"), [[9.0, 9.0, 9.0]])


def test_subject_prefixed_labels_match(scenarios, tmp_path):
    from gait2hip.ingest.convert import convert_c3d_trial
    walk = scenarios.walking_scenario()
    scenario = walk.with_(marker_names=tuple(f"Subject01:{name}" for name in walk.marker_names))
    c3d = scenarios.write_c3d(tmp_path / "walk.c3d", scenario)
    result = convert_c3d_trial(c3d, tmp_path / "S01")
    summary = result.paths["summary"].read_text()
    assert '"R.Heel": [\n      "Subject01:RHEE"' in summary


def test_unknown_model_marker_is_a_config_error(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nmarkers: {R.Hell: RHEE, R.ASIS: RASI}\npelvis: [R.ASIS]\n"
                    "feet: {r: {heel: R.ASIS, toe: R.ASIS}, l: {heel: R.ASIS, toe: R.ASIS}}\n")
    with pytest.raises(ConfigError, match="does not have: R.Hell"):
        load_protocol(path)


def test_unknown_protocol_name_lists_the_shipped_ones():
    with pytest.raises(ConfigError, match="shipped: auc, fmc, helen_hayes, mh, opensim_treadmill, plug_in_gait"):
        load_protocol("vicon_magic")


def test_protocol_of_your_own(scenarios, tmp_path):
    from gait2hip.ingest.config import IngestConfig
    from gait2hip.ingest.convert import convert_c3d_trial
    from gait2hip.pipeline.markers import read_trc
    path = tmp_path / "minimal.yaml"
    path.write_text("name: minimal\nmarkers: {R.ASIS: RASI, L.ASIS: LASI, V.Sacral: {midpoint: [RPSI, LPSI]},\n"
                    "  R.Heel: RHEE, L.Heel: LHEE, R.Toe.Med: RTOE, L.Toe.Med: LTOE}\n"
                    "pelvis: [R.ASIS, L.ASIS, V.Sacral]\n"
                    "feet: {r: {heel: R.Heel, toe: R.Toe.Med}, l: {heel: L.Heel, toe: L.Toe.Med}}\n")
    c3d = scenarios.write_c3d(tmp_path / "walk.c3d", scenarios.walking_scenario())
    result = convert_c3d_trial(c3d, tmp_path / "S01", config=IngestConfig(protocol=str(path)))
    assert read_trc(result.paths["markers"]).marker_names == (
        "R.ASIS", "L.ASIS", "V.Sacral", "R.Heel", "L.Heel", "R.Toe.Med", "L.Toe.Med")


def test_never_tracked_required_marker_is_an_input_error(tmp_path):
    protocol = load_protocol("plug_in_gait")
    names = ("RASI", "LASI", "SACR", "RHEE", "LHEE", "RTOE", "LTOE", "RKNE", "LKNE", "RANK", "LANK")
    positions = np.ones((3, len(names), 3))
    positions[:, names.index("RANK")] = np.nan
    with pytest.raises(InputDataError, match=r"R.Ankle.Lat \(RANK never tracked\)"):
        map_markers(protocol, names, positions, tmp_path / "walk.c3d")


def _map_only(protocol, model_marker, names, positions):
    """Map one marker, with the protocol's requirements lifted."""
    from dataclasses import replace
    light = replace(protocol, markers={model_marker: protocol.markers[model_marker]}, pelvis_markers=(),
                    heel_markers={}, toe_markers={}, required=())
    return map_markers(light, names, positions, Path("test.c3d"))
