"""``gait2hip sim2real CONFIG.yaml``: surrogates on real subjects, trained on virtual, real and both."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Measure how the surrogates do on REAL subjects, for every model of CONFIG (workflows/sim2real.yaml),
side by side: (a) trained on the virtual (synthetic) cohort's label dataset and scored zero-shot on
every real subject; (b) trained on real subjects only, K folds over the subjects (`folds: 4`, or
`loso`: one per subject), each fold held out once; (c) the (a) model fine-tuned on the same real
training subjects as (b), scored on the same held-out fold. R² and RMSE per subject over the frames
with known labels, then mean ± SD over subjects; and the generalisation gap (virtual test R² minus
zero-shot real R²). Writes OUT/summary.json and OUT/report.md. Runs already trained with the same
settings and data are reused on a re-run (--force retrains them).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sim2real", help="sim-to-real protocol: virtual, real-only and fine-tuned models "
                                                    "scored on real subjects", description=DESCRIPTION,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path, metavar="CONFIG_YAML", help="sim2real protocol file")
    parser.add_argument("--virtual", type=Path, default=None, metavar="DATASET_DIR",
                        help="the virtual cohort's label dataset (overrides virtual_dataset)")
    parser.add_argument("--real", type=Path, default=None, metavar="DATASET_DIR",
                        help="the real subjects' label dataset (overrides real_dataset)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR", help="output folder (overrides out)")
    parser.add_argument("--virtual-checkpoints", type=Path, default=None, metavar="DIR",
                        help="a finished `gait2hip run`'s models folder: DIR/<model>/best.pt are (a), not retrained "
                             "(overrides virtual_models_dir)")
    parser.add_argument("--force", action="store_true", help="retrain every run even when up to date")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gait2hip.workflows.arguments import check_output_folder, replaced
    from gait2hip.workflows.sim2real import Sim2RealConfig, run_sim2real

    if args.out is not None:
        check_output_folder(args.out)
    config = Sim2RealConfig.from_yaml(args.config)
    overrides = {key: str(value) for key, value in (("virtual_dataset", args.virtual), ("real_dataset", args.real),
                                                    ("out", args.out),
                                                    ("virtual_models_dir", args.virtual_checkpoints))
                 if value is not None}
    config = replaced(config, "--virtual/--real/--out/--virtual-checkpoints", **overrides)
    summary = run_sim2real(config, force=args.force)
    print((Path(config.out) / "report.md").read_text().split("## Folds")[0])
    return 0 if summary else 1
