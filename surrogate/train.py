"""Train one surrogate from a config: seeded, AdamW, early stopping, best/last checkpoints.

Training leaves the caller's torch as it found it: the global random state (seeded inside for
weight initialisation and dropout), the deterministic-algorithms switch and the thread count
are set for the run only and restored when it returns (:func:`torch_settings_for`). A config
with ``init_checkpoint`` fine-tunes that checkpoint (:mod:`gait2hip.surrogate.fine_tune`).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from gait2hip.core.atomic import write_atomically, write_json_atomically
from gait2hip.core.errors import CheckpointError, InputDataError
from gait2hip.surrogate.augmentation import MIRRORED_TRIAL_SUFFIX, mirror_sides
from gait2hip.surrogate.body_size import in_learned_units, trial_heights_m
from gait2hip.surrogate.checkpoint import Checkpoint, FineTuneOrigin, TrainingState, read_checkpoint, save_checkpoint
from gait2hip.surrogate.config import TrainingConfig
from gait2hip.surrogate.cross_validation import check_split
from gait2hip.surrogate.dataset import INPUT_UNIT, TARGET_UNITS, Channels, find_channels, load_dataset
from gait2hip.surrogate.fine_tune import StartingPoint, checkpoint_channels, read_starting_point
from gait2hip.surrogate.losses import masked_mse_loss
from gait2hip.surrogate.models.registry import build_model
from gait2hip.surrogate.preprocessing import Standardizer
from gait2hip.surrogate.segmentation import Segments, ValidityCounts, segment_table
from gait2hip.surrogate.split import SubjectSplit, split_subjects
from gait2hip.surrogate.torch_settings import torch_settings_for

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


@dataclass(frozen=True)
class TrainingData:
    """The standardised training and validation segments, and what produced them.

    ``train_inputs`` ``(n_train, time, n_inputs)`` and ``train_targets`` ``(n_train, time,
    n_targets)`` are float32 on the config's device, standardised by the scalers (fitted on
    the known points of the training segments); likewise the validation tensors.
    ``train_known`` / ``validation_known`` are bool tensors of the targets' shape, True where
    the target is known (unknown targets hold 0 and never reach the loss), or None when every
    point is known; ``train_validity`` / ``validation_validity`` count them.
    """

    channels: Channels
    split: SubjectSplit
    input_scaler: Standardizer
    target_scaler: Standardizer
    train_inputs: torch.Tensor
    train_targets: torch.Tensor
    validation_inputs: torch.Tensor
    validation_targets: torch.Tensor
    train_validity: ValidityCounts
    validation_validity: ValidityCounts
    train_known: torch.Tensor | None = None
    validation_known: torch.Tensor | None = None


@dataclass
class Progress:
    """Where a run stands: epochs done (``history``), the best so far, the next epoch to run."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_validation_loss: float = math.inf
    next_epoch: int = 0


@dataclass(frozen=True)
class _Run:
    """What every epoch of one run uses: its settings, data, network and optimisation."""

    config: TrainingConfig
    data: TrainingData
    dataset: str
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau | None
    generator: torch.Generator
    origin: FineTuneOrigin | None = None


def train_from_config(config: TrainingConfig, dataset_dir: Path, out_dir: Path, resume: bool = False,
                      train_subjects: Sequence[str] | None = None, show_progress: bool = False,
                      split: SubjectSplit | None = None) -> TrainResult:
    """Train ``config.model`` on the dataset; write checkpoints, history and ``summary.json``.

    With ``resume`` an interrupted run continues from ``out_dir/last.pt`` (model, optimizer,
    learning-rate rule, data order and dropout random states): the same checkpoints as one
    uninterrupted run (tested); a run that had already stopped early stays stopped.
    ``train_subjects`` keeps only these of the split's training subjects (learning curves:
    ``benchmarks/learning_curve.py``); validation and test subjects stay those of the split.
    ``show_progress`` draws a progress bar over the epochs on stderr (validation loss, best
    epoch), for commands a user watches; it draws no random numbers, so results are the same.
    ``split`` trains on these subjects, validates and tests on those, instead of the seeded
    split by ``config.split_fractions`` (cross-validation folds).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = read_starting_point(config) if config.init_checkpoint else None
    with torch_settings_for(config):
        data = prepare_data(config, dataset_dir, train_subjects, split, start)
        run = _start_run(config, data, str(Path(dataset_dir).resolve()), start)
        resuming = resume and (out_dir / LAST).is_file()
        progress = (resume_progress(run, out_dir / LAST) if resuming
                    else Progress() if start is None else _starting_weights_as_best(run, out_dir))
        epoch_times = _run_epochs(run, progress, out_dir, show_progress)
    result = TrainResult(out_dir, out_dir / BEST, out_dir / LAST, progress.best_epoch, progress.best_validation_loss,
                         len(progress.history), float(np.median(epoch_times)) if epoch_times else 0.0)
    _write_summary(result, run, progress.history)
    return result


def prepare_data(config: TrainingConfig, dataset_dir: Path, train_subjects: Sequence[str] | None = None,
                 split: SubjectSplit | None = None, start: StartingPoint | None = None) -> TrainingData:
    """Read the dataset, split its subjects, cut segments and standardise them on the training part.

    ``split`` given: those subjects (all in the dataset's ``config.groups``). ``start`` given
    (a fine-tune): the checkpoint's channels, in its order, and its scalers, not refitted.
    """
    table = load_dataset(dataset_dir)
    if "group" in table.columns:
        table = table[table["group"].isin(config.groups)]
    channels = find_channels(table, tuple(config.targets))
    if start is not None:
        channels = checkpoint_channels(start, channels, Path(dataset_dir))
    split = split_subjects(table, tuple(config.split_fractions), config.seed) if split is None else \
        check_split(split, table, Path(dataset_dir), config.groups)
    if train_subjects is not None:
        split = _narrowed(split, train_subjects)
    if config.mirror_left_cycles:
        # Segmented in the same call as the rest, so every sample gets the same length rule.
        mirrored = mirror_sides(table[table["subject"].isin(split.train)])
        table = pd.concat([table, mirrored.assign(trial=mirrored["trial"] + MIRRORED_TRIAL_SUFFIX)],
                          ignore_index=True)
    if config.moment_scaling != "mass":
        trial_heights_m(table, dataset_dir)      # every trial has one plausible height, or a clear error
    segments = segment_table(table, list(channels.inputs), channels.target_names, config.segmentation)
    names, scaling = channels.target_names, config.moment_scaling
    train = in_learned_units(segments.select(np.isin(segments.subject, split.train)), names, scaling)
    validation = in_learned_units(segments.select(np.isin(segments.subject, split.validation)), names, scaling)
    for part, name in ((train, "training"), (validation, "validation")):
        if not part.target_known.any():
            raise InputDataError(dataset_dir, f"the {name} subjects have no segment with a known target point (labels "
                                              f"unknown on every frame, or all dropped by invalid_frames: "
                                              f"{config.segmentation.invalid_frames}); label more of their trials or "
                                              f"change the split")
    input_scaler, target_scaler = (
        (Standardizer.fit(train.inputs), Standardizer.fit(train.targets, train.target_known)) if start is None
        else (start.checkpoint.input_scaler, start.checkpoint.target_scaler))

    def standardised(values: np.ndarray, scaler: Standardizer) -> torch.Tensor:
        return torch.tensor(scaler.transform(values), dtype=torch.float32, device=config.device)

    train_known, validation_known = _known(train, config.device), _known(validation, config.device)
    return TrainingData(channels, split, input_scaler, target_scaler,
                        standardised(train.inputs, input_scaler),
                        _zero_unknown(standardised(train.targets, target_scaler), train_known),
                        standardised(validation.inputs, input_scaler),
                        _zero_unknown(standardised(validation.targets, target_scaler), validation_known),
                        train.validity(), validation.validity(), train_known, validation_known)


def _known(segments: Segments, device: str) -> torch.Tensor | None:
    """The segments' target mask on ``device``; None when every point is known (the loss then is plain MSE)."""
    return None if segments.target_known.all() else torch.tensor(segments.target_known, device=device)


def _zero_unknown(targets: torch.Tensor, known: torch.Tensor | None) -> torch.Tensor:
    """Unknown targets (NaN) set to 0, so no tensor the optimisation touches holds a NaN."""
    return targets if known is None else torch.where(known, targets, torch.zeros_like(targets))


def _narrowed(split: SubjectSplit, train_subjects: Sequence[str]) -> SubjectSplit:
    unknown = sorted(set(train_subjects) - set(split.train))
    if unknown or not train_subjects:
        raise ValueError(f"train_subjects must be a non-empty subset of the split's training subjects "
                         f"{list(split.train)}; got {list(train_subjects)}")
    return SubjectSplit(tuple(sorted(train_subjects)), split.validation, split.test)


def _start_run(config: TrainingConfig, data: TrainingData, dataset: str, start: StartingPoint | None = None) -> _Run:
    """A freshly initialised network (drawing on the seeded global generator) or ``start``'s weights,
    its optimizer and data order."""
    model = build_model(config.model, config.model_config, data.train_inputs.shape[-1],
                        data.train_targets.shape[-1])
    if start is not None:
        # Initialised as from scratch first, so the generator's later draws are those of any run of this seed.
        model.load_state_dict(start.checkpoint.model_state)
    model = model.to(config.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    # Halve the learning rate when validation stalls (0 keeps it constant): a plain, seed-free rule.
    scheduler = (torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=config.lr_reduce_patience)
                 if config.lr_reduce_patience > 0 else None)
    return _Run(config, data, dataset, model, optimizer, scheduler, torch.Generator().manual_seed(config.seed),
                None if start is None else start.origin)


def _starting_weights_as_best(run: _Run, out_dir: Path) -> Progress:
    """A fine-tune's epoch -1: the starting weights, saved as ``best.pt`` and ``last.pt``, are the best so far
    (a fine-tune on a few subjects never ends worse on its validation subjects than where it started)."""
    progress = Progress(best_epoch=-1, best_validation_loss=evaluate_validation_loss(run))
    checkpoint = _checkpoint(run, progress, -1)
    save_checkpoint(checkpoint.without_training_state(), out_dir / BEST)
    save_checkpoint(checkpoint, out_dir / LAST)
    return progress


def resume_progress(run: _Run, last: Path) -> Progress:
    """Load ``last.pt``'s weights and training state into ``run``; return where it stood."""
    checkpoint = read_checkpoint(last)
    state = checkpoint.training_state
    if state is None:
        raise CheckpointError(last, "holds no training state to resume from (a best.pt copied over last.pt?)")
    try:
        run.model.load_state_dict(checkpoint.model_state)
        run.optimizer.load_state_dict(state.optimizer_state)
        if run.scheduler is not None and state.scheduler_state is not None:
            run.scheduler.load_state_dict(state.scheduler_state)
        run.generator.set_state(state.data_order_rng_state)
        torch.set_rng_state(state.torch_rng_state)
    except (RuntimeError, ValueError, KeyError) as error:
        raise CheckpointError(last, f"does not fit this training configuration ({error}); train again without "
                                    "resuming, or into another folder") from error
    progress = Progress(list(state.history), state.best_epoch, state.best_validation_loss, checkpoint.epoch + 1)
    if _patience_ran_out(checkpoint.epoch, progress.best_epoch, run.config.patience):
        progress.next_epoch = run.config.max_epochs   # it had stopped early
    return progress


def _run_epochs(run: _Run, progress: Progress, out_dir: Path, show_progress: bool) -> list[float]:
    """Run epochs from ``progress.next_epoch`` until ``max_epochs`` or early stopping; return their seconds."""
    config = run.config
    epoch_times = []
    bar = tqdm(total=config.max_epochs, initial=min(progress.next_epoch, config.max_epochs),
               desc=f"training {config.model}", unit="epoch", disable=not show_progress, dynamic_ncols=True)
    for epoch in range(progress.next_epoch, config.max_epochs):
        started = time.perf_counter()
        learning_rate = run.optimizer.param_groups[0]["lr"]   # this epoch's, before the plateau rule
        train_loss = train_one_epoch(run)
        validation_loss = evaluate_validation_loss(run)
        if not (math.isfinite(train_loss) and math.isfinite(validation_loss)):
            bar.close()
            _raise_non_finite_loss(run, progress, epoch, out_dir, train_loss, validation_loss)
        if run.scheduler is not None:
            run.scheduler.step(validation_loss)
        epoch_times.append(time.perf_counter() - started)
        progress.history.append({"epoch": epoch, "train_loss": train_loss, "validation_loss": validation_loss,
                                 "learning_rate": learning_rate})
        stop = record_epoch(run, progress, epoch, out_dir)
        _log.debug("epoch %d: train %.4f, validation %.4f", epoch, train_loss, validation_loss)
        bar.set_postfix_str(f"validation loss {validation_loss:.4f}, best {progress.best_validation_loss:.4f} "
                            f"at epoch {progress.best_epoch}", refresh=False)
        bar.update(1)
        if stop:
            if show_progress:
                bar.write(f"      {config.model}: stopped early at epoch {epoch}, {config.patience} epochs "
                          f"without a better validation loss")
            break
    bar.close()
    return epoch_times


def _raise_non_finite_loss(run: _Run, progress: Progress, epoch: int, out_dir: Path, train_loss: float,
                           validation_loss: float) -> None:
    """Stop a run whose loss is NaN or infinite: no checkpoint of it is written, the error says why."""
    kept = (f"{out_dir / BEST} of epoch {progress.best_epoch} (the last finite one) is kept"
            if progress.best_epoch >= 0 and (out_dir / BEST).is_file() else f"no {BEST} was written")
    raise InputDataError(run.dataset, f"training loss {train_loss:g}, validation loss {validation_loss:g} at epoch "
                                      f"{epoch}: a non-finite loss (NaN or infinite) means the dataset's labels or "
                                      f"angles hold NaN/infinite values, or the learning rate "
                                      f"({run.config.learning_rate:g}) is too high; {kept}")


def train_one_epoch(run: _Run) -> float:
    """One pass over the training segments in the generator's order; the mean training loss (MSE).

    The loss is over known target points only (:func:`masked_mse_loss`); the epoch's mean weighs
    each batch by its segments when every point is known, else by its known points. A batch
    without a known point is skipped: an AdamW step on a zero gradient would still move the
    weights (momentum, weight decay).
    """
    data = run.data
    run.model.train()
    order = torch.randperm(len(data.train_inputs), generator=run.generator)
    total, weight = 0.0, 0
    for batch in order.split(run.config.batch_size):
        known = None if data.train_known is None else data.train_known[batch]
        if known is not None and not bool(known.any()):
            continue
        run.optimizer.zero_grad()
        loss = masked_mse_loss(run.model(data.train_inputs[batch]), data.train_targets[batch], known)
        loss.backward()
        run.optimizer.step()
        batch_weight = len(batch) if known is None else int(known.sum())
        total += float(loss.detach()) * batch_weight
        weight += batch_weight
    return total / weight


def evaluate_validation_loss(run: _Run) -> float:
    """MSE of the standardised validation targets over their known points, dropout off."""
    run.model.eval()
    with torch.no_grad():
        return float(masked_mse_loss(run.model(run.data.validation_inputs), run.data.validation_targets,
                                     run.data.validation_known))


def record_epoch(run: _Run, progress: Progress, epoch: int, out_dir: Path) -> bool:
    """Update the best epoch, write ``best.pt`` (when better) and ``last.pt``; True when patience ran out."""
    validation_loss = progress.history[-1]["validation_loss"]
    improved = validation_loss < progress.best_validation_loss
    if improved:
        progress.best_epoch, progress.best_validation_loss = epoch, validation_loss
    checkpoint = _checkpoint(run, progress, epoch)
    if improved:
        save_checkpoint(checkpoint.without_training_state(), out_dir / BEST)
    save_checkpoint(checkpoint, out_dir / LAST)
    return _patience_ran_out(epoch, progress.best_epoch, run.config.patience)


def _checkpoint(run: _Run, progress: Progress, epoch: int) -> Checkpoint:
    data = run.data
    state = TrainingState(
        optimizer_state=run.optimizer.state_dict(),
        scheduler_state=run.scheduler.state_dict() if run.scheduler is not None else None,
        data_order_rng_state=run.generator.get_state(), torch_rng_state=torch.get_rng_state(),
        history=progress.history, best_epoch=progress.best_epoch, best_validation_loss=progress.best_validation_loss)
    return Checkpoint(
        training_config=run.config, input_names=data.channels.inputs,
        input_units=tuple(INPUT_UNIT for _ in data.channels.inputs),
        target_groups=dict(data.channels.targets),
        target_units=tuple(TARGET_UNITS[data.channels.group_of(name)] for name in data.channels.target_names),
        input_scaler=data.input_scaler, target_scaler=data.target_scaler, split=data.split, dataset=run.dataset,
        epoch=epoch, model_state=run.model.state_dict(), training_state=state, fine_tuned_from=run.origin)


def _patience_ran_out(epoch: int, best_epoch: int, patience: int) -> bool:
    """Early stopping: ``patience`` epochs since the best validation loss, ending at ``epoch``."""
    return epoch - best_epoch >= patience


def _write_summary(result: TrainResult, run: _Run, history: list[dict[str, float]]) -> None:
    config, data = run.config, run.data
    write_json_atomically(result.run_dir / "summary.json", {
        "kind": "gait2hip.train", "model": config.model, "best_epoch": result.best_epoch,
        "best_validation_loss": result.best_validation_loss, "epochs_run": result.epochs_run,
        "seconds_per_epoch_median": result.seconds_per_epoch, "n_train_segments": len(data.train_inputs),
        "n_parameters": sum(p.numel() for p in run.model.parameters()),
        "n_validation_segments": len(data.validation_inputs), "split": data.split.to_dict(),
        "config": config.to_dict(), **({} if run.origin is None else {"fine_tuned_from": run.origin.to_dict()}),
        "label_validity": {"train": data.train_validity.to_json(), "validation": data.validation_validity.to_json()}})
    write_atomically(result.run_dir / "history.json", lambda p: p.write_text(json.dumps(history, indent=1)))
