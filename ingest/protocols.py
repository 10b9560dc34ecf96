"""Marker protocols: which lab markers give which model markers.

A protocol is a YAML file (shipped ones in ``ingest/protocols/``) mapping each model marker
to a *source*: a lab marker name, ``{midpoint: [A, B, ...]}`` (the mean of several lab
markers, a virtual marker), or a list of such sources tried in order (the first one whose
markers are all in the file wins). It also names the markers the ingest itself needs: the
pelvis markers and each foot's heel and toe (plate assignment, gait events, axes).

Lab names match exactly first, then ignoring case and any ``Subject:`` prefix.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gait2hip import opensim_models
from gait2hip.core.config_loading import read_yaml_mapping
from gait2hip.core.errors import ConfigError, InputDataError

logger = logging.getLogger(__name__)

PROTOCOLS_DIR = Path(__file__).resolve().parent / "protocols"

# One source: the lab markers whose mean gives the model marker (one name: that marker).
Source = tuple[str, ...]


@dataclass(frozen=True)
class MarkerProtocol:
    """A lab marker protocol mapped onto a model's marker set.

    Attributes
    ----------
    markers
        Model marker → candidate sources, tried in order.
    pelvis_markers
        Model markers whose mean is the pelvis centre (walking direction, kinematic events).
    heel_markers, toe_markers
        ``{"r": name, "l": name}`` model markers at each foot's heel and toe.
    required
        Model markers a file must provide (the ones above are always required).
    approximate
        Model markers whose lab counterpart sits elsewhere on the segment (for the record).
    """

    name: str
    model: str
    markers: dict[str, tuple[Source, ...]]
    pelvis_markers: tuple[str, ...]
    heel_markers: dict[str, str]
    toe_markers: dict[str, str]
    required: tuple[str, ...] = ()
    approximate: tuple[str, ...] = ()
    description: str = ""
    source_path: Path | None = field(default=None, compare=False)

    @property
    def required_markers(self) -> tuple[str, ...]:
        """Every model marker a file must provide, without repeats."""
        names = (*self.required, *self.pelvis_markers, *self.heel_markers.values(), *self.toe_markers.values())
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class MappedMarkers:
    """Model markers computed from a file's lab markers.

    Attributes
    ----------
    names
        Model marker names, in the protocol's order (only those found in the file).
    positions_m
        ``(n_frames, n_markers, 3)`` positions in m (lab axes), NaN where missing.
    sources
        Model marker → the lab markers used.
    not_found
        Optional model markers whose lab markers are absent from the file.
    """

    names: tuple[str, ...]
    positions_m: np.ndarray
    sources: dict[str, Source]
    not_found: tuple[str, ...]

    def position(self, name: str) -> np.ndarray:
        """``(n_frames, 3)`` positions of one model marker (m)."""
        return self.positions_m[:, self.names.index(name), :]


def available_protocols() -> list[str]:
    """Names of the shipped protocols (YAML files in ``ingest/protocols/``)."""
    return sorted(path.stem for path in PROTOCOLS_DIR.glob("*.yaml"))


def load_protocol(name_or_path: str | Path) -> MarkerProtocol:
    """Load a shipped protocol by name or a protocol YAML by path.

    Raises
    ------
    ConfigError
        If no such protocol exists, or it maps a marker the model does not have, or its
        pelvis/heel/toe markers are not mapped.
    """
    text = str(name_or_path)
    path = Path(text) if text.endswith((".yaml", ".yml")) else PROTOCOLS_DIR / f"{text}.yaml"
    if not path.is_file():
        raise ConfigError(f"no marker protocol {text!r}; shipped: {', '.join(available_protocols())} "
                          "(or auto: the one that fits each file best) "
                          "(or give the path to a protocol YAML)")
    raw = read_yaml_mapping(path)
    try:
        feet = raw["feet"]
        protocol = MarkerProtocol(
            name=str(raw.get("name", path.stem)),
            model=str(raw.get("model", "gait2392")),
            markers={str(model): _parse_sources(value, f"markers.{model}") for model, value in raw["markers"].items()},
            pelvis_markers=tuple(str(name) for name in raw["pelvis"]),
            heel_markers={side: str(feet[side]["heel"]) for side in ("r", "l")},
            toe_markers={side: str(feet[side]["toe"]) for side in ("r", "l")},
            required=tuple(str(name) for name in raw.get("required", ())),
            approximate=tuple(str(name) for name in raw.get("approximate", ())),
            description=str(raw.get("description", "")),
            source_path=path,
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise ConfigError(f"{path}: missing or malformed entry ({error!r}); see ingest/README.md for the format") from error
    _check_against_model(protocol, path)
    return protocol


def map_markers(protocol: MarkerProtocol, lab_names: tuple[str, ...], lab_positions_m: np.ndarray,
                source_path: Path, extra_required: tuple[str, ...] = ()) -> MappedMarkers:
    """Compute the model markers of ``protocol`` from a file's lab markers.

    Parameters
    ----------
    lab_names
        ``n_lab`` marker names in the file.
    lab_positions_m
        ``(n_frames, n_lab, 3)`` lab marker positions in m.
    extra_required
        Further model markers the caller needs (e.g. every marker the pipeline's IK uses).

    Raises
    ------
    InputDataError
        Listing the required model markers the protocol does not map, and those whose lab
        markers are missing from the file (or never tracked).
    """
    required = tuple(dict.fromkeys((*protocol.required_markers, *extra_required)))
    unmapped = [name for name in required if name not in protocol.markers]
    lookup = lab_name_lookup(lab_names, source_path)
    names, columns, sources, not_found, problems = [], [], {}, [], []
    for model_name, candidates in protocol.markers.items():
        chosen = choose_source(candidates, lookup)
        if chosen is None:
            (problems if model_name in required else not_found).append(f"{model_name} (needs {describe_sources(candidates)})")
            continue
        indices = [lookup[_key(lab)] for lab in chosen]
        position = lab_positions_m[:, indices, :].mean(axis=1)  # NaN wherever one of them is missing
        if model_name in required and np.isnan(position).any(axis=1).all():
            problems.append(f"{model_name} ({', '.join(chosen)} never tracked)")
            continue
        names.append(model_name)
        columns.append(position)
        sources[model_name] = tuple(lab_names[i] for i in indices)
    if unmapped or problems:
        parts = []
        if unmapped:
            parts.append(f"required model marker(s) not mapped by protocol {protocol.name!r}: {', '.join(unmapped)}")
        if problems:
            parts.append(f"required model marker(s) missing from the file: {'; '.join(problems)}")
        raise InputDataError(source_path, "; ".join(parts) + " (choose another --protocol or write your own protocol YAML)")
    if not_found:
        logger.warning("%s: optional model marker(s) not written (lab markers absent): %s",
                       source_path.name, "; ".join(not_found))
    return MappedMarkers(tuple(names), np.stack(columns, axis=1), sources, tuple(m.split(" ")[0] for m in not_found))


def _parse_sources(value, key: str) -> tuple[Source, ...]:
    items = value if isinstance(value, list) else [value]
    sources = []
    for item in items:
        if isinstance(item, str):
            sources.append((item,))
        elif isinstance(item, dict) and set(item) == {"midpoint"} and isinstance(item["midpoint"], list) \
                and len(item["midpoint"]) >= 2 and all(isinstance(m, str) for m in item["midpoint"]):
            sources.append(tuple(item["midpoint"]))
        else:
            raise ConfigError(f"{key}: expected a lab marker name, {{midpoint: [A, B, ...]}} or a list of them; got {item!r}")
    return tuple(sources)


def _check_against_model(protocol: MarkerProtocol, path: Path) -> None:
    try:
        marker_set = opensim_models.marker_set_path(protocol.model)
    except KeyError as error:
        raise ConfigError(f"{path}: {error.args[0]}") from error
    model_markers = {element.get("name") for element in ElementTree.parse(marker_set).iter("Marker")}
    unknown = sorted(set(protocol.markers) - model_markers)
    if unknown:
        raise ConfigError(f"{path}: maps marker(s) that model {protocol.model} does not have: {', '.join(unknown)}")
    unmapped = [name for name in protocol.required_markers if name not in protocol.markers]
    if unmapped:
        raise ConfigError(f"{path}: pelvis/feet/required marker(s) not mapped: {', '.join(unmapped)}")


def choose_source(candidates: tuple[Source, ...], lookup: dict[str, int]) -> Source | None:
    """The first candidate source whose lab markers are all labelled in the file (None: none is)."""
    return next((source for source in candidates if all(_key(m) in lookup for m in source)), None)


def describe_sources(candidates: tuple[Source, ...]) -> str:
    """``RTOE or mid(RPSI, LPSI)``: the lab markers a model marker needs, for messages."""
    return " or ".join("mid(" + ", ".join(s) + ")" if len(s) > 1 else s[0] for s in candidates)


def lab_column(lookup: dict[str, int], lab_name: str) -> int:
    """Column of ``lab_name`` in the file whose :func:`lab_name_lookup` is ``lookup``."""
    return lookup[_key(lab_name)]


def _key(name: str) -> str:
    return name.rsplit(":", 1)[-1].strip().lower()


def lab_name_lookup(lab_names: tuple[str, ...], source_path: Path) -> dict[str, int]:
    """Normalised lab name (case and ``Subject:`` prefix ignored) → column.

    An unprefixed name wins over ``Subject:``-prefixed ones.

    Raises
    ------
    InputDataError
        If two labels are the same marker once normalised (two subjects in one file).
    """
    columns: dict[str, list[int]] = {}
    for index, name in enumerate(lab_names):
        columns.setdefault(_key(name), []).append(index)
    lookup = {}
    for key, indices in columns.items():
        plain = [i for i in indices if lab_names[i].strip().lower() == key]
        if len(indices) > 1 and len(plain) != 1:
            labels = ", ".join(repr(lab_names[i]) for i in indices)
            raise InputDataError(source_path, f"marker labels {labels} are the same marker for the protocol "
                                              "(two subjects in one file?); keep one subject per file")
        lookup[key] = plain[0] if len(indices) > 1 else indices[0]
    return lookup
