"""Boolean settings, read one way by every part (worker, enqueuer, frontend, scheduler).

True: ``1``, ``true``, ``yes``, ``on``; false: ``0``, ``false``, ``no``, ``off`` and
empty; any case, surrounding spaces ignored. Any other value is an error naming the
variable and the accepted words, so a typo (``FRONTEND_READ_ONLY=enabled``) stops the
part at start instead of silently meaning true in one part and false in another.

No Redis here: the worker reads its settings before it forks its fork server, which
must not import redis-py (shared/resque_proto/tests/test_lazy_imports.py).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["FALSE_WORDS", "TRUE_WORDS", "BooleanSettingError", "env_bool", "parse_bool"]

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")
ACCEPTED = "use 1, true, yes or on for true, and 0, false, no, off or empty for false"


class BooleanSettingError(ValueError):
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
