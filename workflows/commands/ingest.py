"""``gait2hip ingest c3d|corpus|trc``: lab data (C3D, or TRC + GRF .mot) → the cohort layout."""

from __future__ import annotations

import argparse
from pathlib import Path

from gait2hip.workflows.arguments import non_negative_float, plain_name, positive_float, positive_int

DESCRIPTION = """\
Convert C3D files (Vicon, Qualisys, BTS, Motion Analysis, ...) into the cohort layout:
SUBJECT_DIR/trials/<trial_id>/markers.trc, grf.mot, trial.yaml (+ ingest_summary.json), and
SUBJECT_DIR/static.trc from a static trial. Markers are renamed by a marker protocol (by
default the shipped protocol that fits each file best), rotated into OpenSim's axes (Y up,
walking along +X), plate forces are low-pass filtered, given to the foot standing on them
and merged per foot; heel strikes and toe-offs come from the plates, with a kinematic
fallback for strides off the plates. See ingest/README.md and docs/marker_protocols.md.
"""

CORPUS_DESCRIPTION = """\
Convert a whole corpus into a cohort: each folder in CORPUS_DIR is a subject (C3D files at
any depth; loose .c3d files in CORPUS_DIR form one more subject). The static trial is the
file whose name or folder contains "static" (any case), else a file in which the subject
stands still; every other file is a walking trial. A subject without a static trial, or a
trial that fails, is listed with its reason and the others go on. Writes COHORT_DIR/
cohort.yaml, one folder per subject and COHORT_DIR/summary.json. Example, straight walks
only: gait2hip ingest corpus biomechzoo/ --out cohorts/zoo --include '*/straight/*'
"""

TRC_DESCRIPTION = """\
Convert a walking trial exported as TRC (the lab's own marker names, OpenSim axes: Y up) and
a GRF .mot (OpenSim's columns: ground_force_v[xyz], ground_force_p[xyz], ground_torque_[xyz]
for the right foot, the same with 1_ for the left) into the cohort layout. The marker
protocol renames the markers; the .mot is checked and copied; gait events come from it.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ingest", help="lab data in: C3D (or TRC + .mot) → OpenSim markers, GRF, events",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    formats = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    c3d = formats.add_parser("c3d", help="C3D file or folder of C3D files → one subject folder",
                             description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    c3d.add_argument("source", type=Path, metavar="FILE_OR_DIR", help="a walking-trial .c3d, or a folder of .c3d files")
    c3d.add_argument("--out", type=Path, required=True, metavar="SUBJECT_DIR", help="the subject's folder to write")
    c3d.add_argument("--static", type=Path, default=None, metavar="FILE",
                     help="static standing .c3d → SUBJECT_DIR/static.trc (in a folder, a file named *static* is used)")
    _add_c3d_options(c3d)
    _add_subject_options(c3d)
    c3d.set_defaults(func=run)

    corpus = formats.add_parser("corpus", help="folder of subject folders of C3D files → a whole cohort",
                                description=CORPUS_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    corpus.add_argument("source", type=Path, metavar="CORPUS_DIR", help="folder of subject folders (or of .c3d files)")
    corpus.add_argument("--out", type=Path, required=True, metavar="COHORT_DIR", help="the cohort folder to write")
    corpus.add_argument("--include", nargs="+", action="extend", default=[], metavar="GLOB",
                        help="keep only the walking trials whose path relative to CORPUS_DIR matches one of these "
                             "('*' spans folders: '*/straight/*'); static trials are always looked for")
    corpus.add_argument("--exclude", nargs="+", action="extend", default=[], metavar="GLOB",
                        help="leave out every file (static or walking) whose relative path matches one of these")
    corpus.add_argument("--subjects", type=Path, default=None, metavar="CSV",
                        help="subject table id,mass_kg,height_m[,group,affected_side]; wins over the C3D's "
                             "PROCESSING:Bodymass / Height")
    corpus.add_argument("--name", default=None, help="cohort name in cohort.yaml (default: COHORT_DIR's name)")
    corpus.add_argument("--description", default=None, help="description in cohort.yaml")
    _add_c3d_options(corpus)
    corpus.set_defaults(func=run_corpus)

    trc = formats.add_parser("trc", help="TRC (lab marker names) + GRF .mot → one trial of a subject folder",
                             description=TRC_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    trc.add_argument("source", type=Path, metavar="MARKERS.trc", help="walking-trial markers, OpenSim axes (Y up)")
    trc.add_argument("--grf", type=Path, required=True, metavar="GRF.mot", help="the trial's ground reactions")
    trc.add_argument("--out", type=Path, required=True, metavar="SUBJECT_DIR", help="the subject's folder to write")
    trc.add_argument("--static", type=Path, default=None, metavar="STATIC.trc", help="static trial → static.trc")
    trc.add_argument("--trial-id", type=plain_name, default=None, help="trial folder name (default: from the file name)")
    _add_protocol_option(trc)
    trc.add_argument("--threshold-n", type=positive_float, default=None, metavar="N",
                     help="vertical load under which a foot is unloaded, for gait events (default 20 N)")
    trc.add_argument("--config", type=Path, default=None, metavar="YAML",
                     help="ingest settings (any IngestConfig field; command-line options override it)")
    trc.add_argument("--cadence-condition", default="self_selected", help="condition tag stored in trial.yaml")
    trc.add_argument("--overwrite", action="store_true", help="replace the trial (and static.trc) if they exist")
    _add_subject_options(trc, from_file=False)
    trc.set_defaults(func=run_trc)


def _add_protocol_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--protocol", default=None, metavar="auto|NAME|YAML",
                        help="marker protocol: auto (default: the shipped protocol that fits each file best), a "
                             "shipped name (plug_in_gait, helen_hayes, qualisys_sports, auc, fmc, mh, qcmas, "
                             "opensim_treadmill) or your own protocol YAML (docs/marker_protocols.md)")


def _add_c3d_options(parser: argparse.ArgumentParser) -> None:
    _add_protocol_option(parser)
    parser.add_argument("--vertical-axis", default=None, metavar="AXIS",
                        help="lab axis pointing up: x, y, z, -x, -y, -z or auto (default: detected from the plate load)")
    parser.add_argument("--forward-axis", default=None, metavar="AXIS",
                        help="lab axis that becomes OpenSim +X (default: the walking direction)")
    parser.add_argument("--lowpass-hz", type=non_negative_float, default=None, metavar="HZ",
                        help="plate low-pass cut-off in Hz, 0 for none (default 50)")
    parser.add_argument("--threshold-n", type=positive_float, default=None, metavar="N",
                        help="vertical load under which a plate/foot is unloaded (default 20 N)")
    parser.add_argument("--ignore-plates", type=positive_int, nargs="+", default=None, metavar="N",
                        help="1-based plate numbers to leave out")
    parser.add_argument("--config", type=Path, default=None, metavar="YAML",
                        help="ingest settings (any IngestConfig field; command-line options override it)")
    parser.add_argument("--cadence-condition", default="self_selected",
                        help="condition tag stored in trial.yaml (e.g. cadence_090)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace trials, static.trc (c3d) or subject folders (corpus) that already exist")


def _add_subject_options(parser: argparse.ArgumentParser, from_file: bool = True) -> None:
    default = " (default: the C3D's PROCESSING:{})" if from_file else ""
    parser.add_argument("--mass", type=positive_float, default=None, metavar="KG",
                        help="body mass in kg" + default.format("Bodymass"))
    parser.add_argument("--height", type=positive_float, default=None, metavar="M",
                        help="standing height in m" + default.format("Height"))
    parser.add_argument("--subject-id", type=plain_name, default=None,
                        help="subject id for subject.yaml (default: SUBJECT_DIR's name)")


def _config(args: argparse.Namespace):
    from gait2hip.ingest.config import IngestConfig

    base = IngestConfig.from_yaml(args.config).to_dict() if args.config else {}
    overrides = {"protocol": args.protocol, "load_threshold_n": args.threshold_n,
                 **{key: getattr(args, attribute, None) for key, attribute in (
                     ("vertical_axis", "vertical_axis"), ("forward_axis", "forward_axis"),
                     ("lowpass_cutoff_hz", "lowpass_hz"), ("ignore_plates", "ignore_plates"))}}
    config = IngestConfig.from_dict(base | {key: value for key, value in overrides.items() if value is not None})
    if config.protocol != "auto":
        from gait2hip.ingest.protocols import load_protocol

        load_protocol(config.protocol)  # a misspelt name is a usage error before any file is read
    return config


def _check_subject(args: argparse.Namespace) -> None:
    from gait2hip.core.errors import InputDataError
    from gait2hip.pipeline.subject import SubjectInfo

    if args.mass is not None and args.height is not None:
        try:  # checked before converting anything; one flag alone is checked with the file's other value
            SubjectInfo(args.subject_id or args.out.name, args.mass, args.height)
        except ValueError as error:
            raise InputDataError(Path("--mass/--height"), str(error)) from error


def _require_readers() -> None:
    from gait2hip.core.optional import require

    require("ezc3d", needed_for="gait2hip ingest")
    require("opensim", needed_for="gait2hip ingest")


def run(args: argparse.Namespace) -> int:
    _require_readers()
    # Imported here: building the parser for another command must not load ezc3d/OpenSim.
    from gait2hip.core.errors import InputDataError
    from gait2hip.ingest.batch import ingest_c3d
    from gait2hip.workflows.arguments import check_output_folder

    check_output_folder(args.out)
    if not args.source.exists():
        raise InputDataError(args.source, "FILE_OR_DIR: no such C3D file or folder")
    if args.static is not None and not args.static.is_file():
        raise InputDataError(args.static, "--static: " + ("is a folder, not a C3D file" if args.static.is_dir()
                                                          else "static C3D file not found"))
    config = _config(args)
    _check_subject(args)
    report = ingest_c3d(args.source, args.out, config=config, static=args.static,
                        cadence_condition=args.cadence_condition, overwrite=args.overwrite, mass_kg=args.mass,
                        height_m=args.height, subject_id=args.subject_id)
    for conversion in report.converted:
        print(_conversion_line(conversion))
    for path, message in report.failed:
        print(f"FAILED  {path.name}: {message}")
    print(f"{len(report.converted)} converted, {len(report.failed)} failed → {report.subject_dir}")
    return 1 if report.failed else 0


def run_corpus(args: argparse.Namespace) -> int:
    _require_readers()
    from gait2hip.ingest.corpus import ingest_corpus
    from gait2hip.ingest.subject_table import read_subject_table
    from gait2hip.workflows.arguments import check_input_file, check_input_folder, check_output_folder

    check_input_folder(args.source, "CORPUS_DIR", "corpus folder")
    check_output_folder(args.out)
    config = _config(args)
    subjects = read_subject_table(check_input_file(args.subjects, "--subjects", "CSV file")) if args.subjects else None
    report = ingest_corpus(args.source, args.out, config=config, include=tuple(args.include),
                           exclude=tuple(args.exclude), overwrite=args.overwrite,
                           cadence_condition=args.cadence_condition, subjects=subjects, cohort_name=args.name,
                           description=args.description, progress=lambda line: print(line, flush=True))
    written = report.written
    trials = sum(f.role == "walking" and f.status.value == "ok" for s in report.subjects for f in s.files)
    print(f"{len(written)} of {len(report.subjects)} subject(s) written, {trials} walking trial(s) → {args.out} "
          f"(summary: {report.summary_path})")
    return 0 if report.complete else 1


def run_trc(args: argparse.Namespace) -> int:
    _require_readers()
    from gait2hip.core.errors import ConfigError
    from gait2hip.ingest.trc_input import ingest_trc
    from gait2hip.workflows.arguments import check_input_file, check_output_folder

    check_input_file(args.source, "MARKERS.trc", "TRC file")
    check_input_file(args.grf, "--grf", "GRF .mot file")
    if args.static is not None:
        check_input_file(args.static, "--static", "static TRC file")
    check_output_folder(args.out)
    if (args.mass is None) != (args.height is None):
        raise ConfigError("--mass and --height go together (a TRC carries neither)")
    config = _config(args)
    _check_subject(args)
    converted = ingest_trc(args.source, args.grf, args.out, static=args.static, config=config,
                           trial_id=args.trial_id, cadence_condition=args.cadence_condition, overwrite=args.overwrite,
                           mass_kg=args.mass, height_m=args.height, subject_id=args.subject_id)
    for conversion in converted:
        print(_conversion_line(conversion))
    return 0


def _conversion_line(conversion) -> str:
    protocol = conversion.protocol.describe() if conversion.protocol is not None else "?"
    if conversion.kind == "static":
        return f"static  {conversion.source_path.name} → {conversion.paths['static']} (protocol {protocol})"
    events = conversion.events
    cadence = "n/a" if events.cadence_steps_per_min is None else f"{events.cadence_steps_per_min:.1f}"
    plates = ", ".join(f"{c.plate_number}→{c.side}" for c in conversion.contacts)
    return (f"trial   {conversion.source_path.name} → {conversion.paths['trial'].parent} "
            f"({conversion.duration_s:.2f} s; protocol {protocol}; " + (f"plates {plates}; " if plates else "")
            + f"heel strikes r {len(events.heel_strike_s['r'])}, l {len(events.heel_strike_s['l'])}; "
            f"cadence {cadence} steps/min)")
