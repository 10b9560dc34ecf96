"""``gait2hip convert-checkpoint``: an older-format checkpoint rewritten once in the current, safe format."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Rewrite OLD, a checkpoint written by an older gait2hip (one pickled dict, unversioned), as NEW
in the current format: tensors and plain values with versioned metadata, which every gait2hip
command reads without unpickling anything. OLD is first read the safe way (tensors, plain
values and numpy strings only); most older checkpoints convert like that.

WARNING: --trust-checkpoint reads OLD with full unpickling (torch.load(weights_only=False)),
which RUNS ANY CODE THE FILE HOLDS. Give it only for a file you made yourself or got from a
source you trust, and only when the safe read refused OLD.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("convert-checkpoint", help="convert an older-format checkpoint (once)",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path, metavar="OLD", help="older-format checkpoint (best.pt or last.pt)")
    parser.add_argument("new", type=Path, metavar="NEW", help="where to write the converted checkpoint")
    parser.add_argument("--trust-checkpoint", action="store_true",
                        help="unpickle OLD fully if the safe read refuses it: RUNS ANY CODE OLD HOLDS; "
                             "only for a file from a source you trust")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import pickle

    import torch

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
        if not args.trust_checkpoint:
            raise CheckpointError(args.old, "a safe read refuses it (it holds Python objects whose loading runs "
                                            "code). If the file comes from a source you trust, run again with "
                                            "--trust-checkpoint") from error
        try:
            # The one full unpickling in gait2hip, asked for by --trust-checkpoint: it runs the file's code.
            content = torch.load(args.old, map_location="cpu", weights_only=False)
        except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, AttributeError,
                ModuleNotFoundError) as unreadable:
            raise CheckpointError(args.old, f"not a readable checkpoint ({type(unreadable).__name__}: "
                                            f"{unreadable})") from unreadable
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
