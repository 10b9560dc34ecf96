"""Read and check ground reaction forces (``.mot``) and build OpenSim ``ExternalLoads``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import opensim

from gait2hip.core.errors import InputDataError
from gait2hip.core.opensim_files import check_time_column, read_opensim_table
from gait2hip.pipeline.config import GRFConfig

# Tolerance when comparing GRF and marker time ranges (s): a fraction of a frame at 1 kHz.
_TIME_TOLERANCE_S = 1e-4


@dataclass(frozen=True)
class GroundReactions:
    """Per-foot vertical GRF of one trial, for contact detection and QC.

    Attributes
    ----------
    times_s
        ``(n_samples,)`` sample times in s.
    vertical_force_n
        ``{"r": (n_samples,), "l": (n_samples,)}`` vertical (Y) force of each foot in N.
    """

    times_s: np.ndarray
    vertical_force_n: dict[str, np.ndarray]
    source_path: Path

    def stance(self, side: str, times_s: np.ndarray, threshold_n: float) -> np.ndarray:
        """Boolean ``(len(times_s),)``: vertical force of ``side`` above ``threshold_n`` at those times."""
        force = np.interp(times_s, self.times_s, self.vertical_force_n[side])
        return force > threshold_n


def read_grf(path: str | Path, config: GRFConfig, trial_time_range_s: tuple[float, float]) -> GroundReactions:
    """Read a GRF ``.mot`` with OpenSim's STO adapter and check it against the trial.

    Raises
    ------
    InputDataError
        If the file is missing or unreadable, lacks a configured column, holds non-finite
        values, its time column is not finite, strictly increasing and uniformly sampled
        (OpenSim's inverse dynamics never returns on a NaN time), or its time range does not
        cover ``trial_time_range_s``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(path, "ground reaction force file (.mot) not found")
    table = read_opensim_table(path)
    needed = [name for force_set in config.force_sets for name in force_set.column_names()]
    missing = [name for name in needed if name not in table.columns]
    if missing:
        raise InputDataError(path, f"GRF column(s) missing: {', '.join(missing)} (set grf.force_sets in the config to map your columns)")
    times = table["time"].to_numpy()
    check_time_column(path, times)
    if not np.isfinite(table[needed].to_numpy()).all():
        raise InputDataError(path, "GRF columns hold NaN or infinite values; export zeros where no foot is on a plate")
    start_s, end_s = trial_time_range_s
    if times[0] > start_s + _TIME_TOLERANCE_S or times[-1] < end_s - _TIME_TOLERANCE_S:
        raise InputDataError(
            path,
            f"GRF time range {times[0]:.3f}-{times[-1]:.3f} s does not cover the marker trial {start_s:.3f}-{end_s:.3f} s",
        )
    vertical = {fs.side: table[f"{fs.force_identifier}y"].to_numpy() for fs in config.force_sets}
    return GroundReactions(times, vertical, path)


def write_external_loads(grf_path: Path, config: GRFConfig, foot_bodies: dict[str, str], xml_path: Path) -> Path:
    """Write an ``ExternalLoads`` XML (one ``ExternalForce`` per foot) built through the API.

    Forces and points are expressed in ground; each foot's force is applied to its body
    (``foot_bodies[side]``, e.g. ``calcn_r``).
    """
    external_loads = opensim.ExternalLoads()
    external_loads.setName("grf")
    external_loads.setDataFileName(str(Path(grf_path).resolve()))
    for force_set in config.force_sets:
        force = opensim.ExternalForce()
        force.setName(f"grf_{force_set.side}")
        force.set_applied_to_body(foot_bodies[force_set.side])
        force.set_force_expressed_in_body("ground")
        force.set_point_expressed_in_body("ground")
        force.set_force_identifier(force_set.force_identifier)
        force.set_point_identifier(force_set.point_identifier)
        force.set_torque_identifier(force_set.torque_identifier)
        external_loads.cloneAndAppend(force)
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    external_loads.printToXML(str(xml_path))
    return xml_path
