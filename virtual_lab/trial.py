"""Synthesize one walking trial of a virtual subject: markers (TRC, mm) and GRFs (.mot)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import opensim
from scipy.interpolate import CubicSpline
from scipy.signal import butter, filtfilt

from gait2hip.core.opensim_files import grf_columns, write_mot, write_trc
from gait2hip.virtual_lab.gait_template import GaitTemplate
from gait2hip.virtual_lab.ground_reactions import ExternalWrench, share_between_feet, total_external_wrench
from gait2hip.virtual_lab.balance import (centre_of_mass_shift, centre_of_pressure, centre_of_pressure_outside_foot_m,
                                 plan_centre_of_pressure)
from gait2hip.virtual_lab.foot_placement import (body_following_share, marker_trajectories, plant_feet, stance_foot_slip_m,
                                        target_marker_names)
from gait2hip.virtual_lab.kinematics import (HEEL_MARKER_HEIGHT_M, REFERENCE_CADENCE_STEPS_PER_MIN, joint_angles_deg,
                                    leg_phase, right_foot_share, solve_pelvis_translation)
from gait2hip.virtual_lab.band_limited_ik import KNOT_SPACING_S
from gait2hip.virtual_lab.model_poses import default_state, marker_locations_m, pose_matrix
from gait2hip.virtual_lab.whole_body_ik import PELVIS_TRANSLATIONS, solve_band_limited
from gait2hip.virtual_lab.subject_model import load_kinematic_model
from gait2hip.virtual_lab.subjects import VirtualSubject


# Highest frequency content of the synthetic motion (Hz) up to the reference cadence, below the
# pipeline's 6 Hz low-pass; faster cadences scale it (:func:`motion_bandwidth_hz`).
MOTION_BANDWIDTH_HZ = 4.0
# Whole-body IK passes: each after the first moves the targets by the balance correction and
# refines in band. The correction converges slowly (a third to a half of the COP error per pass),
# so fewer passes leave the COP of the dynamics outside the foot by decimetres; past four, the COP
# clamp moment and the foot slip no longer improve while every pass adds to the synthesis time.
# benchmarks/synthesis_quality.py (slip, clamp) and benchmarks/bench_synthesis.py (time) measure a
# cohort synthesized with another value.
IK_PASSES = 4
# Forward kinematics of the template's marker paths (the IK targets) on every 4th frame, of the
# written markers on every 2nd, splined between: within 0.5 mm and 0.05 mm of every frame for
# gait at 130 steps/min (tests/virtual_lab/test_model_poses.py); the noise added is 1 mm.
TEMPLATE_MARKERS_EVERY = 4
WRITTEN_MARKERS_EVERY = 2
# How far the centre of mass moves when the pelvis targets move (feet planted): the stance leg
# stays behind.
COM_SHIFT_PER_PELVIS_SHIFT = 0.85
# OpenSim's low-pass of the ID and SO tools (``Storage::lowpassIIR``): a 3rd-order Butterworth
# run forwards and backwards (its gain on sinusoids agrees within 0.5 %, 2–8 Hz).
ANALYSIS_FILTER_ORDER = 3


@dataclass(frozen=True)
class TrialSettings:
    """How a trial is recorded: frame rates (Hz), duration in gait cycles, noise (m, N).

    ``analysis_lowpass_hz`` ≤ 0 (the default) writes the GRFs of the motion itself, as a plate
    measures them: the pipeline low-passes ground reactions and coordinates at the same cut-off
    (``grf.lowpass_cutoff_hz: null``), so ID sees the two filtered alike. A cut-off (Hz) writes the
    GRFs of the motion as a 3rd-order Butterworth run forwards and backwards at that cut-off
    passes it (:func:`synthesize_trial`): for a pipeline that filters the coordinates only
    (``grf.lowpass_cutoff_hz: 0``); the default pipeline would filter those GRFs a second time.

    ``arm_swing_vertical_moment_share`` (0–1) of the free moment about the vertical that the
    armless model's motion needs is carried by the person's arm swing instead of the plates
    (:mod:`gait2hip.virtual_lab.ground_reactions`); ID sees it as a pelvis residual moment. At the
    default the plates' peak free moments come near those measured under people
    (virtual_lab/README.md, "Calibration against measured gait"); 0 writes the armless model's own.
    """

    marker_rate_hz: float = 100.0
    grf_rate_hz: float = 1000.0
    n_cycles: float = 2.0
    marker_noise_m: float = 0.001
    soft_tissue_artefact_m: float = 0.0
    grf_noise_n: float = 0.0
    keep_cop_in_foot: bool = True
    analysis_lowpass_hz: float = 0.0
    arm_swing_vertical_moment_share: float = 0.8

    def __post_init__(self) -> None:
        if not 0.0 <= self.arm_swing_vertical_moment_share <= 1.0:
            raise ValueError("recording.arm_swing_vertical_moment_share must be between 0 and 1, got "
                             f"{self.arm_swing_vertical_moment_share}")


@dataclass(frozen=True)
class SynthesizedTrial:
    """What was written and the generating truth (the pipeline never reads the truth)."""

    markers_path: Path
    grf_path: Path
    truth_coordinates_path: Path
    stride_time_s: float
    cadence_steps_per_min: float
    foot_slip_m: float
    clamped_moment_nm: float
    cop_outside_foot_m: float
    events: dict[str, list[float]]


def motion_bandwidth_hz(cadence_steps_per_min: float) -> float:
    """Band-limit (Hz) of the motion: :data:`MOTION_BANDWIDTH_HZ` up to the reference cadence, in proportion above it.

    The harmonics of gait scale with the step frequency. Held at 4 Hz above the reference
    cadence, the stance foot cannot stop quickly enough at load acceptance nor stay put until
    heel-off, and slides past the 1 cm validation threshold at 130 steps/min; scaled with the
    cadence (and the correction's knots closer in the same proportion) it stays under it.
    Up to the reference cadence 4 Hz keeps the slip under 1 cm, so the motion is left as it is.
    ``benchmarks/synthesis_quality.py`` reports the slip per cadence of a synthesized cohort.
    """
    return MOTION_BANDWIDTH_HZ * _cadence_scale(cadence_steps_per_min)


def _cadence_scale(cadence_steps_per_min: float) -> float:
    return max(1.0, cadence_steps_per_min / REFERENCE_CADENCE_STEPS_PER_MIN)


def marker_positions(model: opensim.Model, coordinates: dict[str, np.ndarray],
                     every: int = 1) -> tuple[list[str], np.ndarray]:
    """Forward kinematics in OpenSim: ``(names, (n_frames, n_markers, 3) m)``.

    ``every`` > 1: on every ``every``-th frame, splined in between (:func:`marker_locations_m`).
    """
    state = default_state(model)
    marker_set = model.getMarkerSet()
    markers = [marker_set.get(i) for i in range(marker_set.getSize())]
    positions = marker_locations_m(model, state, pose_matrix(model, state, coordinates), markers, every)
    return [marker.getName() for marker in markers], positions


def synthesize_trial(subject: VirtualSubject, model_path: Path, cadence_steps_per_min: float, out_dir: Path,
                     truth_dir: Path, trial_id: str, settings: TrialSettings, template: GaitTemplate,
                     rng: np.random.Generator) -> SynthesizedTrial:
    """Write ``out_dir/markers.trc`` and ``out_dir/grf.mot``; the true coordinates go to ``truth_dir``."""
    model = load_kinematic_model(model_path)
    stride_time_s = 120.0 / cadence_steps_per_min
    # The recording starts a quarter stride before the first right heel strike and ends a
    # quarter stride after the last cycle, so whole cycles lie inside the trial, away from the
    # edges where the pipeline's low-pass filter pads the data.
    lead_s = 0.25 * stride_time_s
    n_frames = int(round((settings.n_cycles * stride_time_s + 2 * lead_s) * settings.marker_rate_hz)) + 1
    # Solve on a longer span (one stride either side) so filter and spline edges stay outside the trial.
    margin = int(round(stride_time_s * settings.marker_rate_hz))
    padded_times = np.arange(-margin, n_frames + margin) / settings.marker_rate_hz
    gait_times = padded_times - lead_s  # time since the first right heel strike
    angles_deg, stance_fraction = joint_angles_deg(subject, template, gait_times, stride_time_s,
                                                   cadence_steps_per_min, rng)
    padded = {name: np.radians(values) for name, values in angles_deg.items()}
    pelvis_tx, pelvis_ty = solve_pelvis_translation(model, gait_times, padded, stride_time_s, stance_fraction,
                                                     subject.segment_scale["foot"])
    padded.update(pelvis_tx=pelvis_tx - pelvis_tx[margin], pelvis_ty=pelvis_ty,
                  pelvis_tz=np.zeros(len(padded_times)))
    for name in ("subtalar_angle_r", "subtalar_angle_l", "mtp_angle_r", "mtp_angle_l"):
        padded[name] = np.zeros(len(padded_times))
    # Band-limit the whole motion well below the pipeline's 6 Hz low-pass, so that the
    # accelerations ID sees are the ones the GRFs were derived from: the template first, so that
    # the IK below corrects the motion as it will be filtered, and the IK's result again.
    b, a = butter(4, motion_bandwidth_hz(cadence_steps_per_min) / (settings.marker_rate_hz / 2))
    padded = {name: filtfilt(b, a, values) for name, values in padded.items()}
    # The template on that first pelvis path does not keep the stance foot still: whole-body IK
    # on planted footprints moves the pelvis and the legs together to plant it.
    floor_heel_height_m = HEEL_MARKER_HEIGHT_M * subject.segment_scale["foot"]
    right_share = right_foot_share(gait_times, stride_time_s, stance_fraction)
    target_names = target_marker_names()
    neutral = marker_trajectories(model, {"pelvis_ty": np.zeros(1)}, target_names)[0]
    targets = plant_feet(marker_trajectories(model, padded, target_names, every=TEMPLATE_MARKERS_EVERY), neutral,
                         right_share, floor_heel_height_m, 1.0 / settings.marker_rate_hz,
                         step_width_m=subject.traits.step_width_m)
    planned_cop = plan_centre_of_pressure(targets.footprints_m, right_share)

    def balance_shift(wrench: ExternalWrench) -> np.ndarray:
        # Pelvis displacement (m) that brings the COP of the current motion's dynamics onto the plan.
        error = planned_cop - centre_of_pressure(wrench.force_n, wrench.moment_nm)
        omega_squared = wrench.force_n[:, 1] / (wrench.mass_kg * wrench.centre_of_mass_m[:, 1])
        return centre_of_mass_shift(error, omega_squared, 1.0 / settings.marker_rate_hz) / COM_SHIFT_PER_PELVIS_SHIFT

    padded = solve_band_limited(model, padded_times, targets, padded, lambda values: filtfilt(b, a, values),
                                n_passes=IK_PASSES, knot_spacing_s=KNOT_SPACING_S / _cadence_scale(cadence_steps_per_min),
                                shift=balance_shift, shift_share=body_following_share(targets))
    # The GRFs are those of the motion, as a plate measures them (TrialSettings.analysis_lowpass_hz):
    # the pipeline low-passes ground reactions and coordinates alike, so the GRFs of an already
    # filtered motion would reach ID filtered twice (on the demo cohort at 130 steps/min: pelvis
    # residual force 7.0 % BW median against 3.6 % for those of the motion itself).
    wrench = total_external_wrench(model, padded_times, _as_analysed(padded, settings))
    force_padded, moment_padded = wrench.force_n, wrench.moment_nm
    trial_frames = slice(margin, margin + n_frames)
    times = padded_times[trial_frames]
    coordinates = {name: values[trial_frames] for name, values in padded.items()}
    force, moment = force_padded[trial_frames], moment_padded[trial_frames]
    names, positions = marker_positions(model, coordinates, every=WRITTEN_MARKERS_EVERY)
    toe_above_heel_m = {side: neutral[target_names.index(f"{side.upper()}.Toe.Tip"), 1]
                        - neutral[target_names.index(f"{side.upper()}.Heel"), 1] for side in "rl"}
    slip = _foot_slip(names, positions, right_share[trial_frames], floor_heel_height_m, toe_above_heel_m)
    noisy = positions + settings.marker_noise_m * rng.standard_normal(positions.shape)
    if settings.soft_tissue_artefact_m > 0:
        phase = 2 * np.pi * times / stride_time_s
        noisy += settings.soft_tissue_artefact_m * np.sin(phase[:, None, None] + rng.uniform(0, 2 * np.pi, positions.shape[1:]))
    out_dir.mkdir(parents=True, exist_ok=True)
    markers_path = write_trc(out_dir / "markers.trc", names, noisy, times, settings.marker_rate_hz, units="mm")

    grf_times = np.arange(int(round(times[-1] * settings.grf_rate_hz)) + 1) / settings.grf_rate_hz
    # A little beyond the last marker frame, as plates record: the pipeline checks coverage.
    grf_times = np.append(grf_times, times[-1] + 1.0 / settings.grf_rate_hz) if grf_times[-1] < times[-1] else grf_times
    index = {name: i for i, name in enumerate(names)}
    foot_points = {side: tuple(CubicSpline(times, positions[:, index[f"{side.upper()}.{point}"]])(grf_times)
                               for point in ("Heel", "Toe.Tip")) for side in "rl"}   # noise-free
    grf = share_between_feet(grf_times - lead_s, CubicSpline(times, force)(grf_times),
                             CubicSpline(times, moment)(grf_times), stride_time_s, stance_fraction, foot_points,
                             keep_cop_in_foot=settings.keep_cop_in_foot,
                             arm_swing_share=settings.arm_swing_vertical_moment_share)
    cop_outside_m = max(centre_of_pressure_outside_foot_m(grf.centre_of_pressure_m[side], *foot_points[side],
                                                          grf.force_n[side][:, 1]) for side in "rl")
    forces = grf.force_n
    if settings.grf_noise_n > 0:
        forces = {side: f + settings.grf_noise_n * rng.standard_normal(f.shape) * (np.abs(f[:, 1:2]) > 0)
                  for side, f in forces.items()}
    grf_path = write_mot(out_dir / "grf.mot", grf_columns(forces, grf.centre_of_pressure_m, grf.free_moment_nm),
                         grf_times, in_degrees=False)

    truth_dir.mkdir(parents=True, exist_ok=True)
    truth = {name: (values if name in PELVIS_TRANSLATIONS else np.degrees(values))
             for name, values in coordinates.items()}
    truth_path = write_mot(truth_dir / f"{trial_id}_coordinates.mot", truth, times, in_degrees=True)
    return SynthesizedTrial(markers_path, grf_path, truth_path, stride_time_s, cadence_steps_per_min, slip,
                            grf.clamped_moment_nm, cop_outside_m, _events(times, lead_s, stride_time_s, stance_fraction))


def _as_analysed(coordinates: dict[str, np.ndarray], settings: TrialSettings) -> dict[str, np.ndarray]:
    """``coordinates`` (name → ``(n_frames,)`` rad, m, at the marker rate) low-passed as the pipeline's ID does."""
    if settings.analysis_lowpass_hz <= 0:
        return coordinates
    b, a = butter(ANALYSIS_FILTER_ORDER, settings.analysis_lowpass_hz / (settings.marker_rate_hz / 2))
    return {name: filtfilt(b, a, values) for name, values in coordinates.items()}


def _foot_slip(names: list[str], positions: np.ndarray, right_share: np.ndarray, floor_heel_height_m: float,
               toe_above_heel_m: dict[str, float]) -> float:
    """Stance-foot slip (m) of the written, noise-free markers ``(n_frames, n_markers, 3)``."""
    index = {name: i for i, name in enumerate(names)}
    heel = {side: positions[:, index[f"{side.upper()}.Heel"]] for side in "rl"}
    toe = {side: positions[:, index[f"{side.upper()}.Toe.Tip"]] for side in "rl"}
    return stance_foot_slip_m(heel, toe, right_share, floor_heel_height_m, toe_above_heel_m)


def _events(times_s: np.ndarray, lead_s: float, stride_time_s: float,
            stance_fraction: dict[str, float]) -> dict[str, list[float]]:
    """Heel-strike and toe-off times (s, file time) of each side inside the trial."""
    events = {}
    for side in "rl":
        phase = leg_phase(times_s - lead_s, stride_time_s, side)
        first, last = int(np.ceil(phase[0])), int(np.floor(phase[-1]))
        strikes = [lead_s + (k + (0.5 if side == "l" else 0.0)) * stride_time_s for k in range(first - 1, last + 2)]
        offs = [s + stance_fraction[side] * stride_time_s for s in strikes]
        events[f"heel_strike_{side}"] = [round(t, 4) for t in strikes if times_s[0] <= t <= times_s[-1]]
        events[f"toe_off_{side}"] = [round(t, 4) for t in offs if times_s[0] <= t <= times_s[-1]]
    return events
