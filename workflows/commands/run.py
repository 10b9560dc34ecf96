"""``gait2hip run WORKFLOW.yaml``: the whole study end to end, with a report."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Run a workflow file (workflows/demo.yaml, workflows/gait2hip60.yaml): synthesize the cohort
(or use a lab cohort folder, or ingest a C3D corpus: workflows/real_biomechzoo.yaml with
--corpus DIR), label it with OpenSim (scale → IK → ID → SO, parallel,
resumable), train every surrogate (LSTM, Transformer, Mamba) under one protocol, evaluate
them on held-out healthy subjects and zero-shot on the external group, time OpenSim against
the surrogates on the same trials, and write OUT/report.md, OUT/report.html and
OUT/summary.json. A workflow with train.enabled: false (measured data) stops after labelling
with a QC report: one row per trial. Finished steps are reused on a re-run (--force redoes them).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run a workflow end to end (synth → label → train → evaluate → timing)",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workflow", type=Path, metavar="WORKFLOW_YAML", help="workflow file")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR", help="override the workflow's output folder")
    parser.add_argument("--corpus", type=Path, default=None, metavar="DIR",
                        help="the C3D corpus to ingest (a folder of subject folders); sets cohort.corpus")
    parser.add_argument("--force", action="store_true", help="redo the cohort and the training even if up to date")
    parser.add_argument("--update-readme", type=Path, default=None, metavar="README",
                        help="regenerate the run's results: a compact table between README's gait2hip "
                             "markers, the full report in docs/results/NAME.md next to it")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gait2hip.core.optional import require

    require("opensim", needed_for="gait2hip run")
    from gait2hip.pipeline.opensim_log import keep_opensim_console_quiet

    from gait2hip.workflows.report import update_readme
    from gait2hip.workflows.run_workflow import run_workflow
    from gait2hip.workflows.workflow_config import WorkflowConfig

    from gait2hip.core.errors import InputDataError
    from gait2hip.workflows.arguments import check_output_folder, replaced

    keep_opensim_console_quiet()
    if args.out is not None:
        check_output_folder(args.out)
    if args.update_readme is not None and not args.update_readme.is_file():
        raise InputDataError(args.update_readme, "--update-readme: " + (
            "is a folder, not a README file" if args.update_readme.is_dir() else "README file not found"))
    config = WorkflowConfig.from_yaml(args.workflow)
    if args.out is not None:
        config = replaced(config, "--out", out=str(args.out))
    command = f"gait2hip run {args.workflow}"
    if args.corpus is not None:
        config = replaced(config, "--corpus", cohort=replaced(config.cohort, "--corpus", corpus=str(args.corpus),
                                                              folder=None, source="corpus"))
        command += f" --corpus {args.corpus}"
    summary = run_workflow(config, force=args.force, command=command)
    print((Path(summary["out"]) / "report.md").read_text().split("## Runtime")[0][-4000:])
    if args.update_readme:
        page = update_readme(args.update_readme, Path(summary["out"]), command)
        print(f"updated the results table of {args.update_readme} and the full report {page}")
    return 0
