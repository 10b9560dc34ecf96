"""Whole-body angular momentum about the centre of mass, and its rate, of labelled walks.

The rate of change of the whole-body angular momentum about the centre of mass (COM) is the
moment the ground reactions must exert about it: the further it is from zero, the further the
centre of pressure must lie from under the COM's pendulum line, or the more the COM must be
accelerated to keep the centre of pressure in the foot. People keep it small (segments'
momenta cancel; Herr & Popovic 2008). This script computes it for every trial of one or more
label folders (``gait2hip label`` output, synthetic or measured) on the same model as ID: the
subject's scaled model (``<subject>/scale/scaled_model.osim``) driven by the trial's IK
coordinates low-passed as ID and SO do (OpenSim's ``AnalyzeTool`` states at the pipeline's
6 Hz), so a virtual cohort and a measured one are compared like for like, arms absent in both.

Printed per label folder and cadence condition: the median over trials of the peak magnitude
of the rate about each axis (frontal: about the fore-aft axis x; sagittal: about the
medio-lateral axis z; vertical: about y), in Nm and per body weight × height (‰), and each
segment group's share (pelvis, torso, right leg, left leg), over the trial without its first
and last :data:`EDGE_S`.

    .venv/bin/python benchmarks/angular_momentum.py runs/demo/labels runs/real_biomechzoo/labels
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import opensim
import pandas as pd
from scipy.interpolate import CubicSpline

from gait2hip.pipeline.subject import STANDARD_GRAVITY_M_PER_S2

LOWPASS_CUTOFF_HZ = 6.0
EDGE_S = 0.2
AXES = {"frontal": 0, "sagittal": 2, "vertical": 1}


def _group(body_name: str) -> str:
    if body_name in ("pelvis", "torso"):
        return body_name
    return {"_r": "right leg", "_l": "left leg"}.get(body_name[-2:], "other")


def angular_momentum_rate(model_path: Path, coordinates_path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(times_s (n,), group → (n, 3) Nm)``: each segment group's rate of angular momentum about the whole-body COM."""
    model = opensim.Model(str(model_path))
    state = model.initSystem()
    tool = opensim.AnalyzeTool()
    tool.setModel(model)
    tool.setCoordinatesFileName(str(coordinates_path.resolve()))
    tool.setLowpassCutoffFrequency(LOWPASS_CUTOFF_HZ)
    tool.loadStatesFromFile(state)
    states = tool.getStatesStorage()
    labels = [states.getColumnLabels().get(i) for i in range(1, states.getColumnLabels().getSize())]
    state_names = [model.getStateVariableNames().get(i) for i in range(model.getNumStateVariables())]
    columns = [labels.index(name) if name in labels else -1 for name in state_names]
    bodies = [model.getBodySet().get(i) for i in range(model.getBodySet().getSize())]
    times = np.array([states.getStateVector(i).getTime() for i in range(states.getSize())])
    momentum = {}
    values = opensim.Vector(model.getNumStateVariables(), 0.0)
    for row in range(states.getSize()):
        data = states.getStateVector(row).getData().getAsVector().to_numpy()
        for index, column in enumerate(columns):
            values.set(index, float(data[column]) if column >= 0 else 0.0)
        state.setTime(float(times[row]))
        model.setStateVariableValues(state, values)
        model.realizeVelocity(state)
        com = model.calcMassCenterPosition(state).to_numpy()
        com_velocity = model.calcMassCenterVelocity(state).to_numpy()
        for body in bodies:
            if body.getMass() <= 0.0:
                continue
            centre = body.getMassCenter()
            position = body.findStationLocationInGround(state, centre).to_numpy()
            velocity = body.findStationVelocityInGround(state, centre).to_numpy()
            rotation = body.getTransformInGround(state).R().asMat33()
            to_ground = np.array([[rotation.get(i, j) for j in range(3)] for i in range(3)])
            inertia = body.getInertia()
            moments, products = inertia.getMoments().to_numpy(), inertia.getProducts().to_numpy()
            body_inertia = np.array([[moments[0], products[0], products[1]],
                                     [products[0], moments[1], products[2]],
                                     [products[1], products[2], moments[2]]])
            spin = to_ground @ body_inertia @ to_ground.T @ body.getAngularVelocityInGround(state).to_numpy()
            orbit = body.getMass() * np.cross(position - com, velocity - com_velocity)
            group = momentum.setdefault(_group(body.getName()), np.zeros((len(times), 3)))
            group[row] += spin + orbit
    return times, {group: CubicSpline(times, series).derivative()(times) for group, series in momentum.items()}


def trial_figures(labels: Path, subject: str, trial: str) -> dict[str, dict[str, float]] | None:
    """Per axis: peak |rate| (Nm), per body weight × height (‰) and each group's peak |rate| (Nm)."""
    model_path = labels / subject / "scale" / "scaled_model.osim"
    coordinates_path = labels / subject / "trials" / trial / "ik" / "ik_coordinates.mot"
    request_path = labels / subject / "trials" / trial / "request.json"
    if not (model_path.exists() and coordinates_path.exists() and request_path.exists()):
        return None
    subject_info = json.loads(request_path.read_text()).get("subject", {})
    mass_kg, height_m = float(subject_info["mass_kg"]), float(subject_info.get("height_m") or np.nan)
    times, rates = angular_momentum_rate(model_path, coordinates_path)
    inside = (times >= times[0] + EDGE_S) & (times <= times[-1] - EDGE_S)
    total = sum(rates.values())
    figures = {}
    for axis_name, axis in AXES.items():
        peak = float(np.max(np.abs(total[inside, axis])))
        figures[axis_name] = {"peak_nm": peak,
                              "peak_per_mille_bw_height": 1000 * peak / (mass_kg * STANDARD_GRAVITY_M_PER_S2 * height_m),
                              **{f"{group}_nm": float(np.max(np.abs(rate[inside, axis]))) for group, rate in rates.items()}}
    return figures


def _conditions(labels: Path) -> dict[tuple[str, str], str]:
    """(subject, trial) → cadence condition, from the labels' manifest (empty if it has none)."""
    manifest = labels / "manifest.parquet"
    if not manifest.exists():
        return {}
    table = pd.read_parquet(manifest, columns=["subject", "trial", "cadence_condition"])
    return {(str(row.subject), str(row.trial)): str(row.cadence_condition) for row in table.itertuples()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("labels", nargs="+", type=Path, help="label folders written by gait2hip label / gait2hip run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    opensim.Logger.setLevelString("error")
    report = {}
    for labels in args.labels:
        by_condition: dict[str, list[dict]] = {}
        conditions = _conditions(labels)
        for summary_path in sorted(labels.glob("*/trials/*/summary.json")):
            trial_dir = summary_path.parent
            figures = trial_figures(labels, trial_dir.parent.parent.name, trial_dir.name)
            if figures is None:
                continue
            condition = conditions.get((trial_dir.parent.parent.name, trial_dir.name), "all")
            by_condition.setdefault(condition, []).append(figures)
        report[str(labels)] = {}
        for condition, trials in sorted(by_condition.items()):
            print(f"{labels} · {condition}: {len(trials)} trials (medians of each trial's peak |dH/dt| about the COM)")
            report[str(labels)][condition] = {}
            for axis_name in AXES:
                rows = [trial[axis_name] for trial in trials]
                median = {key: float(np.nanmedian([row.get(key, np.nan) for row in rows])) for key in rows[0]}
                report[str(labels)][condition][axis_name] = median
                groups = ", ".join(f"{key[:-3]} {value:.0f}" for key, value in median.items() if key.endswith("_nm")
                                   and key != "peak_nm")
                print(f"  {axis_name:9s} {median['peak_nm']:6.0f} Nm = {median['peak_per_mille_bw_height']:5.1f} ‰ BW·height"
                      f"   ({groups} Nm)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
