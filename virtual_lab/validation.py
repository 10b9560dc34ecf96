"""Check a synthetic cohort against its generating truth by running the real pipeline.

For each subject: scaling must recover the generating segment scale factors (within 2 %);
for each trial: IK must recover the generating joint angles (within 2° RMS), the stance foot
must not slip (< 1 cm), the centre of pressure must stay inside the stance foot (within 1 cm),
and ID's peak pelvis residual force must stay below 5 % of body
weight and its peak residual moment below the pipeline's QC warn limit (the GRFs, centre of
pressure included, agree with the motion).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from gait2hip.core.errors import Gait2HipError
from gait2hip.core.opensim_files import read_opensim_table
from gait2hip.pipeline.cohort import discover_cohort
from gait2hip.pipeline.config import PipelineConfig
from gait2hip.pipeline.scale import scale_subject
from gait2hip.pipeline.trial import label_trial

SCALE_FACTOR_TOLERANCE = 0.02
ANGLE_RMS_TOLERANCE_DEG = 2.0
FOOT_SLIP_LIMIT_M = 0.01
# Largest distance of a foot's COP outside its outline (heel marker to toe tip, ±4 cm) in stance,
# the first and last 5 % of each stance left out (virtual_lab.balance): 1 cm, the size of a
# marker-defined outline's own uncertainty.
COP_OUTSIDE_FOOT_LIMIT_M = 0.01
RESIDUAL_FORCE_LIMIT_PCT_BW = 5.0
CHECKED_ANGLES = ("hip_flexion_r", "hip_adduction_r", "hip_rotation_r", "knee_angle_r", "ankle_angle_r",
                  "hip_flexion_l", "hip_adduction_l", "hip_rotation_l", "knee_angle_l", "ankle_angle_l")


@dataclass
class ValidationReport:
    """Per-check worst values and whether each threshold held."""

    worst_scale_factor_error: float = 0.0
    worst_angle_rms_deg: float = 0.0
    worst_foot_slip_m: float = 0.0
    worst_cop_outside_foot_m: float = 0.0
    worst_hip_reserve_pct_peak_moment: float = 0.0
    worst_residual_force_pct_bw: float = 0.0
    worst_residual_moment_nm: float = 0.0
    residual_moment_limit_nm: float = PipelineConfig().qc.residual_moment_warn_nm
    rows: list[dict] = field(default_factory=list)

    @property
    def checks(self) -> dict[str, bool]:
        return {
            "scale_factors_within_2_percent": self.worst_scale_factor_error <= SCALE_FACTOR_TOLERANCE,
            "joint_angles_within_2_deg_rms": self.worst_angle_rms_deg <= ANGLE_RMS_TOLERANCE_DEG,
            "foot_slip_below_1_cm": self.worst_foot_slip_m < FOOT_SLIP_LIMIT_M,
            "centre_of_pressure_inside_foot": self.worst_cop_outside_foot_m < COP_OUTSIDE_FOOT_LIMIT_M,
            "pelvis_residual_below_5_percent_bw": self.worst_residual_force_pct_bw < RESIDUAL_FORCE_LIMIT_PCT_BW,
            "pelvis_residual_moment_below_qc_warn": self.worst_residual_moment_nm < self.residual_moment_limit_nm,
        }

    @property
    def passed(self) -> bool:
        return all(self.checks.values())

    def to_dict(self) -> dict:
        return {"passed": self.passed, "checks": self.checks,
                "worst": {"scale_factor_relative_error": self.worst_scale_factor_error,
                          "joint_angle_rms_deg": self.worst_angle_rms_deg, "foot_slip_m": self.worst_foot_slip_m,
                          "cop_outside_foot_m": self.worst_cop_outside_foot_m,
                          "hip_reserve_pct_peak_moment": self.worst_hip_reserve_pct_peak_moment,
                          "pelvis_residual_force_pct_bw": self.worst_residual_force_pct_bw,
                          "pelvis_residual_moment_nm": self.worst_residual_moment_nm},
                "thresholds": {"scale_factor_relative_error": SCALE_FACTOR_TOLERANCE,
                               "joint_angle_rms_deg": ANGLE_RMS_TOLERANCE_DEG, "foot_slip_m": FOOT_SLIP_LIMIT_M,
                               "cop_outside_foot_m": COP_OUTSIDE_FOOT_LIMIT_M,
                               "pelvis_residual_force_pct_bw": RESIDUAL_FORCE_LIMIT_PCT_BW,
                               "pelvis_residual_moment_nm": self.residual_moment_limit_nm},
                "rows": self.rows}


def validate_cohort(cohort_dir: Path, work_dir: Path, max_subjects: int | None = None,
                    config: PipelineConfig | None = None) -> ValidationReport:
    """Run scaling and labelling on (up to ``max_subjects``) subjects and compare with the truth."""
    config = config or PipelineConfig()
    cohort = discover_cohort(cohort_dir)
    report = ValidationReport(residual_moment_limit_nm=config.qc.residual_moment_warn_nm)
    for subject in cohort.subjects[:max_subjects]:
        truth = subject.folder / "truth"
        true_scale = yaml.safe_load((truth / "scale_factors.yaml").read_text())["body_scale"]
        scaled = scale_subject(subject.info, subject.static_trc_path, work_dir / subject.info.subject_id / "scale", config)
        scale_error = max(float(np.max(np.abs(scaled.scale_factors[body] / factor - 1.0)))
                          for body, factor in true_scale.items())
        report.worst_scale_factor_error = max(report.worst_scale_factor_error, scale_error)
        for trial in subject.trials:
            row = {"trial": trial.key, "scale_factor_relative_error": scale_error}
            synthesis = yaml.safe_load((truth / f"{trial.trial_id}_synthesis.yaml").read_text())
            row["foot_slip_m"] = synthesis["foot_slip_m"]
            row["cop_outside_foot_m"] = synthesis["cop_outside_foot_m"]
            report.worst_cop_outside_foot_m = max(report.worst_cop_outside_foot_m, row["cop_outside_foot_m"])
            try:
                result = label_trial(subject.info, scaled.scaled_model_path, trial.markers_path, trial.grf_path,
                                     work_dir / trial.key, config, trial.key)
            except Gait2HipError as error:
                row["error"] = str(error)
                report.rows.append(row)
                report.worst_residual_force_pct_bw = float("inf")
                report.worst_residual_moment_nm = float("inf")
                continue
            estimated = read_opensim_table(result.ik_coordinates_path)
            generating = read_opensim_table(truth / f"{trial.trial_id}_coordinates.mot")
            row["joint_angle_rms_deg"] = max(
                float(np.sqrt(np.mean((estimated[name].to_numpy() - generating[name].to_numpy()) ** 2)))
                for name in CHECKED_ANGLES)
            row["pelvis_residual_force_pct_bw"] = result.qc["peak_pelvis_residual_force_pct_bw"]
            row["pelvis_residual_moment_nm"] = result.qc["peak_pelvis_residual_moment_nm"]
            # Reported, not checked here: the pipeline's own QC fails a trial above its limit.
            row["hip_reserve_pct_peak_moment"] = result.qc["peak_hip_reserve_pct_peak_moment"]
            report.worst_hip_reserve_pct_peak_moment = max(report.worst_hip_reserve_pct_peak_moment,
                                                           row["hip_reserve_pct_peak_moment"])
            report.worst_residual_moment_nm = max(report.worst_residual_moment_nm, row["pelvis_residual_moment_nm"])
            report.worst_angle_rms_deg = max(report.worst_angle_rms_deg, row["joint_angle_rms_deg"])
            report.worst_foot_slip_m = max(report.worst_foot_slip_m, row["foot_slip_m"])
            report.worst_residual_force_pct_bw = max(report.worst_residual_force_pct_bw,
                                                     row["pelvis_residual_force_pct_bw"])
            report.rows.append(row)
    return report
