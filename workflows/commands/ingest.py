"""``gait2hip ingest c3d``: lab C3D files (markers + force plates) → a subject folder in the cohort layout."""

from __future__ import annotations

import argparse
from pathlib import Path

from gait2hip.workflows.arguments import non_negative_float, plain_name, positive_float, positive_int

DESCRIPTION = """\
Convert C3D files (Vicon, Qualisys, BTS, Motion Analysis, ...) into the cohort layout:
SUBJECT_DIR/trials/<trial_id>/markers.trc, grf.mot, trial.yaml (+ ingest_summary.json), and
SUBJECT_DIR/static.trc from a static trial. Markers are renamed by a marker protocol, rotated
into OpenSim's axes (Y up, walking along +X), plate forces are low-pass filtered, given to the
foot standing on them and merged per foot; heel strikes and toe-offs come from the plates,
with a kinematic fallback for strides off the plates. See ingest/README.md.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ingest", help="lab data in: C3D → OpenSim markers, GRF and gait events",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    formats = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    c3d = formats.add_parser("c3d", help="C3D file or folder of C3D files → one subject folder",
                             description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    c3d.add_argument("source", type=Path, metavar="FILE_OR_DIR", help="a walking-trial .c3d, or a folder of .c3d files")
    c3d.add_argument("--out", type=Path, required=True, metavar="SUBJECT_DIR", help="the subject's folder to write")
    c3d.add_argument("--protocol", default=None, metavar="NAME_OR_YAML",
                     help="marker protocol: plug_in_gait (default), helen_hayes, qualisys_sports, or a YAML file")
    c3d.add_argument("--static", type=Path, default=None, metavar="FILE",
                     help="static standing .c3d → SUBJECT_DIR/static.trc (in a folder, a file named *static* is used)")
    c3d.add_argument("--vertical-axis", default=None, metavar="AXIS",
                     help="lab axis pointing up: x, y, z, -x, -y, -z or auto (default: detected from the plate load)")
    c3d.add_argument("--forward-axis", default=None, metavar="AXIS",
                     help="lab axis that becomes OpenSim +X (default: the walking direction)")
    c3d.add_argument("--lowpass-hz", type=non_negative_float, default=None, metavar="HZ",
                     help="plate low-pass cut-off in Hz, 0 for none (default 50)")
    c3d.add_argument("--threshold-n", type=positive_float, default=None, metavar="N",
                     help="vertical load under which a plate/foot is unloaded (default 20 N)")
    c3d.add_argument("--ignore-plates", type=positive_int, nargs="+", default=None, metavar="N",
                     help="1-based plate numbers to leave out")
    c3d.add_argument("--config", type=Path, default=None, metavar="YAML",
                     help="ingest settings (any IngestConfig field; command-line options override it)")
    c3d.add_argument("--cadence-condition", default="self_selected",
                     help="condition tag stored in trial.yaml (e.g. cadence_090)")
    c3d.add_argument("--mass", type=positive_float, default=None, metavar="KG", help="body mass in kg (default: the C3D's PROCESSING:Bodymass)")
    c3d.add_argument("--height", type=positive_float, default=None, metavar="M", help="standing height in m (default: the C3D's PROCESSING:Height)")
    c3d.add_argument("--subject-id", type=plain_name, default=None, help="subject id for subject.yaml (default: SUBJECT_DIR's name)")
    c3d.add_argument("--overwrite", action="store_true", help="replace trials (and static.trc) that already exist")
    c3d.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gait2hip.core.optional import require

    require("ezc3d", needed_for="gait2hip ingest")
    require("opensim", needed_for="gait2hip ingest")
    # Imported here: building the parser for another command must not load ezc3d/OpenSim.
    from gait2hip.ingest.batch import ingest_c3d
    from gait2hip.ingest.config import IngestConfig
    from gait2hip.core.errors import InputDataError
    from gait2hip.pipeline.subject import SubjectInfo
    from gait2hip.workflows.arguments import check_output_folder

    check_output_folder(args.out)
    if not args.source.exists():
        raise InputDataError(args.source, "FILE_OR_DIR: no such C3D file or folder")
    if args.static is not None and not args.static.is_file():
        raise InputDataError(args.static, "--static: " + ("is a folder, not a C3D file" if args.static.is_dir()
                                                          else "static C3D file not found"))
    base = IngestConfig.from_yaml(args.config).to_dict() if args.config else {}
    overrides = {"protocol": args.protocol, "vertical_axis": args.vertical_axis, "forward_axis": args.forward_axis,
                 "lowpass_cutoff_hz": args.lowpass_hz, "load_threshold_n": args.threshold_n,
                 "ignore_plates": args.ignore_plates}
    config = IngestConfig.from_dict(base | {key: value for key, value in overrides.items() if value is not None})
    if args.mass is not None and args.height is not None:
        try:  # checked before converting anything; one flag alone is checked with the file's other value
            SubjectInfo(args.subject_id or args.out.name, args.mass, args.height)
        except ValueError as error:
            raise InputDataError(Path("--mass/--height"), str(error)) from error
    report = ingest_c3d(args.source, args.out, config=config, static=args.static,
                        cadence_condition=args.cadence_condition, overwrite=args.overwrite, mass_kg=args.mass,
                        height_m=args.height, subject_id=args.subject_id)
    for conversion in report.converted:
        if conversion.kind == "static":
            print(f"static  {conversion.source_path.name} → {conversion.paths['static']}")
            continue
        events = conversion.events
        cadence = "n/a" if events.cadence_steps_per_min is None else f"{events.cadence_steps_per_min:.1f}"
        plates = ", ".join(f"{c.plate_number}→{c.side}" for c in conversion.contacts)
        print(f"trial   {conversion.source_path.name} → {conversion.paths['trial'].parent} "
              f"({conversion.duration_s:.2f} s; plates {plates}; heel strikes r {len(events.heel_strike_s['r'])}, "
              f"l {len(events.heel_strike_s['l'])}; cadence {cadence} steps/min)")
    for path, message in report.failed:
        print(f"FAILED  {path.name}: {message}")
    print(f"{len(report.converted)} converted, {len(report.failed)} failed → {report.subject_dir}")
    return 1 if report.failed else 0
