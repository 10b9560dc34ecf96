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
class GRFConfig:
    """Ground reaction force columns and the foot-contact threshold (N, vertical force)."""

    force_sets: tuple[ForceSetConfig, ...] = field(default_factory=_default_force_sets)
    contact_threshold_n: float = 20.0

    def __post_init__(self) -> None:
        sides = [fs.side for fs in self.force_sets]
        if sorted(sides) != ["l", "r"]:
            raise ValueError(f"force_sets must hold exactly one 'r' and one 'l' entry, got sides {sides}")


@dataclass(frozen=True)
class ScaleConfig:
    """ScaleTool settings. ``static_time_range_s`` None uses the whole static trial."""

    preserve_mass_distribution: bool = True
    static_time_range_s: tuple[float, float] | None = None


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
    solver: str = "opensim"
    cross_check_frames: int = 3

    def __post_init__(self) -> None:
        if self.solver not in SO_SOLVERS:
            raise ValueError(f"static_optimization.solver must be one of {list(SO_SOLVERS)}, got {self.solver!r}")
        if self.cross_check_frames < 0:
            raise ValueError(f"static_optimization.cross_check_frames must be 0 or more, got {self.cross_check_frames}")


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


@dataclass(frozen=True)
class PipelineConfig(YamlConfig):
    """Everything the single-trial pipeline needs besides its input files.

    ``model`` is a shipped model name (``gait2392``) or a path to a ``model.yaml`` of your own.
    """

    model: str = "gait2392"
    markers: MarkerConfig = field(default_factory=MarkerConfig)
    grf: GRFConfig = field(default_factory=GRFConfig)
    scale: ScaleConfig = field(default_factory=ScaleConfig)
    inverse_kinematics: IKConfig = field(default_factory=IKConfig)
    inverse_dynamics: InverseDynamicsConfig = field(default_factory=InverseDynamicsConfig)
    static_optimization: StaticOptimizationConfig = field(default_factory=StaticOptimizationConfig)
    qc: QCThresholds = field(default_factory=QCThresholds)
