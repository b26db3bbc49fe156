"""Settings read one way by every part (worker, enqueuer, frontend, scheduler, CLI).

- Booleans: ``1``, ``true``, ``yes``, ``on`` are true; ``0``, ``false``, ``no``, ``off``
  and empty are false; any case, surrounding spaces ignored. Any other value is an error
  naming the variable and the accepted words, so a typo (``FRONTEND_READ_ONLY=enabled``)
  stops the part at start instead of meaning true in one part and false in another.
- Numbers and choices: an unusable value is a :class:`SettingError` naming the variable.
- Secrets: ``NAME`` or ``NAME_FILE`` (a file holding the value, as Docker and Kubernetes
  secrets are mounted); both set is an error.
- Logs: ``RESQUE_LOG_FORMAT`` (``json`` or ``text``; default json unless stderr is a
  terminal) and ``RESQUE_LOG_LEVEL`` (``debug``, ``info``, ``warning``, ``error``); without
  a level, Resque's ``VVERBOSE`` means debug and ``VERBOSE``/``LOGGING`` mean info.

Every error is one line; a part prints it and exits 2. No Redis here: the worker reads
its settings before it forks its fork server, which must not import redis-py
(shared/resque_proto/tests/test_lazy_imports.py).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FALSE_WORDS",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "TRUE_WORDS",
    "BooleanSettingError",
    "EnvSettings",
    "LogSettings",
    "SettingError",
    "env_bool",
    "parse_bool",
]

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")
ACCEPTED = "use 1, true, yes or on for true, and 0, false, no, off or empty for false"
LOG_FORMATS = ("json", "text")
LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class SettingError(ValueError):
    """A setting that cannot be used; the one-line message names the variable."""


class BooleanSettingError(SettingError):
    """A boolean setting with a value that is none of the accepted words."""

    def __init__(self, name: str, value: str) -> None:
        super().__init__(f"{name}={value!r} is not a boolean: {ACCEPTED}")
        self.name = name
        self.value = value


def parse_bool(name: str, value: str) -> bool:
    """``value`` of the setting ``name`` (named in the error) as a boolean."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise BooleanSettingError(name, value)


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    """The variable ``name`` of ``env``; ``default`` only when it is not set at all."""
    value = env.get(name)
    return default if value is None else parse_bool(name, value)


@dataclass(frozen=True)
class LogSettings:
    """How a part logs: ``format`` is json or text, ``level`` a :mod:`logging` level."""

    format: str
    level: int


class EnvSettings:
    """Typed, strict reads of one environment (``os.environ`` unless given)."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = os.environ if env is None else env

    def text(self, name: str, default: str | None = None) -> str | None:
        """The value with surrounding spaces removed; ``default`` when unset or empty."""
        value = self.env.get(name, "").strip()
        return value or default

    def boolean(self, name: str, default: bool) -> bool:
        return env_bool(self.env, name, default)

    def integer(self, name: str, default: int, minimum: int | None = None) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingError(f"{name}={raw!r} is not a whole number") from None
        if minimum is not None and value < minimum:
            raise SettingError(f"{name} must be at least {minimum}, got {value}")
        return value

    def number(self, name: str, default: float, minimum: float | None = None) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingError(f"{name}={raw!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise SettingError(f"{name} must be a finite number, got {raw!r}")
        if minimum is not None and value < minimum:
            raise SettingError(f"{name} must be at least {minimum:g}, got {raw}")
        return value

    def items(self, name: str) -> tuple[str, ...]:
        """A comma-separated list, items stripped, empty items dropped."""
        return tuple(item.strip() for item in (self.text(name) or "").split(",") if item.strip())

    def choice(self, name: str, choices: Sequence[str], default: str) -> str:
        value = (self.text(name) or default).lower()
        if value not in choices:
            raise SettingError(f"{name}={value!r} must be one of {', '.join(choices)}")
        return value

    def secret(self, name: str) -> str | None:
        """``name``, or the contents of the file named by ``name_FILE`` (one trailing
        newline removed); None when neither is set. The value never appears in an error."""
        direct = self.env.get(name) or None
        path = self.text(f"{name}_FILE")
        if direct is not None and path is not None:
            raise SettingError(f"{name} and {name}_FILE are both set: use one")
        if path is None:
            return direct
        try:
            content = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise SettingError(f"{name}_FILE: cannot read {path}: {error.strerror}") from None
        return content.removesuffix("\n").removesuffix("\r") or None

    def logs(self) -> LogSettings:
        """``RESQUE_LOG_FORMAT``; ``RESQUE_LOG_LEVEL`` or ``VVERBOSE``/``VERBOSE``/``LOGGING``."""
        tty_default = "text" if sys.stderr.isatty() else "json"
        log_format = self.choice("RESQUE_LOG_FORMAT", LOG_FORMATS, tty_default)
        return LogSettings(format=log_format, level=self._log_level())

    def _log_level(self) -> int:
        verbosity = [self.boolean(name, False) for name in ("VVERBOSE", "VERBOSE", "LOGGING")]
        if self.text("RESQUE_LOG_LEVEL") is not None:  # wins, but a typo above is still an error
            return LOG_LEVELS[self.choice("RESQUE_LOG_LEVEL", tuple(LOG_LEVELS), "info")]
        if verbosity[0]:
            return logging.DEBUG
        # Ruby's default is quiet and VERBOSE asks for info; here info is the default
        # (a container's logs are its only trace), so VERBOSE/LOGGING add nothing to it.
        return logging.INFO
