"""What the group's options decide for every command: where Redis is, and the output form."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from resque_cli.connection import open_resque, redacted, redis_settings
from resque_cli.errors import CliError
from resque_proto import Resque
from resque_proto.redis_config import RedisConfigError

log = logging.getLogger("resque_cli")

Command = TypeVar("Command", bound=Callable[..., Any])
"""A command function being decorated with options."""


@dataclass
class CliState:
    redis_url: str
    namespace: str
    json: bool = False
    _resque: Resque | None = field(default=None, repr=False)

    @property
    def resque(self) -> Resque:
        """Opened on first use, so input errors are reported before Redis is involved."""
        if self._resque is None:
            try:
                settings = redis_settings(self.redis_url)
                self.redis_url = settings.url  # what error messages show (redacted)
                self._resque = open_resque(settings, self.namespace)
                log.debug("using Redis", extra={"redis": redacted(settings.url),
                                                "namespace": self.namespace})  # fmt: skip
            except RedisConfigError as error:
                where = f" at {redacted(self.redis_url)}" if self.redis_url else ""
                raise CliError(f"cannot use Redis{where}: {error}") from error
            except ValueError as error:
                where = redacted(self.redis_url)
                raise CliError(f"cannot use Redis at {where}: {error}") from error
        return self._resque


pass_state = click.make_pass_decorator(CliState)


def _ask_for_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    state = ctx.find_object(CliState)
    if value and state is not None:
        state.json = True


def json_option(command: Command) -> Command:
    """``--json`` on a command, the same as ``resque --json <command>``."""
    return click.option(
        "--json",
        is_flag=True,
        expose_value=False,
        callback=_ask_for_json,
        help="Print one JSON document instead of a table.",
    )(command)
