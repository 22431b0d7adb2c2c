"""Frozen-dataclass configs built from YAML plus ``key.sub=value`` overrides.

A config tree is made of frozen dataclasses. A field whose metadata names a
registry (``field(metadata={"registry": BACKBONES})``) holds the config of the
component named by its ``name`` key; with ``"mapping": True`` it holds one such
config per registered name (the channels). Every number declares its range
next to its default (``lr: float = setting(5e-4, "(0, inf)")``) and a class
may add checks across its fields (``problems``); :func:`build` checks them all
once, so a wrong value fails before any work starts. Unknown keys and bad
values raise :class:`ppi.errors.ConfigError` naming the key, the value and
what is allowed.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml

from ppi.errors import ConfigError

_BOUNDS = re.compile(r"^([\[(])\s*([^,\s]+)\s*,\s*([^,\s]+)\s*([\])])$")


@dataclasses.dataclass(frozen=True)
class Range:
    """An interval of allowed numbers, written as in mathematics: ``[0, 1)``, ``(0, inf)``."""

    text: str
    low: float
    high: float
    low_closed: bool
    high_closed: bool

    @classmethod
    def parse(cls, text: str) -> Range:
        """``"[1, inf)"`` -> a :class:`Range` (a bad declaration is a bug, hence ValueError)."""
        match = _BOUNDS.match(text.strip())
        if match is None:
            raise ValueError(f"bounds {text!r}: expected an interval such as '[0, 1)'")
        left, low, high, right = match.groups()
        return cls(text.strip(), float(low), float(high), left == "[", right == "]")

    def __contains__(self, value: float) -> bool:
        """Whether ``value`` lies in the interval (NaN never does)."""
        above = value >= self.low if self.low_closed else value > self.low
        below = value <= self.high if self.high_closed else value < self.high
        return bool(above and below)

    def __str__(self) -> str:
        return self.text


def setting(default: Any, bounds: str | None = None, *, choices: Any = None) -> Any:
    """A config field with its default and the values it may take, checked by :func:`build`.

    ``bounds`` is an interval (``"[0, 1)"``, ``"[1, inf)"``) for numbers;
    ``choices`` lists the allowed values. Either applies to every item of a
    tuple field. Example: ``warmup: float = setting(0.05, "[0, 1)")``.
    """
    metadata: dict[str, Any] = {}
    if bounds is not None:
        metadata["range"] = Range.parse(bounds)
    if choices is not None:
        metadata["choices"] = tuple(choices)
    return dataclasses.field(default=default, metadata=metadata)


def check(cfg: Any, where: str = "") -> Any:
    """Check a built config against its fields' ranges and choices and its own checks.

    A config class may define ``problems(self)`` yielding ``(field, message)``
    for values that are wrong together (``dim`` not a multiple of ``heads``);
    the first is raised as ``<where>.<field>: <message>``. Returns ``cfg``.
    """
    for fld in dataclasses.fields(cfg):
        value = getattr(cfg, fld.name)
        values = value if isinstance(value, tuple) else (value,)
        for item in values:
            _check_field(fld, item, _join(where, fld.name))
    problems = getattr(cfg, "problems", None)
    for name, message in problems() if problems is not None else ():
        raise ConfigError(f"{_join(where, name)}: {message}")
    return cfg


def check_value(cls: type, name: str, value: Any, key: str) -> Any:
    """Check one value against the range or choices field ``name`` of ``cls`` declares.

    For a command-line option that sets a config field (``--prevalence``).
    """
    fld = next(f for f in dataclasses.fields(cls) if f.name == name)
    _check_field(fld, value, key)
    return value


def _check_field(fld: dataclasses.Field, item: Any, key: str) -> None:
    bounds, choices = fld.metadata.get("range"), fld.metadata.get("choices")
    if bounds is not None and _is_number(item) and item not in bounds:
        kind = "an integer" if isinstance(item, int) else "a number"
        raise ConfigError(f"{key}: expected {kind} in {bounds}, got {item!r}")
    if choices is not None:
        _require_choice(choices, item, key)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path}:{line}: expected UTF-8 YAML, got undecodable byte "
            f"{raw[exc.start : exc.start + 1]!r}"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})".replace("\n", " ")) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys, got {type(data).__name__}")
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``a.b.c=value`` override set.

    Values are parsed as YAML scalars, so ``true``, ``3`` and ``[a, b]`` work.
    """
    out = _deep_copy(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}': expected key.sub=value")
        key, raw = item.split("=", 1)
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise ConfigError(f"override '{item}': empty key")
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = _parse_scalar(raw)
    return out


def _parse_scalar(raw: str) -> Any:
    try:
        return yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        return raw


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data


def build(cls: type, data: Mapping[str, Any] | None, where: str = "") -> Any:
    """Build the frozen dataclass ``cls`` from a mapping, validating every key and value.

    Each value is checked against its annotation, then against the range or
    choices its field declares (:func:`setting`), then the class's own
    cross-field checks run (:func:`check`).
    """
    data = _mapping(data, where, "a mapping of keys")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        key = _join(where, unknown[0])
        raise ConfigError(f"Unknown config key '{key}' (valid keys: {', '.join(sorted(fields))})")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, fld in fields.items():
        key = _join(where, name)
        registry = fld.metadata.get("registry")
        if registry is not None and fld.metadata.get("mapping"):
            kwargs[name] = _build_mapping(registry, data.get(name), key)
        elif registry is not None:
            kwargs[name] = _build_component(registry, fld, data.get(name), key)
        elif name in data:
            kwargs[name] = _coerce(hints[name], data[name], key)
    return check(cls(**kwargs), where)


def _mapping(data: Any, key: str, expected: str) -> dict[str, Any]:
    """``data`` as a dict (None is empty); anything but a mapping names ``key``."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        named = "'name'" in expected and isinstance(data, str)
        hint = f" (write {key}.name={data})" if named else f" (set its keys: {key}.<key>=value)"
        raise ConfigError(f"{key or 'config'}: expected {expected}, got {data!r}{hint}")
    return dict(data)


def _build_component(registry: Any, fld: dataclasses.Field, raw: Any, key: str) -> Any:
    default = fld.default_factory() if fld.default_factory is not dataclasses.MISSING else None
    raw = _mapping(raw, key, "a mapping with a 'name'")
    name = raw.get("name", getattr(default, "name", None))
    if name is None:
        raise ConfigError(f"{key}.name: missing (choices: {', '.join(registry.names())})")
    cfg_cls = registry.config_class(str(name))
    if default is not None and getattr(default, "name", None) == name:
        raw = {**to_dict(default), **raw}
    raw["name"] = name
    return build(cfg_cls, raw, key)


def _build_mapping(registry: Any, raw: Any, key: str) -> dict[str, Any]:
    raw = _mapping(raw, key, f"a mapping of {registry.kind} names")
    unknown = sorted(set(raw) - set(registry.names()))
    if unknown:
        raise ConfigError(
            f"Unknown {registry.kind} '{_join(key, unknown[0])}' "
            f"(choices: {', '.join(registry.names())})"
        )
    return {n: build(registry.config_class(n), raw.get(n), _join(key, n)) for n in registry.names()}


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _coerce(tp: Any, value: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert where lossless."""
    origin = get_origin(tp)
    if origin is Literal:
        return _coerce_literal(tp, value, key)
    if origin in (Union, types.UnionType):
        return _coerce_union(tp, value, key)
    if origin in (tuple, list):
        values = value if isinstance(value, (list, tuple)) else [value]
        (inner, *_) = get_args(tp) or (Any,)
        return tuple(_coerce(inner, v, f"{key}[{i}]") for i, v in enumerate(values))
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key)
    return _coerce_scalar(tp, value, key)


def _coerce_literal(tp: Any, value: Any, key: str) -> Any:
    return _require_choice(get_args(tp), value, key)


def _require_choice(choices: tuple, value: Any, key: str) -> Any:
    if value not in choices:
        raise ConfigError(f"{key}: expected one of {', '.join(map(str, choices))}, got {value!r}")
    return value


def _coerce_union(tp: Any, value: Any, key: str) -> Any:
    args = [a for a in get_args(tp) if a is not type(None)]
    if value is None and len(args) < len(get_args(tp)):
        return None
    errors = []
    for arg in args:
        try:
            return _coerce(arg, value, key)
        except ConfigError as exc:
            errors.append(str(exc))
    raise ConfigError(errors[0])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_float(value: Any) -> float | None:
    if _is_number(value):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


#: scalar type -> (converter returning None when the value does not fit, what was expected)
_SCALARS: dict[type, tuple[Any, str]] = {
    bool: (lambda v: v if isinstance(v, bool) else None, "true or false"),
    int: (lambda v: v if _is_number(v) and float(v).is_integer() else None, "an integer"),
    float: (_as_float, "a number"),
    str: (lambda v: str(v) if isinstance(v, str) or _is_number(v) else None, "a string"),
}


def _coerce_scalar(tp: Any, value: Any, key: str) -> Any:
    if tp not in _SCALARS:
        return value
    convert, expected = _SCALARS[tp]
    out = convert(value)
    if out is None:
        raise ConfigError(f"{key}: expected {expected}, got {value!r}")
    return int(out) if tp is int else out


def to_dict(cfg: Any) -> Any:
    """A plain nested dict (tuples as lists) of a config tree, for YAML/JSON."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, dict):
        return {k: to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    return cfg
