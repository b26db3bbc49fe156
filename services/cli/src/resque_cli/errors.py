"""The one way the CLI fails on purpose: ``resque: <message>`` on stderr, exit 1.

Redis and resque_proto errors are translated here too, so no expected failure
ever reaches the user as a Python traceback.
"""

from __future__ import annotations

from typing import IO, Any

import click
import redis

from resque_cli.connection import redacted
from resque_proto.errors import ResqueProtoError


class CliError(click.ClickException):
    """Bad input or an unusable Redis, reported as a single ``resque: ...`` line."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        message = " ".join(self.format_message().split())
        click.echo(f"resque: {message}", file=file, err=file is None)


EXPECTED_ERRORS = (redis.RedisError, ResqueProtoError)


def cli_error(error: redis.RedisError | ResqueProtoError, redis_url: str) -> CliError:
    """The ``resque: ...`` line for an error a command can expect from Redis or resque_proto."""
    if isinstance(error, redis.ConnectionError | redis.TimeoutError):
        reason = str(error) or type(error).__name__
        return CliError(f"cannot reach Redis at {redacted(redis_url)}: {reason}")
    if isinstance(error, redis.RedisError):
        return CliError(f"Redis refused the command: {error}")
    return CliError(str(error))
