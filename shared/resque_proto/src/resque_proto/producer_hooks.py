"""Resque's producer hooks: ``before_enqueue*``, ``after_enqueue*``, ``before_dequeue*``,
``after_dequeue*`` on a job class, run by the Python producer API.

Found as Resque's ``Plugin.before_enqueue_hooks`` finds them: class attributes whose
names start with the prefix, in name order, each called with the job's arguments as
given. Every ``before_*`` hook runs, and if any of them returned ``False`` (that exact
value: ``None`` does not count) the enqueue or dequeue is cancelled, as in Ruby.

Only a producer that holds the job class can run them: the HTTP enqueuer and Ruby
producers (which write the same payloads) do not, nor does an enqueue by class name.

Redis-free: imported by the producer, which job modules import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from resque_proto.job_hooks import hooks_of

ENQUEUE = "enqueue"
DEQUEUE = "dequeue"


def run_before(event: str, job_class: type | None, args: Sequence[Any]) -> bool:
    """Run every ``before_<event>*`` hook; False if any of them returned ``False``."""
    if job_class is None:
        return True
    results = [hook(*args) for hook in hooks_of(job_class, f"before_{event}")]
    return not any(result is False for result in results)


def run_after(event: str, job_class: type | None, args: Sequence[Any]) -> None:
    """Run every ``after_<event>*`` hook."""
    if job_class is None:
        return
    for hook in hooks_of(job_class, f"after_{event}"):
        hook(*args)
