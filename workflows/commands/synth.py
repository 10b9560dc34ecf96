"""``gait2hip synth``: write a SYNTHETIC cohort from the virtual gait lab."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gait2hip.workflows.arguments import cadences, positive_int, seed

DESCRIPTION = """\
Write a synthetic cohort in the lab layout (docs/cohort_layout.md): subject-scaled gait2392
models walk a normative gait template at metronome cadences; markers (TRC, mm, 100 Hz) come
from OpenSim forward kinematics with measurement noise, GRFs (.mot) from the whole-body
dynamics of the motion. The data are synthetic: see virtual_lab/README.md for what they can
and cannot stand in for. Same options and seed, byte-identical files.

--validate then runs the real pipeline on the cohort and checks it against the generating
truth (scale factors within 2 %, joint angles within 2 deg RMS, foot slip < 1 cm, centre of
pressure inside the stance foot (within 1 cm), peak pelvis
residual force < 5 % BW, residual moment below the QC warn limit), writes validation.json and exits 1 when a threshold is missed.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("synth", help="write a synthetic cohort (virtual gait lab)",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="cohort folder to write")
    parser.add_argument("--preset", default="demo", help="preset name in workflows/presets (demo, gait2hip60) or a YAML path")
    parser.add_argument("--group", choices=("healthy", "antalgic-hip"), default=None,
                        help="write only this group of the preset")
    parser.add_argument("--subjects", type=positive_int, default=None, help="subjects per group (overrides the preset)")
    parser.add_argument("--cadences", type=cadences, default=None, metavar="90,110,130",
                        help="metronome cadences in steps/min for the healthy group")
    parser.add_argument("--trials", type=positive_int, default=None, help="trials per cadence")
    parser.add_argument("--seed", type=seed, default=None, help="random seed (overrides the preset)")
    parser.add_argument("--validate", action="store_true", help="run the pipeline and check against the truth")
    parser.add_argument("--validate-subjects", type=positive_int, default=2, help="subjects checked by --validate (default 2)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gait2hip.core.optional import require

    require("opensim", needed_for="gait2hip synth")
    from gait2hip.pipeline.opensim_log import keep_opensim_console_quiet

    from gait2hip.core.atomic import write_json_atomically
    from gait2hip.virtual_lab.cohort import synthesize_cohort
    from gait2hip.virtual_lab.presets import CohortPreset
    from gait2hip.virtual_lab.validation import validate_cohort

    from gait2hip.workflows.arguments import check_output_folder

    keep_opensim_console_quiet()
    check_output_folder(args.out)
    preset = _apply_overrides(CohortPreset.load(args.preset), args)
    print(f"synthesizing cohort {preset.name!r} (SYNTHETIC data, seed {preset.seed}) into {args.out} ...")
    summary = synthesize_cohort(preset, args.out, progress=lambda message: print(f"  {message}"))
    slips = [trial.foot_slip_m for trial in summary.trials.values()]
    print(f"{len(summary.subjects)} subjects, {len(summary.trials)} trials; stance-foot slip median "
          f"{1000 * sorted(slips)[len(slips) // 2]:.0f} mm, max {1000 * max(slips):.0f} mm")
    content = {"kind": "gait2hip.synth", "preset": preset.to_dict(), "subjects": len(summary.subjects),
               "trials": len(summary.trials), "foot_slip_max_m": max(slips)}
    code = 0
    if args.validate:
        print(f"validating {args.validate_subjects} subject(s) with the pipeline ...")
        report = validate_cohort(args.out, args.out / "_validation", max_subjects=args.validate_subjects)
        write_json_atomically(args.out / "validation.json", report.to_dict())
        for name, held in report.checks.items():
            print(f"  {'PASS' if held else 'FAIL'} {name}")
        print(f"  worst: {json.dumps(report.to_dict()['worst'])}")
        content["validation"] = report.to_dict()["checks"]
        code = 0 if report.passed else 1
    write_json_atomically(args.out / "summary.json", content)
    return code


def _apply_overrides(preset, args):
    """The preset with the command line's group, counts, cadences and seed; a value that cannot apply is an error."""
    from gait2hip.core.errors import ConfigError
    from gait2hip.workflows.arguments import replaced

    groups = preset.groups
    if args.group:
        groups = tuple(g for g in groups if g.group == args.group)
        if not groups:
            raise ConfigError(f"--group {args.group}: preset {preset.name!r} has no such group "
                              f"(it has {', '.join(g.group for g in preset.groups)})")
    if args.cadences and not any(group.group == "healthy" for group in groups):
        raise ConfigError("--cadences sets the healthy group's cadences, and no healthy group is written "
                          f"(groups: {', '.join(g.group for g in groups)})")
    replaced_groups = []
    for group in groups:
        changes = {}
        if args.subjects is not None:
            changes["subjects"] = args.subjects
        if args.trials is not None:
            changes["trials_per_cadence"] = args.trials
        if args.cadences and group.group == "healthy":
            changes["cadences_steps_per_min"] = tuple(args.cadences)
        replaced_groups.append(replaced(group, f"group {group.group}", **changes))
    changes = {"groups": tuple(replaced_groups)}
    if args.seed is not None:
        changes["seed"] = args.seed
    return replaced(preset, f"preset {preset.name!r}", **changes)
