"""Register technical markers on their bodies from the walking trial itself.

Scaling put every model marker where the static trial had it. For a bony landmark (an ASIS,
an epicondyle, a malleolus) that is the point: it says where the anatomy is. A *technical*
marker marks no landmark: a Plug-in Gait thigh or shank wand, a cluster marker. Where it sits
on its body is arbitrary, and the static trial fixes it only as well as the static pose is
fitted: a femur a few degrees off in axial rotation in standing puts the thigh wand's model
marker centimetres away from where walking needs it, and with a one-degree-of-freedom knee IK
then trades that error against the shank and ankle markers in every frame (measured on the
biomechZoo walks: thigh-wand errors of 4-5 cm in swing). Registering such markers from the
dynamic trial is the approach of Price et al. 2019 (Int J Numer Meth Biomed Eng 35:e3265) and,
for the orientation of the anatomical frames, of Dunne et al. 2021 (PLoS ONE 16:e0252425).

The method is block coordinate descent on IK's own objective, the weighted sum over frames and
markers of squared marker errors. With the poses held, the location in its body's frame that
minimises one marker's summed squared error is the mean of its measured positions expressed
in that body's frame, frame by frame (OpenSim's own body transforms); with the locations held,
OpenSim's IK tool finds the poses. Neither step can raise the objective, so alternating them
converges. Only the markers ``model.yaml`` lists as ``technical_markers`` move, and none by more
than ``max_shift_m`` from where scaling put it: the landmarks keep defining the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import opensim

from gait2hip.core.errors import ConfigError, OpenSimToolError
from gait2hip.core.opensim_files import read_opensim_table, table_in_degrees
from gait2hip.pipeline.config import MarkerRegistrationConfig
from gait2hip.pipeline.inverse_kinematics import IKResult, marker_frames_at
from gait2hip.pipeline.markers import MarkerTrajectories

_MM_PER_M = 1000.0


@dataclass(frozen=True)
class RegisteredMarker:
    """Where registration moved one technical marker, in its body's frame (m).

    Attributes
    ----------
    body
        The marker's parent body.
    static_location_m, registered_location_m
        ``(3,)`` location in the body frame after scaling, and after registration.
    capped
        Whether the shift was cut back to ``max_shift_m``.
    """

    body: str
    static_location_m: tuple[float, float, float]
    registered_location_m: tuple[float, float, float]
    capped: bool = False

    @property
    def shift_m(self) -> float:
        """Distance the marker moved (m)."""
        return float(np.linalg.norm(np.subtract(self.registered_location_m, self.static_location_m)))


@dataclass
class MarkerRegistration:
    """Outcome of :func:`register_technical_markers`.

    Attributes
    ----------
    markers
        Registered marker → where it moved.
    model_path
        The scaled model with the registered marker locations (``.osim``), which the final IK used.
    objective_per_ik
        IK's weighted sum of squared marker errors summed over frames (m²), after each IK run;
        the first is the unregistered fit.
    rms_before_m, max_before_m
        Mean per-frame RMS and largest error of the tracked markers before registration (m);
        ``IKResult.marker_errors_without`` of the first IK, leaving out ``left_out`` markers.
    """

    markers: dict[str, RegisteredMarker]
    model_path: Path
    objective_per_ik: list[float] = field(default_factory=list)
    rms_before_m: float = float("nan")
    max_before_m: float = float("nan")

    @property
    def n_ik_runs(self) -> int:
        return len(self.objective_per_ik)

    def notes(self) -> list[str]:
        """One line for the trial's notes."""
        moved = ", ".join(f"{name} {marker.shift_m * _MM_PER_M:.0f} mm" + (" (capped)" if marker.capped else "")
                          for name, marker in sorted(self.markers.items()))
        return [f"technical markers registered from the walking trial ({self.n_ik_runs} IK runs): {moved}"]

    def to_json(self) -> dict:
        return {
            "model": self.model_path.name,
            "n_ik_runs": self.n_ik_runs,
            "objective_per_ik_m2": self.objective_per_ik,
            "ik_marker_rms_error_before_m": self.rms_before_m,
            "ik_marker_max_error_before_m": self.max_before_m,
            "markers": {
                name: {"body": marker.body, "shift_mm": round(marker.shift_m * _MM_PER_M, 2),
                       "static_location_m": list(marker.static_location_m),
                       "registered_location_m": list(marker.registered_location_m), "capped": marker.capped}
                for name, marker in sorted(self.markers.items())
            },
        }


def ik_objective_m2(ik: IKResult, marker_weights: Mapping[str, float]) -> float:
    """IK's objective summed over frames: Σ frames Σ markers weight × error² (m²), present markers only."""
    weights = np.array([marker_weights[name] for name in ik.tracked_markers])
    squared = np.nan_to_num(ik.marker_error_frames_m ** 2)  # a missing marker adds nothing, as in IK
    return float(np.sum(squared * weights))


def register_technical_markers(*, model_path: Path, markers: MarkerTrajectories, first_ik: IKResult,
                               technical_markers: tuple[str, ...], marker_weights: Mapping[str, float],
                               settings: MarkerRegistrationConfig, run_ik: Callable[[Path], IKResult],
                               out_path: Path, trial_id: str,
                               left_out: tuple[str, ...] = ()) -> tuple[MarkerRegistration | None, IKResult]:
    """Move the tracked technical markers to their best fit over the trial; re-run IK on them.

    Parameters
    ----------
    model_path
        The scaled model ``first_ik`` ran on.
    markers
        The walking trial's markers, as IK read them.
    first_ik
        IK on ``model_path``, with per-marker errors.
    technical_markers
        ``model.yaml``'s ``technical_markers``; those IK tracked are registered.
    marker_weights
        The IK marker weights (for the objective).
    run_ik
        Runs the trial's IK on a model file and returns its result.
    out_path
        Where the model with the registered markers is written.
    left_out
        Markers left out of the before-registration RMS and max (the down-weighted ones).

    Returns
    -------
    tuple
        ``(registration, final_ik)``; ``(None, first_ik)`` when IK tracked no technical marker.

    Raises
    ------
    OpenSimToolError
        If an IK output frame has no marker frame at its time.
    """
    names = [name for name in technical_markers if name in first_ik.tracked_markers]
    if not names:
        return None, first_ik
    model = opensim.Model(str(model_path))
    state = model.initSystem()
    marker_set = model.getMarkerSet()
    static = {name: marker_set.get(name).get_location().to_numpy() for name in names}
    used = dict(static)  # the locations the latest IK ran on
    capped = dict.fromkeys(names, False)
    rms_before, max_before = first_ik.marker_errors_without(left_out)
    registration = MarkerRegistration(markers={}, model_path=Path(out_path),
                                      objective_per_ik=[ik_objective_m2(first_ik, marker_weights)],
                                      rms_before_m=rms_before, max_before_m=max_before)
    ik = first_ik
    for _ in range(settings.iterations):
        fitted = _mean_body_locations(model, state, ik.coordinates_path, markers, names, trial_id)
        proposed, proposed_capped = dict(used), dict(capped)
        for name, location in fitted.items():
            shift = location - static[name]
            distance = float(np.linalg.norm(shift))
            proposed_capped[name] = distance > settings.max_shift_m
            if proposed_capped[name]:
                shift *= settings.max_shift_m / distance
            proposed[name] = static[name] + shift
        if max(float(np.linalg.norm(proposed[n] - used[n])) for n in names) < settings.min_move_m:
            break  # converged: another IK run would change nothing that matters
        for name in names:
            marker_set.get(name).set_location(opensim.Vec3(*proposed[name]))
        model.printToXML(str(out_path))
        ik = run_ik(Path(out_path))
        used, capped = proposed, proposed_capped
        registration.objective_per_ik.append(ik_objective_m2(ik, marker_weights))
    if ik is first_ik:  # nothing moved far enough to re-run IK: the scaled model's markers stand
        registration.model_path = Path(model_path)
    registration.markers = {
        name: RegisteredMarker(body=marker_set.get(name).getParentFrameName().rsplit("/", 1)[-1],
                               static_location_m=tuple(float(v) for v in static[name]),
                               registered_location_m=tuple(float(v) for v in used[name]), capped=capped[name])
        for name in names
    }
    return registration, ik


def _mean_body_locations(model: opensim.Model, state: opensim.State, coordinates_path: Path,
                         markers: MarkerTrajectories, names: list[str], trial_id: str) -> dict[str, np.ndarray]:
    """Each marker's measured position in its parent body's frame, averaged over the IK frames (m)."""
    poses = read_opensim_table(coordinates_path)
    in_degrees = table_in_degrees(coordinates_path)
    coordinate_set = model.getCoordinateSet()
    coordinates = [coordinate_set.get(i) for i in range(coordinate_set.getSize())]
    columns = [c.getName() for c in coordinates]
    missing = [c for c in columns if c not in poses.columns]
    if missing:
        raise ConfigError(f"{coordinates_path}: no column for coordinate(s) {', '.join(missing)} of the model")
    to_internal = np.array([np.pi / 180.0 if in_degrees and c.getMotionType() == opensim.Coordinate.Rotational
                            else 1.0 for c in coordinates])
    values = poses[columns].to_numpy() * to_internal  # (n_frames, n_coordinates), radians and m
    frames = marker_frames_at(markers, poses["time"].to_numpy())
    if frames is None:
        raise OpenSimToolError(trial_id, "marker_registration",
                               f"{coordinates_path.name}: frame times do not match {markers.source_path.name}'s")
    marker_set = model.getMarkerSet()
    parents = {name: marker_set.get(name).getParentFrame() for name in names}
    columns_of = {name: markers.marker_names.index(name) for name in names}
    ground = model.getGround()
    sums = {name: np.zeros(3) for name in names}
    counts = dict.fromkeys(names, 0)
    for pose, frame in zip(values, frames):
        for coordinate, value in zip(coordinates, pose):
            coordinate.setValue(state, float(value), False)
        model.realizePosition(state)
        for name in names:
            measured = markers.positions_m[frame, columns_of[name]]
            if not np.all(np.isfinite(measured)):
                continue
            sums[name] += ground.findStationLocationInAnotherFrame(state, opensim.Vec3(*measured),
                                                                   parents[name]).to_numpy()
            counts[name] += 1
    return {name: sums[name] / counts[name] for name in names if counts[name]}
