"""``gait2hip convert-checkpoint``: an older-format checkpoint rewritten once in the current, safe format."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Rewrite OLD, a checkpoint written by an older gait2hip (one pickled dict, unversioned), as NEW
in the current format: tensors and plain values with versioned metadata, which every gait2hip
command reads without unpickling anything. OLD is read the safe way too (tensors, plain values
and the numpy strings older checkpoints hold): a file holding any other Python object is
refused, since loading it would run its code.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("convert-checkpoint", help="convert an older-format checkpoint (once)",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path, metavar="OLD", help="older-format checkpoint (best.pt or last.pt)")
    parser.add_argument("new", type=Path, metavar="NEW", help="where to write the converted checkpoint")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import pickle

    from gait2hip.core.errors import CheckpointError
    from gait2hip.surrogate.checkpoint import FORMAT, load_checkpoint, save_checkpoint
    from gait2hip.surrogate.legacy_checkpoint import checkpoint_from_legacy

    from gait2hip.workflows.arguments import check_output_file

    if not args.old.is_file():
        raise CheckpointError(args.old, "checkpoint file not found" if not args.old.exists()
                              else "is a folder, not a checkpoint file")
    if args.old.stat().st_size == 0:
        raise CheckpointError(args.old, "the checkpoint file is empty")
    check_output_file(args.new, "NEW")
    try:
        content = _read_safely(args.old)
    except pickle.UnpicklingError as error:
        raise CheckpointError(args.old, "refused: it holds Python objects whose loading would run code, so it is "
                                        "not an older gait2hip checkpoint and gait2hip will not read it") from error
    except Exception as error:  # noqa: BLE001
        # The weights-only reader runs no code; on bytes that are not a checkpoint it fails with
        # whatever its parser hits (EOFError, IndexError, RuntimeError from the zip reader, ...).
        raise CheckpointError(args.old, f"not a readable PyTorch checkpoint (truncated, damaged or another kind "
                                        f"of file: {type(error).__name__}: {error})") from None
    if isinstance(content, dict) and content.get("format") == FORMAT:
        _, checkpoint = load_checkpoint(args.old)
        print(f"{args.old} is already in the current format; nothing to convert")
        if args.new.resolve() != args.old.resolve():
            save_checkpoint(checkpoint, args.new)
            print(f"copied it to {args.new}")
        return 0
    save_checkpoint(checkpoint_from_legacy(content, args.old), args.new)
    _, checkpoint = load_checkpoint(args.new)   # proves the new file reads, and its weights fit its model
    resumable = "with" if checkpoint.training_state is not None else "without"
    print(f"{args.old} → {args.new}: {checkpoint.model}, epoch {checkpoint.epoch}, {resumable} training state")
    return 0


def _read_safely(path: Path) -> object:
    """``torch.load`` with weights only, plus the numpy string scalars older checkpoints hold (no code runs)."""
    import numpy as np
    import torch

    try:
        from numpy._core.multiarray import scalar
    except ImportError:   # numpy 1
        from numpy.core.multiarray import scalar
    # numpy.dtype builds the dtype, StrDType is the class its state is set on (numpy 2).
    string_dtype = type(np.dtype("U1"))
    with torch.serialization.safe_globals([scalar, np.dtype, string_dtype]):
        return torch.load(path, map_location="cpu", weights_only=True)
