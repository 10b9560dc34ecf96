"""Which marker protocol fits a file: every shipped protocol is scored on the file's labels.

A model marker *resolves* in a file when one of its protocol sources has all its lab markers
labelled (the first such source, as :func:`~gait2hip.ingest.protocols.map_markers` takes it)
and that source is tracked in at least one frame. A protocol *fits* when every marker it
requires (its ``required``, pelvis, heel and toe markers, plus any the caller requires)
resolves. Its score counts the resolved model markers, a required one twice: the ranking
favours the protocols that give the markers scaling and the ingest need, then the extras.

Among the fitting protocols the highest score wins; on a tie, the one that resolves more
markers through the *first* lab name it lists (its own naming, not a variant it accepts for
compatibility: Helen Hayes lists ``RASI`` after ``R.ASIS``, so a Plug-in Gait file is read
as Plug-in Gait, whose thigh marker ``RTHI`` sits elsewhere); then the one with fewer mapped
markers left unresolved (the protocol that describes the file most tightly, e.g. a lab's own
protocol over a general one that also maps a head band the file lacks); then the name, so
the choice never depends on the order of the files on disk. Fitting protocols that resolve
the same model markers as the chosen one are listed with it (``tied_with``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gait2hip.core.errors import InputDataError
from gait2hip.ingest.protocols import (MarkerProtocol, available_protocols, choose_source, describe_sources,
                                       lab_column, lab_name_lookup, load_protocol)

logger = logging.getLogger(__name__)

AUTO = "auto"
# A required marker weighs this many optional ones in the score.
_REQUIRED_WEIGHT = 2
# Markers named per protocol in the "none fits" message, before "+N more".
_LISTED_MISSING = 4


@dataclass(frozen=True)
class ProtocolScore:
    """How well one protocol fits one file.

    Attributes
    ----------
    score
        Resolved model markers, required ones counted twice.
    resolved
        Model markers that resolve, in the protocol's order.
    missing_required
        Required model markers that do not, each with the lab markers it needs.
    unresolved
        Number of mapped model markers (required or not) that do not resolve.
    native
        Resolved model markers whose first-listed source was the one found.
    """

    name: str
    score: int
    resolved: tuple[str, ...]
    missing_required: tuple[str, ...]
    unresolved: int
    native: int = 0

    @property
    def fits(self) -> bool:
        """Whether every required marker resolves."""
        return not self.missing_required

    def to_json(self) -> dict:
        return {"protocol": self.name, "score": self.score, "resolved": len(self.resolved),
                "native": self.native, "unresolved": self.unresolved, "missing_required": list(self.missing_required)}


@dataclass(frozen=True)
class ProtocolChoice:
    """The protocol a file is read with, and why.

    Attributes
    ----------
    how
        ``"auto"`` (detected) or ``"given"`` (named by the user or the config).
    score
        The chosen protocol's :class:`ProtocolScore` on the file.
    ranking
        Every protocol scored (auto only), best first.
    tied_with
        Fitting protocols that resolve the same model markers with the same score: reading
        the file with them gives the same marker names.
    """

    protocol: MarkerProtocol
    how: str
    score: ProtocolScore
    ranking: tuple[ProtocolScore, ...] = field(default=())
    tied_with: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.protocol.name

    def to_json(self) -> dict:
        """What ``ingest_summary.json`` and the corpus ``summary.json`` record."""
        return {"protocol": self.protocol.name, "how": self.how, "score": self.score.score,
                "resolved_markers": len(self.score.resolved), "tied_with": list(self.tied_with),
                "ranking": [entry.to_json() for entry in self.ranking]}

    def describe(self) -> str:
        """``plug_in_gait (auto, score 31)``: one phrase for the console."""
        return f"{self.protocol.name} ({self.how}, score {self.score.score})"


def score_protocol(protocol: MarkerProtocol, lab_names: tuple[str, ...], lab_positions_m: np.ndarray,
                   source_path: Path, extra_required: tuple[str, ...] = ()) -> ProtocolScore:
    """Score ``protocol`` on a file's labels.

    Parameters
    ----------
    lab_names
        ``n_lab`` marker labels of the file.
    lab_positions_m
        ``(n_frames, n_lab, 3)`` their positions (m), NaN where missing.
    extra_required
        Model markers the caller requires besides the protocol's own.
    """
    lookup = lab_name_lookup(lab_names, source_path)
    required = set(protocol.required_markers) | set(extra_required)
    resolved, missing, unresolved, score, native = [], [], 0, 0, 0
    for model_name in dict.fromkeys((*protocol.markers, *sorted(required - set(protocol.markers)))):
        candidates = protocol.markers.get(model_name, ())
        source = choose_source(candidates, lookup)
        tracked = source is not None and not np.isnan(
            lab_positions_m[:, [lab_column(lookup, lab) for lab in source], :].mean(axis=1)).any(axis=1).all()
        if tracked:
            resolved.append(model_name)
            score += _REQUIRED_WEIGHT if model_name in required else 1
            native += source == candidates[0]
            continue
        unresolved += 1
        if model_name in required:
            needs = describe_sources(candidates) if candidates else "not mapped by the protocol"
            missing.append(f"{model_name} ({needs}{', never tracked' if source is not None else ''})")
    return ProtocolScore(protocol.name, score, tuple(resolved), tuple(missing), unresolved, native)


def choose_protocol(setting: str, lab_names: tuple[str, ...], lab_positions_m: np.ndarray, source_path: Path,
                    extra_required: tuple[str, ...] = ()) -> ProtocolChoice:
    """The protocol to read a file with: ``setting`` itself, or (``"auto"``) the best-fitting shipped one.

    Parameters
    ----------
    setting
        ``"auto"``, a shipped protocol name or a protocol YAML path.
    lab_names, lab_positions_m
        The file's labels and ``(n_frames, n_lab, 3)`` positions (m).

    Raises
    ------
    InputDataError
        (auto) If no shipped protocol fits, listing each one and the required markers it lacked.
    ConfigError
        If ``setting`` names no protocol.
    """
    if setting != AUTO:
        protocol = load_protocol(setting)
        return ProtocolChoice(protocol, "given", score_protocol(protocol, lab_names, lab_positions_m, source_path,
                                                               extra_required))
    protocols = {name: load_protocol(name) for name in available_protocols()}
    scores = [score_protocol(protocol, lab_names, lab_positions_m, source_path, extra_required)
              for protocol in protocols.values()]
    ranking = tuple(sorted(scores, key=_rank))
    fitting = [entry for entry in ranking if entry.fits]
    if not fitting:
        raise InputDataError(source_path, "no shipped marker protocol fits the file's labels: "
                             + "; ".join(_lacks(entry) for entry in ranking)
                             + " (write a protocol for your lab, docs/marker_protocols.md, and pass --protocol FILE.yaml)")
    best = fitting[0]
    tied = tuple(entry.name for entry in fitting[1:] if entry.score == best.score
                 and set(entry.resolved) == set(best.resolved))
    choice = ProtocolChoice(protocols[best.name], AUTO, best, ranking, tied)
    logger.info("%s: marker protocol %s (score %d%s)", source_path.name, best.name, best.score,
                f"; same markers with {', '.join(tied)}" if tied else "")
    return choice


def _rank(entry: ProtocolScore) -> tuple:
    return (not entry.fits, -entry.score, -entry.native, entry.unresolved, entry.name)


def _lacks(entry: ProtocolScore) -> str:
    shown = ", ".join(entry.missing_required[:_LISTED_MISSING])
    more = len(entry.missing_required) - _LISTED_MISSING
    return f"{entry.name} lacks {shown}" + (f" +{more} more" if more > 0 else "")
