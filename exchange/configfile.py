"""One configuration for a server, from a TOML file, ``EXCHANGE_*`` variables and flags.

The schema is the ``ServerConfig`` dataclass tree (``exchange/config.py``), read
generically so that a new field there is a new setting everywhere, with nothing to add
here: a top-level field ``port`` is the file's ``port = 8080``, ``EXCHANGE_PORT`` and
``--set port=8080``; a nested dataclass or dict ``limits`` is the file's ``[limits]``
table and ``EXCHANGE_LIMITS_RATE_BURST``. Later sources win: default, file, environment,
flags. Each value remembers where it came from, for ``exchange config show``."""

from __future__ import annotations

import dataclasses
import ipaddress
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exchange.config import LOG_LEVELS, ServerConfig
from exchange.errors import InputError

__all__ = ["Loaded", "Setting", "env_name", "load", "parse_assignment", "settings"]

#: Settings whose environment variable predates the generic rule.
_ENV_ALIASES = {
    "exchange_id": "EXCHANGE_ID",
    # the alert settings' names as docs/alerts.md gives them
    "alerts.smtp_host": "EXCHANGE_SMTP_HOST",
    "alerts.smtp_port": "EXCHANGE_SMTP_PORT",
    "alerts.smtp_user": "EXCHANGE_SMTP_USER",
    "alerts.smtp_password": "EXCHANGE_SMTP_PASSWORD",
    "alerts.smtp_starttls": "EXCHANGE_SMTP_STARTTLS",
    "alerts.smtp_tls": "EXCHANGE_SMTP_TLS",
    "alerts.smtp_ca_file": "EXCHANGE_SMTP_CA_FILE",
    "alerts.mail_from": "EXCHANGE_MAIL_FROM",
    "alerts.console_url": "EXCHANGE_CONSOLE_URL",
    "alerts.allow_networks": "EXCHANGE_WEBHOOK_ALLOW",
    "alerts.max_attempts": "EXCHANGE_ALERT_MAX_ATTEMPTS",
}
#: Fields set by the program itself, never by an operator.
_INTERNAL = {"reuse_port"}
#: How a secret setting's name ends: ``config show`` never prints its value.
_SECRET_ENDINGS = ("password", "secret", "api_key", "token")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Setting:
    """One leaf of the tree: ``limits.rate_burst``, its type and the path to it."""

    name: str  # dotted
    path: tuple[str, ...]
    type: Any
    in_dict: bool = False  # a key of a dict field (``ack_deadlines.flash``)


@dataclass(frozen=True)
class Loaded:
    config: ServerConfig
    sources: dict[str, str]  # dotted name -> "default", "file X", "env NAME", "flag --x"


def env_name(setting: str) -> str:
    """``limits.rate_burst`` -> ``EXCHANGE_LIMITS_RATE_BURST``."""
    return _ENV_ALIASES.get(setting) or "EXCHANGE_" + setting.replace(".", "_").upper()


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _leaves(obj: Any, prefix: tuple[str, ...] = ()) -> Iterator[Setting]:
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        if f.name in _INTERNAL:
            continue
        value, tp, path = getattr(obj, f.name), hints[f.name], (*prefix, f.name)
        if dataclasses.is_dataclass(value):
            yield from _leaves(value, path)
        elif isinstance(value, dict):
            value_type = typing.get_args(tp)[1] if typing.get_args(tp) else str
            for key in value:
                yield Setting(".".join((*path, key)), (*path, key), value_type, True)
        else:
            yield Setting(".".join(path), path, tp)


def _optional(tp: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True)."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(tp))
    return tp, False


def _convert(setting: Setting, raw: Any, where: str) -> Any:
    """A value from TOML (typed) or from text (env, flags) as the field's type."""
    tp, nullable = _optional(setting.type)
    what = f"{setting.name} ({where})"
    text = isinstance(raw, str)
    if nullable and (raw is None or (text and raw.strip().lower() in ("", "none"))):
        return None
    try:
        if tp is bool:
            if isinstance(raw, bool):
                return raw
            if text and raw.strip().lower() in _TRUE | _FALSE:
                return raw.strip().lower() in _TRUE
            raise ValueError("expected true or false")
        if tp in (int, float):
            if isinstance(raw, bool) or not isinstance(raw, int | float | str):
                raise ValueError("expected a number")
            if tp is int and isinstance(raw, float):
                raise ValueError("expected a whole number")
            try:
                number = tp(raw.strip()) if isinstance(raw, str) else tp(raw)
            except ValueError:
                kind = "a whole number" if tp is int else "a number"
                raise ValueError(f"expected {kind}, not {raw!r}") from None
            if number < 0:
                raise ValueError("must not be negative")
            return number
        if tp is Path:
            if not isinstance(raw, str) or not raw:
                raise ValueError("expected a path")
            return Path(raw)
        if tp is str:
            if not isinstance(raw, str):
                raise ValueError("expected a string")
            return raw
        if typing.get_origin(tp) in (list, tuple):
            items = [i.strip() for i in raw.split(",") if i.strip()] if text else raw
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise ValueError("expected a list of strings")
            return items if typing.get_origin(tp) is list else tuple(items)
    except ValueError as exc:
        raise InputError(f"bad setting {what}: {exc}") from None
    raise InputError(f"setting {what} has a type the loader does not know ({tp})")


def _flatten(
    table: Mapping[str, Any], known: dict[str, Setting], prefix: str = ""
) -> Iterator[tuple[Setting, Any]]:
    for key, value in table.items():
        name = f"{prefix}{key}"
        if name in known:
            yield known[name], value
        elif isinstance(value, dict) and any(k.startswith(name + ".") for k in known):
            yield from _flatten(value, known, name + ".")
        else:
            raise InputError(f"unknown setting {name!r}; 'exchange config show' lists them all")


def _apply(config: ServerConfig, values: dict[tuple[str, ...], Any]) -> ServerConfig:
    """A copy of ``config`` with each path set (nested dataclasses and dicts copied)."""

    def rebuild(obj: Any, prefix: tuple[str, ...]) -> Any:
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            path, value = (*prefix, f.name), getattr(obj, f.name)
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                changes[f.name] = rebuild(value, path)
            elif isinstance(value, dict):
                new = dict(value)
                for p, v in values.items():
                    if p[:-1] == path:
                        new[p[-1]] = v
                changes[f.name] = new
            elif path in values:
                changes[f.name] = values[path]
        return dataclasses.replace(obj, **changes)

    result: ServerConfig = rebuild(config, ())
    return result


def parse_assignment(text: str) -> tuple[str, str]:
    """``--set limits.rate_burst=300`` -> ("limits.rate_burst", "300")."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise InputError(f"--set {text!r}: expected NAME=VALUE, e.g. limits.rate_burst=300")
    return name.strip(), value.strip()


def load(
    file: Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, tuple[str, Any]] | None = None,
) -> Loaded:
    """The effective configuration. ``flags`` maps a dotted name to (the flag as typed,
    its value); values that are strings are parsed as the environment's are."""
    base = ServerConfig()
    known = {s.name: s for s in _leaves(base)}
    values: dict[tuple[str, ...], Any] = {}
    sources = dict.fromkeys(known, "default")
    if file is not None:
        try:
            with file.open("rb") as fh:
                table = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{file} is not valid TOML: {exc}") from None
        for setting, raw in _flatten(table, known):
            values[setting.path] = _convert(setting, raw, f"in {file}")
            sources[setting.name] = f"file {file}"
    for setting in known.values():
        name = env_name(setting.name)
        if env is not None and name in env:
            values[setting.path] = _convert(setting, env[name], name)
            sources[setting.name] = f"env {name}"
    for dotted, (flag, raw) in (flags or {}).items():
        if dotted not in known:
            raise InputError(f"unknown setting {dotted!r}; 'exchange config show' lists them all")
        values[known[dotted].path] = _convert(known[dotted], raw, flag)
        sources[dotted] = f"flag {flag}"
    loaded = Loaded(_apply(base, values), sources)
    _check(loaded.config)
    return loaded


def _check(config: ServerConfig) -> None:
    """Rules across the tree: a limit or a deadline of 0 would refuse everything (or
    divide by zero), so each must be positive."""
    for s in _leaves(config):
        if s.path[0] not in ("limits", "ack_deadlines"):
            continue
        value: Any = config
        for part in s.path:
            value = value[part] if isinstance(value, dict) else getattr(value, part)
        if isinstance(value, int | float) and value <= 0:
            raise InputError(f"bad setting {s.name}: must be more than 0")
    if config.workers < 1:
        raise InputError("bad setting workers: must be 1 or more")
    for net in config.alerts.allow_networks:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise InputError(
                f"bad setting alerts.allow_networks: {net!r} is not a network"
            ) from None
    if config.log_level not in LOG_LEVELS:
        raise InputError(f"bad setting log_level: must be one of {', '.join(LOG_LEVELS)}")


def _display(name: str, value: Any) -> str:
    if value is None:
        return "none"
    if name.endswith(_SECRET_ENDINGS):
        return "(set, hidden)" if value else "(empty)"
    if name == "db_url":
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            return make_url(str(value)).render_as_string(hide_password=True)
        except ArgumentError:
            return "<unparsable URL>"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def settings(loaded: Loaded) -> list[tuple[str, str, str]]:
    """(dotted name, value as text with secrets hidden, source) for every setting."""
    rows = []
    for s in _leaves(loaded.config):
        value: Any = loaded.config
        for part in s.path:
            value = value[part] if isinstance(value, dict) else getattr(value, part)
        rows.append((s.name, _display(s.name, value), loaded.sources.get(s.name, "default")))
    return rows
