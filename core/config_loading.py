"""Build typed, frozen dataclasses from plain YAML mappings, strictly.

Unknown keys and wrong types raise :class:`~pipeline.errors.ConfigError` naming the key,
what was expected and what came, so a typo in a YAML file never passes silently.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from gait2hip.core.errors import ConfigError

T = TypeVar("T")


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML file whose top level is a mapping; raise ConfigError otherwise."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a configuration file")
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not a UTF-8 text file ({error.reason} at byte {error.start}); save it as "
                          "UTF-8") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from error
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(content).__name__}")
    return content


def build_dataclass(cls: type[T], values: dict[str, Any] | None, where: str = "") -> T:
    """Return ``cls(**values)`` with nested dataclasses built recursively and types checked.

    Parameters
    ----------
    cls
        A dataclass type whose fields have defaults for every key that may be omitted.
    values
        The mapping read from YAML (``None`` means all defaults).
    where
        Dotted prefix used in error messages (e.g. ``"static_optimization."``).
    """
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(where + k for k in unknown)}; allowed: {sorted(fields)}")
    kwargs = {}
    for name, value in values.items():
        kwargs[name] = _convert(hints[name], value, f"{where}{name}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where.rstrip('.') or cls.__name__}: {error}") from error


def _convert(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        return _convert(non_none[0], value, key)
    if dataclasses.is_dataclass(hint):
        return build_dataclass(hint, value, where=f"{key}.")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], item, f"{key}[{i}]") for i, item in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{key}: expected {len(args)} values, got {value!r}")
        return tuple(_convert(a, item, f"{key}[{i}]") for i, (a, item) in enumerate(zip(args, value)))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return {k: _convert(args[1], v, f"{key}.{k}") for k, v in value.items()}
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    return value


def dataclass_to_dict(instance: Any) -> dict[str, Any]:
    """Return a YAML/JSON-friendly dict (tuples as lists) of a dataclass instance."""

    def plain(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(instance))


def check_counts_at_least_one(config: Any, names: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming the first of ``config``'s fields ``names`` that is below 1."""
    for name in names:
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be at least 1, got {getattr(config, name)}")


def check_seed(seed: int) -> None:
    """Raise ``ValueError`` unless ``seed`` fits numpy's and torch's seeds (0 to 2**32 - 1)."""
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer from 0 to 4294967295, got {seed}")


class YamlConfig:
    """Mixin for frozen config dataclasses: strict ``from_dict``/``from_yaml`` and ``to_dict``."""

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None):
        """Build from a mapping; omitted keys keep their defaults, unknown keys are errors."""
        return build_dataclass(cls, values)

    @classmethod
    def from_yaml(cls, path: str | Path):
        """Load a YAML file holding any subset of the fields; errors name the file."""
        try:
            return cls.from_dict(read_yaml_mapping(path))
        except ConfigError as error:
            if str(path) in str(error):
                raise
            raise ConfigError(f"{path}: {error}") from error

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping of every setting (for summaries)."""
        return dataclass_to_dict(self)
