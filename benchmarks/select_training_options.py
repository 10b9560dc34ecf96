"""Choose shared training options on the validation loss, never on the test subjects.

Trains the transformer of ``surrogate/configs/transformer.yaml`` with one option changed at a
time on a labelled dataset and prints each variant's best validation loss (MSE on standardised
targets, validation subjects only). The options it compares are budget and data choices that
apply to every model alike (batch size, left-cycle mirroring, learning-rate schedule), plus a
few transformer sizes for reference. Test metrics are deliberately not computed here.

    .venv/bin/python benchmarks/select_training_options.py runs/gait2hip24/labels/dataset \
        --split 0.67 0.16 0.17 --out runs/select_training_options [--variants "batch 8"]

With ``--variants`` only the variants whose names start with those prefixes are trained; their
rows are added to (or replace theirs in) the ``summary.json`` an earlier run of the same dataset,
base config (its values) and split left in ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from gait2hip.core.atomic import write_json_atomically
from gait2hip.surrogate.config import TrainingConfig
from gait2hip.surrogate.dataset import load_dataset
from gait2hip.surrogate.evaluate import split_r2
from gait2hip.surrogate.train import train_from_config

VARIANTS: dict[str, dict] = {
    "batch 16, no mirroring": {"batch_size": 16, "mirror_left_cycles": False},
    "batch 16": {"batch_size": 16},
    "batch 8": {"batch_size": 8},
    "batch 4": {"batch_size": 4},
    "batch 8, lr halved on 5-epoch plateau": {"batch_size": 8, "lr_reduce_patience": 5},
    "batch 8, learning rate 1e-3, patience 40": {"batch_size": 8, "learning_rate": 1e-3, "patience": 40,
                                                 "max_epochs": 300},
    "batch 16, 3 layers": {"batch_size": 16, "model_config": {"n_layers": 3}},
    "batch 16, d_model 128": {"batch_size": 16, "model_config": {"d_model": 128, "feedforward": 256}},
    "batch 16, dropout 0": {"batch_size": 16, "model_config": {"dropout": 0.0}},
    "batch 16, dropout 0.2": {"batch_size": 16, "model_config": {"dropout": 0.2}},
    "batch 8, 3 layers": {"batch_size": 8, "model_config": {"n_layers": 3}},
    "batch 8, 4 layers": {"batch_size": 8, "model_config": {"n_layers": 4}},
    "batch 8, d_model 128": {"batch_size": 8, "model_config": {"d_model": 128, "feedforward": 256}},
    "batch 8, dropout 0.2": {"batch_size": 8, "model_config": {"dropout": 0.2}},
    "batch 8, weight decay 0.01": {"batch_size": 8, "weight_decay": 1e-2},
    "batch 8, patience 40, 300 epochs": {"batch_size": 8, "patience": 40, "max_epochs": 300},
    "batch 8, 4 layers, patience 40, 300 epochs": {"batch_size": 8, "patience": 40, "max_epochs": 300,
                                                   "model_config": {"n_layers": 4}},
}


def variant_config(base: TrainingConfig, changes: dict, split: tuple[float, float, float]) -> TrainingConfig:
    """``base`` with ``changes`` applied (``model_config`` entries merged, not replaced)."""
    changes = dict(changes)
    model_config = {**base.model_config, **changes.pop("model_config", {})}
    return dataclasses.replace(base, model_config=model_config, split_fractions=split, **changes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="label dataset folder (LABELS/dataset)")
    parser.add_argument("--config", type=Path, default=Path("surrogate/configs/transformer.yaml"))
    parser.add_argument("--split", type=float, nargs=3, default=(0.67, 0.16, 0.17), metavar=("TRAIN", "VAL", "TEST"))
    parser.add_argument("--out", type=Path, default=Path("runs/select_training_options"))
    parser.add_argument("--variants", nargs="+", metavar="PREFIX",
                        help="only the variants whose names start with one of these (default: all)")
    args = parser.parse_args()
    base = TrainingConfig.from_yaml(args.config)
    table = load_dataset(args.dataset)
    rows = []
    print(f"{'variant':<42} {'validation loss':>15} {'val R² forces':>13} {'val R² moments':>14} "
          f"{'best epoch':>10} {'epochs':>7} {'train cycles':>12} {'s':>6}")
    for index, (name, changes) in enumerate(VARIANTS.items()):
        if args.variants and not any(name.startswith(prefix) for prefix in args.variants):
            continue
        started = time.perf_counter()
        result = train_from_config(variant_config(base, changes, tuple(args.split)), args.dataset,
                                   args.out / f"variant_{index:02d}")
        summary = json.loads((result.run_dir / "summary.json").read_text())
        row = {"variant": name, "changes": changes, "best_validation_loss": result.best_validation_loss,
               "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
               "n_train_segments": summary["n_train_segments"], "seconds": time.perf_counter() - started,
               "validation_r2": split_r2(result.best_checkpoint, table, "validation")}
        rows.append(row)
        r2 = row["validation_r2"]
        print(f"{name:<42} {row['best_validation_loss']:>15.4f} {r2.get('forces', float('nan')):>13.3f} "
              f"{r2.get('moments', float('nan')):>14.3f} {row['best_epoch']:>10d} {row['epochs_run']:>7d} "
              f"{row['n_train_segments']:>12d} {row['seconds']:>6.0f}", flush=True)
    # The base config's values, not only its path: a variant's row means nothing against another base.
    settings = {"kind": "gait2hip.select_training_options", "dataset": str(args.dataset),
                "base_config": str(args.config), "base": base.to_dict(), "split_fractions": list(args.split)}
    write_json_atomically(args.out / "summary.json", {**settings, "variants": merged_rows(args.out / "summary.json",
                                                                                        settings, rows)})


def merged_rows(summary_path: Path, settings: dict, rows: list[dict]) -> list[dict]:
    """``rows`` added to the variants an earlier run of the same settings recorded (a variant run again replaces its row)."""
    earlier = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    kept = earlier.get("variants", []) if all(earlier.get(key) == value for key, value in settings.items()) else []
    names = {row["variant"] for row in rows}
    order = list(VARIANTS)
    merged = [row for row in kept if row["variant"] not in names] + rows
    return sorted(merged, key=lambda row: order.index(row["variant"]) if row["variant"] in order else len(order))


if __name__ == "__main__":
    main()
