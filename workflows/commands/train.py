"""``gait2hip train``: train one surrogate (LSTM, Transformer or Mamba) on a label dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from gait2hip.workflows.arguments import positive_int, seed

DESCRIPTION = """\
Train a surrogate from a YAML config (surrogate/configs/lstm.yaml, transformer.yaml,
mamba.yaml) on the label dataset written by `gait2hip label` (LABELS_DIR/dataset).
Subject-level split, standardisation fitted on the training subjects, gait cycles of 101
points, AdamW with early stopping on validation loss. Writes best.pt, last.pt (resumable with
--resume), history.json and summary.json to OUT.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a surrogate model on labels", description=DESCRIPTION,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True, metavar="YAML", help="training config")
    parser.add_argument("--data", type=Path, required=True, metavar="DATASET_DIR", help="label dataset folder")
    parser.add_argument("--out", type=Path, required=True, metavar="RUN_DIR", help="run folder")
    parser.add_argument("--seed", type=seed, default=None, help="override the config's seed")
    parser.add_argument("--epochs", type=positive_int, default=None, help="override max_epochs")
    parser.add_argument("--resume", action="store_true", help="continue from RUN_DIR/last.pt")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gait2hip.core.errors import ConfigError
    from gait2hip.surrogate.config import TrainingConfig
    from gait2hip.surrogate.train import LAST, train_from_config
    from gait2hip.workflows.arguments import check_input_folder, check_output_folder, replaced

    check_output_folder(args.out)
    check_input_folder(args.data, "--data", "label dataset folder")
    config = TrainingConfig.from_yaml(args.config)
    changes = {key: value for key, value in (("seed", args.seed), ("max_epochs", args.epochs)) if value is not None}
    config = replaced(config, "--seed/--epochs", **changes)
    if args.resume and not (args.out / LAST).is_file():
        raise ConfigError(f"--resume: {args.out / LAST} not found; nothing to resume (leave --resume out to train "
                          "from the start)")
    _check_groups(args.data, config.groups, args.config)
    print(f"training {config.model} on {args.data} (seed {config.seed}, up to {config.max_epochs} epochs) ...")
    result = train_from_config(config, args.data, args.out, resume=args.resume, show_progress=True)
    print(f"best epoch {result.best_epoch} of {result.epochs_run}: validation loss {result.best_validation_loss:.4f} "
          f"(standardised MSE); {result.seconds_per_epoch:.2f} s/epoch; checkpoint {result.best_checkpoint}")
    return 0


def _check_groups(dataset: Path, groups: tuple[str, ...], config_path: Path) -> None:
    """Refuse training groups the dataset does not hold (a misspelled group would train on nothing)."""
    from gait2hip.core.errors import ConfigError
    from gait2hip.surrogate.dataset import load_dataset

    table = load_dataset(dataset)
    if "group" not in table.columns:
        return
    present = sorted(table["group"].unique())
    unknown = [group for group in groups if group not in present]
    if unknown:
        raise ConfigError(f"{config_path}: groups {unknown} not in the dataset {dataset} (its groups: "
                          f"{', '.join(present)})")
