"""Ground reaction profiles over the stance, per foot, of one or more cohorts (synthetic or measured).

For every trial of each cohort folder (the layout of docs/cohort_layout.md: ``<subject>/
subject.yaml`` with ``mass_kg``, ``<subject>/trials/<trial>/grf.mot`` in OpenSim's standard
GRF columns), each foot's stances are found on its vertical force (above
:data:`LOADED_SHARE_OF_BODY_WEIGHT` of body weight for at least :data:`SHORTEST_STANCE_S`;
a stance cut by the recording's edges is left out) and time-normalised. Printed per cohort and
cadence condition: the median over stances of the vertical force (body weights), the fore-aft
force (% body weight, positive forwards: propulsion) and the medial force (% body weight,
positive towards the other foot) every 10 % of stance, and the medians of the first and second
vertical peak, the valley between them and the peak medial force. Where the trial's
``markers.trc`` holds the foot's heel and toe markers (``R.Heel``, ``R.Toe.Med``: gait2392's
names, which ingest maps a lab's heel and toe markers to), the centre of pressure's progress
along the foot too: its distance from the heel marker along the heel → toe-marker line of the
footprint (the markers' median positions over the middle third of the stance, on the floor), as
a fraction of that line's length.

Measured cohorts (``gait2hip ingest``) have stances only where a foot lands on a plate; a
plate the foot only partly covers shows as a short or truncated stance.

    .venv/bin/python benchmarks/stance_grf.py runs/demo/cohort runs/real_biomechzoo/cohort
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import yaml

from gait2hip.core.opensim_files import SIDES, grf_identifiers, read_opensim_table
from gait2hip.pipeline.markers import read_trc
from gait2hip.pipeline.subject import STANDARD_GRAVITY_M_PER_S2

# A foot is loaded above this share of body weight: well above plate noise, below heel-strike loads.
LOADED_SHARE_OF_BODY_WEIGHT = 0.02
SHORTEST_STANCE_S = 0.2
PROFILE_PERCENT = np.arange(0, 101, 10)
# Ground z points to the subject's right: medial is -z under the right foot, +z under the left.
MEDIAL_SIGN = {"r": -1.0, "l": 1.0}
# The foot markers the COP's progress is measured between (gait2392's names; side prefix R./L.).
HEEL_MARKER, TOE_MARKER = "Heel", "Toe.Med"


def stance_profiles(cohort: Path) -> dict[str, list[dict[str, np.ndarray]]]:
    """Condition → list of stances, each ``{"vertical", "fore_aft", "medial"}`` ``(101,)`` in body weights,
    and ``"cop_along_foot"`` ``(101,)`` (fraction of heel → toe marker) where the markers are there."""
    stances: dict[str, list[dict[str, np.ndarray]]] = {}
    for grf_path in sorted(cohort.glob("*/trials/*/grf.mot")):
        trial_dir = grf_path.parent
        body_weight_n = float(yaml.safe_load((trial_dir.parent.parent / "subject.yaml").read_text())["mass_kg"]) \
            * STANDARD_GRAVITY_M_PER_S2
        trial_yaml = trial_dir / "trial.yaml"
        condition = (yaml.safe_load(trial_yaml.read_text()) or {}).get("cadence_condition") if trial_yaml.exists() else None
        table = read_opensim_table(grf_path)
        time_s = table["time"].to_numpy()
        markers = read_trc(trial_dir / "markers.trc") if (trial_dir / "markers.trc").exists() else None
        for side in SIDES:
            identifiers = grf_identifiers(side)
            force, point = identifiers.force, identifiers.point
            if f"{force}y" not in table:
                continue
            feet = _foot_markers_on(markers, side, time_s)
            cop = np.column_stack([table[f"{point}x"].to_numpy(), table[f"{point}z"].to_numpy()]) \
                if f"{point}x" in table and f"{point}z" in table else None
            vertical = table[f"{force}y"].to_numpy() / body_weight_n
            fore_aft = table[f"{force}x"].to_numpy() / body_weight_n
            medial = MEDIAL_SIGN[side] * table[f"{force}z"].to_numpy() / body_weight_n
            for run in _loaded_runs(vertical > LOADED_SHARE_OF_BODY_WEIGHT, len(vertical)):
                if time_s[run[-1]] - time_s[run[0]] < SHORTEST_STANCE_S:
                    continue
                progress = np.linspace(0.0, 1.0, len(run))
                grid = np.linspace(0.0, 1.0, 101)
                stance = {name: np.interp(grid, progress, values[run])
                          for name, values in (("vertical", vertical), ("fore_aft", fore_aft), ("medial", medial))}
                if feet is not None and cop is not None:
                    along = _progress_along_foot(cop[run], *(positions[run] for positions in feet))
                    if along is not None:
                        stance["cop_along_foot"] = np.interp(grid, progress, along)
                stances.setdefault(str(condition or "all"), []).append(stance)
    return stances


def _foot_markers_on(markers, side: str, time_s: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The foot's heel and toe markers on the floor (x, z; m) at ``time_s``, or None if the trial lacks one."""
    if markers is None:
        return None
    names = [f"{side.upper()}.{HEEL_MARKER}", f"{side.upper()}.{TOE_MARKER}"]
    if any(name not in markers.marker_names for name in names):
        return None
    on_floor = []
    for name in names:
        positions = markers.positions_m[:, list(markers.marker_names).index(name)][:, [0, 2]]
        on_floor.append(np.column_stack([np.interp(time_s, markers.times_s, positions[:, axis]) for axis in (0, 1)]))
    return on_floor[0], on_floor[1]


def _progress_along_foot(cop_m: np.ndarray, heel_m: np.ndarray, toe_m: np.ndarray) -> np.ndarray | None:
    """COP ``(n, 2)`` m (x, z) as a fraction of the footprint's heel → toe line, from the markers ``(n, 2)``.

    The footprint is the markers' median over the middle third of the stance; None where a
    marker is missing there.
    """
    middle = slice(len(cop_m) // 3, max(len(cop_m) // 3 + 1, 2 * len(cop_m) // 3))
    heel, toe = np.median(heel_m[middle], axis=0), np.median(toe_m[middle], axis=0)
    line = toe - heel
    length = float(np.linalg.norm(line))
    if not np.isfinite(length) or length < 1e-3:
        return None
    return (cop_m - heel) @ line / length ** 2


def summarise(stances: list[dict[str, np.ndarray]]) -> dict[str, object]:
    """Median profiles and peak figures over ``stances`` (see the module docstring)."""
    stacked = {name: np.array([stance[name] for stance in stances]) for name in ("vertical", "fore_aft", "medial")}
    first_peaks, second_peaks, valleys = [], [], []
    for vertical in stacked["vertical"]:
        first = int(np.argmax(vertical[:50]))
        second = 50 + int(np.argmax(vertical[50:]))
        first_peaks.append(vertical[first])
        second_peaks.append(vertical[second])
        valleys.append(vertical[first:second + 1].min())
    return {
        "stances": len(stances),
        "vertical_bw": np.median(stacked["vertical"], axis=0)[PROFILE_PERCENT].round(2).tolist(),
        "fore_aft_pct_bw": (100 * np.median(stacked["fore_aft"], axis=0)[PROFILE_PERCENT]).round(1).tolist(),
        "medial_pct_bw": (100 * np.median(stacked["medial"], axis=0)[PROFILE_PERCENT]).round(1).tolist(),
        "first_vertical_peak_bw": round(float(np.median(first_peaks)), 2),
        "second_vertical_peak_bw": round(float(np.median(second_peaks)), 2),
        "vertical_valley_bw": round(float(np.median(valleys)), 2),
        "peak_medial_pct_bw": round(float(100 * np.median(stacked["medial"].max(axis=1))), 1),
        "cop_along_foot": (np.median([stance["cop_along_foot"] for stance in stances if "cop_along_foot" in stance],
                                     axis=0)[PROFILE_PERCENT].round(2).tolist()
                           if any("cop_along_foot" in stance for stance in stances) else None),
    }


def _loaded_runs(loaded: np.ndarray, n_samples: int) -> list[np.ndarray]:
    """Index runs of ``loaded`` that neither start at the first sample nor end at the last."""
    indices = np.flatnonzero(loaded)
    if indices.size == 0:
        return []
    runs = np.split(indices, np.flatnonzero(np.diff(indices) > 1) + 1)
    return [run for run in runs if run[0] > 0 and run[-1] < n_samples - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cohorts", nargs="+", type=Path, help="cohort folders (subject/trials/trial/grf.mot)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    report = {}
    header = " ".join(f"{p:>5d}" for p in PROFILE_PERCENT)
    for cohort in args.cohorts:
        by_condition = stance_profiles(cohort)
        if not by_condition:
            print(f"{cohort}: no whole stance in any */trials/*/grf.mot")
            continue
        report[str(cohort)] = {}
        for condition, stances in sorted(by_condition.items()):
            figures = summarise(stances)
            report[str(cohort)][condition] = figures
            print(f"{cohort} · {condition}: {figures['stances']} stances")
            print(f"  % of stance        {header}")
            print("  vertical (BW)      " + " ".join(f"{v:5.2f}" for v in figures["vertical_bw"]))
            print("  fore-aft (% BW)    " + " ".join(f"{v:5.1f}" for v in figures["fore_aft_pct_bw"]))
            print("  medial (% BW)      " + " ".join(f"{v:5.1f}" for v in figures["medial_pct_bw"]))
            if figures["cop_along_foot"] is not None:
                print("  COP along foot     " + " ".join(f"{v:5.2f}" for v in figures["cop_along_foot"])
                      + f"   (heel → {TOE_MARKER} marker)")
            print(f"  vertical peaks {figures['first_vertical_peak_bw']:.2f} / {figures['second_vertical_peak_bw']:.2f} BW,"
                  f" valley {figures['vertical_valley_bw']:.2f} BW; peak medial {figures['peak_medial_pct_bw']:.1f} % BW"
                  " (medians over stances)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
