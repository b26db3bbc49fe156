"""Run a job class's ``perform`` with Resque's job hooks, in Resque's order.

One implementation for the worker's job children and for the producer's inline
mode. Hooks are class attributes whose names start with ``before_perform``,
``around_perform``, ``after_perform`` or ``on_failure``, run in name order:

- ``before_perform*(*args)``: raising ``DontPerform`` skips the job (no failure).
- ``around_perform*(proceed, *args)``: must call ``proceed()`` for the job to run
  (Ruby's block); the first in name order is the outermost.
- ``after_perform*(*args)``: after the job (not when it raised).
- ``on_failure*(exception, *args)``: when anything above raised; then it re-raises.

Redis-free: the worker's fork server imports it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

HOOK_PREFIXES = ("before_perform", "around_perform", "after_perform", "on_failure")


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
    for hook in hooks_of(job_class, "on_failure"):
        hook(error, *args)
