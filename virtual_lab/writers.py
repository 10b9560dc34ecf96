"""Write lab-format files with OpenSim's own adapters: TRC (markers) and .mot (GRF, angles)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opensim

from gait2hip.pipeline.markers import write_trc_table

_UNIT_FACTORS = {"mm": 1000.0, "m": 1.0}


def write_trc(path: Path, marker_names: list[str], positions_m: np.ndarray, times_s: np.ndarray,
              rate_hz: float, units: str = "mm") -> Path:
    """Write markers ``(n_frames, n_markers, 3)`` (m) as a TRC in ``units``, atomically."""
    n_frames = positions_m.shape[0]
    labels = [f"{name}_{axis}" for name in marker_names for axis in (1, 2, 3)]
    matrix = opensim.Matrix.createFromMat(np.ascontiguousarray(positions_m.reshape(n_frames, -1) * _UNIT_FACTORS[units]))
    table = opensim.TimeSeriesTable(times_s.tolist(), matrix, labels).packVec3()
    for key, value in (("DataRate", f"{rate_hz:g}"), ("CameraRate", f"{rate_hz:g}"), ("NumFrames", str(n_frames)),
                       ("NumMarkers", str(len(marker_names))), ("Units", units), ("OrigDataRate", f"{rate_hz:g}"),
                       ("OrigDataStartFrame", "1"), ("OrigNumFrames", str(n_frames))):
        table.addTableMetaDataString(key, value)
    return write_trc_table(table, path)


def grf_columns(force_n: dict[str, np.ndarray], centre_of_pressure_m: dict[str, np.ndarray],
                free_moment_nm: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """OpenSim's standard GRF columns: right foot ``ground_force_*``, left ``1_ground_force_*``."""
    columns = {}
    for side, prefix in (("r", ""), ("l", "1_")):
        for kind, values in (("ground_force_v", force_n[side]), ("ground_force_p", centre_of_pressure_m[side]),
                             ("ground_torque_", free_moment_nm[side])):
            for axis_index, axis in enumerate("xyz"):
                columns[f"{prefix}{kind}{axis}"] = values[:, axis_index]
    return columns
