"""Choose shared training options on the validation loss, never on the test subjects.

Trains the transformer of ``surrogate/configs/transformer.yaml`` with one option changed at a
time on a labelled dataset and prints each variant's best validation loss (MSE on standardised
targets, validation subjects only). The options it compares are budget and data choices that
apply to every model alike (batch size, left-cycle mirroring, learning-rate schedule), plus a
few transformer sizes for reference. Test metrics are deliberately not computed here.

    .venv/bin/python benchmarks/select_training_options.py runs/gait2hip24/labels/dataset \
        --split 0.67 0.16 0.17 --out runs/select_training_options
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from pipeline.atomic import write_json_atomically
from surrogate.config import TrainingConfig
from surrogate.train import train_from_config

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
    args = parser.parse_args()
    base = TrainingConfig.from_yaml(args.config)
    rows = []
    print(f"{'variant':<42} {'validation loss':>15} {'best epoch':>10} {'epochs':>7} {'train cycles':>12} {'s':>6}")
    for index, (name, changes) in enumerate(VARIANTS.items()):
        started = time.perf_counter()
        result = train_from_config(variant_config(base, changes, tuple(args.split)), args.dataset,
                                   args.out / f"variant_{index:02d}")
        summary = json.loads((result.run_dir / "summary.json").read_text())
        row = {"variant": name, "changes": changes, "best_validation_loss": result.best_validation_loss,
               "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
               "n_train_segments": summary["n_train_segments"], "seconds": time.perf_counter() - started}
        rows.append(row)
        print(f"{name:<42} {row['best_validation_loss']:>15.4f} {row['best_epoch']:>10d} {row['epochs_run']:>7d} "
              f"{row['n_train_segments']:>12d} {row['seconds']:>6.0f}", flush=True)
    write_json_atomically(args.out / "summary.json", {
        "kind": "gait2hip.select_training_options", "dataset": str(args.dataset), "base_config": str(args.config),
        "split_fractions": list(args.split), "variants": rows})


if __name__ == "__main__":
    main()
