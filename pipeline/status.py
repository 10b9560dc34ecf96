"""A trial's status: what QC made of it, or that it failed.

A :class:`~enum.StrEnum`, so the status is written to JSON and parquet as its plain text
(``"ok"``, ``"warn"``, ``"failed"``) and compares equal to that text.
"""

from __future__ import annotations

from enum import StrEnum


class TrialStatus(StrEnum):
    """``ok``: every QC figure within its warn limit; ``warn``: within the fail limits only;
    ``failed``: a QC figure past its fail limit, or the trial stopped with an error."""

    OK = "ok"
    WARN = "warn"
    FAILED = "failed"


# The statuses whose labels go into the dataset the surrogates train on.
USABLE_STATUSES = (TrialStatus.OK, TrialStatus.WARN)
