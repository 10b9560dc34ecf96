"""Read and check ground reaction forces (``.mot``), filter them as the coordinates, and build ``ExternalLoads``.

Inverse dynamics and static optimization low-pass filter the coordinates (6 Hz by default).
Ground reactions left at a higher bandwidth put forces the filtered accelerations cannot
balance into the model at every heel strike: a residual spike. So the ground reactions the
tools read are filtered with the same filter at the same cut-off (Kristianslund et al. 2012,
*J Biomech* 45:666; Bisseling & Hof 2006, *J Biomech* 39:2438). Each foot's wrench is filtered,
not its centre of pressure: the moment about the ground origin, ``p × F + T``, is filtered with
the force, and the centre of pressure and free moment are recovered from the filtered wrench on
the plate surface, so the filtered load is the filtered wrench itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import opensim
import pandas as pd

from gait2hip.core.errors import InputDataError
from gait2hip.core.opensim_files import check_time_column, read_opensim_table, write_mot
from gait2hip.pipeline.config import ForceSetConfig, GRFConfig

# Tolerance when comparing GRF and marker time ranges (s): a fraction of a frame at 1 kHz.
_TIME_TOLERANCE_S = 1e-4
# A frame time within this of a GRF sample time (s) is that sample: the tools' own time matching.
_ROW_MATCH_S = 1e-6


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


def write_filtered_grf(grf_path: Path, config: GRFConfig, cutoff_hz: float, out_path: Path,
                       at_times_s: np.ndarray | None = None) -> Path:
    """Write the GRF ``.mot`` low-pass filtered at ``cutoff_hz`` (Hz) as the tools filter coordinates.

    OpenSim's ``TableUtilities.filterLowpass`` with padding is the filter the ID and SO tools
    apply to the coordinates (padded IIR low-pass). Per foot: force ``F`` (N) and the moment
    about the ground origin ``M = p × F + T`` (Nm) are filtered; the centre of pressure ``p``
    (m) is recovered on the plate surface (the loaded frames' median height) where the
    filtered vertical force is at least ``config.contact_threshold_n`` and held at the nearest
    such frame elsewhere; the free moment ``T`` (about the vertical) is what remains of ``M``.
    Columns the force sets do not name are filtered as they are.

    ``at_times_s`` (s), when given, are the only times the file keeps: the marker frames, where
    ID and SO evaluate the loads. Each ``ExternalForce`` fits its cubic spline through every row
    of its file the first time it is evaluated (≈ 170 ms per tool for a 3 s trial at 1 kHz, in
    every tool of every trial); fitted through the frames alone it costs a tenth of that and
    returns the same loads there. Frames that are rows of the filtered data keep those rows;
    otherwise the values come from OpenSim's cubic spline through the filtered rows, the
    function the tools would have evaluated (:func:`_at_times`).
    """
    import opensim

    table = opensim.TimeSeriesTable(str(grf_path))
    frame = pd.DataFrame(table.getMatrix().to_numpy(), columns=list(table.getColumnLabels()))
    frame.insert(0, "time", np.asarray(table.getIndependentColumn(), dtype=float))
    moment_columns = {}
    for force_set in config.force_sets:
        force, point, torque = _wrench(frame, force_set)
        moment_columns[force_set.side] = np.cross(point, force) + torque
    for side, moment in moment_columns.items():
        for axis, name in enumerate("xyz"):
            column = f"_gait2hip_moment_{side}_{name}"
            table.appendColumn(column, opensim.Vector(moment[:, axis].tolist()))
    opensim.TableUtilities.filterLowpass(table, float(cutoff_hz), True)
    filtered = pd.DataFrame(table.getMatrix().to_numpy(), columns=list(table.getColumnLabels()))
    padded_times = np.asarray(table.getIndependentColumn(), dtype=float)
    # The padded filter returns the padding too: keep the rows at the file's own times.
    original_times = frame["time"].to_numpy()
    keep = (padded_times >= original_times[0] - _TIME_TOLERANCE_S) & (padded_times <= original_times[-1] + _TIME_TOLERANCE_S)
    filtered, times = filtered[keep].reset_index(drop=True), padded_times[keep]
    if len(times) != len(original_times):
        raise InputDataError(grf_path, f"filtering changed the number of samples ({len(original_times)} → {len(times)})")
    for force_set in config.force_sets:
        original_point = _wrench(frame, force_set)[1]
        force = filtered[[f"{force_set.force_identifier}{a}" for a in "xyz"]].to_numpy()
        moment = filtered[[f"_gait2hip_moment_{force_set.side}_{a}" for a in "xyz"]].to_numpy()
        point, torque = _point_and_free_moment(force, moment, original_point, _loaded(frame, force_set, config),
                                               config.contact_threshold_n)
        for axis, name in enumerate("xyz"):
            filtered[f"{force_set.point_identifier}{name}"] = point[:, axis]
            filtered[f"{force_set.torque_identifier}{name}"] = torque[:, axis]
    columns = {name: filtered[name].to_numpy() for name in frame.columns[1:]}
    if at_times_s is not None:
        columns, times = _at_times(columns, times, np.asarray(at_times_s, dtype=float), grf_path)
    return write_mot(out_path, columns, times, in_degrees=False)


def _at_times(columns: dict[str, np.ndarray], times_s: np.ndarray, at_times_s: np.ndarray,
              grf_path: Path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``columns`` (sampled at ``times_s``) at ``at_times_s``, as the tools' ``ExternalForce`` evaluates them.

    ``ExternalForce`` evaluates an interpolating cubic ``GCVSpline`` through its file's rows, so
    at a frame that is a row it returns that row. Frames between rows (a marker rate that does
    not divide the analog rate) are evaluated on OpenSim's own ``GCVSpline`` of degree 3, built
    as ``ExternalForce`` builds it.
    """
    if at_times_s[0] < times_s[0] - _TIME_TOLERANCE_S or at_times_s[-1] > times_s[-1] + _TIME_TOLERANCE_S:
        raise InputDataError(grf_path, f"GRF time range {times_s[0]:.3f}-{times_s[-1]:.3f} s does not cover the "
                                       f"frames {at_times_s[0]:.3f}-{at_times_s[-1]:.3f} s")
    nearest = np.clip(np.searchsorted(times_s, at_times_s), 1, len(times_s) - 1)
    nearest = np.where(np.abs(times_s[nearest - 1] - at_times_s) <= np.abs(times_s[nearest] - at_times_s),
                       nearest - 1, nearest)
    if np.all(np.abs(times_s[nearest] - at_times_s) <= _ROW_MATCH_S):
        return {name: values[nearest] for name, values in columns.items()}, at_times_s
    names = list(columns)
    storage = opensim.Storage()
    labels = opensim.ArrayStr()
    for label in ["time", *names]:
        labels.append(label)
    storage.setColumnLabels(labels)
    data = np.column_stack([columns[name] for name in names])
    for row, t in enumerate(times_s):
        storage.append(float(t), opensim.Vector.createFromMat(np.ascontiguousarray(data[row])))
    # ExternalForce builds GCVSpline(3, n, time, values) with error variance 0 (interpolating);
    # GCVSplineSet(3, storage) builds the same spline per column.
    splines = opensim.GCVSplineSet(3, storage)
    at = [opensim.Vector(1, float(t)) for t in at_times_s]
    sampled = {name: np.array([splines.get(index).calcValue(point) for point in at])
               for index, name in enumerate(names)}
    return sampled, at_times_s


def _wrench(frame: pd.DataFrame, force_set: ForceSetConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(n, 3)`` force (N), point (m) and torque (Nm) of one force set, in ground."""
    return tuple(frame[[f"{identifier}{a}" for a in "xyz"]].to_numpy()
                 for identifier in (force_set.force_identifier, force_set.point_identifier,
                                    force_set.torque_identifier))


def _loaded(frame: pd.DataFrame, force_set: ForceSetConfig, config: GRFConfig) -> np.ndarray:
    return frame[f"{force_set.force_identifier}y"].to_numpy() >= config.contact_threshold_n


def _point_and_free_moment(force: np.ndarray, moment: np.ndarray, original_point: np.ndarray,
                           originally_loaded: np.ndarray, threshold_n: float) -> tuple[np.ndarray, np.ndarray]:
    """Centre of pressure on the plate surface and free moment of a filtered wrench (ground, Y up).

    With ``p = (px, h, pz)`` and ``T = (0, Ty, 0)``: ``Mx = h·Fz − pz·Fy`` and ``Mz = px·Fy − h·Fx``
    give the point where ``Fy`` is large enough; ``Ty = My − (pz·Fx − px·Fz)``.
    """
    height = float(np.median(original_point[originally_loaded, 1])) if originally_loaded.any() else 0.0
    loaded = force[:, 1] >= threshold_n
    point = np.zeros_like(force)
    point[:, 1] = height
    if loaded.any():
        fy = force[loaded, 1]
        point[loaded, 0] = (moment[loaded, 2] + height * force[loaded, 0]) / fy
        point[loaded, 2] = (height * force[loaded, 2] - moment[loaded, 0]) / fy
        nearest = _nearest_true_index(loaded)
        point[~loaded, 0] = point[nearest[~loaded], 0]
        point[~loaded, 2] = point[nearest[~loaded], 2]
    torque = np.zeros_like(force)
    torque[:, 1] = moment[:, 1] - (point[:, 2] * force[:, 0] - point[:, 0] * force[:, 2])
    return point, torque


def _nearest_true_index(flags: np.ndarray) -> np.ndarray:
    """For every index, the index of the nearest True entry of ``flags`` (which holds at least one)."""
    true_indices = np.flatnonzero(flags)
    positions = np.searchsorted(true_indices, np.arange(len(flags)))
    before = true_indices[np.clip(positions - 1, 0, len(true_indices) - 1)]
    after = true_indices[np.clip(positions, 0, len(true_indices) - 1)]
    indices = np.arange(len(flags))
    return np.where(np.abs(indices - before) <= np.abs(after - indices), before, after)
