"""C3D files the ingest tests write for themselves, with exactly known markers and loads.

A scenario is described in OpenSim's axes (X forward, Y up, Z right; the "canonical"
frame), then written to a C3D in some lab's axes (``lab_from_canonical``) and units, with
each force plate's analog channels (Fx Fy Fz Mx My Mz, FORCE_PLATFORM TYPE 2) computed
from a known ground reaction: force, centre of pressure and free moment. The ingest must
give the canonical values back.

The walking scenario: pelvis at 1.2 m/s along X, strides of 1 s (60 % stance, cadence
120 steps/min). Right heel strikes at 0.2, 1.2, 2.2 s and toe-offs at 0.8, 1.8 s; left heel
strikes at 0.7, 1.7 s and toe-offs at 0.3, 1.3, 2.3 s. Plate 1 carries the left stance of
0.7-1.3 s, plate 2 the right stance of 1.2-1.8 s.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import ezc3d
import numpy as np
import pytest

SPEED_M_PER_S = 1.2
STRIDE_S = 1.0
STANCE_S = 0.6
FOOT_Z_M = {"r": 0.09, "l": -0.09}
FIRST_HEEL_STRIKE_S = {"r": 0.2, "l": 0.7}
PEAK_VERTICAL_N = 800.0
HEEL_TO_TOE_M = 0.16

# Canonical (OpenSim) → lab axes: a Vicon-like lab (x forward, y left, z up) ...
Z_UP_LAB = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
# ... and a lab with y up whose walkway runs along -z.
Y_UP_LAB = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])

# Ground reaction of one plate: times (n,) → force (n, 3) N, COP (n, 3) m, free moment about Y (n,) N·m.
GroundReaction = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class PlateSpec:
    """A force plate, canonical frame: surface centre, size and what loads it."""

    centre_m: tuple[float, float, float]
    reaction: GroundReaction
    length_m: float = 0.6
    width_m: float = 0.4
    # FORCE_PLATFORM:ORIGIN (plate axes, C3D convention: surface centre → transducer origin).
    origin_m: tuple[float, float, float] = (0.002, -0.001, 0.045)


@dataclass(frozen=True)
class Scenario:
    marker_names: tuple[str, ...]
    positions_m: np.ndarray  # (n_frames, n_markers, 3) canonical
    plates: tuple[PlateSpec, ...] = ()
    marker_rate_hz: float = 100.0
    analog_rate_hz: float = 1000.0
    lab_from_canonical: np.ndarray = field(default_factory=lambda: Z_UP_LAB.copy())
    units: str = "mm"
    noise_hz: float | None = None  # a sinusoid of this frequency added to every plate's Fz channel
    # What the plate channels carry: the ground's "reaction" on the subject (as lab systems
    # write them) or the subject's "action" on the plate (the opposite sign).
    plate_channels: str = "reaction"
    noise_n: float = 0.0
    channel_offset: int = 0  # added to FORCE_PLATFORM:CHANNEL (points past the analog channels when > 0)

    @property
    def marker_times_s(self) -> np.ndarray:
        return np.arange(self.positions_m.shape[0]) / self.marker_rate_hz

    @property
    def analog_times_s(self) -> np.ndarray:
        n_per_frame = int(round(self.analog_rate_hz / self.marker_rate_hz))
        return np.arange(self.positions_m.shape[0] * n_per_frame) / self.analog_rate_hz

    def with_(self, **changes) -> "Scenario":
        return replace(self, **changes)


def stance_phase(times_s: np.ndarray, heel_strike_s: float) -> np.ndarray:
    """Fraction of the stance that starts at ``heel_strike_s`` (NaN outside it)."""
    fraction = (times_s - heel_strike_s) / STANCE_S
    return np.where((fraction >= 0) & (fraction <= 1), fraction, np.nan)


def heel_position_m(side: str, stance_index: int) -> np.ndarray:
    """Canonical heel marker position during stance ``stance_index`` of ``side``."""
    heel_strike = FIRST_HEEL_STRIKE_S[side] + stance_index * STRIDE_S
    return np.array([SPEED_M_PER_S * heel_strike + 0.3, 0.04, FOOT_Z_M[side]])


def walking_reaction(side: str, stance_index: int) -> GroundReaction:
    """Known reaction of one stance: half-sine vertical force, braking then propulsion, COP heel → toe."""
    heel = heel_position_m(side, stance_index)
    heel_strike = FIRST_HEEL_STRIKE_S[side] + stance_index * STRIDE_S

    def reaction(times_s: np.ndarray):
        phase = stance_phase(times_s, heel_strike)
        on = ~np.isnan(phase)
        phase = np.nan_to_num(phase)
        force = np.zeros((len(times_s), 3))
        force[:, 0] = -120.0 * np.sin(2 * np.pi * phase)
        force[:, 1] = PEAK_VERTICAL_N * np.sin(np.pi * phase)
        force[:, 2] = -25.0 * np.sin(np.pi * phase) * np.sign(FOOT_Z_M[side])
        cop = np.column_stack([heel[0] + 0.02 + 0.2 * phase, np.zeros(len(times_s)), heel[2] + 0.01 * phase])
        free_moment = 4.0 * np.sin(2 * np.pi * phase)
        return force * on[:, None], cop, free_moment * on

    return reaction


def walking_scenario(duration_s: float = 2.5, **changes) -> Scenario:
    """The walking trial of the module docstring, Plug-in Gait marker names."""
    times = np.arange(int(round(duration_s * 100)) + 1) / 100.0
    pelvis_x = SPEED_M_PER_S * times
    markers: dict[str, np.ndarray] = {}

    def put(name, x, y, z):
        markers[name] = np.column_stack([np.broadcast_to(x, times.shape), np.broadcast_to(y, times.shape),
                                         np.broadcast_to(z, times.shape)]).astype(float)

    put("RASI", pelvis_x + 0.03, 0.95, 0.12)
    put("LASI", pelvis_x + 0.03, 0.95, -0.12)
    put("RPSI", pelvis_x - 0.14, 0.97, 0.045)
    put("LPSI", pelvis_x - 0.14, 0.97, -0.045)
    put("STRN", pelvis_x + 0.10, 1.25, 0.0)
    put("CLAV", pelvis_x + 0.05, 1.42, 0.0)
    put("RSHO", pelvis_x, 1.45, 0.18)
    put("LSHO", pelvis_x, 1.45, -0.18)
    for name, dx, dz in (("RFHD", 0.08, 0.06), ("LFHD", 0.08, -0.06), ("RBHD", -0.08, 0.06), ("LBHD", -0.08, -0.06)):
        put(name, pelvis_x + dx, 1.65, dz)
    for side, prefix in (("r", "R"), ("l", "L")):
        heel = _foot_trajectory(times, side)
        toe = heel + np.array([HEEL_TO_TOE_M, -0.01, 0.0])
        markers[f"{prefix}HEE"] = heel
        markers[f"{prefix}TOE"] = toe
        put(f"{prefix}ANK", heel[:, 0] + 0.05, 0.08, FOOT_Z_M[side] * 1.4)
        knee_x = 0.5 * (pelvis_x + heel[:, 0]) + 0.05
        put(f"{prefix}KNE", knee_x, 0.50, FOOT_Z_M[side] * 1.2)
        put(f"{prefix}THI", 0.5 * (pelvis_x + knee_x), 0.68, FOOT_Z_M[side] * 1.6)
        put(f"{prefix}TIB", 0.5 * (knee_x + heel[:, 0]), 0.28, FOOT_Z_M[side] * 1.5)
    plates = (PlateSpec((1.25, 0.0, -0.05), walking_reaction("l", 0)),
              PlateSpec((1.85, 0.0, 0.05), walking_reaction("r", 1)))
    names = tuple(markers)
    scenario = Scenario(names, np.stack([markers[name] for name in names], axis=1), plates)
    return scenario.with_(**changes)


def static_scenario(n_frames: int = 50) -> Scenario:
    """Standing still, feet side by side with the heels 5 cm behind the pelvis centre; no force plates."""
    walk = walking_scenario()
    frame = walk.positions_m[0].copy()
    for prefix in ("R", "L"):
        heel = frame[walk.marker_names.index(f"{prefix}HEE")].copy()
        shift = np.array([-0.05 - heel[0], 0.04 - heel[1], 0.0])
        for name in ("HEE", "TOE", "ANK", "KNE", "THI", "TIB"):
            frame[walk.marker_names.index(prefix + name)] += shift if name in ("HEE", "TOE") else shift * [1, 0, 0]
    return Scenario(walk.marker_names, np.repeat(frame[None], n_frames, axis=0), ())


def _foot_trajectory(times: np.ndarray, side: str) -> np.ndarray:
    """Heel marker: still during stance, straight and fast during swing, 6 cm bump in swing."""
    knots_t, knots_x = [], []
    for index in range(-2, 5):
        heel_strike = FIRST_HEEL_STRIKE_S[side] + index * STRIDE_S
        x = heel_position_m(side, index)[0]
        knots_t += [heel_strike, heel_strike + STANCE_S]
        knots_x += [x, x]
    x = np.interp(times, knots_t, knots_x)
    phase_in_stride = (times - FIRST_HEEL_STRIKE_S[side]) % STRIDE_S
    swing = np.clip((phase_in_stride - STANCE_S) / (STRIDE_S - STANCE_S), 0.0, 1.0)
    y = 0.04 + 0.06 * np.sin(np.pi * swing)
    return np.column_stack([x, y, np.full(len(times), FOOT_Z_M[side])])


def c3d_content(scenario: Scenario) -> dict:
    """Everything a C3D of ``scenario`` holds, as plain arrays and lists (lab axes and units)."""
    to_unit = {"mm": 1000.0, "m": 1.0}[scenario.units]
    lab = scenario.lab_from_canonical
    positions = scenario.positions_m @ lab.T * to_unit  # (n_frames, n_markers, 3) lab
    points = np.ones((4, positions.shape[1], positions.shape[0]))
    points[:3] = np.transpose(positions, (2, 1, 0))
    analog_times = scenario.analog_times_s
    channels, labels, units, corners, origins = [], [], [], [], []
    for number, plate in enumerate(scenario.plates, start=1):
        plate_axes = np.column_stack([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])  # columns: plate x, y, z (down)
        centre = np.asarray(plate.centre_m)
        half_x, half_y = plate.length_m / 2, plate.width_m / 2
        plate_corners = [centre + plate_axes @ [sx * half_x, sy * half_y, 0] for sx, sy in ((1, 1), (-1, 1), (-1, -1), (1, -1))]
        corners.append(np.array(plate_corners) @ lab.T * to_unit)
        origins.append(np.asarray(plate.origin_m) * to_unit)
        force, cop, free_moment = plate.reaction(analog_times)
        # Lab systems write the ground's reaction on the subject (Fz < 0 along the plate's downward z).
        sign = {"reaction": 1.0, "action": -1.0}[scenario.plate_channels]
        channel_force = sign * force @ plate_axes  # canonical → plate axes: v_plate = plate_axes.T @ v
        cop_plate = (cop - centre) @ plate_axes
        torque = np.column_stack([np.zeros_like(free_moment), free_moment, np.zeros_like(free_moment)])
        channel_torque = sign * torque @ plate_axes
        moment = np.cross(cop_plate - np.asarray(plate.origin_m), channel_force) + channel_torque
        if scenario.noise_hz:
            # The same disturbance of the subject's action (along the plate's z) whatever the channels carry.
            channel_force[:, 2] -= sign * scenario.noise_n * np.sin(2 * np.pi * scenario.noise_hz * analog_times)
        channels.append(np.column_stack([channel_force, moment * to_unit]))
        labels += [f"{name}{number}" for name in ("Fx", "Fy", "Fz", "Mx", "My", "Mz")]
        units += ["N"] * 3 + [f"N{scenario.units}"] * 3
    n_plates = len(scenario.plates)
    return {
        "point_rate": scenario.marker_rate_hz, "point_labels": list(scenario.marker_names), "units": scenario.units,
        "points": points, "analog_rate": scenario.analog_rate_hz, "analog_labels": labels, "analog_units": units,
        "analogs": np.column_stack(channels).T if channels else np.zeros((0, len(analog_times))),
        "n_plates": n_plates,
        "corners": np.stack([c.T for c in corners], axis=2) if n_plates else None,  # (3, 4, n_plates)
        "origins": np.stack(origins, axis=1) if n_plates else None,  # (3, n_plates)
        "channels": np.arange(1, 6 * n_plates + 1).reshape(n_plates, 6).T + scenario.channel_offset,
    }


def _write_content(path: str, content: dict) -> None:
    """Runs in the writer process: the content as a C3D, with ezc3d."""
    c3d = ezc3d.c3d()
    point = c3d["parameters"]["POINT"]
    point["RATE"]["value"] = np.array([content["point_rate"]])
    point["LABELS"]["value"] = content["point_labels"]
    point["UNITS"]["value"] = [content["units"]]
    c3d["data"]["points"] = content["points"]
    analog = c3d["parameters"]["ANALOG"]
    analog["RATE"]["value"] = np.array([content["analog_rate"]])
    analog["LABELS"]["value"] = content["analog_labels"]
    analog["UNITS"]["value"] = content["analog_units"]
    c3d["data"]["analogs"] = content["analogs"][None, :, :]
    if content["n_plates"]:
        group = c3d["parameters"]["FORCE_PLATFORM"]
        group["USED"]["value"] = np.array([content["n_plates"]])
        group["TYPE"]["value"] = np.full(content["n_plates"], 2)
        group["CORNERS"]["value"] = content["corners"]
        group["ORIGIN"]["value"] = content["origins"]
        group["CHANNEL"]["value"] = content["channels"]
    c3d.write(path)  # ezc3d does not raise when it cannot write: the caller checks the file


def set_analog_rate_in_file(path: Path, new_rate_hz: float) -> None:
    """Overwrite ANALOG:RATE in the file's parameter section (the header keeps its own value)."""
    data = bytearray(path.read_bytes())
    index = 0
    while (index := data.find(b"RATE", index + 1)) >= 0:
        value = struct.unpack("<f", data[index + 8:index + 12])[0]
        if value == 1000.0:
            data[index + 8:index + 12] = struct.pack("<f", new_rate_hz)
            path.write_bytes(bytes(data))
            return
    raise AssertionError("ANALOG:RATE not found in the test file")


class ScenarioKit:
    """This module's builders and constants, and a C3D writer running in its own process.

    Why a separate process: ezc3d's writer passes ``std::vector`` proxies to its SWIG module,
    and OpenSim's SWIG module shares the same type table: whichever of the two converts a
    ``std::vector`` first, the other then rejects its own vector proxies for the rest of the
    process (OpenSim's ``StdVectorDouble`` in the pipeline's TRC writer, ezc3d's in its
    writer). The ingest only *reads* C3D files, which does not trigger this; the tests'
    writer is kept out of the test process so the two never meet.
    """

    def __init__(self, executor: concurrent.futures.Executor):
        self._executor = executor

    def __getattr__(self, name: str):
        return getattr(sys.modules[__name__], name)

    def write_c3d(self, path: Path, scenario: Scenario) -> Path:
        """Write ``scenario`` as a C3D in its lab's axes and units (TYPE 2 plates)."""
        self._executor.submit(_write_content, str(path), c3d_content(scenario)).result()
        if not path.is_file():
            raise RuntimeError(f"ezc3d did not write the test C3D {path}")
        return path


@pytest.fixture(scope="session")
def scenarios():
    """Scenario builders and the C3D writer (conftest files are not importable by name)."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no OpenSim loaded there
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as executor:
        yield ScenarioKit(executor)
