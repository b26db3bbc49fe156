"""Run a job class's ``perform`` with Resque's job hooks, in Resque's order.

One implementation for the worker's job children and for the producer's inline
mode. Hooks are class attributes whose names start with ``before_perform``,
``around_perform``, ``after_perform`` or ``on_failure``, run in name order:

- ``before_perform*(*args)``: raising ``DontPerform`` skips the job (no failure).
- ``around_perform*(proceed, *args)``: must call ``proceed()`` for the job to run
  (Ruby's block); the first in name order is the outermost.
- ``after_perform*(*args)``: after the job (not when it raised).
- ``on_failure*(exception, *args)``: when anything above raised; then it re-raises.
  If one of them raises, the rest are skipped (as in Resque) and the job's own
  error is still the one raised, carrying the hook's (``failure_hook_error``);
  the worker records both in Resque 3.0's words (``failure_hook_message``).

Redis-free: the worker's fork server imports it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence
from typing import Any

from resque_proto.ruby_inspect import ruby_inspect

HOOK_PREFIXES = ("before_perform", "around_perform", "after_perform", "on_failure")
HOOK_ERROR_ATTRIBUTE = "resque_failure_hook_error"  # set on a job's error by a raising hook


class DontPerform(Exception):
    """Raised by a ``before_perform*`` hook: skip the job quietly (it counts as processed)."""


@functools.cache
def hooks_of(job_class: type, prefix: str) -> tuple[Callable[..., Any], ...]:
    """The class's hooks with ``prefix``, in name order. Cached: the worker's fork
    server warms the cache (``prepare``) so forked children find it ready in shared
    memory."""
    names = sorted(name for name in dir(job_class) if name.startswith(prefix))
    return tuple(getattr(job_class, n) for n in names if callable(getattr(job_class, n)))


def prepare(job_class: type) -> None:
    for prefix in HOOK_PREFIXES:
        hooks_of(job_class, prefix)


def perform(job_class: type, args: Sequence[Any]) -> bool:
    """Run the job; True if ``perform`` ran, False if a hook prevented it. Whatever the
    job or a hook raised is raised again, after the ``on_failure*`` hooks."""
    performed = False

    def run() -> Any:
        nonlocal performed
        result = job_class.perform(*args)  # type: ignore[attr-defined]
        performed = True
        return result

    try:
        try:
            for hook in hooks_of(job_class, "before_perform"):
                hook(*args)
        except DontPerform:
            return False
        call = run
        for hook in reversed(hooks_of(job_class, "around_perform")):
            call = _wrap(hook, call, args)
        call()
        for hook in hooks_of(job_class, "after_perform"):
            hook(*args)
        return performed
    except BaseException as error:
        run_failure_hooks(job_class, error, args)
        raise


def _wrap(
    hook: Callable[..., Any], inner: Callable[[], Any], args: Sequence[Any]
) -> Callable[[], Any]:
    return lambda: hook(inner, *args)


def run_failure_hooks(job_class: type, error: BaseException, args: Sequence[Any]) -> None:
    """Run the ``on_failure*`` hooks; never raises. A hook's error stops the others and
    is attached to ``error`` (read it with ``failure_hook_error``): the job's own error
    must stay the one reported, with its class and backtrace."""
    try:
        for hook in hooks_of(job_class, "on_failure"):
            hook(error, *args)
    except BaseException as hook_error:  # Ruby rescues Exception: everything
        with contextlib.suppress(AttributeError, TypeError):  # an odd exception class
            setattr(error, HOOK_ERROR_ATTRIBUTE, hook_error)
            error.add_note(f"Additional error ({describe(hook_error)}) in an on_failure hook")


def failure_hook_error(error: BaseException) -> BaseException | None:
    """What an ``on_failure*`` hook raised while handling ``error``, if anything."""
    hook_error = getattr(error, HOOK_ERROR_ATTRIBUTE, None)
    return hook_error if isinstance(hook_error, BaseException) else None


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def failure_hook_message(
    *,
    hook_exception: str,
    hook_error: str,
    queue: str,
    class_name: str,
    args: Sequence[Any],
    exception: str,
    error: str,
) -> str:
    """Resque 3.0's failure message when an ``on_failure`` hook raised (job.rb,
    ``run_failure_hooks``), byte for byte. Ruby's own quirk is kept: the hook's class
    also prefixes the original error ("was HookError: ValueError: boom")."""
    job = f"(Job{{{queue}}} | {class_name} | {ruby_inspect(list(args))})"
    return (
        f"Additional error ({hook_exception}: {hook_error}) occurred in running failure "
        f"hooks for job {job}\nOriginal error that caused job failure was "
        f"{hook_exception}: {exception}: {error}"
    )
