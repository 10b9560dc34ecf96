"""OpenSim's file formats through OpenSim's adapters: same data, same bytes; what is written reads back."""

from __future__ import annotations

import numpy as np
import pytest

from gait2hip.core import opensim_files

RATE_HZ = 100.0
# TRC and STO files print 8 significant digits (OpenSim's default precision).
PRINTED_RELATIVE_PRECISION = 1e-7


def _markers(n_frames: int = 5) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Three markers on known, distinct trajectories (m) at RATE_HZ."""
    rng = np.random.default_rng(7)
    positions_m = rng.uniform(-1.0, 1.5, size=(n_frames, 3, 3))
    return ["R.ASIS", "L.ASIS", "Sternum"], positions_m, np.arange(n_frames) / RATE_HZ


def test_writing_the_same_markers_twice_gives_byte_identical_trc_files(tmp_path):
    names, positions_m, times_s = _markers()
    first = opensim_files.write_trc(tmp_path / "a" / "markers.trc", names, positions_m, times_s, RATE_HZ)
    second = opensim_files.write_trc(tmp_path / "b" / "elsewhere" / "markers.trc", names, positions_m, times_s, RATE_HZ)
    assert first.read_bytes() == second.read_bytes()
    # The header names the file only: no temporary name, no folder.
    assert first.read_text().split("\n")[0].split("\t")[3] == "markers.trc"


def test_atomic_writes_leave_nothing_beside_the_file(tmp_path):
    names, positions_m, times_s = _markers()
    opensim_files.write_trc(tmp_path / "markers.trc", names, positions_m, times_s, RATE_HZ)
    opensim_files.write_mot(tmp_path / "grf.mot", {"x": times_s}, times_s, in_degrees=False)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["grf.mot", "markers.trc"]


@pytest.mark.parametrize("units, factor", [("mm", 1000.0), ("m", 1.0)])
def test_trc_round_trip_reads_back_the_positions_in_the_written_unit(tmp_path, units, factor):
    names, positions_m, times_s = _markers()
    positions_m[2, 1] = np.nan  # a gap is written as NaN and read back as NaN
    path = opensim_files.write_trc(tmp_path / "markers.trc", names, positions_m, times_s, RATE_HZ, units=units)
    content = opensim_files.read_trc(path)
    assert content.marker_names == tuple(names)
    assert content.metadata["Units"] == units and float(content.metadata["DataRate"]) == RATE_HZ
    np.testing.assert_allclose(content.times_s, times_s, rtol=PRINTED_RELATIVE_PRECISION)
    np.testing.assert_allclose(content.positions, positions_m * factor, rtol=PRINTED_RELATIVE_PRECISION)
    assert np.isnan(content.positions[2, 1]).all()


@pytest.mark.parametrize("suffix, in_degrees", [(".mot", True), (".sto", False)])
def test_mot_and_sto_round_trip_reads_back_columns_and_the_degrees_flag(tmp_path, suffix, in_degrees):
    times_s = np.arange(6) / RATE_HZ
    columns = {"hip_flexion_r": np.linspace(-10.0, 35.0, 6), "pelvis_tx": np.linspace(0.0, 1.234567, 6)}
    path = opensim_files.write_mot(tmp_path / f"table{suffix}", columns, times_s, in_degrees=in_degrees)
    table = opensim_files.read_opensim_table(path)
    assert list(table.columns) == ["time", "hip_flexion_r", "pelvis_tx"]
    np.testing.assert_allclose(table["time"].to_numpy(), times_s, rtol=PRINTED_RELATIVE_PRECISION)
    for name, values in columns.items():
        np.testing.assert_allclose(table[name].to_numpy(), values, rtol=PRINTED_RELATIVE_PRECISION)
    assert opensim_files.table_in_degrees(path) is in_degrees


def test_grf_columns_read_back_under_the_names_external_forces_use(tmp_path):
    times_s = np.arange(4) / RATE_HZ
    loads = {kind: {side: np.full((4, 3), value + (0.5 if side == "l" else 0.0)) for side in opensim_files.SIDES}
             for kind, value in (("force", 700.0), ("point", 0.25), ("torque", 3.0))}
    path = opensim_files.write_mot(tmp_path / "grf.mot",
                                   opensim_files.grf_columns(loads["force"], loads["point"], loads["torque"]),
                                   times_s, in_degrees=False)
    table = opensim_files.read_opensim_table(path)
    assert list(table.columns[1:]) == opensim_files.grf_column_names()
    left = opensim_files.grf_identifiers("l")
    assert table[f"{left.force}y"].tolist() == [700.5] * 4
    assert table[f"{left.point}z"].tolist() == [0.75] * 4
    assert table["ground_torque_x"].tolist() == [3.0] * 4

