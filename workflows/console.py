"""Console output helpers shared by the commands: stage timings and QC, in plain text."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the pipeline imports OpenSim; formatting a result needs only its fields
    from gait2hip.pipeline.trial import TrialResult


def format_trial_report(result: TrialResult, scale_wall_time_s: float | None = None) -> str:
    """Return a short multi-line report of one labelled trial (status, QC, stage times)."""
    lines = [f"trial {result.trial_id}: status {result.status.upper()}, {result.n_frames} frames"]
    lines += [f"  - {reason}" for reason in result.reasons]
    times = dict(result.timings_s)
    if scale_wall_time_s is not None:
        times = {"scale": scale_wall_time_s, **times}
    lines.append("  wall time per stage: " + ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in times.items()))
    if result.qc:
        qc = result.qc
        lines.append(
            f"  QC: IK marker RMS {qc['ik_marker_rms_error_m'] * 1000:.1f} mm (max {qc['ik_marker_max_error_m'] * 1000:.1f} mm); "
            f"peak pelvis residual {qc['peak_pelvis_residual_force_pct_bw']:.1f} % BW, "
            f"{qc['peak_pelvis_residual_moment_nm']:.1f} Nm; peak reserve {qc['peak_reserve_torque_nm']:.2f} Nm; "
            f"SO failed frames {int(qc['so_failed_frames'])}"
        )
        if "rra_peak_pelvis_residual_force_pct_bw" in qc:
            lines.append(f"  RRA check: residual {qc['rra_peak_pelvis_residual_force_pct_bw']:.1f} % BW, hip angles moved "
                         f"{qc['rra_hip_angle_change_rms_deg']:.2f} deg RMS, hip moments "
                         f"{qc['rra_hip_moment_change_rms_nm_per_kg']:.3f} Nm/kg RMS")
    if result.contact is not None:
        n_frames = len(result.contact.times_s)
        legs = ", ".join(f"{side} {int(leg.valid.sum())}" for side, leg in result.contact.legs.items())
        lines.append(f"  valid frames (of {n_frames}): {legs}; residuals judged on "
                     f"{int(result.contact.residual_frames.sum())} (every loaded foot on a plate)")
    return "\n".join(lines)
