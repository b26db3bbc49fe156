"""The ``resque`` group: where Redis is, the output form, and the sub-commands."""

from __future__ import annotations

import logging
from typing import Any

import click

from resque_cli.commands.failures import failed_command, remove_failed_command, retry_command
from resque_cli.commands.jobs import delayed_command, enqueue_command
from resque_cli.commands.queues import (
    pause_command,
    queue_command,
    queues_command,
    resume_command,
)
from resque_cli.commands.stats import stats_command
from resque_cli.commands.workers import prune_command, workers_command
from resque_cli.errors import EXPECTED_ERRORS, CliError, cli_error
from resque_cli.state import CliState
from resque_proto import logs
from resque_proto.connection import DEFAULT_REDIS_URL
from resque_proto.keys import DEFAULT_NAMESPACE
from resque_proto.settings import EnvSettings, SettingError
from resque_proto.version import VERSION


class SettingsError(CliError):
    """A setting the environment gives every part (RESQUE_LOG_*, VERBOSE...) is unusable:
    exit 2, as every part does for a bad setting."""

    exit_code = 2


def configure_logs(ctx: click.Context) -> None:
    """Every part's log format and level, until the command ends (then the process's
    logging is as it was: the group may run in-process, e.g. in click's CliRunner)."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure(EnvSettings().logs())
    except SettingError as error:
        raise SettingsError(str(error)) from None

    def restore() -> None:
        root.handlers[:], root.level = saved

    ctx.call_on_close(restore)


class ResqueGroup(click.Group):
    """Reports Redis and resque_proto errors of any sub-command as ``resque: ...``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EXPECTED_ERRORS as error:
            state = ctx.find_object(CliState)
            raise cli_error(error, state.redis_url if state else "") from error


@click.group(cls=ResqueGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--redis-url",
    envvar="REDIS_URL",
    show_envvar=True,
    default=None,
    show_default=DEFAULT_REDIS_URL,
    metavar="URL",
    help="Redis to use: redis://, rediss:// (TLS) or redis+sentinel://host:26379,.../master; "
    "also REDIS_URL_FILE, REDIS_PASSWORD(_FILE), REDIS_TLS_*, REDIS_SENTINELS (docs/redis.md).",
)
@click.option(
    "--namespace",
    envvar="RESQUE_NAMESPACE",
    show_envvar=True,
    default=DEFAULT_NAMESPACE,
    show_default=True,
    help="Key prefix shared with the workers (Resque.redis.namespace).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document, for every command.")
@click.version_option(VERSION, prog_name="resque")
@click.pass_context
def cli(ctx: click.Context, redis_url: str | None, namespace: str, as_json: bool) -> None:
    """Administer Resque queues, jobs, failures and workers.

    Prints tables, or one JSON document with --json (before or after the
    command). Exits 1 with one line on stderr, starting "resque: ", on bad input
    or when Redis cannot be reached; 2 on a usage error or a bad setting. Logs
    (RESQUE_LOG_LEVEL=debug shows the Redis used) go to stderr, as every part's.
    """
    configure_logs(ctx)
    ctx.obj = CliState(redis_url=redis_url or "", namespace=namespace, json=as_json)


for command in (
    queues_command,
    queue_command,
    enqueue_command,
    failed_command,
    retry_command,
    remove_failed_command,
    workers_command,
    prune_command,
    pause_command,
    resume_command,
    delayed_command,
    stats_command,
):
    cli.add_command(command)
