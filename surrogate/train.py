"""Train one surrogate from a config: seeded, AdamW, early stopping, best/last checkpoints."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from gait2hip.core.atomic import write_atomically, write_json_atomically
from gait2hip.surrogate.augmentation import MIRRORED_TRIAL_SUFFIX, mirror_sides
from gait2hip.surrogate.config import TrainingConfig
from gait2hip.surrogate.dataset import find_channels, load_dataset
from gait2hip.surrogate.models.registry import build_model
from gait2hip.surrogate.preprocessing import Standardizer
from gait2hip.surrogate.segmentation import segment_table
from gait2hip.surrogate.split import SubjectSplit, split_subjects

_log = logging.getLogger(__name__)
BEST, LAST = "best.pt", "last.pt"


@dataclass(frozen=True)
class TrainResult:
    """Where the checkpoints are, and how training went."""

    run_dir: Path
    best_checkpoint: Path
    last_checkpoint: Path
    best_epoch: int
    best_validation_loss: float
    epochs_run: int
    seconds_per_epoch: float


def train_from_config(config: TrainingConfig, dataset_dir: Path, out_dir: Path, resume: bool = False,
                      train_subjects: Sequence[str] | None = None, show_progress: bool = False) -> TrainResult:
    """Train ``config.model`` on the dataset; write checkpoints, history and ``summary.json``.

    With ``resume`` an interrupted run continues from ``out_dir/last.pt`` (model, optimizer,
    learning-rate rule, data order and dropout random states): the same checkpoints as one
    uninterrupted run (tested); a run that had already stopped early stays stopped.
    ``train_subjects`` keeps only these of the split's training subjects (learning curves:
    ``benchmarks/learning_curve.py``); validation and test subjects stay those of the split.
    ``show_progress`` draws a progress bar over the epochs on stderr (validation loss, best
    epoch), for commands a user watches; it draws no random numbers, so results are the same.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(config.num_threads)
    table = load_dataset(dataset_dir)
    if "group" in table.columns:
        table = table[table["group"].isin(config.groups)]
    channels = find_channels(table, tuple(config.targets))
    split = split_subjects(table, tuple(config.split_fractions), config.seed)
    if train_subjects is not None:
        unknown = sorted(set(train_subjects) - set(split.train))
        if unknown or not train_subjects:
            raise ValueError(f"train_subjects must be a non-empty subset of the split's training subjects "
                             f"{list(split.train)}; got {list(train_subjects)}")
        split = SubjectSplit(tuple(sorted(train_subjects)), split.validation, split.test)
    if config.mirror_left_cycles:
        # Segmented in the same call as the rest, so every sample gets the same length rule.
        mirrored = mirror_sides(table[table["subject"].isin(split.train)])
        table = pd.concat([table, mirrored.assign(trial=mirrored["trial"] + MIRRORED_TRIAL_SUFFIX)],
                          ignore_index=True)
    segments = segment_table(table, list(channels.inputs), channels.target_names, config.segmentation)
    train = segments.select(np.isin(segments.subject, split.train))
    validation = segments.select(np.isin(segments.subject, split.validation))
    input_scaler, target_scaler = Standardizer.fit(train.inputs), Standardizer.fit(train.targets)

    def tensors(part):
        return (torch.tensor(input_scaler.transform(part.inputs), dtype=torch.float32),
                torch.tensor(target_scaler.transform(part.targets), dtype=torch.float32))

    train_x, train_y = tensors(train)
    validation_x, validation_y = tensors(validation)
    model = build_model(config.model, config.model_config, train_x.shape[-1], train_y.shape[-1])
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    # Halve the learning rate when validation stalls (0 keeps it constant): a plain, seed-free rule.
    scheduler = (torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=config.lr_reduce_patience)
                 if config.lr_reduce_patience > 0 else None)
    generator = torch.Generator().manual_seed(config.seed)
    meta = {"model": config.model, "model_config": config.model_config, "training_config": config.to_dict(),
            "input_names": list(channels.inputs), "target_names": channels.target_names,
            "target_groups": {g: list(n) for g, n in channels.targets.items()},
            "input_scaler": input_scaler.to_dict(), "target_scaler": target_scaler.to_dict(),
            "split": split.to_dict(), "dataset": str(Path(dataset_dir).resolve())}
    history, start_epoch, best = [], 0, {"loss": float("inf"), "epoch": -1}
    if resume and (out_dir / LAST).is_file():
        state = torch.load(out_dir / LAST, weights_only=False)
        model.load_state_dict(state["model_state"])
        optimizer.load_state_dict(state["optimizer_state"])
        if scheduler is not None and state.get("scheduler_state") is not None:
            scheduler.load_state_dict(state["scheduler_state"])
        generator.set_state(state["generator_state"])
        if "torch_rng_state" in state:   # checkpoints written before 2026-11-30 lack it (dropout then differs)
            torch.set_rng_state(state["torch_rng_state"])
        history, start_epoch, best = state["history"], state["epoch"] + 1, state["best"]
        if _patience_ran_out(state["epoch"], best, config.patience):
            start_epoch = config.max_epochs   # it had stopped early
    epoch_times = []
    bar = tqdm(total=config.max_epochs, initial=min(start_epoch, config.max_epochs), desc=f"training {config.model}",
               unit="epoch", disable=not show_progress, dynamic_ncols=True)
    for epoch in range(start_epoch, config.max_epochs):
        started = time.perf_counter()
        learning_rate = optimizer.param_groups[0]["lr"]   # this epoch's, before the plateau rule
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        train_loss = 0.0
        for batch in order.split(config.batch_size):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(train_x[batch]), train_y[batch])
            loss.backward()
            optimizer.step()
            train_loss += float(loss.detach()) * len(batch)
        model.eval()
        with torch.no_grad():
            validation_loss = float(torch.nn.functional.mse_loss(model(validation_x), validation_y))
        if scheduler is not None:
            scheduler.step(validation_loss)
        epoch_times.append(time.perf_counter() - started)
        history.append({"epoch": epoch, "train_loss": train_loss / len(train_x), "validation_loss": validation_loss,
                        "learning_rate": learning_rate})
        checkpoint = {**meta, "model_state": model.state_dict(), "optimizer_state": optimizer.state_dict(),
                      "generator_state": generator.get_state(), "torch_rng_state": torch.get_rng_state(),
                      "epoch": epoch, "history": history,
                      "scheduler_state": scheduler.state_dict() if scheduler is not None else None}
        if validation_loss < best["loss"]:
            best = {"loss": validation_loss, "epoch": epoch}
            _save(out_dir / BEST, {**checkpoint, "best": best})
        _save(out_dir / LAST, {**checkpoint, "best": best})
        _log.debug("epoch %d: train %.4f, validation %.4f", epoch, history[-1]["train_loss"], validation_loss)
        bar.set_postfix_str(f"validation loss {validation_loss:.4f}, best {best['loss']:.4f} at epoch {best['epoch']}",
                            refresh=False)
        bar.update(1)
        if _patience_ran_out(epoch, best, config.patience):
            if show_progress:
                bar.write(f"      {config.model}: stopped early at epoch {epoch}, {config.patience} epochs "
                          f"without a better validation loss")
            break
    bar.close()
    result = TrainResult(out_dir, out_dir / BEST, out_dir / LAST, best["epoch"], best["loss"], len(history),
                         float(np.median(epoch_times)) if epoch_times else 0.0)
    write_json_atomically(out_dir / "summary.json", {
        "kind": "gait2hip.train", "model": config.model, "best_epoch": result.best_epoch,
        "best_validation_loss": result.best_validation_loss, "epochs_run": result.epochs_run,
        "seconds_per_epoch_median": result.seconds_per_epoch, "n_train_segments": len(train_x),
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "n_validation_segments": len(validation_x), "split": split.to_dict(), "config": config.to_dict()})
    write_atomically(out_dir / "history.json", lambda p: p.write_text(json.dumps(history, indent=1)))
    return result


def load_checkpoint(path: Path) -> tuple[torch.nn.Module, dict]:
    """The model (eval mode) and the checkpoint's metadata."""
    state = torch.load(path, weights_only=False, map_location="cpu")
    model = build_model(state["model"], state["model_config"], len(state["input_names"]), len(state["target_names"]))
    model.load_state_dict(state["model_state"])
    return model.eval(), state


def _patience_ran_out(epoch: int, best: dict, patience: int) -> bool:
    """Early stopping: ``patience`` epochs since the best validation loss, ending at ``epoch``."""
    return epoch - best["epoch"] >= patience


def _save(path: Path, content: dict) -> None:
    write_atomically(path, lambda temporary: torch.save(content, temporary))
