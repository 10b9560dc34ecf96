"""Pipeline settings: typed dataclasses with documented defaults, loaded from YAML once.

``pipeline/default_config.yaml`` lists every key with its default and the reason for it.
Load with :meth:`PipelineConfig.from_yaml` at the edge (CLI, workflow) and pass it down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gait2hip.core.config_loading import YamlConfig
from gait2hip.core.opensim_files import SIDES, GRFIdentifiers, grf_identifiers

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent / "default_config.yaml"
DEFAULT_MODEL = "gait2392"


@dataclass(frozen=True)
class ForceSetConfig:
    """Which GRF ``.mot`` columns belong to one foot (OpenSim ExternalForce identifiers)."""

    side: str
    force_identifier: str
    point_identifier: str
    torque_identifier: str

    def __post_init__(self) -> None:
        if self.side not in ("r", "l"):
            raise ValueError(f"side must be 'r' or 'l', got {self.side!r}")

    def column_names(self) -> list[str]:
        """The nine ``.mot`` columns this force set reads (force, point, torque × x y z)."""
        return GRFIdentifiers(self.force_identifier, self.point_identifier, self.torque_identifier).column_names()


def _default_force_sets() -> tuple[ForceSetConfig, ...]:
    """OpenSim's standard GRF columns, as gait2hip's converters and synthetic cohorts write them."""
    standard = {side: grf_identifiers(side) for side in SIDES}
    return tuple(ForceSetConfig(side, ids.force, ids.point, ids.torque) for side, ids in standard.items())


@dataclass(frozen=True)
class MarkerConfig:
    """Marker data checks. Gaps up to ``max_gap_fill_s`` are filled by cubic interpolation."""

    max_gap_fill_s: float = 0.1

    def __post_init__(self) -> None:
        if self.max_gap_fill_s < 0:
            raise ValueError(f"max_gap_fill_s must be >= 0 s, got {self.max_gap_fill_s}")


@dataclass(frozen=True)
class FootContactConfig:
    """Thresholds of the marker-based contact detection.

    Attributes
    ----------
    max_height_above_floor_m
        A foot marker is low while it is at most this far above its floor height (m): the
        5th percentile of its height over the trial, where it rests during stance.
    max_speed_m_per_s
        ... and slow while its speed is below this (m/s); mid-swing feet move at 3-5 m/s.
    margin_s
        A stance on the floor is widened by this much (s) at each end: marker contact starts
        a frame or two after heel strike and ends a frame or two before toe-off.
    floor_percentile
        Percentile of a marker's height over the trial taken as its floor height.
    filter_reach_cycles
        A stance on the floor also spoils the frames after it within this many periods of the
        filters' cut-off (``filter_reach_cycles / cutoff_hz`` s; 0.4 at 6 Hz: 67 ms).
    heel_strike_reach_cycles
        ... and the frames before it within this many periods (0.7 at 6 Hz: 117 ms): its load
        rises within tens of milliseconds of heel strike, and the filters spread that further
        back than the slow unloading at toe-off forward (docs/labels.md, "Valid frames").
    edge_reach_cycles
        The first and last frames labelled are invalid for both legs within this many periods
        of the filters' cut-off of the ends (0.7 at 6 Hz: 117 ms): ID and SO filter the
        coordinates and ground reactions over the labelled frames only, and the filter's start
        and end transients are in their accelerations. Measured on 4 biomechZoo walks (labels
        of a shortened time range against the whole trial's): the hip moment error is 65 % of
        the trial's peak at the end frame, 22 % at 30 ms, 5-7 % from 50 to 110 ms and under
        3.5 % from 120 ms on.
    min_swing_s
        A marker contact starting or ending within this long (s) of the same foot's plate stance
        belongs to it: a new stance needs a swing in between (the toe lingers low and slow for a
        few frames after a slow toe-off).
    min_floor_stance_s
        A marker contact shorter than this (s) is not a stance (a foot brushing the floor).
    """

    max_height_above_floor_m: float = 0.03
    max_speed_m_per_s: float = 0.5
    margin_s: float = 0.03
    floor_percentile: float = 5.0
    filter_reach_cycles: float = 0.4
    heel_strike_reach_cycles: float = 0.7
    edge_reach_cycles: float = 0.7
    min_swing_s: float = 0.2
    min_floor_stance_s: float = 0.1

    def __post_init__(self) -> None:
        for name in ("max_height_above_floor_m", "max_speed_m_per_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"foot_contact.{name} must be positive, got {getattr(self, name)!r}")
        for name in ("margin_s", "filter_reach_cycles", "heel_strike_reach_cycles", "edge_reach_cycles", "min_swing_s",
                     "min_floor_stance_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"foot_contact.{name} must be zero or positive, got {getattr(self, name)!r}")
        if not 0 <= self.floor_percentile < 50:
            raise ValueError(f"foot_contact.floor_percentile must be in [0, 50), got {self.floor_percentile!r}")



# The marker consistency check's actions (gait2hip.pipeline.marker_consistency).
MARKER_CONSISTENCY_ACTIONS = ("downweight", "drop", "report")


@dataclass(frozen=True)
class MarkerConsistencyConfig:
    """Tolerances of the check and what it does to the markers it blames.

    The defaults come from the 12 biomechZoo walks (children, Plug-in Gait): over their 108
    pelvis and leg marker pairs, the walking median distance is within 8.2 mm (4.4 %) of the
    static one and the 5-95 % range across a trial within 14.4 mm (a thigh wand, heel to toe);
    the tolerances leave about twice that. Their torso pairs are another matter: five of the
    twelve children stood with their acromion markers 30-64 mm closer together than they
    walked, and head markers (on gait2392's torso) vary by up to 58 mm as the head turns;
    that is what the check is there to catch.

    Attributes
    ----------
    action
        ``downweight``: a blamed marker's IK weight is multiplied by ``downweight_factor``.
        ``drop``: its weight becomes 0 (IK ignores it), except for a required marker, one
        whose body would keep fewer than ``min_markers_per_body`` weighted markers, or one of
        a pair no marker could be blamed for, which are down-weighted instead. ``report``: the
        markers are listed, no weight changes. Down-weighting is the default: a body left with
        too few markers is not tracked at all (a torso with only its sternum marker has
        free lumbar angles), while a marker at a tenth of its weight still steers IK where the
        others leave it free.
    distance_tolerance_m, distance_tolerance_fraction
        A pair is inconsistent when its median walking distance differs from its static
        (scaled-model) distance by more than the larger of ``distance_tolerance_m`` (m) and
        ``distance_tolerance_fraction`` of the static distance.
    spread_tolerance_m
        ... or when its walking distance varies across the trial by more than this (m),
        measured between the ``spread_percentiles`` (percent) of its frames.
    downweight_factor
        Factor (0-1] applied to the weight of a down-weighted marker.
    min_markers_per_body
        In ``drop`` mode, the weighted markers a body keeps at least (>= 1).
    """

    action: str = "downweight"
    distance_tolerance_m: float = 0.015
    distance_tolerance_fraction: float = 0.05
    spread_tolerance_m: float = 0.025
    spread_percentiles: tuple[float, float] = (5.0, 95.0)
    downweight_factor: float = 0.1
    min_markers_per_body: int = 2

    def __post_init__(self) -> None:
        if self.action not in MARKER_CONSISTENCY_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(MARKER_CONSISTENCY_ACTIONS)}, got {self.action!r}")
        for name in ("distance_tolerance_m", "distance_tolerance_fraction", "spread_tolerance_m"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        low, high = self.spread_percentiles
        if not 0 <= low < high <= 100:
            raise ValueError(f"spread_percentiles must be two percentages, low < high, got {self.spread_percentiles}")
        if not 0 < self.downweight_factor <= 1:
            raise ValueError(f"downweight_factor must be in (0, 1], got {self.downweight_factor}")
        if self.min_markers_per_body < 1:
            raise ValueError(f"min_markers_per_body must be >= 1, got {self.min_markers_per_body}")

    def distance_tolerance_for(self, static_distance_m: float) -> float:
        """The median-distance tolerance (m) of a pair whose static distance is ``static_distance_m``."""
        return max(self.distance_tolerance_m, self.distance_tolerance_fraction * static_distance_m)



@dataclass(frozen=True)
class MarkerRegistrationConfig:
    """Registration of ``model.yaml``'s technical markers from the walking trial (marker_registration.py).

    Attributes
    ----------
    enabled
        Off by default: the virtual lab's markers sit exactly where its model puts them, and
        each round costs one more IK run. ``workflows/configs/measured_walks.yaml`` turns it on.
    iterations
        Rounds of (move the markers to their mean body-frame location, re-run IK), at most.
    max_shift_m
        No marker moves further than this from where scaling put it (m); a wand marker that
        seems to need more is more likely mislabelled than misplaced.
    min_move_m
        Rounds stop once no marker would move this far (m).
    """

    enabled: bool = False
    iterations: int = 3
    max_shift_m: float = 0.04
    min_move_m: float = 0.001

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations!r}")
        if not self.max_shift_m > 0:
            raise ValueError(f"max_shift_m must be > 0, got {self.max_shift_m!r}")
        if not self.min_move_m >= 0:
            raise ValueError(f"min_move_m must be >= 0, got {self.min_move_m!r}")


@dataclass(frozen=True)
class GRFConfig:
    """Ground reaction force columns, the foot-contact threshold (N, vertical force) and filtering.

    ``lowpass_cutoff_hz`` None filters the ground reactions each tool reads at that tool's
    coordinate cut-off (``inverse_dynamics`` / ``static_optimization.lowpass_cutoff_hz``), 0
    leaves them unfiltered, a number (Hz) uses that cut-off for both.
    """

    force_sets: tuple[ForceSetConfig, ...] = field(default_factory=_default_force_sets)
    contact_threshold_n: float = 20.0
    lowpass_cutoff_hz: float | None = None

    def __post_init__(self) -> None:
        sides = [fs.side for fs in self.force_sets]
        if sorted(sides) != ["l", "r"]:
            raise ValueError(f"force_sets must hold exactly one 'r' and one 'l' entry, got sides {sides}")
        if self.lowpass_cutoff_hz is not None and not self.lowpass_cutoff_hz >= 0:
            raise ValueError(f"grf.lowpass_cutoff_hz must be null, 0 or a positive cut-off in Hz, "
                             f"got {self.lowpass_cutoff_hz!r}")

    def cutoff_for(self, coordinate_cutoff_hz: float) -> float:
        """The GRF cut-off (Hz; 0 = unfiltered) for a tool filtering its coordinates at ``coordinate_cutoff_hz``."""
        return coordinate_cutoff_hz if self.lowpass_cutoff_hz is None else self.lowpass_cutoff_hz


# scale.muscle_strength: the generic model's muscle forces, or scaled with the subject's muscle volume.
MUSCLE_STRENGTH_RULES = ("generic", "muscle_volume")
# scale.hip_joint_centre: where the scaled generic model has the hip joints, or Harrington et
# al.'s (2007) regression on the subject's pelvis markers (gait2hip.pipeline.hip_joint_centre).
HIP_JOINT_CENTRE_METHODS = ("model", "harrington2007")


@dataclass(frozen=True)
class ScaleConfig:
    """ScaleTool settings. ``static_time_range_s`` None uses the whole static trial.

    ``muscle_strength``: ``"generic"`` leaves every muscle's maximum isometric force at the
    generic model's (OpenSim's ScaleTool); ``"muscle_volume"`` scales it with the subject's
    muscle volume (gait2hip.pipeline.muscle_strength; needs ``generic_height_m`` in the model's
    ``model.yaml``).

    ``hip_joint_centre``: ``"model"`` leaves each hip joint where the scaled generic pelvis has
    it; ``"harrington2007"`` places it by Harrington et al.'s regression on the static trial's
    pelvis markers (gait2hip.pipeline.hip_joint_centre; needs ``hip_joint_centre`` in the
    model's ``model.yaml``).
    """

    preserve_mass_distribution: bool = True
    static_time_range_s: tuple[float, float] | None = None
    muscle_strength: str = "generic"
    hip_joint_centre: str = "model"

    def __post_init__(self) -> None:
        if self.muscle_strength not in MUSCLE_STRENGTH_RULES:
            raise ValueError(f"scale.muscle_strength must be one of {list(MUSCLE_STRENGTH_RULES)}, "
                             f"got {self.muscle_strength!r}")
        if self.hip_joint_centre not in HIP_JOINT_CENTRE_METHODS:
            raise ValueError(f"scale.hip_joint_centre must be one of {list(HIP_JOINT_CENTRE_METHODS)}, "
                             f"got {self.hip_joint_centre!r}")


@dataclass(frozen=True)
class IKConfig:
    """InverseKinematicsTool settings (accuracy of the IK solver, dimensionless)."""

    accuracy: float = 1e-5


@dataclass(frozen=True)
class InverseDynamicsConfig:
    """InverseDynamicsTool settings: low-pass cut-off of the coordinates (Hz)."""

    lowpass_cutoff_hz: float = 6.0


# ``opensim``: OpenSim's AnalyzeTool + StaticOptimization. ``batched``: the same problem solved for
# all frames at once (gait2hip.pipeline.batched_static_optimization), falling back to OpenSim's
# tool for a model feature it does not reproduce.
SO_SOLVERS = ("opensim", "batched")
# How reports name each solver's simulation path.
SO_SOLVER_NAMES = {"opensim": "OpenSim SO tool", "batched": "batched SO"}


@dataclass(frozen=True)
class StaticOptimizationConfig:
    """StaticOptimization settings and its residual/reserve actuators.

    Residual actuators (pelvis) get a large optimal force so they can take the dynamic
    inconsistency; reserves (every other coordinate) a small one, so the optimizer uses
    them only where muscles cannot produce the moment.
    """

    activation_exponent: float = 2.0
    use_muscle_physiology: bool = True
    lowpass_cutoff_hz: float = 6.0
    residual_force_optimal_n: float = 100.0
    residual_moment_optimal_nm: float = 100.0
    reserve_optimal_nm: float = 1.0
    max_iterations: int = 100
    convergence_criterion: float = 1e-4
    solver: str = "batched"
    cross_check_frames: int = 3

    def __post_init__(self) -> None:
        if self.solver not in SO_SOLVERS:
            raise ValueError(f"static_optimization.solver must be one of {list(SO_SOLVERS)}, got {self.solver!r}")
        if self.cross_check_frames < 0:
            raise ValueError(f"static_optimization.cross_check_frames must be 0 or more, got {self.cross_check_frames}")


def _gait2354_task_weights() -> dict[str, float]:
    return {"pelvis_tx": 20.0, "pelvis_ty": 20.0, "pelvis_tz": 20.0, "pelvis_tilt": 1000.0,
            "pelvis_list": 500.0, "pelvis_rotation": 100.0, "lumbar_extension": 50.0,
            "lumbar_bending": 50.0, "lumbar_rotation": 10.0}


def _gait2354_joint_optimal_forces() -> dict[str, float]:
    forces = {"lumbar_extension": 200.0, "lumbar_bending": 200.0, "lumbar_rotation": 200.0}
    for side in ("r", "l"):
        forces.update({f"hip_adduction_{side}": 200.0, f"hip_rotation_{side}": 100.0,
                       f"subtalar_angle_{side}": 100.0, f"mtp_angle_{side}": 100.0})
    return forces


@dataclass(frozen=True)
class ResidualReductionConfig:
    """RRA settings; defaults are OpenSim's gait2354/gait2392 RRA example.

    Attributes
    ----------
    enabled
        Run RRA before ID and SO (off by default: it changes the kinematics the labels use).
    passes
        1, or 2: the second pass runs on the first pass's model with its recommended mass change applied.
    lowpass_cutoff_hz
        RRATool's low-pass cut-off of the desired kinematics (Hz).
    adjusted_com_body
        The body whose centre of mass RRA moves (the torso for gait models).
    task_weights, default_task_weight
        ``CMC_Joint`` tracking weight per coordinate; coordinates not listed get the default.
    task_kp, task_kv
        Position (1/s²) and velocity (1/s) feedback gains of every task (critically damped: kv = 2√kp).
    joint_optimal_forces_nm, default_joint_optimal_force_nm
        Optimal force (Nm, or N for a translation) of the ideal actuator on each non-pelvis coordinate.
    joint_max_control
        Control bound (±) of those actuators: moment up to ``max_control × optimal force``.
    residual_force_optimal_n, residual_vertical_force_optimal_n, residual_moment_optimal_nm
        Optimal forces of FX/FZ, FY (N) and MX/MY/MZ (Nm): small, so residuals are expensive.
    residual_force_max_control, residual_moment_max_control
        Control bounds (±) of the residual forces and moments.
    max_tracking_error_deg, max_tracking_error_m
        Largest position error (rotations, translations) of any task before the run counts as
        not tracking the kinematics (OpenSim best practice: < 2–5 deg, < 2 cm).
    edge_exclusion_s
        Frames this close (s) to either end of the time range are left out of the before/after
        residual peaks: ID's low-pass filter pads the adjusted coordinates at the window's ends.
    """

    enabled: bool = False
    passes: int = 2
    lowpass_cutoff_hz: float = 6.0
    adjusted_com_body: str = "torso"
    task_weights: dict[str, float] = field(default_factory=_gait2354_task_weights)
    default_task_weight: float = 20.0
    task_kp: float = 100.0
    task_kv: float = 20.0
    joint_optimal_forces_nm: dict[str, float] = field(default_factory=_gait2354_joint_optimal_forces)
    default_joint_optimal_force_nm: float = 300.0
    joint_max_control: float = 1.0
    residual_force_optimal_n: float = 4.0
    residual_vertical_force_optimal_n: float = 8.0
    residual_moment_optimal_nm: float = 2.0
    residual_force_max_control: float = 20.0
    residual_moment_max_control: float = 50.0
    max_tracking_error_deg: float = 5.0
    max_tracking_error_m: float = 0.02
    edge_exclusion_s: float = 0.05

    def __post_init__(self) -> None:
        if self.passes not in (1, 2):
            raise ValueError(f"residual_reduction.passes must be 1 or 2, got {self.passes!r}")
        if not self.lowpass_cutoff_hz > 0:
            raise ValueError(f"residual_reduction.lowpass_cutoff_hz must be > 0 Hz, got {self.lowpass_cutoff_hz!r}")


@dataclass(frozen=True)
class QCThresholds:
    """Warn/fail limits for per-trial quality control (see README, "Quality control").

    Defaults follow OpenSim's published best practice: marker errors RMS < 2 cm and max
    < 2–4 cm (IK); peak residual force < 5 % of the peak external force (Hicks et al. 2015),
    here expressed in % body weight; peak residual moments < 75 Nm; peak reserve torque < 10 %
    of the peak joint moment of that coordinate. Residual and reserve peaks ignore the first
    and last ``edge_exclusion_s`` (s), where the 6 Hz filter's padding distorts accelerations.
    """

    marker_rms_error_warn_m: float = 0.02
    marker_rms_error_fail_m: float = 0.04
    marker_max_error_warn_m: float = 0.04
    marker_max_error_fail_m: float = 0.08
    residual_force_warn_pct_bw: float = 5.0
    residual_force_fail_pct_bw: float = 10.0
    residual_moment_warn_nm: float = 75.0
    residual_moment_fail_nm: float = 150.0
    reserve_torque_warn_pct_peak_moment: float = 10.0
    reserve_torque_fail_pct_peak_moment: float = 25.0
    so_failed_frames_fail_fraction: float = 0.1
    edge_exclusion_s: float = 0.15
    so_cross_check_warn_pct_peak: float = 1.0
    rra_hip_angle_change_warn_deg: float = 2.0
    rra_hip_angle_change_fail_deg: float = 5.0


@dataclass(frozen=True)
class PipelineConfig(YamlConfig):
    """Everything the single-trial pipeline needs besides its input files.

    ``model`` is a shipped model name (``gait2392``) or a path to a ``model.yaml`` of your own.
    """

    model: str = DEFAULT_MODEL
    markers: MarkerConfig = field(default_factory=MarkerConfig)
    marker_consistency: MarkerConsistencyConfig = field(default_factory=MarkerConsistencyConfig)
    marker_registration: MarkerRegistrationConfig = field(default_factory=MarkerRegistrationConfig)
    grf: GRFConfig = field(default_factory=GRFConfig)
    foot_contact: FootContactConfig = field(default_factory=FootContactConfig)
    scale: ScaleConfig = field(default_factory=ScaleConfig)
    inverse_kinematics: IKConfig = field(default_factory=IKConfig)
    inverse_dynamics: InverseDynamicsConfig = field(default_factory=InverseDynamicsConfig)
    static_optimization: StaticOptimizationConfig = field(default_factory=StaticOptimizationConfig)
    residual_reduction: ResidualReductionConfig = field(default_factory=ResidualReductionConfig)
    qc: QCThresholds = field(default_factory=QCThresholds)
