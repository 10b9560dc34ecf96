"""``gait2hip label-trial``: one subject + one walking trial → a labels folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from gait2hip.workflows.arguments import finite_float, plain_name

if TYPE_CHECKING:
    from gait2hip.pipeline.subject import SubjectInfo

DESCRIPTION = """\
Run OpenSim scaling, inverse kinematics, inverse dynamics and static optimization on one
walking trial and write its label table (hip joint angles in degrees, hip moments in Nm/kg,
forces of every hip-crossing muscle in N/kg), QC figures and summary.json.

Outputs in OUT: scale/ (scaled model, scaling setup XML, logs), <trial-id>/ (labels.parquet,
summary.json, the setup XML of every tool, IK/ID/SO results, logs/), and summary.json.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from gait2hip.pipeline.config import DEFAULT_CONFIG_PATH  # standard library and YAML only

    parser = subparsers.add_parser(
        "label-trial", help="label one walking trial (scale → IK → ID → SO → hip labels)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    who = parser.add_argument_group("subject (give --subject, or --mass and --height)")
    who.add_argument("--subject", type=Path, metavar="SUBJECT_YAML",
                     help="subject.yaml with id, mass_kg, height_m (group, affected_side optional)")
    who.add_argument("--mass", type=finite_float, metavar="KG", help="body mass in kg")
    who.add_argument("--height", type=finite_float, metavar="M", help="standing height in m")
    who.add_argument("--subject-id", default="subject", help="subject id when --subject is not given")
    parser.add_argument("--static", type=Path, required=True, metavar="TRC",
                        help="static standing trial (TRC; mm or m as its header says), used for scaling")
    parser.add_argument("--markers", type=Path, required=True, metavar="TRC",
                        help="walking trial markers (TRC), same marker names as the model's marker set")
    parser.add_argument("--grf", type=Path, required=True, metavar="MOT",
                        help="walking trial ground reaction forces (.mot), one force set per foot")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument("--trial-id", type=plain_name, default=None,
                        help="trial id, a plain folder name under OUT (default: the markers file's stem, or "
                             "its folder's name for a cohort trial's markers.trc)")
    parser.add_argument("--time-range", type=finite_float, nargs=2, default=None, metavar=("START", "END"),
                        help="label only the frames from START to END (s, the trial's own times); "
                             "default: the whole trial")
    parser.add_argument("--config", type=Path, default=None, metavar="YAML",
                        help=f"pipeline settings (any subset of {DEFAULT_CONFIG_PATH.name}; defaults when omitted)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gait2hip.core.optional import require

    require("opensim", needed_for="gait2hip label-trial")
    import pandas as pd

    from gait2hip.core.atomic import write_json_atomically
    from gait2hip.pipeline.config import PipelineConfig
    from gait2hip.pipeline.opensim_log import keep_opensim_console_quiet
    from gait2hip.pipeline.scale import scale_subject
    from gait2hip.pipeline.status import TrialStatus
    from gait2hip.pipeline.trial import label_trial
    from gait2hip.workflows.arguments import check_input_file, check_output_folder, inside
    from gait2hip.workflows.console import format_trial_report

    keep_opensim_console_quiet()
    check_output_folder(args.out)
    config = PipelineConfig.from_yaml(args.config) if args.config else PipelineConfig()
    subject = _subject_from(args)
    check_input_file(args.static, "--static", "static trial (TRC)")
    check_input_file(args.markers, "--markers", "marker file (TRC)")
    check_input_file(args.grf, "--grf", "GRF file (.mot)")
    trial_id = args.trial_id or default_trial_id(args.markers)
    out_dir = args.out.resolve()
    inside(out_dir, trial_id, "--trial-id")
    print(f"scaling {config.model} to subject {subject.subject_id} ({subject.mass_kg:g} kg, {subject.height_m:g} m)...")
    scaled = scale_subject(subject, args.static, out_dir / "scale", config)
    print(f"  scaled in {scaled.wall_time_s:.2f} s; landmark fit RMS {scaled.marker_rms_error_m * 1000:.1f} mm, "
          f"max {scaled.marker_max_error_m * 1000:.1f} mm")
    hip_centres_path = out_dir / "scale" / "hip_joint_centres.json"
    if hip_centres_path.is_file():
        distances = json.loads(hip_centres_path.read_text())["hip_to_harrington_centre_mm"]
        print("  hip joint centres (Harrington et al. 2007): " + ", ".join(
            f"{side} {d['scaled_generic']:.0f} mm from the regression's centre scaled, {d['placed']:.0f} mm placed"
            for side, d in distances.items()))
    print(f"labelling trial {trial_id} (IK → ID → SO)...")
    result = label_trial(subject, scaled.scaled_model_path, args.markers, args.grf, out_dir / trial_id,
                         config, f"{subject.subject_id}/{trial_id}",
                         time_range_s=tuple(args.time_range) if args.time_range else None)
    print(format_trial_report(result, scaled.wall_time_s))
    if result.labels_path is not None:   # a trial past a QC fail limit keeps no label table
        with pd.option_context("display.max_columns", 8, "display.width", 120):
            print(pd.read_parquet(result.labels_path).head())
    write_json_atomically(out_dir / "summary.json", {
        "kind": "gait2hip.label-trial",
        "subject": subject.subject_id,
        "trial": trial_id,
        "status": result.status,
        "reasons": result.reasons,
        "labels": str(result.labels_path) if result.labels_path else None,
        "trial_summary": str(result.summary_path),
        "scaled_model": str(scaled.scaled_model_path),
        "scale_landmark_rms_error_m": scaled.marker_rms_error_m,
        "wall_time_s": {"scale": scaled.wall_time_s, **result.timings_s},
    })
    print(f"labels: {result.labels_path}" if result.labels_path else f"no labels: {'; '.join(result.reasons)}")
    return 0 if result.status != TrialStatus.FAILED else 1


def default_trial_id(markers: Path) -> str:
    """The trial id for ``markers`` when none is given: the file's stem, or its folder's name
    for the ``markers.trc`` of a cohort trial folder (one holding ``trial.yaml``,
    docs/cohort_layout.md), where every trial's file has the same name."""
    folder = markers.resolve().parent
    if markers.name == "markers.trc" and (folder / "trial.yaml").is_file():
        return folder.name
    return markers.stem


def _subject_from(args: argparse.Namespace) -> SubjectInfo:
    from gait2hip.core.errors import InputDataError
    from gait2hip.pipeline.subject import SubjectInfo

    if args.subject is not None:
        return SubjectInfo.from_yaml(args.subject)
    if args.mass is None or args.height is None:
        given = "--mass without --height" if args.mass is not None else (
            "--height without --mass" if args.height is not None else "no subject")
        raise InputDataError(Path("--subject"), f"{given}: give --subject SUBJECT_YAML, or both --mass (kg) and "
                                                f"--height (m)")
    try:
        return SubjectInfo(args.subject_id, args.mass, args.height)
    except ValueError as error:
        raise InputDataError(Path("--mass/--height"), str(error)) from error
