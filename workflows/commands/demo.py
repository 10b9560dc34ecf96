"""``gait2hip demo``: one short SYNTHETIC walking trial from the model itself, labelled end to end."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from gait2hip.workflows.arguments import seed

DESCRIPTION = """\
Build one short walking trial from the gait2392 model itself (the virtual gait lab: a
subject-scaled model walks a normative template at 110 steps/min; markers by OpenSim forward
kinematics, GRFs from the whole-body dynamics; SYNTHETIC data), then label it with the real
pipeline (scale, IK, ID, SO) and print the per-stage wall times, the QC and the first rows of
the label table. Writes OUT/cohort (the synthetic inputs) and OUT/labels.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="synthesize one walking trial and label it end to end",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), metavar="DIR", help="output folder")
    parser.add_argument("--seed", type=seed, default=2026, help="random seed of the synthetic subject")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gait2hip.core.optional import require

    require("opensim", needed_for="gait2hip demo")
    from gait2hip.pipeline.opensim_log import keep_opensim_console_quiet
    import pandas as pd

    from gait2hip.core.atomic import write_json_atomically
    from gait2hip.pipeline.cohort import discover_cohort
    from gait2hip.pipeline.config import PipelineConfig
    from gait2hip.pipeline.scale import scale_subject
    from gait2hip.pipeline.status import TrialStatus
    from gait2hip.pipeline.trial import label_trial
    from gait2hip.virtual_lab.cohort import synthesize_cohort
    from gait2hip.virtual_lab.presets import CohortPreset, GroupSpec
    from gait2hip.workflows.console import format_trial_report

    from gait2hip.workflows.arguments import check_output_folder

    keep_opensim_console_quiet()
    out = check_output_folder(args.out).resolve()
    preset = dataclasses.replace(CohortPreset.load("demo"), name="demo-one-trial", seed=args.seed,
                                 groups=(GroupSpec("healthy", 1, (110.0,), 1),))
    print("1/2 synthesizing one walking trial from gait2392 (SYNTHETIC data: virtual gait lab) ...")
    synthesize_cohort(preset, out / "cohort")
    subject = discover_cohort(out / "cohort").subjects[0]
    trial = subject.trials[0]
    print(f"    subject {subject.info.subject_id}: {subject.info.mass_kg:g} kg, {subject.info.height_m:g} m; "
          f"trial {trial.trial_id} at {trial.cadence_steps_per_min:g} steps/min")
    print("2/2 labelling with OpenSim: scale → IK → ID → SO ...")
    config = PipelineConfig()
    scaled = scale_subject(subject.info, subject.static_trc_path, out / "labels" / subject.info.subject_id / "scale", config)
    result = label_trial(subject.info, scaled.scaled_model_path, trial.markers_path, trial.grf_path,
                         out / "labels" / trial.key, config, trial.key)
    print(format_trial_report(result, scaled.wall_time_s))
    if result.labels_path is None:   # past a QC fail limit: no label table to show
        write_json_atomically(out / "summary.json", {
            "kind": "gait2hip.demo", "synthetic": True, "trial": trial.key, "status": result.status,
            "reasons": result.reasons, "qc": result.qc, "labels": None})
        print(f"no labels: {'; '.join(result.reasons)}")
        return 1
    table = pd.read_parquet(result.labels_path)
    columns = ["time", "hip_flexion_r", "knee_angle_r", "hip_flexion_r_moment", "hip_adduction_r_moment",
               "glut_med1_r_force", "glut_max1_r_force", "iliacus_r_force"]
    print("first rows of the label table (angles deg, moments Nm/kg, forces N/kg):")
    with pd.option_context("display.width", 140, "display.precision", 3):
        print(table[columns].head(8).to_string(index=False))
    print(f"{len(table)} frames × {table.shape[1]} columns: {result.labels_path}")
    write_json_atomically(out / "summary.json", {
        "kind": "gait2hip.demo", "synthetic": True, "trial": trial.key, "status": result.status,
        "reasons": result.reasons, "qc": result.qc, "wall_time_s": {"scale": scaled.wall_time_s, **result.timings_s},
        "labels": str(result.labels_path), "n_frames": len(table), "n_columns": table.shape[1]})
    return 0 if result.status != TrialStatus.FAILED else 1
